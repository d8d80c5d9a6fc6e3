#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "knn.h"
#include "knn_graph.h"
#include "rng.h"

using concord::KnnIndex;
using concord::KnnOptions;
using concord::Metric;

namespace {

std::vector<float> random_points(int n, int dim, concord::Rng& rng, int clusters = 1) {
  std::vector<float> x(static_cast<size_t>(n) * dim);
  for (int i = 0; i < n; ++i) {
    const int c = i % clusters;
    for (int j = 0; j < dim; ++j) x[i * dim + j] = static_cast<float>(rng.uniform() + 5.0 * ((c >> (j % 4)) & 1));
  }
  return x;
}

// Brute-force k nearest rows of `data` to row q of `queries`.
std::vector<int64_t> brute(const std::vector<float>& data, const std::vector<float>& queries, int q,
                           int dim, int k, bool cosine) {
  const int n = static_cast<int>(data.size()) / dim;
  std::vector<double> d(n);
  for (int i = 0; i < n; ++i) {
    double dot = 0, nq = 0, ni = 0, l2 = 0;
    for (int j = 0; j < dim; ++j) {
      const double a = queries[q * dim + j], b = data[i * dim + j];
      dot += a * b;
      nq += a * a;
      ni += b * b;
      l2 += (a - b) * (a - b);
    }
    d[i] = cosine ? 1 - dot / std::sqrt(nq * ni) : l2;
  }
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int64_t a, int64_t b) { return d[a] < d[b]; });
  order.resize(k);
  return order;
}

}  // namespace

TEST_CASE("exact search agrees with brute force (euclidean and cosine)", "[knn]") {
  concord::Rng rng(21);
  const int n = 600, dim = 12, k = 10;
  const auto data = random_points(n, dim, rng);
  const auto queries = random_points(50, dim, rng);
  for (Metric metric : {Metric::euclidean, Metric::cosine}) {
    KnnOptions o;
    o.metric = metric;
    KnnIndex index(data.data(), n, dim, o);
    REQUIRE(index.exact());
    std::vector<int64_t> idx;
    std::vector<float> dist;
    index.search(queries.data(), 50, k, idx, dist);
    for (int q = 0; q < 50; ++q) {
      const auto expected = brute(data, queries, q, dim, k, metric == Metric::cosine);
      CHECK(std::vector<int64_t>(idx.begin() + q * k, idx.begin() + (q + 1) * k) == expected);
      for (int j = 1; j < k; ++j) CHECK(dist[q * k + j] >= dist[q * k + j - 1]);
    }
  }
}

TEST_CASE("euclidean distances are reported unsquared", "[knn]") {
  const std::vector<float> data = {0, 0, 3, 4};
  KnnIndex index(data.data(), 2, 2, KnnOptions());
  std::vector<int64_t> idx;
  std::vector<float> dist;
  index.search(data.data(), 1, 2, idx, dist);
  CHECK(idx == std::vector<int64_t>{0, 1});
  CHECK(dist[1] == Approx(5.0));
}

TEST_CASE("IVF search finds nearly all true neighbours", "[knn]") {
  concord::Rng rng(22);
  const int n = 20000, dim = 16, k = 15;
  const auto data = random_points(n, dim, rng, 16);
  KnnOptions o;
  o.exact_max = 1000;  // force IVF
  KnnIndex index(data.data(), n, dim, o, 2);
  REQUIRE_FALSE(index.exact());
  std::vector<int64_t> idx;
  std::vector<float> dist;
  const int nq = 100;
  index.search(data.data(), nq, k, idx, dist);
  int hits = 0;
  for (int q = 0; q < nq; ++q) {
    const auto truth = brute(data, data, q, dim, k, false);
    for (int j = 0; j < k; ++j) hits += std::count(truth.begin(), truth.end(), idx[q * k + j]);
  }
  CHECK(hits / static_cast<double>(nq * k) > 0.9);
}

TEST_CASE("kNN results do not depend on the thread count", "[knn]") {
  concord::Rng rng(23);
  const int n = 5000, dim = 10;
  const auto data = random_points(n, dim, rng, 8);
  KnnOptions o;
  o.exact_max = 1000;
  KnnIndex one(data.data(), n, dim, o, 1), two(data.data(), n, dim, o, 2);
  std::vector<int64_t> i1, i2;
  std::vector<float> d1, d2;
  one.search(data.data(), 500, 10, i1, d1);
  two.search(data.data(), 500, 10, i2, d2);
  CHECK(i1 == i2);
  CHECK(d1 == d2);
}

TEST_CASE("an interrupt stops building the index", "[knn]") {
  std::vector<float> data(2000 * 4, 1.0f);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(i % 97);
  int polls = 0;
  const concord::InterruptFn stop = [&] { return ++polls >= 1; };
  CHECK_THROWS_AS(concord::KnnIndex(data.data(), 2000, 4, concord::KnnOptions(), 1, stop),
                  concord::Interrupted);
}

TEST_CASE("radius search returns every point within the radius, nearest first", "[knn]") {
  // Points on a line at 0, 0.5, 1, 2, 3.5; the boundary (distance exactly 1) is inside.
  const std::vector<float> x = {0, 0, 0.5f, 0, 1, 0, 2, 0, 3.5f, 0};
  for (int64_t exact_max : {100, 2}) {
    KnnOptions o;
    o.exact_max = exact_max;
    o.nlist = 1;  // one IVF list: the probed lists hold every point
    KnnIndex index(x.data(), 5, 2, o);
    const std::vector<float> q = {1, 0, 10, 0};
    std::vector<int64_t> offsets, idx;
    std::vector<float> dist;
    index.radius_search(q.data(), 2, 1.0f, offsets, idx, dist);
    REQUIRE(offsets == std::vector<int64_t>{0, 4, 4});
    CHECK(idx == std::vector<int64_t>{2, 1, 0, 3});
    CHECK(dist[0] == Approx(0).margin(1e-6));
    CHECK(dist[1] == Approx(0.5));
    CHECK(dist[3] == Approx(1));
  }
}

TEST_CASE("kNN graph: the IVF search probing every cell finds the exact neighbours", "[knn]") {
  concord::Rng rng(11);
  const int n = 2000, dim = 6, k = 10;
  const auto x = random_points(n, dim, rng, 8);
  concord::KnnGraphOptions all;
  all.exact_max = 0;  // IVF even for this small set
  all.nlist = 20;
  all.nprobe = 20;
  std::vector<int64_t> idx, idx2;
  std::vector<float> dist, dist2;
  concord::knn_graph(x.data(), n, dim, k, all, 1, idx, dist);
  for (int q = 0; q < n; q += 97) {
    auto want = brute(x, x, q, dim, k + 1, false);
    want.erase(std::remove(want.begin(), want.end(), q), want.end());
    want.resize(k);
    std::vector<int64_t> got(idx.begin() + q * k, idx.begin() + (q + 1) * k);
    CHECK(std::find(got.begin(), got.end(), q) == got.end());
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    CHECK(got == want);
    CHECK(std::is_sorted(dist.begin() + q * k, dist.begin() + (q + 1) * k));
  }
  // The default cells and probes, on two threads: the same graph as on one.
  concord::KnnGraphOptions ivf;
  ivf.exact_max = 0;
  CHECK(concord::knn_graph_nlist(n, ivf) == 44);
  CHECK(concord::knn_graph_nprobe(n, ivf) == 10);
  concord::knn_graph(x.data(), n, dim, k, ivf, 1, idx, dist);
  concord::knn_graph(x.data(), n, dim, k, ivf, 2, idx2, dist2);
  CHECK(idx == idx2);
  CHECK(dist == dist2);
}
