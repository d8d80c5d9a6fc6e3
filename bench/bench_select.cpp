// The local alignment's neighbour selection (nearest_columns, src/concord/local_align.h)
// against LibTorch's top-k, on random distances shaped as in one training step: one
// mini-batch's cells against one batch's sampled rows, k = 3% of the rows (at least 5).
//
//   bench_select [cells=256] [calls=200] [threads=1]
//
// Prints, for 300, 1,737 and 20,000 rows, the mean milliseconds per call of each and
// whether both chose the same columns. Built by tests/cpp's CMake as an optional target:
// cmake --build build/cpp --target bench_select.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "local_align.h"

namespace {

template <typename F>
double milliseconds_per_call(int calls, F f) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / calls;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t cells = argc > 1 ? std::atoll(argv[1]) : 256;
  const int calls = argc > 2 ? std::atoi(argv[2]) : 200;
  torch::set_num_threads(argc > 3 ? std::atoi(argv[3]) : 1);
  torch::manual_seed(1);
  std::printf("%8s %6s %6s %12s %12s %5s\n", "rows", "k", "cells", "select_ms", "topk_ms", "same");
  for (const int64_t rows : {int64_t{300}, int64_t{1737}, int64_t{20000}}) {
    const int64_t k = std::max<int64_t>(5, std::llround(0.03 * rows));
    const torch::Tensor dist = torch::rand({cells, rows});
    torch::Tensor mine, theirs;
    const double select = milliseconds_per_call(calls, [&] { mine = concord::nearest_columns(dist, k); });
    const double topk = milliseconds_per_call(calls, [&] { theirs = std::get<1>(dist.topk(k, 1, false)); });
    const bool same = std::get<0>(mine.sort(1)).equal(std::get<0>(theirs.sort(1)));
    std::printf("%8lld %6lld %6lld %12.3f %12.3f %5s\n", static_cast<long long>(rows),
                static_cast<long long>(k), static_cast<long long>(cells), select, topk,
                same ? "yes" : "no");
  }
  return 0;
}
