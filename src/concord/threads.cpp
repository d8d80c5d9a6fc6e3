#include "threads.h"

#include <dlfcn.h>
#include <sched.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace concord {

namespace {

template <class F>
F openblas(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}

std::string first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

int affinity_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::thread::hardware_concurrency());
}

int quota_cpus() {
  const int v2 = cgroup_v2_cpus(first_line("/sys/fs/cgroup/cpu.max"));
  if (v2 > 0) return v2;
  const std::string quota = first_line("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
  const std::string period = first_line("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  if (quota.empty() || period.empty()) return 0;
  try {
    return cgroup_v1_cpus(std::stoll(quota), std::stoll(period));
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

int omp_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

int blas_threads() {
  auto get = openblas<int (*)()>("openblas_get_num_threads");
  return get ? get() : 0;
}

void set_omp_threads(int n) {
#ifdef _OPENMP
  omp_set_num_threads(n);
#else
  (void)n;
#endif
}

void set_blas_threads(int n) {
  if (auto set = openblas<void (*)(int)>("openblas_set_num_threads")) set(n);
}

ThreadGuard::ThreadGuard() : omp_(omp_threads()), blas_(blas_threads()) {}

ThreadGuard::~ThreadGuard() {
  set_omp_threads(omp_);
  if (blas_ > 0) set_blas_threads(blas_);
}

int cgroup_v2_cpus(const std::string& cpu_max) {
  std::istringstream in(cpu_max);
  std::string quota;
  long long period = 0;
  if (!(in >> quota >> period) || quota == "max" || period <= 0) return 0;
  try {
    return cgroup_v1_cpus(std::stoll(quota), period);
  } catch (const std::exception&) {
    return 0;
  }
}

int cgroup_v1_cpus(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<int>(std::max(1.0, std::ceil(static_cast<double>(quota) / period)));
}

int available_cpus() {
  int cpus = std::max(1, affinity_cpus());
  const int quota = quota_cpus();
  if (quota > 0) cpus = std::min(cpus, quota);
  return cpus;
}

int resolve_threads(int requested) { return requested > 0 ? requested : available_cpus(); }

}  // namespace concord
