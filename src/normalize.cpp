// R glue for log-normalization.
#include <Rcpp.h>

#include "glue_engine.h"

#include "concord/normalize.h"

// log1p(x / cell total * scale) over the values of a dgCMatrix (same p and i).
// [[Rcpp::export(.concord_log_normalize)]]
Rcpp::NumericVector concord_log_normalize(Rcpp::IntegerVector p, Rcpp::NumericVector x,
                                          double scale, int threads) {
  return glue::engine_call([&] {
    if (p.size() < 1 || p[p.size() - 1] != x.size()) {
      throw std::invalid_argument("p and x of the matrix do not match");
    }
    Rcpp::NumericVector out(x.size());
    concord::log_normalize(static_cast<int>(p.size()) - 1, p.begin(), x.begin(), scale,
                           out.begin(), threads);
    return out;
  });
}
