// Building the two masked views of a batch as compact CSR matrices.
#pragma once

#include <cstdint>
#include <vector>

#include "csr.h"
#include "rng.h"

namespace concord {

// A batch of cells x genes in CSR form, owned, single precision.
struct SparseBatch {
  int n_rows = 0;
  int n_cols = 0;
  std::vector<int> indptr;
  std::vector<int> indices;
  std::vector<float> values;

  int64_t nnz() const { return static_cast<int64_t>(values.size()); }
};

// Copies rows `cells[0..n)` of `x` into `out` unchanged (inference).
void gather_rows(const CsrView& x, const int* cells, int n, SparseBatch& out);

// Copies rows `cells[0..n)` of `x` into `out` as one augmented view: each gene is
// dropped with probability `feature_mask` (one draw per gene for the whole batch), then
// each remaining stored value is dropped with probability `element_mask`. Values are
// not rescaled, as in the reference. `keep` is scratch space reused between calls.
void masked_view(const CsrView& x, const int* cells, int n, double element_mask,
                 double feature_mask, Rng& rng, std::vector<uint8_t>& keep, SparseBatch& out);

}  // namespace concord
