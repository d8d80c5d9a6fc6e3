// R glue for KNI and RbNI (src/concord/neighbour_intersection.h). Batches and labels
// come in as 1-based integer codes.
#include <Rcpp.h>

#include "glue_engine.h"
#include "glue_matrix.h"

#include "concord/neighbour_intersection.h"

// The embedding scaled by its quartiles, then both scores and their outlier counts.
// [[Rcpp::export(.concord_neighbour_intersection)]]
Rcpp::List concord_neighbour_intersection(Rcpp::NumericMatrix x, Rcpp::IntegerVector batch,
                                          Rcpp::IntegerVector labels, int n_labels, int k, int tau,
                                          double radius, double share, double exact_max, int threads) {
  return glue::engine_call([&] {
    const R_xlen_t n = x.nrow();
    if (batch.size() != n || labels.size() != n) {
      throw std::invalid_argument("batch, labels and embedding rows differ in length");
    }
    std::vector<int> b(n), l(n);
    for (R_xlen_t i = 0; i < n; ++i) {
      b[i] = batch[i] - 1;
      l[i] = labels[i] - 1;
    }
    std::vector<float> p = rows_of(x);
    concord::scale_by_quartiles(p.data(), n, x.ncol());
    concord::IntersectionOptions o;
    o.k = k;
    o.tau = tau;
    o.radius = radius;
    o.share = share;
    o.exact_max = static_cast<int64_t>(exact_max);
    const concord::IntersectionScores s =
        concord::neighbour_intersection(p.data(), n, x.ncol(), b.data(), l.data(), n_labels, o, threads);
    return Rcpp::List::create(Rcpp::Named("KNI") = s.kni, Rcpp::Named("RbNI") = s.rbni,
                              Rcpp::Named("KNI_outliers") = static_cast<double>(s.kni_outliers),
                              Rcpp::Named("RbNI_outliers") = static_cast<double>(s.rbni_outliers));
  });
}
