// Threads: how many the process may use, and leaving the host's thread settings as
// they were found.
#pragma once

#include <string>

namespace concord {

// Saves OpenMP's global thread count and OpenBLAS's (when the process has OpenBLAS) on
// construction and restores both on destruction, so that an engine call that changes
// them (LibTorch's set_num_threads changes OpenMP's) leaves its host (an R session) as
// it was, also when it unwinds with an exception.
class ThreadGuard {
 public:
  ThreadGuard();
  ~ThreadGuard();
  ThreadGuard(const ThreadGuard&) = delete;
  ThreadGuard& operator=(const ThreadGuard&) = delete;

 private:
  int omp_ = 0;
  int blas_ = 0;  // 0: no OpenBLAS in the process
};

// OpenMP's global thread count, and OpenBLAS's (0 when the process has no OpenBLAS).
int omp_threads();
int blas_threads();
// Set them (OpenBLAS: a no-op without it).
void set_omp_threads(int n);
void set_blas_threads(int n);

// CPUs this process may use: the affinity mask, capped by a cgroup CPU quota when one
// is set (containers, batch schedulers). hardware_concurrency() sees neither.
int available_cpus();

// Threads to use for a requested count (0 = every CPU the process may use).
int resolve_threads(int requested);

// CPUs granted by a cgroup v2 "cpu.max" line ("quota period", or "max period"), rounded
// up; 0 when unlimited or unreadable.
int cgroup_v2_cpus(const std::string& cpu_max);
// The same for cgroup v1's cfs_quota_us and cfs_period_us (quota -1: unlimited).
int cgroup_v1_cpus(long long quota, long long period);

}  // namespace concord
