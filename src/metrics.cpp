// R glue for the embedding metrics (src/concord/metrics.h, topology.h). Labels come in
// as 1-based integer codes, kNN indices as the 1-based matrices of .concord_knn()
// without the self column.
#include <Rcpp.h>

#include "glue_engine.h"
#include "glue_matrix.h"

#include "concord/metrics.h"
#include "concord/topology.h"

namespace {

// Row-major 0-based neighbours (-1 for NA) of a 1-based index matrix into n_targets
// points (by default its own rows, a kNN graph).
std::vector<int64_t> knn_rows(const Rcpp::IntegerMatrix& m, R_xlen_t n_targets = -1) {
  if (n_targets < 0) n_targets = m.nrow();
  std::vector<int64_t> out(static_cast<size_t>(m.nrow()) * m.ncol());
  for (int r = 0; r < m.nrow(); ++r) {
    for (int c = 0; c < m.ncol(); ++c) {
      const int v = m(r, c);
      if (v != NA_INTEGER && (v < 1 || v > n_targets)) throw std::invalid_argument("kNN index out of range");
      out[static_cast<size_t>(r) * m.ncol() + c] = v == NA_INTEGER ? -1 : v - 1;
    }
  }
  return out;
}

std::vector<int> codes(const Rcpp::IntegerVector& labels, int n) {
  if (labels.size() != n) throw std::invalid_argument("labels and points differ in length");
  std::vector<int> out(labels.size());
  for (R_xlen_t i = 0; i < labels.size(); ++i) out[i] = labels[i] - 1;
  return out;
}

}  // namespace

// [[Rcpp::export(.concord_silhouette)]]
Rcpp::NumericVector concord_silhouette(Rcpp::NumericMatrix x, Rcpp::IntegerVector labels, int n_labels,
                                       int threads) {
  return glue::engine_call([&] {
    const std::vector<float> p = rows_of(x);
    const std::vector<int> l = codes(labels, x.nrow());
    return Rcpp::wrap(concord::silhouette_samples(p.data(), x.nrow(), x.ncol(), l.data(), n_labels, threads));
  });
}

// [[Rcpp::export(.concord_lisi)]]
Rcpp::NumericVector concord_lisi(Rcpp::IntegerMatrix index, Rcpp::NumericMatrix distance,
                                 Rcpp::IntegerVector labels, int n_labels, double perplexity, int threads = 1) {
  return glue::engine_call([&] {
    const std::vector<int64_t> nb = knn_rows(index);
    const std::vector<float> d = rows_of(distance);
    const std::vector<int> l = codes(labels, index.nrow());
    return Rcpp::wrap(concord::lisi(nb.data(), d.data(), index.nrow(), index.ncol(), l.data(), n_labels, perplexity, threads));
  });
}

// [[Rcpp::export(.concord_kbet_statistics)]]
Rcpp::NumericVector concord_kbet_statistics(Rcpp::IntegerMatrix index, Rcpp::IntegerVector labels,
                                            std::vector<double> freq) {
  return glue::engine_call([&] {
    const std::vector<int64_t> nb = knn_rows(index);
    const std::vector<int> l = codes(labels, index.nrow());
    return Rcpp::wrap(concord::kbet_statistics(nb.data(), index.nrow(), index.ncol(), l.data(), freq));
  });
}

// [[Rcpp::export(.concord_label_connectivity)]]
Rcpp::NumericVector concord_label_connectivity(Rcpp::IntegerMatrix index, Rcpp::IntegerVector labels,
                                               int n_labels) {
  return glue::engine_call([&] {
    const std::vector<int64_t> nb = knn_rows(index);
    const std::vector<int> l = codes(labels, index.nrow());
    return Rcpp::wrap(concord::label_connectivity(nb.data(), index.nrow(), index.ncol(), l.data(), n_labels));
  });
}

// Majority label among each row's neighbours (`index` into `labels`, 1-based; NA if none).
// The query rows and the labelled reference rows are different sets of cells.
// [[Rcpp::export(.concord_majority_label)]]
Rcpp::IntegerVector concord_majority_label(Rcpp::IntegerMatrix index, Rcpp::IntegerVector labels,
                                           int n_labels) {
  return glue::engine_call([&] {
    const std::vector<int64_t> nb = knn_rows(index, labels.size());
    const std::vector<int> l = codes(labels, labels.size());
    const std::vector<int> m = concord::majority_label(nb.data(), index.nrow(), index.ncol(), l.data(),
                                                       labels.size(), n_labels);
    Rcpp::IntegerVector out(index.nrow());
    for (int r = 0; r < index.nrow(); ++r) out[r] = m[r] < 0 ? NA_INTEGER : m[r] + 1;
    return out;
  });
}

// [[Rcpp::export(.concord_fuzzy_weights)]]
Rcpp::NumericMatrix concord_fuzzy_weights(Rcpp::NumericMatrix distance) {
  return glue::engine_call([&] {
    const std::vector<float> d = rows_of(distance);
    const std::vector<double> w = concord::fuzzy_weights(d.data(), distance.nrow(), distance.ncol());
    Rcpp::NumericMatrix out(distance.nrow(), distance.ncol());
    for (int r = 0; r < distance.nrow(); ++r) {
      for (int c = 0; c < distance.ncol(); ++c) out(r, c) = w[static_cast<size_t>(r) * distance.ncol() + c];
    }
    return out;
  });
}

// The undirected fuzzy-union edges of a kNN graph with per-edge weights: a 2 x E
// matrix of 1-based ends (the larger first) and the weights, in igraph's order for a
// symmetric adjacency matrix.
// [[Rcpp::export(.concord_fuzzy_union)]]
Rcpp::List concord_fuzzy_union(Rcpp::IntegerMatrix index, Rcpp::NumericMatrix weights) {
  return glue::engine_call([&] {
    if (weights.nrow() != index.nrow() || weights.ncol() != index.ncol()) {
      throw std::invalid_argument("index and weights differ in shape");
    }
    const std::vector<int64_t> nb = knn_rows(index);
    std::vector<double> w(nb.size());
    for (int r = 0; r < index.nrow(); ++r) {
      for (int c = 0; c < index.ncol(); ++c) w[static_cast<size_t>(r) * index.ncol() + c] = weights(r, c);
    }
    const concord::UndirectedEdges e = concord::fuzzy_union(nb.data(), w.data(), index.nrow(), index.ncol());
    const R_xlen_t m = static_cast<R_xlen_t>(e.weight.size());
    Rcpp::IntegerMatrix ends(2, m);
    for (R_xlen_t i = 0; i < m; ++i) {
      ends[2 * i] = static_cast<int>(e.from[i] + 1);
      ends[2 * i + 1] = static_cast<int>(e.to[i] + 1);
    }
    return Rcpp::List::create(Rcpp::Named("ends") = ends, Rcpp::Named("weight") = Rcpp::wrap(e.weight));
  });
}

// [[Rcpp::export(.concord_trustworthiness)]]
Rcpp::NumericVector concord_trustworthiness(Rcpp::NumericMatrix reference, Rcpp::NumericMatrix embedding,
                                            std::vector<int> ks, int threads) {
  return glue::engine_call([&] {
    if (reference.nrow() != embedding.nrow()) throw std::invalid_argument("reference and embedding differ in rows");
    const std::vector<float> r = rows_of(reference), e = rows_of(embedding);
    return Rcpp::wrap(concord::trustworthiness(r.data(), reference.ncol(), e.data(), embedding.ncol(),
                                               reference.nrow(), ks, threads));
  });
}

// [[Rcpp::export(.concord_pairwise_distances)]]
Rcpp::NumericVector concord_pairwise_distances(Rcpp::NumericMatrix x, int threads) {
  return glue::engine_call([&] {
    const std::vector<float> p = rows_of(x);
    return Rcpp::wrap(concord::pairwise_distances(p.data(), x.nrow(), x.ncol(), threads));
  });
}

// [[Rcpp::export(.concord_kendall)]]
double concord_kendall(std::vector<double> a, std::vector<double> b) {
  return glue::engine_call([&] {
    return concord::kendall_tau(a, b);
  });
}

// [[Rcpp::export(.concord_rips_persistence)]]
Rcpp::DataFrame concord_rips_persistence(Rcpp::NumericMatrix x, int max_dim, double max_scale) {
  return glue::engine_call([&] {
    const std::vector<float> p = rows_of(x);
    const auto pairs = concord::rips_persistence(p.data(), x.nrow(), x.ncol(), max_dim, max_scale);
    Rcpp::IntegerVector dimension(pairs.size());
    Rcpp::NumericVector birth(pairs.size()), death(pairs.size());
    for (size_t i = 0; i < pairs.size(); ++i) {
      dimension[i] = pairs[i].dimension;
      birth[i] = pairs[i].birth;
      death[i] = pairs[i].death;
    }
    return Rcpp::DataFrame::create(Rcpp::Named("dimension") = dimension, Rcpp::Named("birth") = birth,
                                   Rcpp::Named("death") = death);
  });
}
