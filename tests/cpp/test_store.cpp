// The engine-side input store and the pass that chooses what goes into it.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "normalize.h"
#include "store.h"

using concord::CellBlock;
using concord::CsrStore;
using concord::GeneMoments;

namespace {

// 4 genes x 3 cells of counts, compressed by cell; cell 1 is empty.
struct Counts {
  std::vector<int> p{0, 3, 3, 5};
  std::vector<int> genes{0, 2, 3, 1, 3};
  std::vector<double> values{1, 4, 5, 2, 6};
  CellBlock all() const { return CellBlock{3, 4, p.data(), genes.data(), values.data()}; }
  // Cells [from, to) as a slice of the same arrays, as a file reader hands them over.
  CellBlock slice(int from, int to) const {
    return CellBlock{to - from, 4, p.data() + from, genes.data() + p[from], values.data() + p[from]};
  }
};

}  // namespace

TEST_CASE("the store keeps the chosen genes, log-normalized and ordered by their column", "[store]") {
  const Counts x;
  std::vector<double> normalized(x.values.size());
  concord::log_normalize(3, x.p.data(), x.values.data(), 1e4, normalized.data(), 1);
  // Genes 3 and 0 kept, in that order; genes 1 and 2 left out.
  CsrStore store({1, -1, -1, 0}, 2, 1e4);
  store.append(x.all());
  const concord::CsrView v = store.view();
  REQUIRE(v.n_rows == 3);
  REQUIRE(v.n_cols == 2);
  REQUIRE(std::vector<int>(v.indptr, v.indptr + 4) == std::vector<int>{0, 2, 2, 3});
  REQUIRE(std::vector<int>(v.indices, v.indices + 3) == std::vector<int>{0, 1, 0});
  CHECK(v.values[0] == static_cast<float>(normalized[2]));  // cell 0, gene 3
  CHECK(v.values[1] == static_cast<float>(normalized[0]));  // cell 0, gene 0
  CHECK(v.values[2] == static_cast<float>(normalized[4]));  // cell 2, gene 3
  CHECK(v.values[0] == static_cast<float>(std::log1p(5.0 / 10.0 * 1e4)));
}

TEST_CASE("the store built a block at a time equals the store built at once", "[store]") {
  const Counts x;
  for (double scale : {0.0, 1e4}) {
    CsrStore once({0, 1, 2, 3}, 4, scale), blocks({0, 1, 2, 3}, 4, scale);
    once.append(x.all());
    blocks.append(x.slice(0, 2));
    blocks.append(x.slice(2, 3));
    const concord::CsrView a = once.view(), b = blocks.view();
    REQUIRE(a.n_rows == b.n_rows);
    CHECK(std::vector<int>(a.indptr, a.indptr + 4) == std::vector<int>(b.indptr, b.indptr + 4));
    CHECK(std::vector<float>(a.values, a.values + 5) == std::vector<float>(b.values, b.values + 5));
  }
  CsrStore given({0, 1, 2, 3}, 4, 0.0);
  given.append(x.all());
  CHECK(given.view().values[1] == 4.0f);  // values as given without a scale
}

TEST_CASE("gene moments sum the values as given and log-normalized, and count what training cannot use",
          "[store]") {
  const Counts x;
  GeneMoments m(4);
  m.add(x.slice(0, 1), 1e4);
  m.add(x.slice(1, 3), 1e4);
  CHECK(m.n_cells == 3);
  CHECK(m.sum == std::vector<double>{1, 2, 4, 11});
  CHECK(m.sum_sq[3] == 25 + 36);
  CHECK(m.log_sum[3] == Approx(std::log1p(0.5e4) + std::log1p(0.75e4)));
  CHECK(m.non_finite + m.negative + m.too_large + m.fractional == 0);
  CHECK(m.largest == 6);

  std::vector<int> p{0, 4};
  std::vector<int> genes{0, 1, 2, 3};
  std::vector<double> bad{-1, 0.5, std::numeric_limits<double>::quiet_NaN(), 1e39};
  GeneMoments b(4);
  b.add(CellBlock{1, 4, p.data(), genes.data(), bad.data()}, 1e4);
  CHECK(b.non_finite == 1);
  CHECK(b.negative == 1);
  CHECK(b.too_large == 1);
  CHECK(b.fractional == 1);
}

TEST_CASE("the store refuses blocks and feature maps of the wrong shape", "[store]") {
  const Counts x;
  CHECK_THROWS_AS(CsrStore({0, 1, 2}, 2, 0.0), std::invalid_argument);
  CsrStore three({0, 1, 2}, 3, 0.0);
  CHECK_THROWS_AS(three.append(x.all()), std::invalid_argument);
  std::vector<int> genes{0, 9, 3, 1, 3};
  CsrStore store({0, 1, 2, 3}, 4, 0.0);
  CHECK_THROWS_AS(store.append(CellBlock{3, 4, x.p.data(), genes.data(), x.values.data()}), std::invalid_argument);
  GeneMoments m(4);
  CHECK_THROWS_AS(m.add(CellBlock{3, 4, x.p.data(), genes.data(), x.values.data()}, 1e4), std::invalid_argument);
}

TEST_CASE("gene moments per domain sum each domain's cells, and add up to the moments of all cells", "[store]") {
  const Counts x;
  // Cells 0 and 2 in domain 1, the empty cell 1 in domain 0.
  const std::vector<int> domain{1, 0, 1};
  GeneMoments once(4, 2), blocks(4, 2);
  once.add(x.all(), 1e4, domain.data());
  blocks.add(x.slice(0, 1), 1e4, domain.data());
  blocks.add(x.slice(1, 3), 1e4, domain.data() + 1);
  for (const GeneMoments* m : {&once, &blocks}) {
    CHECK(m->n_domains == 2);
    CHECK(m->domain_cells == std::vector<int64_t>{1, 2});
    // Domain 0 holds only an empty cell; domain 1 holds every value.
    CHECK(std::vector<double>(m->domain_sum.begin(), m->domain_sum.begin() + 4) == std::vector<double>{0, 0, 0, 0});
    CHECK(std::vector<double>(m->domain_sum.begin() + 4, m->domain_sum.end()) == m->sum);
    CHECK(std::vector<double>(m->domain_sum_sq.begin() + 4, m->domain_sum_sq.end()) == m->sum_sq);
    CHECK(std::vector<double>(m->domain_log_sum.begin() + 4, m->domain_log_sum.end()) == m->log_sum);
    CHECK(std::vector<double>(m->domain_log_sum_sq.begin() + 4, m->domain_log_sum_sq.end()) == m->log_sum_sq);
    CHECK(m->expressed == std::vector<int64_t>{1, 1, 1, 2});
  }
  CHECK(once.domain_log_sum == blocks.domain_log_sum);

  // Cells split over the domains: each domain's sums are its own cells' only.
  GeneMoments split(4, 3);
  const std::vector<int> apart{2, 1, 0};
  split.add(x.all(), 1e4, apart.data());
  CHECK(split.domain_sum[2 * 4 + 3] == 5);  // cell 0 (domain 2), gene 3
  CHECK(split.domain_sum[0 * 4 + 3] == 6);  // cell 2 (domain 0), gene 3
  CHECK(split.domain_sum[0 * 4 + 1] == 2);
  CHECK(split.domain_log_sum[2 * 4 + 0] == std::log1p(1.0 / 10.0 * 1e4));
  CHECK(split.domain_cells == std::vector<int64_t>{1, 1, 1});

  // Without domains nothing is kept per domain, and the pooled sums are the same.
  GeneMoments pooled(4);
  pooled.add(x.all(), 1e4);
  CHECK(pooled.domain_sum.empty());
  CHECK(pooled.log_sum == once.log_sum);
}

TEST_CASE("gene moments per domain refuse missing or out-of-range domains", "[store]") {
  const Counts x;
  GeneMoments m(4, 2);
  CHECK_THROWS_AS(m.add(x.all(), 1e4), std::invalid_argument);
  const std::vector<int> bad{0, 2, 1}, negative{0, -1, 1};
  CHECK_THROWS_AS(m.add(x.all(), 1e4, bad.data()), std::invalid_argument);
  CHECK_THROWS_AS(m.add(x.all(), 1e4, negative.data()), std::invalid_argument);
  CHECK(m.n_cells == 0);  // a refused block adds nothing
  CHECK_THROWS_AS(GeneMoments(4, -1), std::invalid_argument);
}
