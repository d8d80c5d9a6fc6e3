// Conversions between R's column-major numeric matrices and the engine's row-major
// float arrays (rows are cells or points), for the glue files.
#pragma once

#include <Rcpp.h>

#include <vector>

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
