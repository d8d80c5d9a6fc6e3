#include "metrics.h"


#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace concord {

namespace {

// Four independent accumulators let the compiler overlap the multiply-adds without
// -ffast-math; this loop is where the quadratic metrics spend their time.
inline double sq_dist(const float* a, const float* b, int dim) {
  float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
  int j = 0;
  for (; j + 4 <= dim; j += 4) {
    const float d0 = a[j] - b[j], d1 = a[j + 1] - b[j + 1];
    const float d2 = a[j + 2] - b[j + 2], d3 = a[j + 3] - b[j + 3];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; j < dim; ++j) s0 += (a[j] - b[j]) * (a[j] - b[j]);
  return static_cast<double>(s0 + s1) + static_cast<double>(s2 + s3);
}

inline double dist(const float* a, const float* b, int dim) { return std::sqrt(sq_dist(a, b, dim)); }

void check_labels(const int* labels, int64_t n, int n_labels) {
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] < 0 || labels[i] >= n_labels) throw std::invalid_argument("label out of range");
  }
}

// Every neighbour of the n x k graph must be -1 or one of the n_targets labelled points.
void check_knn(const int64_t* knn, int64_t n, int k, int64_t n_targets) {
  for (int64_t i = 0; i < n * k; ++i) {
    if (knn[i] < -1 || knn[i] >= n_targets) throw std::invalid_argument("kNN index out of range");
  }
}

struct UnionFind {
  std::vector<int64_t> parent;
  explicit UnionFind(int64_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int64_t find(int64_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void join(int64_t a, int64_t b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  }
};

}  // namespace

std::vector<double> silhouette_samples(const float* x, int64_t n, int dim, const int* labels,
                                       int n_labels, int threads) {
  check_labels(labels, n, n_labels);
  const int nt = std::max(1, threads);
  // Each point sums its own row in a fixed order (every pair is computed twice), so the
  // result does not depend on the number of threads or on scheduling.
  std::vector<double> sums(static_cast<size_t>(n) * n_labels, 0.0);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16)
  for (int64_t i = 0; i < n; ++i) {
    double* s = sums.data() + i * n_labels;
    const float* xi = x + i * dim;
    for (int64_t j = 0; j < n; ++j) {
      if (j != i) s[labels[j]] += dist(xi, x + j * dim, dim);
    }
  }
  std::vector<int64_t> size(n_labels, 0);
  for (int64_t i = 0; i < n; ++i) ++size[labels[i]];
  std::vector<double> out(n, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const int own = labels[i];
    if (size[own] < 2) continue;
    double total_own = 0.0, b = std::numeric_limits<double>::infinity();
    for (int l = 0; l < n_labels; ++l) {
      const double t = sums[i * n_labels + l];
      if (l == own) {
        total_own = t;
      } else if (size[l] > 0) {
        b = std::min(b, t / static_cast<double>(size[l]));
      }
    }
    if (!std::isfinite(b)) continue;  // only one label present
    const double a = total_own / static_cast<double>(size[own] - 1);
    const double m = std::max(a, b);
    out[i] = m > 0.0 ? (b - a) / m : 0.0;
  }
  return out;
}

std::vector<double> lisi(const int64_t* knn, const float* dist_, int64_t n, int k, const int* labels,
                         int n_labels, double perplexity, int threads) {
  check_labels(labels, n, n_labels);
  check_knn(knn, n, k, n);
  const double log_u = std::log(perplexity);
  std::vector<double> out(n, 1.0);
  // Each point's score depends on its own neighbours only: the same for any threads.
#pragma omp parallel num_threads(std::max(1, threads))
  {
    std::vector<double> d(k), p(k), mass(n_labels);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const int64_t* nb = knn + i * k;
      const float* di = dist_ + i * k;
      int m = 0;
      for (int j = 0; j < k; ++j) {
        if (nb[j] >= 0) d[m++] = di[j];
      }
      if (m == 0) continue;
      // Distances relative to the nearest keep exp() from underflowing; the entropy and
      // the normalised weights do not change.
      const double d0 = *std::min_element(d.begin(), d.begin() + m);
      double beta = 1.0, lo = -std::numeric_limits<double>::infinity();
      double hi = std::numeric_limits<double>::infinity();
      for (int tries = 0; tries < 50; ++tries) {
        double sum = 0.0, dot = 0.0;
        for (int j = 0; j < m; ++j) {
          p[j] = std::exp(-(d[j] - d0) * beta);
          sum += p[j];
          dot += (d[j] - d0) * p[j];
        }
        for (int j = 0; j < m; ++j) p[j] /= sum;
        const double h = std::log(sum) + beta * dot / sum - log_u;
        if (std::fabs(h) < 1e-5) break;
        if (h > 0) {
          lo = beta;
          beta = std::isinf(hi) ? beta * 2.0 : (beta + hi) / 2.0;
        } else {
          hi = beta;
          beta = std::isinf(lo) ? beta / 2.0 : (beta + lo) / 2.0;
        }
      }
      std::fill(mass.begin(), mass.end(), 0.0);
      int j2 = 0;
      for (int j = 0; j < k; ++j) {
        if (nb[j] >= 0) mass[labels[nb[j]]] += p[j2++];
      }
      double simpson = 0.0;
      for (double w : mass) simpson += w * w;
      out[i] = 1.0 / simpson;
    }
  }
  return out;
}

std::vector<double> kbet_statistics(const int64_t* knn, int64_t n, int k, const int* labels,
                                    const std::vector<double>& freq) {
  const int n_labels = static_cast<int>(freq.size());
  check_labels(labels, n, n_labels);
  check_knn(knn, n, k, n);
  std::vector<double> out(n, 0.0), count(n_labels);
  for (int64_t i = 0; i < n; ++i) {
    std::fill(count.begin(), count.end(), 0.0);
    int m = 0;
    for (int j = 0; j < k; ++j) {
      const int64_t nb = knn[i * k + j];
      if (nb < 0) continue;
      count[labels[nb]] += 1.0;
      ++m;
    }
    double stat = 0.0;
    for (int l = 0; l < n_labels; ++l) {
      const double e = m * freq[l];
      if (e > 0) stat += (count[l] - e) * (count[l] - e) / e;
    }
    out[i] = stat;
  }
  return out;
}

std::vector<double> label_connectivity(const int64_t* knn, int64_t n, int k, const int* labels,
                                       int n_labels) {
  check_labels(labels, n, n_labels);
  check_knn(knn, n, k, n);
  UnionFind uf(n);
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < k; ++j) {
      const int64_t nb = knn[i * k + j];
      if (nb >= 0 && labels[nb] == labels[i]) uf.join(i, nb);
    }
  }
  std::vector<int64_t> comp(n, 0), size(n_labels, 0), largest(n_labels, 0);
  for (int64_t i = 0; i < n; ++i) {
    ++size[labels[i]];
    const int64_t c = ++comp[uf.find(i)];
    largest[labels[i]] = std::max(largest[labels[i]], c);
  }
  std::vector<double> out(n_labels, std::numeric_limits<double>::quiet_NaN());
  for (int l = 0; l < n_labels; ++l) {
    if (size[l] > 0) out[l] = static_cast<double>(largest[l]) / static_cast<double>(size[l]);
  }
  return out;
}

std::vector<int> majority_label(const int64_t* knn, int64_t n, int k, const int* labels,
                                int64_t n_targets, int n_labels) {
  check_labels(labels, n_targets, n_labels);
  check_knn(knn, n, k, n_targets);
  std::vector<int> out(n, -1), count(n_labels, 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t* nb = knn + i * k;
    int best = 0;
    for (int j = 0; j < k; ++j) {
      if (nb[j] >= 0) best = std::max(best, ++count[labels[nb[j]]]);
    }
    for (int j = 0; j < k && out[i] < 0; ++j) {
      if (nb[j] >= 0 && count[labels[nb[j]]] == best) out[i] = labels[nb[j]];
    }
    for (int j = 0; j < k; ++j) {
      if (nb[j] >= 0) count[labels[nb[j]]] = 0;
    }
  }
  return out;
}

UndirectedEdges fuzzy_union(const int64_t* knn, const double* weights, int64_t n, int k) {
  check_knn(knn, n, k, n);
  // Every directed edge under its lower end, tagged with its direction.
  struct Half {
    int64_t hi;
    double w;
    bool forward;  // lo -> hi (else hi -> lo)
  };
  std::vector<int64_t> start(n + 1, 0);
  for (int64_t i = 0; i < n * k; ++i) {
    const int64_t j = knn[i], from = i / k;
    if (j >= 0 && j != from) ++start[std::min(from, j) + 1];
  }
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<Half> half(start[n]);
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t i = 0; i < n * k; ++i) {
      const int64_t j = knn[i], from = i / k;
      if (j < 0 || j == from) continue;
      const int64_t lo = std::min(from, j);
      half[fill[lo]++] = Half{std::max(from, j), weights[i], from == lo};
    }
  }
  UndirectedEdges out;
  out.from.reserve(half.size());
  out.to.reserve(half.size());
  out.weight.reserve(half.size());
  for (int64_t lo = 0; lo < n; ++lo) {
    auto first = half.begin() + start[lo], last = half.begin() + start[lo + 1];
    std::sort(first, last, [](const Half& a, const Half& b) { return a.hi < b.hi || (a.hi == b.hi && a.forward < b.forward); });
    for (auto it = first; it != last;) {
      double a = 0, b = 0;  // lo -> hi, hi -> lo; repeats add up, as in a sparse matrix
      const int64_t hi = it->hi;
      for (; it != last && it->hi == hi; ++it) (it->forward ? a : b) += it->w;
      out.from.push_back(hi);
      out.to.push_back(lo);
      // As R evaluates m + t(m) - m * t(m), for the same rounding.
      out.weight.push_back((a + b) - a * b);
    }
  }
  return out;
}

std::vector<double> fuzzy_weights(const float* dist_, int64_t n, int k) {
  std::vector<double> out(static_cast<size_t>(n) * k, 0.0);
  const double target = std::log2(static_cast<double>(k));
  for (int64_t i = 0; i < n; ++i) {
    const float* d = dist_ + i * k;
    double rho = 0.0, mean = 0.0;
    for (int j = 0; j < k; ++j) mean += d[j] / k;
    for (int j = 0; j < k; ++j) {
      if (d[j] > 0) {
        rho = d[j];
        break;
      }
    }
    double lo = 0.0, hi = std::numeric_limits<double>::infinity(), sigma = 1.0;
    for (int it = 0; it < 64; ++it) {
      double psum = 0.0;
      for (int j = 0; j < k; ++j) {
        const double r = d[j] - rho;
        psum += r > 0 ? std::exp(-r / sigma) : 1.0;
      }
      if (std::fabs(psum - target) < 1e-5) break;
      if (psum > target) {
        hi = sigma;
        sigma = (lo + hi) / 2.0;
      } else {
        lo = sigma;
        sigma = std::isinf(hi) ? sigma * 2.0 : (lo + hi) / 2.0;
      }
    }
    // As umap: a floor on sigma keeps near-duplicate neighbourhoods from collapsing.
    sigma = std::max(sigma, 1e-3 * mean);
    for (int j = 0; j < k; ++j) {
      const double r = d[j] - rho;
      out[i * k + j] = r > 0 ? std::exp(-r / sigma) : 1.0;
    }
  }
  return out;
}

std::vector<double> trustworthiness(const float* ref, int ref_dim, const float* emb, int emb_dim,
                                    int64_t n, const std::vector<int>& ks, int threads) {
  if (ks.empty()) return {};
  const int kmax = *std::max_element(ks.begin(), ks.end());
  for (int k : ks) {
    if (k < 1 || 2.0 * n - 3.0 * k - 1.0 <= 0) throw std::invalid_argument("k must be in [1, n / 2)");
  }
  std::vector<double> penalty(ks.size(), 0.0);
  const int nt = std::max(1, threads);
#pragma omp parallel num_threads(nt)
  {
    std::vector<double> local(ks.size(), 0.0), dr(n), de(n);
    std::vector<int64_t> order(n), rank(n), near(n);
#pragma omp for schedule(dynamic, 8)
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        dr[j] = j == i ? -1.0 : dist(ref + i * ref_dim, ref + j * ref_dim, ref_dim);
        de[j] = j == i ? -1.0 : dist(emb + i * emb_dim, emb + j * emb_dim, emb_dim);
      }
      // Ties broken by index, as a stable argsort does; the point itself sorts first
      // (distance -1) and so gets rank 0.
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return dr[a] < dr[b]; });
      for (int64_t r = 0; r < n; ++r) rank[order[r]] = r;
      std::iota(near.begin(), near.end(), 0);
      std::partial_sort(near.begin(), near.begin() + kmax + 1, near.end(), [&](int64_t a, int64_t b) {
        return de[a] < de[b] || (de[a] == de[b] && a < b);
      });
      for (size_t q = 0; q < ks.size(); ++q) {
        for (int j = 1; j <= ks[q]; ++j) local[q] += std::max<int64_t>(0, rank[near[j]] - ks[q]);
      }
    }
#pragma omp critical
    for (size_t q = 0; q < ks.size(); ++q) penalty[q] += local[q];
  }
  std::vector<double> out(ks.size());
  for (size_t q = 0; q < ks.size(); ++q) {
    const double k = ks[q], m = static_cast<double>(n);
    out[q] = 1.0 - penalty[q] * 2.0 / (m * k * (2.0 * m - 3.0 * k - 1.0));
  }
  return out;
}

std::vector<double> pairwise_distances(const float* x, int64_t n, int dim, int threads) {
  std::vector<double> out(static_cast<size_t>(n) * (n - 1) / 2);
#pragma omp parallel for num_threads(std::max(1, threads)) schedule(dynamic, 16)
  for (int64_t i = 0; i < n; ++i) {
    // Row i's pairs start after the i rows before it: sum_{r<i} (n - 1 - r).
    size_t at = static_cast<size_t>(i) * (2 * n - i - 1) / 2;
    for (int64_t j = i + 1; j < n; ++j) out[at++] = dist(x + i * dim, x + j * dim, dim);
  }
  return out;
}

namespace {

// Ties among runs of equal values in `v` (already sorted): sum of t (t - 1) / 2.
template <typename Same>
double tied_pairs(size_t m, Same same) {
  double ties = 0.0;
  size_t run = 1;
  for (size_t i = 1; i <= m; ++i) {
    if (i < m && same(i - 1, i)) {
      ++run;
    } else {
      ties += 0.5 * static_cast<double>(run) * static_cast<double>(run - 1);
      run = 1;
    }
  }
  return ties;
}

// Merge sort of v counting the inversions (pairs out of order).
double sort_count_swaps(std::vector<double>& v, std::vector<double>& buf, size_t lo, size_t hi) {
  if (hi - lo < 2) return 0.0;
  const size_t mid = lo + (hi - lo) / 2;
  double swaps = sort_count_swaps(v, buf, lo, mid) + sort_count_swaps(v, buf, mid, hi);
  size_t a = lo, b = mid, o = lo;
  while (a < mid && b < hi) {
    if (v[b] < v[a]) {
      swaps += static_cast<double>(mid - a);
      buf[o++] = v[b++];
    } else {
      buf[o++] = v[a++];
    }
  }
  while (a < mid) buf[o++] = v[a++];
  while (b < hi) buf[o++] = v[b++];
  std::copy(buf.begin() + lo, buf.begin() + hi, v.begin() + lo);
  return swaps;
}

}  // namespace

double kendall_tau(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("kendall_tau: lengths differ");
  const size_t m = a.size();
  if (m < 2) return std::numeric_limits<double>::quiet_NaN();
  std::vector<size_t> idx(m);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return a[x] < a[y] || (a[x] == a[y] && b[x] < b[y]); });
  const double n1 = tied_pairs(m, [&](size_t p, size_t q) { return a[idx[p]] == a[idx[q]]; });
  const double n3 =
      tied_pairs(m, [&](size_t p, size_t q) { return a[idx[p]] == a[idx[q]] && b[idx[p]] == b[idx[q]]; });
  std::vector<double> v(m), buf(m);
  for (size_t i = 0; i < m; ++i) v[i] = b[idx[i]];
  const double swaps = sort_count_swaps(v, buf, 0, m);
  const double n2 = tied_pairs(m, [&](size_t p, size_t q) { return v[p] == v[q]; });
  const double n0 = 0.5 * static_cast<double>(m) * static_cast<double>(m - 1);
  const double denom = std::sqrt((n0 - n1) * (n0 - n2));
  if (denom == 0.0) return std::numeric_limits<double>::quiet_NaN();
  return (n0 - n1 - n2 + n3 - 2.0 * swaps) / denom;
}

}  // namespace concord
