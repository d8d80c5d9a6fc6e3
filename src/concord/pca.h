// Principal components of a sparse cells x genes matrix, for building neighbour graphs.
//
// Randomized subspace iteration (Halko, Martinsson and Tropp 2011) on the centred matrix,
// never densified: centring enters the sparse products as a rank-one correction. The
// only translation unit of the augmentations that includes LibTorch (for QR and the
// small symmetric eigenproblem), because those compile slowly.
#pragma once

#include <cstdint>
#include <vector>

#include "csr.h"
#include "interrupt.h"

namespace concord {

struct PcaScores {
  int dims = 0;             // min(requested, cells, genes)
  std::vector<float> rows;  // cells x dims, row-major
};

// Scores of the leading `dims` principal components of the rows of `x`. Deterministic
// given `seed` and `threads`; `interrupted` is polled between iterations.
PcaScores pca_scores(const CsrView& x, int dims, uint64_t seed, int threads,
                     const InterruptFn& interrupted = {});

}  // namespace concord
