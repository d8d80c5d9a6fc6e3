// A read-only cells x genes CSR view, over an engine-side store (store.h) or over a genes x
// cells dgCMatrix: a dgCMatrix stores genes x cells column-compressed, and read
// row-compressed the same offsets and indices describe the transposed, cells x genes
// matrix (its values as float32, the precision the engine computes in). The owner of the
// arrays must outlive the view.
#pragma once

#include <cstdint>

namespace concord {

struct CsrView {
  int n_rows = 0;                // cells
  int n_cols = 0;                // genes
  const int* indptr = nullptr;   // n_rows + 1 offsets into indices / values
  const int* indices = nullptr;  // column (gene) of each stored value
  const float* values = nullptr;

  int64_t nnz() const { return n_rows > 0 ? indptr[n_rows] : 0; }
  int row_nnz(int row) const { return indptr[row + 1] - indptr[row]; }
};

// Throws std::invalid_argument when offsets or indices are out of range, so that a
// malformed matrix is reported instead of read out of bounds.
void validate(const CsrView& x);

}  // namespace concord
