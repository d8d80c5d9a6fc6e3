#include <catch2/catch.hpp>
#include <omp.h>

#include <stdexcept>
#include <thread>

#include "threads.h"

using concord::cgroup_v1_cpus;
using concord::cgroup_v2_cpus;

TEST_CASE("cgroup CPU quotas are read as whole CPUs, rounded up", "[threads]") {
  CHECK(cgroup_v2_cpus("max 100000") == 0);
  CHECK(cgroup_v2_cpus("200000 100000") == 2);
  CHECK(cgroup_v2_cpus("150000 100000") == 2);
  CHECK(cgroup_v2_cpus("50000 100000") == 1);
  CHECK(cgroup_v2_cpus("") == 0);
  CHECK(cgroup_v2_cpus("garbage") == 0);
  CHECK(cgroup_v2_cpus("100000 0") == 0);
  CHECK(cgroup_v1_cpus(-1, 100000) == 0);
  CHECK(cgroup_v1_cpus(300000, 100000) == 3);
  CHECK(cgroup_v1_cpus(1000, 100000) == 1);
}

TEST_CASE("available CPUs are at least one and at most the machine's", "[threads]") {
  const int n = concord::available_cpus();
  CHECK(n >= 1);
  CHECK(n <= static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  CHECK(concord::resolve_threads(0) == n);
  CHECK(concord::resolve_threads(3) == 3);
}

TEST_CASE("ThreadGuard restores OpenMP and OpenBLAS thread counts, also on exceptions",
          "[threads]") {
  const int omp_before = concord::omp_threads(), blas_before = concord::blas_threads();
  concord::set_omp_threads(3);
  if (blas_before > 0) concord::set_blas_threads(2);
  try {
    concord::ThreadGuard guard;
    concord::set_omp_threads(1);
    concord::set_blas_threads(1);
    throw std::runtime_error("unwind");
  } catch (const std::runtime_error&) {
  }
  CHECK(omp_get_max_threads() == 3);
  if (blas_before > 0) CHECK(concord::blas_threads() == 2);
  concord::set_omp_threads(omp_before);
  if (blas_before > 0) concord::set_blas_threads(blas_before);
}
