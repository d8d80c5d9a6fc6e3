// Embedding quality metrics: the loops that are quadratic or run over every cell's
// neighbourhood. Plain C++17, no R: the R front end (R/metrics-*.R) subsamples, builds
// kNN graphs with KnnIndex and aggregates.
//
// Conventions: points are n x dim, row-major floats; labels are 0-based ints in
// [0, n_labels); kNN results are n x k, row-major, 0-based, nearest first, the point
// itself excluded, -1 for a missing neighbour.
#pragma once

#include <cstdint>
#include <vector>

namespace concord {

// Silhouette of every point (Rousseeuw 1987, as sklearn's silhouette_samples):
// s = (b - a) / max(a, b) with a the mean euclidean distance to the other points of its
// label and b the smallest mean distance to another label; 0 for a label of one point.
std::vector<double> silhouette_samples(const float* x, int64_t n, int dim, const int* labels,
                                       int n_labels, int threads = 1);

// Local inverse Simpson's index of each point (Korsunsky et al. 2019, harmony's
// compute_lisi): Gaussian weights over the k neighbours with a bandwidth found by
// bisection so that their entropy is log(perplexity); LISI = 1 / sum_l (weight of l)^2.
// Points are split over `threads`; the result does not depend on them.
std::vector<double> lisi(const int64_t* knn, const float* dist, int64_t n, int k, const int* labels,
                         int n_labels, double perplexity, int threads = 1);

// Pearson's chi-squared statistic of each point's neighbourhood composition against
// the expected label frequencies `freq` (kBET, Buttner et al. 2019).
std::vector<double> kbet_statistics(const int64_t* knn, int64_t n, int k, const int* labels,
                                    const std::vector<double>& freq);

// For each label, the share of its points in the largest connected component of the
// kNN graph restricted to that label (scIB's graph connectivity); NaN for an absent label.
std::vector<double> label_connectivity(const int64_t* knn, int64_t n, int k, const int* labels,
                                       int n_labels);

// The label most frequent among each of n query points' neighbours, which index the
// n_targets points of `labels` (another set than the queries: a reference); ties go to
// the label of the nearer neighbour. Points without neighbours get -1.
std::vector<int> majority_label(const int64_t* knn, int64_t n, int k, const int* labels,
                                int64_t n_targets, int n_labels);

// UMAP's fuzzy membership of each kNN edge (McInnes et al. 2018, as scanpy's
// connectivities): exp(-(d - rho_i) / sigma_i), sigma_i found so that the memberships
// sum to log2(k). Not symmetrised.
std::vector<double> fuzzy_weights(const float* dist, int64_t n, int k);

// The fuzzy union (w + w' - w w', scanpy's symmetrisation) of the directed weighted
// kNN graph `knn` -> `weights` (n x k, row-major, -1 for a missing neighbour; a point
// is not its own neighbour) as undirected edges, each once: the lower triangle of the
// symmetric matrix in column-major order (by `to`, then `from`; from > to), which is
// the order igraph's graph_from_adjacency_matrix(mode = "undirected") adds them in.
struct UndirectedEdges {
  std::vector<int64_t> from, to;
  std::vector<double> weight;
};
UndirectedEdges fuzzy_union(const int64_t* knn, const double* weights, int64_t n, int k);

// Trustworthiness (Venna and Kaski 2001, as sklearn) of `emb` with respect to `ref` for
// each k in `ks` (each < n / 2): 1 - 2 / (n k (2n - 3k - 1)) * sum over each point's k
// embedding neighbours of max(0, rank in the reference - k).
std::vector<double> trustworthiness(const float* ref, int ref_dim, const float* emb, int emb_dim,
                                    int64_t n, const std::vector<int>& ks, int threads = 1);

// The n (n - 1) / 2 euclidean distances between rows, in the order (0,1), (0,2), ...,
// (1,2), ...
std::vector<double> pairwise_distances(const float* x, int64_t n, int dim, int threads = 1);

// Kendall's tau-b in O(m log m) (Knight 1966).
double kendall_tau(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace concord
