#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "metrics.h"
#include "topology.h"


namespace {

// Kendall's tau-b by its definition, over every pair.
double kendall_brute(const std::vector<double>& a, const std::vector<double>& b) {
  double con = 0, dis = 0, ta = 0, tb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = i + 1; j < a.size(); ++j) {
      const double s = (a[i] - a[j]) * (b[i] - b[j]);
      if (s > 0) ++con;
      if (s < 0) ++dis;
      if (a[i] == a[j] && b[i] != b[j]) ++ta;
      if (b[i] == b[j] && a[i] != a[j]) ++tb;
    }
  }
  return (con - dis) / std::sqrt((con + dis + ta) * (con + dis + tb));
}

std::vector<float> circle(int n, double radius) {
  std::vector<float> x;
  for (int i = 0; i < n; ++i) {
    const double t = 2 * M_PI * i / n;
    x.push_back(static_cast<float>(radius * std::cos(t)));
    x.push_back(static_cast<float>(radius * std::sin(t)));
  }
  return x;
}

int count_longer(const std::vector<concord::PersistencePair>& p, int dim, double min_life) {
  int c = 0;
  for (const auto& q : p) c += q.dimension == dim && q.death - q.birth > min_life;
  return c;
}

}  // namespace

TEST_CASE("metric: silhouette matches the hand-worked value", "[metric]") {
  // Two labels of two points each: (0,0), (0,1) and (10,0), (10,1).
  const std::vector<float> x = {0, 0, 0, 1, 10, 0, 10, 1};
  const std::vector<int> l = {0, 0, 1, 1};
  const auto s = concord::silhouette_samples(x.data(), 4, 2, l.data(), 2, 2);
  const double b = (10.0 + std::sqrt(101.0)) / 2.0;
  for (double v : s) CHECK(v == Approx((b - 1.0) / b));
  // One point alone in its label scores 0, as in sklearn.
  const std::vector<int> l2 = {0, 0, 0, 1};
  CHECK(concord::silhouette_samples(x.data(), 4, 2, l2.data(), 2, 1)[3] == 0.0);
}

TEST_CASE("metric: silhouette is the same on 1 and 2 threads", "[metric]") {
  std::mt19937 gen(1);
  std::normal_distribution<float> z;
  std::vector<float> x(300 * 5);
  for (auto& v : x) v = z(gen);
  std::vector<int> l(300);
  for (int i = 0; i < 300; ++i) l[i] = i % 3;
  const auto a = concord::silhouette_samples(x.data(), 300, 5, l.data(), 3, 1);
  const auto b = concord::silhouette_samples(x.data(), 300, 5, l.data(), 3, 2);
  CHECK(a == b);  // bitwise
}

TEST_CASE("metric: LISI counts effective labels in a neighbourhood", "[metric]") {
  // Five points, each with the four others as equidistant neighbours: equal weights
  // whatever the bandwidth. Point 0 is checked.
  const std::vector<int64_t> knn = {1, 2, 3, 4, 0, 2, 3, 4, 0, 1, 3, 4, 0, 1, 2, 4, 0, 1, 2, 3};
  const std::vector<float> d(20, 1.f);
  std::vector<int> l = {0, 0, 1, 0, 1};
  CHECK(concord::lisi(knn.data(), d.data(), 5, 4, l.data(), 2, 2.0)[0] == Approx(2.0));
  l = {0, 0, 0, 0, 0};
  CHECK(concord::lisi(knn.data(), d.data(), 5, 4, l.data(), 2, 2.0)[0] == Approx(1.0));
  l = {0, 0, 1, 2, 3};
  CHECK(concord::lisi(knn.data(), d.data(), 5, 4, l.data(), 4, 2.0)[0] == Approx(4.0));
}

TEST_CASE("metric: kBET statistic is Pearson's chi-squared", "[metric]") {
  // Points 0 and 1 are checked; the graph covers all five points.
  const std::vector<int64_t> knn = {1, 2, 3, 4, 1, 2, 1, 2, 0, 1, 3, 4, 0, 1, 2, 4, 0, 1, 2, 3};
  const std::vector<int> l = {0, 0, 0, 1, 1};
  const auto s = concord::kbet_statistics(knn.data(), 5, 4, l.data(), {0.5, 0.5});
  CHECK(s[0] == Approx(0.0));   // 2 and 2 observed, 2 and 2 expected
  CHECK(s[1] == Approx(4.0));   // 4 and 0 observed: (2^2 + 2^2) / 2
}

TEST_CASE("metric: graph connectivity is the largest same-label component", "[metric]") {
  // 0-1-2 chained, 3 alone (its neighbour has another label), 4-5 of label 1.
  const std::vector<int64_t> knn = {1, 0, 1, 4, 5, 4};
  const std::vector<int> l = {0, 0, 0, 0, 1, 1};
  const auto c = concord::label_connectivity(knn.data(), 6, 1, l.data(), 3);
  CHECK(c[0] == Approx(0.75));
  CHECK(c[1] == Approx(1.0));
  CHECK(std::isnan(c[2]));
}

TEST_CASE("metric: majority label breaks ties by the nearer neighbour", "[metric]") {
  const std::vector<int64_t> knn = {0, 1, 2, 3, 2, 3, 0, -1};
  const std::vector<int> l = {0, 1, 1, 0};
  const auto m = concord::majority_label(knn.data(), 2, 4, l.data(), static_cast<int64_t>(l.size()), 2);
  CHECK(m[0] == 0);  // two of each; label 0 is nearest
  CHECK(m[1] == 0);  // labels 1, 0, 0 (and one missing neighbour)
}

TEST_CASE("metric: majority label of more queries than labelled targets", "[metric]") {
  // Five query points voting among two reference points: the labels are read only
  // within the reference, however many queries there are.
  const std::vector<int64_t> knn = {0, 1, 1, 0, 1, -1, 0, -1, 1, 1};
  const std::vector<int> l = {1, 0};
  const auto m = concord::majority_label(knn.data(), 5, 2, l.data(), 2, 2);
  CHECK(m == std::vector<int>{1, 0, 0, 1, 0});
  const std::vector<int64_t> beyond = {0, 2};
  CHECK_THROWS_AS(concord::majority_label(beyond.data(), 1, 2, l.data(), 2, 2), std::invalid_argument);
}

TEST_CASE("metric: kNN graphs pointing past the points are refused", "[metric]") {
  const std::vector<int64_t> knn = {1, 2};
  const std::vector<int> l = {0, 1};
  const std::vector<float> d = {1.f, 1.f};
  CHECK_THROWS_AS(concord::label_connectivity(knn.data(), 2, 1, l.data(), 2), std::invalid_argument);
  CHECK_THROWS_AS(concord::kbet_statistics(knn.data(), 2, 1, l.data(), {0.5, 0.5}), std::invalid_argument);
  CHECK_THROWS_AS(concord::lisi(knn.data(), d.data(), 2, 1, l.data(), 2, 1.0), std::invalid_argument);
}

TEST_CASE("metric: fuzzy weights sum to log2(k) and start at 1", "[metric]") {
  const std::vector<float> d = {0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  const auto w = concord::fuzzy_weights(d.data(), 1, 8);
  double sum = 0;
  for (double v : w) sum += v;
  CHECK(sum == Approx(3.0).epsilon(1e-4));
  CHECK(w[0] == 1.0);
  for (int j = 1; j < 8; ++j) CHECK(w[j] < w[j - 1]);
}

TEST_CASE("metric: trustworthiness matches its definition", "[metric]") {
  std::mt19937 gen(3);
  std::normal_distribution<float> z;
  const int n = 40;
  std::vector<float> ref(n * 3), emb(n * 2);
  for (auto& v : ref) v = z(gen);
  for (int i = 0; i < n; ++i) {  // drop one coordinate, add noise
    emb[i * 2] = ref[i * 3] + 0.3f * z(gen);
    emb[i * 2 + 1] = ref[i * 3 + 1];
  }
  const std::vector<int> ks = {1, 5, 10};
  CHECK(concord::trustworthiness(ref.data(), 3, ref.data(), 3, n, ks)[2] == Approx(1.0));
  const auto t = concord::trustworthiness(ref.data(), 3, emb.data(), 2, n, ks, 2);
  auto d = [](const float* a, const float* b, int dim) {
    double s = 0;
    for (int j = 0; j < dim; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
    return s;
  };
  for (size_t q = 0; q < ks.size(); ++q) {
    const int k = ks[q];
    double pen = 0;
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) {
        if (j == i) continue;
        int emb_rank = 1, ref_rank = 1;  // 1 + points strictly closer (no ties here)
        for (int m = 0; m < n; ++m) {
          if (m == i || m == j) continue;
          emb_rank += d(&emb[i * 2], &emb[m * 2], 2) < d(&emb[i * 2], &emb[j * 2], 2);
          ref_rank += d(&ref[i * 3], &ref[m * 3], 3) < d(&ref[i * 3], &ref[j * 3], 3);
        }
        if (emb_rank <= k && ref_rank > k) pen += ref_rank - k;
      }
    }
    CHECK(t[q] == Approx(1.0 - 2.0 * pen / (n * k * (2.0 * n - 3.0 * k - 1.0))));
    CHECK(t[q] < 1.0);
  }
}

TEST_CASE("metric: pairwise distances and Kendall's tau", "[metric]") {
  const std::vector<float> x = {0, 0, 3, 4, 6, 8};
  const auto p = concord::pairwise_distances(x.data(), 3, 2, 2);
  REQUIRE(p.size() == 3);
  CHECK(p[0] == Approx(5.0));
  CHECK(p[1] == Approx(10.0));
  CHECK(p[2] == Approx(5.0));
  std::mt19937 gen(5);
  std::uniform_int_distribution<int> u(0, 6);  // many ties
  std::vector<double> a(200), b(200);
  for (int i = 0; i < 200; ++i) {
    a[i] = u(gen);
    b[i] = a[i] + u(gen);
  }
  CHECK(concord::kendall_tau(a, b) == Approx(kendall_brute(a, b)).epsilon(1e-12));
  CHECK(concord::kendall_tau(a, a) == Approx(1.0));
}

TEST_CASE("metric: points on a circle have one persistent loop", "[metric][topology]") {
  const auto x = circle(60, 1.0);
  const auto p = concord::rips_persistence(x.data(), 60, 2, 2, 0.0);
  CHECK(count_longer(p, 1, 0.5) == 1);
  CHECK(count_longer(p, 0, 0.5) == 1);  // one component, alive forever
  CHECK(count_longer(p, 2, 0.5) == 0);
  // The loop is born at the spacing of neighbours and dies at the side of the
  // inscribed equilateral triangle, sqrt(3) for a unit circle.
  for (const auto& q : p) {
    if (q.dimension == 1 && q.death - q.birth > 0.5) {
      CHECK(q.birth == Approx(2 * std::sin(M_PI / 60)).epsilon(1e-4));
      CHECK(q.death == Approx(std::sqrt(3.0)).epsilon(0.02));
    }
  }
}

TEST_CASE("metric: three blobs have three persistent components", "[metric][topology]") {
  std::mt19937 gen(7);
  std::normal_distribution<float> z(0.0f, 0.1f);
  std::vector<float> x;
  const float centres[3][3] = {{0, 0, 0}, {5, 0, 0}, {0, 5, 5}};
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 30; ++i) {
      for (int j = 0; j < 3; ++j) x.push_back(centres[c][j] + z(gen));
    }
  }
  const auto p = concord::rips_persistence(x.data(), 90, 3, 1, 0.0);
  CHECK(count_longer(p, 0, 2.0) == 3);
  CHECK(count_longer(p, 1, 2.0) == 0);
  // A scale limit below the gaps leaves the three components alive at the end.
  const auto q = concord::rips_persistence(x.data(), 90, 3, 0, 2.0);
  int infinite = 0;
  for (const auto& r : q) infinite += std::isinf(r.death);
  CHECK(infinite == 3);
}

TEST_CASE("metric: LISI is the same on any number of threads", "[metric]") {
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> u(0.1f, 3.f);
  std::uniform_int_distribution<int> pick(0, 399);
  const int n = 400, k = 20;
  std::vector<int64_t> knn(static_cast<size_t>(n) * k);
  std::vector<float> d(knn.size());
  for (size_t i = 0; i < knn.size(); ++i) {
    knn[i] = pick(gen);
    d[i] = u(gen);
  }
  std::vector<int> l(n);
  for (int i = 0; i < n; ++i) l[i] = i % 4;
  const auto a = concord::lisi(knn.data(), d.data(), n, k, l.data(), 4, 6.0, 1);
  const auto b = concord::lisi(knn.data(), d.data(), n, k, l.data(), 4, 6.0, 2);
  CHECK(a == b);  // bitwise
}
