// Conversions between R's matrices and the engine's types, for the glue files:
// column-major numeric matrices to and from row-major float arrays (rows are cells or
// points), and R's sparse inputs to a CSR view.
#pragma once

#include <Rcpp.h>

#include <vector>

#include "concord/csr.h"
#include "concord/store.h"

inline std::vector<float> rows_of(const Rcpp::NumericMatrix& m) {
  std::vector<float> out(static_cast<size_t>(m.nrow()) * m.ncol());
  for (int r = 0; r < m.nrow(); ++r) {
    for (int c = 0; c < m.ncol(); ++c) out[static_cast<size_t>(r) * m.ncol() + c] = static_cast<float>(m(r, c));
  }
  return out;
}

inline Rcpp::NumericMatrix matrix_of(const std::vector<float>& rows, int n, int dim) {
  Rcpp::NumericMatrix m(n, dim);
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < dim; ++c) m(r, c) = rows[static_cast<size_t>(r) * dim + c];
  }
  return m;
}

// The engine's view of a matrix from R: an engine-side store (an external pointer made
// by .concord_store_new(), shared) or a genes x cells dgCMatrix (its offsets and indices
// shared, its values copied to float32).
class InputView {
 public:
  explicit InputView(SEXP x) {
    if (TYPEOF(x) == EXTPTRSXP) {
      const Rcpp::XPtr<concord::CsrStore> store(x);
      if (store.get() == nullptr) {
        throw std::invalid_argument("the prepared input is no longer available (saved and reloaded?); prepare it again");
      }
      view_ = store->view();
      return;
    }
    const Rcpp::S4 m(x);
    const Rcpp::IntegerVector dim = m.slot("Dim");
    const Rcpp::IntegerVector p = m.slot("p");
    const Rcpp::IntegerVector i = m.slot("i");
    const Rcpp::NumericVector values = m.slot("x");
    values_.assign(values.begin(), values.end());
    view_ = concord::CsrView{dim[1], dim[0], p.begin(), i.begin(), values_.data()};
  }
  const concord::CsrView& view() const { return view_; }

 private:
  std::vector<float> values_;
  concord::CsrView view_;
};
