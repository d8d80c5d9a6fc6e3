// Row-split work on the engine's OpenMP threads, for the step's dense parts (dense.cpp,
// layer_norm.cpp): each thread takes one contiguous block of rows.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <exception>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace concord {

// f(first row, rows) over `threads` contiguous parts of [0, rows), one per thread; one
// thread calls f directly, without a parallel region.
template <class F>
void over_rows(int64_t rows, int threads, F f) {
  if (threads <= 1) {
    // As on the team's threads below: f's own operations are never recorded.
    torch::NoGradGuard untracked;
    if (rows > 0) f(int64_t{0}, rows);
    return;
  }
  std::exception_ptr error;
#pragma omp parallel num_threads(threads)
  {
#ifdef _OPENMP
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
#else
    const int t = 0, nt = 1;
#endif
    // Grad mode is per thread: the team's workers would otherwise record the out=
    // products, which autograd refuses.
    torch::NoGradGuard untracked;
    const int64_t begin = rows * t / nt, end = rows * (t + 1) / nt;
    try {
      if (end > begin) f(begin, end - begin);
    } catch (...) {
#pragma omp critical(concord_split_rows_error)
      error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace concord
