// R glue for Faiss nearest neighbours.
#include <Rcpp.h>

#include "glue_engine.h"
#include "glue_matrix.h"

#include "concord/knn.h"

// The k nearest rows of `data` to each row of `query` (1-based indices, distances).
// [[Rcpp::export(.concord_knn)]]
Rcpp::List concord_knn(Rcpp::NumericMatrix data, Rcpp::NumericMatrix query, int k, std::string metric,
                       double exact_max, int threads) {
  return glue::engine_call([&] {
    if (query.ncol() != data.ncol()) throw std::invalid_argument("query and data differ in dimensions");
    concord::KnnOptions o;
    if (metric == "cosine") {
      o.metric = concord::Metric::cosine;
    } else if (metric != "euclidean") {
      throw std::invalid_argument("metric must be \"euclidean\" or \"cosine\"");
    }
    o.exact_max = static_cast<int64_t>(exact_max);
    const std::vector<float> d = rows_of(data);
    const std::vector<float> q = rows_of(query);
    concord::KnnIndex index(d.data(), data.nrow(), data.ncol(), o, threads, glue::interrupt_pending);
    std::vector<int64_t> idx;
    std::vector<float> dist;
    index.search(q.data(), query.nrow(), k, idx, dist);
    Rcpp::IntegerMatrix out_idx(query.nrow(), k);
    Rcpp::NumericMatrix out_dist(query.nrow(), k);
    for (int r = 0; r < query.nrow(); ++r) {
      for (int j = 0; j < k; ++j) {
        const size_t at = static_cast<size_t>(r) * k + j;
        out_idx(r, j) = idx[at] < 0 ? NA_INTEGER : static_cast<int>(idx[at] + 1);
        out_dist(r, j) = idx[at] < 0 ? NA_REAL : dist[at];
      }
    }
    return Rcpp::List::create(Rcpp::Named("index") = out_idx, Rcpp::Named("distance") = out_dist,
                              Rcpp::Named("exact") = index.exact());
  });
}
