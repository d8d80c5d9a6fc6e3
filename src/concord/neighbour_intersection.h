// K- and radius-based neighbours intersection scores, KNI and RbNI (Diaz-Mejia et al.,
// BA-scVI, Methods): can a cell's type be read off its neighbours from other batches,
// with cells whose neighbourhood is mostly their own batch counted as failures?
#pragma once

#include <cstdint>

#include "options.h"

namespace concord {

struct IntersectionOptions {
  // KNI: each cell's k nearest cells; fewer than tau of them from other batches makes
  // the cell an outlier. The paper's k = 50, tau = 40.
  int k = 50;
  int tau = 40;
  // RbNI: the cells within `radius`; none, or a share from other batches below `share`,
  // makes the cell an outlier. The paper's r = 1.0, tau* = 80%.
  double radius = 1.0;
  double share = 0.8;
  // Exact (flat) Faiss search up to this many cells, IVF-Flat above.
  int64_t exact_max = 20000;
};

struct IntersectionScores {
  double kni = 0, rbni = 0;           // correct / all cells
  int64_t kni_outliers = 0, rbni_outliers = 0;
};

// Centres each of the dim columns of the n x dim row-major x on its median and divides
// it by its interquartile range (quantiles as R's type 7 and numpy's default); a column
// whose quartiles coincide is only centred. The scaling the paper applies to every
// embedding before KNI and RbNI.
void scale_by_quartiles(float* x, int64_t n, int dim);

// KNI and RbNI of the n x dim embedding x (row-major; scaled first by the caller, see
// scale_by_quartiles) with 0-based batch and label codes. Neighbours exclude the cell
// itself. A cell that is not an outlier is predicted the most common label among its
// neighbours from other batches (ties: the label of the nearest of them) and is correct
// when that is its own label; outliers count as incorrect. Throws std::invalid_argument
// on out-of-range codes or options.
IntersectionScores neighbour_intersection(const float* x, int64_t n, int dim, const int* batch,
                                          const int* labels, int n_labels,
                                          const IntersectionOptions& options, int threads = 1);

}  // namespace concord
