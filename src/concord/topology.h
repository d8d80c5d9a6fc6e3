// Persistent homology of a point cloud (Vietoris-Rips filtration) with GUDHI.
//
// The flag complex is built from every edge no longer than `max_scale`, reduced by
// GUDHI's edge collapse (which keeps the persistence diagram exactly, Boissonnat and
// Pritam 2020) and only then expanded to simplices of dimension max_dim + 1, so that
// a few hundred points in any number of dimensions stay tractable.
#pragma once

#include <cstdint>
#include <vector>

namespace concord {

struct PersistencePair {
  int dimension;
  double birth;
  double death;  // +infinity for a class alive at max_scale
};

// Persistence pairs of homology dimensions 0..max_dim over Z/2, for the n x dim
// row-major points `x`. max_scale <= 0 or infinite means no limit.
std::vector<PersistencePair> rips_persistence(const float* x, int64_t n, int dim, int max_dim,
                                              double max_scale);

}  // namespace concord
