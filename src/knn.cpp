// R glue for Faiss nearest neighbours.
#include <Rcpp.h>

#include "glue_engine.h"
#include "glue_matrix.h"

#include "concord/knn.h"
#include "concord/knn_graph.h"

namespace {

// Row-major 0-based neighbours (-1: none) and their distances as R's n x k matrices
// `index` (1-based) and `distance`, NA where there is no neighbour.
Rcpp::List neighbour_matrices(const std::vector<int64_t>& idx, const std::vector<float>& dist, int n, int k) {
  Rcpp::IntegerMatrix out_idx(n, k);
  Rcpp::NumericMatrix out_dist(n, k);
  for (int r = 0; r < n; ++r) {
    for (int j = 0; j < k; ++j) {
      const size_t at = static_cast<size_t>(r) * k + j;
      out_idx(r, j) = idx[at] < 0 ? NA_INTEGER : static_cast<int>(idx[at] + 1);
      out_dist(r, j) = idx[at] < 0 ? NA_REAL : dist[at];
    }
  }
  return Rcpp::List::create(Rcpp::Named("index") = out_idx, Rcpp::Named("distance") = out_dist);
}

concord::KnnOptions knn_options(const std::string& metric, double exact_max, int nlist, int nprobe) {
  concord::KnnOptions o;
  if (metric == "cosine") {
    o.metric = concord::Metric::cosine;
  } else if (metric != "euclidean") {
    throw std::invalid_argument("metric must be \"euclidean\" or \"cosine\"");
  }
  if (nlist < 0 || nprobe < 1) throw std::invalid_argument("nlist must be >= 0 (0: sqrt(n)) and nprobe >= 1");
  o.exact_max = static_cast<int64_t>(exact_max);
  o.nlist = nlist;
  o.nprobe = nprobe;
  return o;
}

}  // namespace

// The k nearest rows of `data` to each row of `query` (1-based indices, distances).
// `nlist` (0: sqrt(n)) and `nprobe` set the IVF index used above `exact_max` rows.
// [[Rcpp::export(.concord_knn)]]
Rcpp::List concord_knn(Rcpp::NumericMatrix data, Rcpp::NumericMatrix query, int k, std::string metric,
                       double exact_max, int threads, int nlist = 0, int nprobe = 10) {
  return glue::engine_call([&] {
    if (query.ncol() != data.ncol()) throw std::invalid_argument("query and data differ in dimensions");
    const concord::KnnOptions o = knn_options(metric, exact_max, nlist, nprobe);
    const std::vector<float> d = rows_of(data);
    // A search of the data against itself needs one float copy, not two.
    const bool same = static_cast<SEXP>(query) == static_cast<SEXP>(data);
    const std::vector<float> q = same ? std::vector<float>() : rows_of(query);
    concord::KnnIndex index(d.data(), data.nrow(), data.ncol(), o, threads, glue::interrupt_pending);
    std::vector<int64_t> idx;
    std::vector<float> dist;
    index.search(same ? d.data() : q.data(), query.nrow(), k, idx, dist);
    Rcpp::List out = neighbour_matrices(idx, dist, query.nrow(), k);
    out["exact"] = index.exact();
    return out;
  });
}

// The kNN graph of the rows of `x` (euclidean): each row's k nearest other rows, as
// 1-based `index` and `distance` matrices (n x k, nearest first, NA where missing),
// from concord::knn_graph (exact up to `exact_max` rows; `nlist`, `nprobe` 0 for the
// automatic IVF cells and probes).
// [[Rcpp::export(.concord_knn_graph)]]
Rcpp::List concord_knn_graph(Rcpp::NumericMatrix x, int k, double exact_max, int threads, int nlist = 0,
                             int nprobe = 0) {
  return glue::engine_call([&] {
    const int n = x.nrow();
    concord::KnnGraphOptions o;
    o.exact_max = static_cast<int64_t>(std::min(exact_max, 9e18));
    o.nlist = nlist;
    o.nprobe = nprobe;
    std::vector<int64_t> idx;
    std::vector<float> dist;
    {
      const std::vector<float> d = rows_of(x);
      concord::knn_graph(d.data(), n, x.ncol(), k, o, threads, idx, dist, glue::interrupt_pending);
    }
    Rcpp::List out = neighbour_matrices(idx, dist, n, k);
    out["nlist"] = concord::knn_graph_nlist(n, o);
    out["nprobe"] = concord::knn_graph_nprobe(n, o);
    return out;
  });
}
