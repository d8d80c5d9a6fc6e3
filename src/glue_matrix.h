// Conversions between R's matrices and the engine's types, for the glue files:
// column-major numeric matrices to and from row-major float arrays (rows are cells or
// points), and dgCMatrix slots to a CSR view.
#pragma once

#include <Rcpp.h>

#include <vector>

#include "concord/csr.h"

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

// The cells x genes view of a genes x cells dgCMatrix, sharing its memory.
inline concord::CsrView view_of(const Rcpp::S4& x) {
  const Rcpp::IntegerVector dim = x.slot("Dim");
  const Rcpp::IntegerVector p = x.slot("p");
  const Rcpp::IntegerVector i = x.slot("i");
  const Rcpp::NumericVector values = x.slot("x");
  return concord::CsrView{dim[1], dim[0], p.begin(), i.begin(), values.begin()};
}
