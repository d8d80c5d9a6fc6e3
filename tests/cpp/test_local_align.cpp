// The alignment of domains within each cell's neighbourhood (local_align.h) on hand-made
// embeddings, and trained with a sample of the cells.
// LibTorch's headers bring glog's CHECK, which aborts; Catch's, included after them,
// replaces it.
#include "local_align.h"
#include "toy_data.h"
#include "trainer.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

namespace {

namespace F = torch::nn::functional;

// Cells scattered about `centre` in R^20 (unit rows after normalising); the cells of
// domain 1 sit `offset` further along e3. Appends to `x`, `domains`.
void population(int n, int centre, float offset, bool both_domains, std::vector<torch::Tensor>& x,
                std::vector<int>& domains) {
  torch::Tensor p = 0.05 * torch::randn({n, 20});
  p.select(1, centre).add_(1.0);
  for (int c = 0; c < n; ++c) {
    const int domain = both_domains ? c % 2 : 0;
    if (domain == 1) p[c][2] += offset;
    domains.push_back(domain);
  }
  x.push_back(p);
}

torch::Tensor unit_rows(const std::vector<torch::Tensor>& x) {
  return F::normalize(torch::cat(x), F::NormalizeFuncOptions().dim(1));
}

std::vector<int64_t> all_cells(int64_t n) {
  std::vector<int64_t> cells(n);
  std::iota(cells.begin(), cells.end(), 0);
  return cells;
}

// The alignment's loss on every cell of `x` after a refresh from them (share 0.1).
float loss_on_all(const torch::Tensor& x, const std::vector<int>& domains) {
  concord::LocalAlignment align;
  const std::vector<int64_t> cells = all_cells(x.size(0));
  align.refresh(x, domains, 2, cells, x.size(0), 0.1);
  return align.loss(x, x, std::vector<int>(cells.begin(), cells.end()), domains).item<float>();
}

// 200 cells about e1, alternating domains, domain 1 offset along e3, and an alignment
// refreshed from all of them (share 0.1).
struct Offset {
  explicit Offset(uint64_t seed) {
    torch::manual_seed(seed);
    std::vector<torch::Tensor> parts;
    population(200, 0, 0.4f, true, parts, domains);
    x = unit_rows(parts);
    const std::vector<int64_t> all = all_cells(200);
    cells.assign(all.begin(), all.end());
    align.refresh(x, domains, 2, all, 200, 0.1);
  }
  std::vector<int> domains, cells;
  torch::Tensor x;
  concord::LocalAlignment align;
};

// The columns of each row's k smallest values, as a sorted set per row.
std::vector<std::vector<int64_t>> column_sets(const torch::Tensor& columns) {
  const torch::Tensor sorted = std::get<0>(columns.sort(1));
  std::vector<std::vector<int64_t>> sets(sorted.size(0));
  for (int64_t r = 0; r < sorted.size(0); ++r) {
    const torch::Tensor row = sorted[r].contiguous();
    sets[r].assign(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
  }
  return sets;
}

}  // namespace

TEST_CASE("nearest columns are top-k's, with ties, an infinity and the whole row", "[align]") {
  torch::manual_seed(4);
  for (const int64_t n : {7, 128, 300, 1737}) {
    for (const int64_t k : {int64_t{1}, int64_t{5}, std::max<int64_t>(5, n / 33), n}) {
      torch::Tensor dist = torch::rand({40, n});
      dist[3][n / 2] = std::numeric_limits<float>::infinity();
      const auto expected = column_sets(std::get<1>(dist.topk(k, 1, false)));
      CHECK(column_sets(concord::nearest_columns(dist, k)) == expected);
    }
  }
  // Ties at the k-th value: the k columns hold every smaller value and then tied ones.
  const torch::Tensor tied = torch::tensor({{0.5f, 0.2f, 0.5f, 0.1f, 0.5f, 0.9f}});
  const auto sets = column_sets(concord::nearest_columns(tied, 3));
  CHECK(sets[0] == std::vector<int64_t>{0, 1, 3});
  CHECK_THROWS_AS(concord::nearest_columns(tied, 0), std::invalid_argument);
  CHECK_THROWS_AS(concord::nearest_columns(tied, 7), std::invalid_argument);
  // A NaN counts as infinitely far.
  torch::Tensor nan = torch::rand({2, 300});
  nan.narrow(1, 0, 100).fill_(std::nanf(""));
  const auto expected = column_sets(std::get<1>(nan.nan_to_num(2.0).topk(9, 1, false)));
  CHECK(column_sets(concord::nearest_columns(nan, 9)) == expected);
}

TEST_CASE("local alignment pulls each domain toward the others' nearby cells", "[align]") {
  Offset o(3);
  torch::Tensor z = o.x.clone().requires_grad_(true);
  const std::vector<int>& domains = o.domains;
  const torch::Tensor loss = o.align.loss(z, o.x, o.cells, domains);
  REQUIRE(std::isfinite(loss.item<float>()));
  CHECK(loss.item<float>() > 1e-3);
  loss.backward();
  // A descent step moves domain 0 up e3 and domain 1 down.
  const torch::Tensor up = -z.grad().select(1, 2);
  int right = 0;
  for (int c = 0; c < 200; ++c) right += (domains[c] == 0) == (up[c].item<float>() > 0);
  CHECK(right >= 190);
}

TEST_CASE("local alignment leaves domains that differ by noise alone", "[align]") {
  torch::manual_seed(5);
  std::vector<torch::Tensor> noise, offset;
  std::vector<int> noise_domains, offset_domains;
  population(400, 0, 0.0f, true, noise, noise_domains);
  population(400, 0, 0.4f, true, offset, offset_domains);
  CHECK(loss_on_all(unit_rows(noise), noise_domains) < 0.05f * loss_on_all(unit_rows(offset), offset_domains));
}

TEST_CASE("local alignment leaves a population that one domain lacks", "[align]") {
  torch::manual_seed(7);
  std::vector<torch::Tensor> parts;
  std::vector<int> domains;
  population(200, 0, 0.4f, true, parts, domains);   // shared, offset
  population(100, 1, 0.0f, false, parts, domains);  // domain 0 only
  const torch::Tensor x = unit_rows(parts);
  concord::LocalAlignment align;
  const std::vector<int64_t> cells64 = all_cells(300);
  const std::vector<int> cells(cells64.begin(), cells64.end());
  align.refresh(x, domains, 2, cells64, 300, 0.1);
  const std::vector<int> shared(cells.begin(), cells.begin() + 200), alone(cells.begin() + 200, cells.end());
  const std::vector<int> shared_domains(domains.begin(), domains.begin() + 200);
  const std::vector<int> alone_domains(domains.begin() + 200, domains.end());
  const float pulled = align.loss(x.slice(0, 0, 200), x.slice(0, 0, 200), shared, shared_domains).item<float>();
  const float left = align.loss(x.slice(0, 200), x.slice(0, 200), alone, alone_domains).item<float>();
  CHECK(pulled > 1e-3f);
  CHECK(left < 1e-3f * pulled);
}

TEST_CASE("local alignment stops pulling once the cells' newer embeddings meet", "[align]") {
  Offset o(9);
  // Domain 1's cells, now evaluated where domain 0's are: their rows are replaced first.
  std::vector<int> ones_cells, ones;
  std::vector<int64_t> zeros;
  for (int c = 0; c < 200; c += 2) zeros.push_back(c), ones_cells.push_back(c + 1), ones.push_back(1);
  const torch::Tensor met = o.x.index_select(0, torch::tensor(zeros)) + 0.01 * torch::randn({100, 20});
  const torch::Tensor unit = F::normalize(met, F::NormalizeFuncOptions().dim(1));
  const float before = loss_on_all(o.x, o.domains);
  const float after = o.align.loss(unit, unit, ones_cells, ones).item<float>();
  CHECK(before > 1e-3f);
  CHECK(after < 0.05f * before);
}

TEST_CASE("local alignment searches at most max_rows rows, the same ones for a seed", "[align]") {
  Offset o(11);
  CHECK(o.align.n_rows() == 200);
  const std::vector<int64_t> all = all_cells(200);
  const auto pull = [&](uint64_t seed) {
    concord::LocalAlignment align;
    align.refresh(o.x, o.domains, 2, all, 200, 0.1, 60, seed);
    CHECK(align.n_rows() == 60);
    return align.loss(o.x, o.x, o.cells, o.domains).item<float>();
  };
  const float full = o.align.loss(o.x, o.x, o.cells, o.domains).item<float>();
  const float a = pull(1), b = pull(1), c = pull(2);
  CHECK(a == b);
  CHECK(a != c);
  // Fewer rows, the same offset between the domains: about the same pull.
  CHECK(a > 0.5f * full);
  CHECK(a < 2.0f * full);
  concord::LocalAlignment align;
  CHECK_THROWS_AS(align.refresh(o.x, o.domains, 2, all, 200, 0.1, 0, 1), std::invalid_argument);
}

TEST_CASE("local alignment rejects a share outside (0, 1] and trains with a sample", "[align]") {
  std::vector<torch::Tensor> parts;
  std::vector<int> domains;
  population(40, 0, 0.0f, true, parts, domains);
  concord::LocalAlignment align;
  CHECK_THROWS_AS(align.refresh(unit_rows(parts), domains, 2, all_cells(40), 40, 0.0), std::invalid_argument);
  CHECK_THROWS_AS(align.refresh(unit_rows(parts), domains, 1, all_cells(40), 40, 0.1), std::invalid_argument);

  Toy toy(400, 4, 100, 3);
  concord::TrainOptions o = small_options();
  o.warmup_epochs = 1;
  o.align_weight = 0;
  o.align_local_weight = 50;
  o.align_sample = 100;  // most cells outside the sample
  const auto r = concord::train(toy.view, toy.domain, o);
  for (float v : r.embedding) REQUIRE(std::isfinite(v));
  CHECK(neighbour_agreement(r, toy.type) > 0.9);
  o.align_local_share = 1.5;
  CHECK_THROWS_AS(concord::train(toy.view, toy.domain, o), std::invalid_argument);
}
