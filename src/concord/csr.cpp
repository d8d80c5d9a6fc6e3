#include "csr.h"

#include <stdexcept>
#include <string>

namespace concord {

void validate(const CsrView& x) {
  if (x.n_rows < 0 || x.n_cols < 0) throw std::invalid_argument("matrix has negative dimensions");
  if (x.indptr == nullptr) throw std::invalid_argument("matrix has no row offsets");
  if (x.indptr[0] != 0) throw std::invalid_argument("matrix row offsets must start at 0");
  for (int r = 0; r < x.n_rows; ++r) {
    if (x.indptr[r + 1] < x.indptr[r])
      throw std::invalid_argument("matrix row offsets decrease at row " + std::to_string(r));
  }
  const int64_t nnz = x.nnz();
  for (int64_t k = 0; k < nnz; ++k) {
    if (x.indices[k] < 0 || x.indices[k] >= x.n_cols)
      throw std::invalid_argument("matrix column index out of range at entry " + std::to_string(k));
  }
}

}  // namespace concord
