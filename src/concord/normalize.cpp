#include "normalize.h"

#include <algorithm>
#include <cmath>

namespace concord {

void log_normalize(int n_cells, const int* p, const double* x, double scale, double* out,
                   int threads) {
#pragma omp parallel for num_threads(std::max(1, threads)) schedule(static)
  for (int c = 0; c < n_cells; ++c) {
    double total = 0.0;
    for (int j = p[c]; j < p[c + 1]; ++j) total += x[j];
    const double f = normalize_factor(total, scale);
    for (int j = p[c]; j < p[c + 1]; ++j) out[j] = std::log1p(x[j] * f);
  }
}

}  // namespace concord
