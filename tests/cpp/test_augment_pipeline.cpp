#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "augment_pipeline.h"
#include "pca.h"

using concord::AugmentPipeline;
using concord::AugmentStep;
using concord::CsrView;
using concord::Rng;
using concord::SparseBatch;

namespace {

using Dense = std::vector<std::vector<double>>;

// A CSR matrix built from dense rows, zeros not stored.
struct Csr {
  std::vector<int> indptr{0}, indices;
  std::vector<float> values;
  CsrView view;
  explicit Csr(const Dense& rows) {
    for (const auto& row : rows) {
      for (size_t g = 0; g < row.size(); ++g) {
        if (row[g] != 0) {
          indices.push_back(static_cast<int>(g));
          values.push_back(row[g]);
        }
      }
      indptr.push_back(static_cast<int>(indices.size()));
    }
    view = CsrView{static_cast<int>(rows.size()), static_cast<int>(rows[0].size()), indptr.data(),
                   indices.data(), values.data()};
  }
};

std::vector<double> dense_row(const SparseBatch& b, int r) {
  std::vector<double> out(b.n_cols, 0.0);
  for (int k = b.indptr[r]; k < b.indptr[r + 1]; ++k) out[b.indices[k]] = b.values[k];
  return out;
}

std::vector<int> all_cells(int n) {
  std::vector<int> cells(n);
  std::iota(cells.begin(), cells.end(), 0);
  return cells;
}

double distance(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s);
}

// Rows with distinct positive values: cell c, gene g holds 1 + c + g / 1000.
Dense distinct(int cells, int genes) {
  Dense rows(cells, std::vector<double>(genes));
  for (int c = 0; c < cells; ++c) {
    for (int g = 0; g < genes; ++g) rows[c][g] = 1 + c + g / 1000.0;
  }
  return rows;
}

// Two batches of three cell types: type t expresses genes [10t, 10t + 10), batch 1 adds
// a shift on genes [30, 40); small deterministic jitter separates cells.
Dense two_batches(int per_group, std::vector<int>& batch, std::vector<int>& type) {
  Dense rows;
  Rng rng(11);
  for (int b = 0; b < 2; ++b) {
    for (int t = 0; t < 3; ++t) {
      for (int i = 0; i < per_group; ++i) {
        std::vector<double> row(40, 0.0);
        for (int g = 10 * t; g < 10 * t + 10; ++g) row[g] = 3 + 0.3 * rng.uniform();
        for (int g = 30; g < 40; ++g) row[g] += b == 1 ? 1.5 + 0.3 * rng.uniform() : 0.0;
        rows.push_back(row);
        batch.push_back(b);
        type.push_back(t);
      }
    }
  }
  return rows;
}

SparseBatch one_view(const AugmentPipeline& pipe, const CsrView& x, uint64_t seed,
                     int view_index = 0) {
  Rng rng(seed);
  SparseBatch out;
  const std::vector<int> cells = all_cells(x.n_rows);
  pipe.view(x, cells.data(), x.n_rows, rng, out, view_index);
  return out;
}

AugmentPipeline single(const std::string& kind, double strength, double share = 1, int k = 0) {
  return AugmentPipeline({AugmentStep{kind, 1.0, strength, share, k}});
}

}  // namespace

TEST_CASE("masking zeroes exactly the given share of genes", "[augment_pipeline]") {
  SECTION("every gene stored") {
    Csr x(distinct(20, 1000));
    const SparseBatch v = one_view(single("mask", 0.2), x.view, 1);
    for (int r = 0; r < v.n_rows; ++r) {
      CHECK(v.indptr[r + 1] - v.indptr[r] == 800);
      for (int k = v.indptr[r]; k < v.indptr[r + 1]; ++k) {
        CHECK(v.values[k] == static_cast<float>(1 + r + v.indices[k] / 1000.0));
      }
    }
  }
  SECTION("sparse rows lose the share of their stored values on average") {
    Dense rows(400, std::vector<double>(1000, 0.0));
    for (auto& row : rows) {
      for (int g = 0; g < 1000; g += 10) row[g] = 1.0;
    }
    Csr x(rows);
    const SparseBatch v = one_view(single("mask", 0.2), x.view, 2);
    CHECK(std::abs(static_cast<double>(v.nnz()) / 400 - 80.0) < 1.5);
  }
}

TEST_CASE("Gaussian noise has its sigma and touches its share of genes", "[augment_pipeline]") {
  Dense rows(10, std::vector<double>(2000, 0.0));
  for (int g = 0; g < 2000; g += 2) rows[0][g] = 5.0;  // row 0: half the genes at 5
  Csr x(rows);
  const SparseBatch v = one_view(single("gaussian", 0.2, 0.8), x.view, 3);
  double sum = 0, sum2 = 0;
  int64_t count = 0;
  for (int r = 1; r < 10; ++r) {
    // An all-zero cell gets noise on exactly 80% of its genes and nowhere else.
    CHECK(v.indptr[r + 1] - v.indptr[r] == 1600);
    for (int k = v.indptr[r]; k < v.indptr[r + 1]; ++k) {
      sum += v.values[k];
      sum2 += v.values[k] * v.values[k];
      ++count;
    }
  }
  const double mean = sum / count;
  CHECK(std::abs(mean) < 0.01);
  CHECK(std::abs(std::sqrt(sum2 / count - mean * mean) - 0.2) < 0.01);
  // The stored genes of row 0 not receiving noise keep their value exactly.
  const std::vector<double> r0 = dense_row(v, 0);
  int unchanged = 0, changed = 0;
  for (int g = 0; g < 2000; g += 2) (r0[g] == 5.0f ? unchanged : changed) += 1;
  CHECK(unchanged + changed == 1000);
  CHECK(std::abs(unchanged - 200) < 50);
}

TEST_CASE("Gaussian noise picks every gene alike and is normal in its tails", "[augment_pipeline]") {
  // All-zero cells: a view stores exactly the noised genes, with the noise as value.
  const int cells = 200, genes = 2000;
  Csr x(Dense(cells, std::vector<double>(genes, 0.0)));
  for (double share : {0.8, 0.3}) {  // the chosen genes marked, or their complement
    INFO(share);
    const SparseBatch v = one_view(single("gaussian", 0.5, share), x.view, 9);
    std::vector<int> hits(genes, 0);
    int64_t beyond1 = 0, beyond2 = 0, beyond3 = 0, beyond_r = 0;
    for (int k = 0; k < v.nnz(); ++k) {
      ++hits[v.indices[k]];
      const double z = std::abs(v.values[k]) / 0.5;
      beyond1 += z > 1;
      beyond2 += z > 2;
      beyond3 += z > 3;
      beyond_r += z > 3.6542;  // the ziggurat's tail, drawn by its own method
    }
    const double n = static_cast<double>(v.nnz());
    REQUIRE(n == cells * static_cast<int>(share * genes));
    // Each gene is noised in Binomial(200, share) cells; 6 sd is never reached by chance.
    const double mean = cells * share, sd = std::sqrt(cells * share * (1 - share));
    const auto [lo, hi] = std::minmax_element(hits.begin(), hits.end());
    CHECK(*lo > mean - 6 * sd);
    CHECK(*hi < mean + 6 * sd);
    // Two-sided normal tail shares, each within 6 binomial sd.
    const auto near = [n](int64_t count, double p) {
      return std::abs(count - n * p) < 6 * std::sqrt(n * p * (1 - p));
    };
    CHECK(near(beyond1, 0.31731));
    CHECK(near(beyond2, 0.045500));
    CHECK(near(beyond3, 0.0026998));
    CHECK(near(beyond_r, 2.5799e-4));
  }
}

TEST_CASE("InnerSwap permutes each cell's values", "[augment_pipeline]") {
  Dense rows = distinct(30, 200);
  for (int c = 0; c < 30; ++c) {
    for (int g = c % 3; g < 200; g += 3) rows[c][g] = 0;  // sparse: two thirds stored
  }
  Csr x(rows);
  const SparseBatch v = one_view(single("innerswap", 0.1), x.view, 4);
  int moved = 0;
  for (int r = 0; r < 30; ++r) {
    std::vector<double> in = rows[r], out = dense_row(v, r);
    for (int g = 0; g < 200; ++g) moved += static_cast<float>(in[g]) != out[g];
    for (double& a : in) a = static_cast<float>(a);
    std::sort(in.begin(), in.end());
    std::sort(out.begin(), out.end());
    CHECK(in == out);
  }
  // 10 swaps a cell: at most 20 genes change, and most swaps change something.
  CHECK(moved > 30 * 5);
  CHECK(moved <= 30 * 20);
}

TEST_CASE("CrossOver takes a share of genes from another cell of the same domain",
          "[augment_pipeline]") {
  const int n = 40, genes = 100;
  Csr x(distinct(n, genes));
  std::vector<int> domains(n);
  for (int c = 0; c < n; ++c) domains[c] = c % 2;
  AugmentPipeline pipe = single("crossover", 0.25);
  pipe.prepare(x.view, domains, 1);
  const SparseBatch v = one_view(pipe, x.view, 5);
  for (int r = 0; r < n; ++r) {
    const std::vector<double> out = dense_row(v, r);
    int own = 0, partner = -1, foreign = 0;
    for (int g = 0; g < genes; ++g) {
      // Values identify their cell: 1 + cell + gene / 1000.
      const int from = static_cast<int>(std::floor(out[g] - 1 + 1e-4));
      if (from == r) {
        ++own;
      } else {
        ++foreign;
        if (partner < 0) partner = from;
        CHECK(from == partner);
        CHECK(out[g] == static_cast<float>(1 + from + g / 1000.0));
      }
    }
    CHECK(own == 75);
    CHECK(foreign == 25);
    CHECK(domains[partner] == domains[r]);
  }
}

TEST_CASE("probability 0 leaves every cell unchanged", "[augment_pipeline]") {
  std::vector<int> batch, type;
  Csr x(two_batches(10, batch, type));
  std::vector<AugmentStep> steps;
  for (const char* kind : {"mnn", "mask", "gaussian", "innerswap", "crossover", "bbknn"}) {
    steps.push_back(AugmentStep{kind, 0.0, 0.5, 0.8, 3});
  }
  AugmentPipeline pipe(steps);
  pipe.prepare(x.view, batch, 1);
  SparseBatch plain;
  const std::vector<int> cells = all_cells(x.view.n_rows);
  concord::gather_rows(x.view, cells.data(), x.view.n_rows, plain);
  for (int which : {0, 1}) {
    const SparseBatch v = one_view(pipe, x.view, 6, which);
    CHECK(v.indptr == plain.indptr);
    CHECK(v.indices == plain.indices);
    CHECK(v.values == plain.values);
  }
}

TEST_CASE("views are reproducible from the seed", "[augment_pipeline]") {
  std::vector<int> batch, type;
  Csr x(two_batches(10, batch, type));
  AugmentPipeline pipe({{"mnn", 0.5, 0.5, 1, 3},
                        {"mask", 0.5, 0.2, 1, 0},
                        {"gaussian", 0.5, 0.2, 0.8, 0},
                        {"innerswap", 0.5, 0.1, 1, 0},
                        {"crossover", 0.5, 0.25, 1, 0},
                        {"bbknn", 0.5, 0.5, 1, 3}});
  pipe.prepare(x.view, batch, 2);
  AugmentPipeline again = pipe;
  again.prepare(x.view, batch, 2);
  const SparseBatch a = one_view(pipe, x.view, 7, 1), b = one_view(again, x.view, 7, 1);
  const SparseBatch c = one_view(pipe, x.view, 8, 1);
  CHECK(a.indices == b.indices);
  CHECK(a.values == b.values);
  CHECK(a.values != c.values);
}

TEST_CASE("MNN and BBKNN graphs and views", "[augment_pipeline]") {
  std::vector<int> batch, type;
  Csr x(two_batches(20, batch, type));
  const int n = x.view.n_rows;
  const std::vector<int> cells = all_cells(n);

  SECTION("MNN partners come from the other batch; views move towards neighbours") {
    AugmentPipeline pipe = single("mnn", 0.5, 1, 5);
    REQUIRE(pipe.needs_neighbours());
    pipe.prepare(x.view, batch, 1);
    const auto& within = pipe.within_graph();
    const auto& mnn = pipe.mnn_graph();
    int with_partner = 0, same_type = 0, partners = 0;
    for (int c = 0; c < n; ++c) {
      CHECK(within.size(c) == 5);
      for (int j = 0; j < within.size(c); ++j) CHECK(batch[within.at(c, j)] == batch[c]);
      with_partner += mnn.size(c) > 0;
      for (int j = 0; j < mnn.size(c); ++j) {
        CHECK(batch[mnn.at(c, j)] != batch[c]);
        same_type += type[mnn.at(c, j)] == type[c];
        ++partners;
      }
    }
    CHECK(with_partner > n / 4);
    CHECK(same_type == partners);  // the types are far apart, the batch shift is not

    // View 0: on the segment from the cell to one of its neighbours, at most halfway.
    SparseBatch plain;
    concord::gather_rows(x.view, cells.data(), n, plain);
    const SparseBatch v0 = one_view(pipe, x.view, 9, 0);
    for (int c = 0; c < n; ++c) {
      const std::vector<double> me = dense_row(plain, c), out = dense_row(v0, c);
      bool on_segment = false;
      for (int j = 0; j < within.size(c); ++j) {
        const std::vector<double> nb = dense_row(plain, within.at(c, j));
        double dot = 0, norm = 0;
        for (size_t g = 0; g < me.size(); ++g) {
          dot += (out[g] - nb[g]) * (me[g] - nb[g]);
          norm += (me[g] - nb[g]) * (me[g] - nb[g]);
        }
        const double lambda = dot / norm;
        double residual = 0;
        for (size_t g = 0; g < me.size(); ++g)
          residual += std::pow(out[g] - nb[g] - lambda * (me[g] - nb[g]), 2);
        if (std::sqrt(residual) < 1e-4 && lambda >= 0.5 - 1e-6 && lambda <= 1 + 1e-6) {
          on_segment = true;
          CHECK(distance(out, nb) <= distance(me, nb) + 1e-5);
        }
      }
      CHECK(on_segment);
    }
  }

  SECTION("BBKNN neighbours are balanced across batches; a view mixes the cell with one") {
    AugmentPipeline pipe = single("bbknn", 0.5, 1, 4);
    pipe.prepare(x.view, batch, 1);
    const auto& g = pipe.balanced_graph();
    for (int c = 0; c < n; ++c) {
      REQUIRE(g.size(c) == 8);
      int in_batch[2] = {0, 0};
      for (int j = 0; j < g.size(c); ++j) {
        CHECK(g.at(c, j) != c);
        CHECK(type[g.at(c, j)] == type[c]);
        ++in_batch[batch[g.at(c, j)]];
      }
      CHECK(in_batch[0] == 4);
      CHECK(in_batch[1] == 4);
    }
    SparseBatch plain;
    concord::gather_rows(x.view, cells.data(), n, plain);
    const SparseBatch v = one_view(pipe, x.view, 10);
    int closer = 0;
    for (int c = 0; c < n; ++c) {
      const std::vector<double> me = dense_row(plain, c), out = dense_row(v, c);
      bool explained = false;
      for (int j = 0; j < g.size(c) && !explained; ++j) {
        const std::vector<double> nb = dense_row(plain, g.at(c, j));
        bool genewise = true;
        for (size_t k = 0; k < me.size(); ++k) genewise &= out[k] == me[k] || out[k] == nb[k];
        if (genewise) {
          explained = true;
          closer += distance(out, nb) < distance(me, nb);
        }
      }
      CHECK(explained);
    }
    CHECK(closer > n * 9 / 10);
  }
}

TEST_CASE("MNN's second view comes from a partner in the other batch", "[augment_pipeline]") {
  std::vector<int> batch, type;
  Csr x(two_batches(20, batch, type));
  AugmentPipeline pipe = single("mnn", 0.5, 1, 5);
  pipe.prepare(x.view, batch, 1);
  const SparseBatch v = one_view(pipe, x.view, 12, 1);
  int crossed = 0;
  for (int c = 0; c < x.view.n_rows; ++c) {
    const std::vector<double> out = dense_row(v, c);
    // The shifted genes tell the batch: the view follows the partner's batch.
    double shift = 0;
    for (int g = 30; g < 40; ++g) shift += out[g];
    const int view_batch = shift > 5 ? 1 : 0;
    if (pipe.mnn_graph().size(c) > 0) {
      CHECK(view_batch != batch[c]);
      ++crossed;
    } else {
      CHECK(view_batch == batch[c]);
    }
  }
  CHECK(crossed > 0);
}

TEST_CASE("invalid augmentations are refused", "[augment_pipeline]") {
  using S = AugmentStep;
  CHECK_THROWS_AS(AugmentPipeline({S{"blur", 0.5, 0.1}}), std::invalid_argument);
  CHECK_THROWS_AS(AugmentPipeline({S{"mask", 1.5, 0.1}}), std::invalid_argument);
  CHECK_THROWS_AS(AugmentPipeline({S{"mask", -0.1, 0.1}}), std::invalid_argument);
  CHECK_THROWS_AS(AugmentPipeline({S{"mask", 0.5, 1.2}}), std::invalid_argument);
  CHECK_THROWS_AS(AugmentPipeline({S{"gaussian", 0.5, -1, 0.8}}), std::invalid_argument);
  CHECK_THROWS_AS(AugmentPipeline({S{"gaussian", 0.5, 0.2, 1.8}}), std::invalid_argument);
  CHECK_THROWS_AS(AugmentPipeline({S{"mnn", 0.5, 0.5, 1, 0}}), std::invalid_argument);
  CHECK_THROWS_AS(AugmentPipeline({S{"mask", 0.5, 0.2}, S{"mnn", 0.5, 0.5, 1, 5}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(AugmentPipeline({S{"bbknn", 0.5, 0.5, 1, 5}, S{"bbknn", 0.5, 0.5, 1, 5}}),
                  std::invalid_argument);
  CHECK_NOTHROW(AugmentPipeline({S{"mnn", 0.5, 0.5, 1, 5}, S{"mask", 0.5, 0.2}}));

  std::vector<int> batch, type;
  Csr x(two_batches(5, batch, type));
  AugmentPipeline mnn = single("mnn", 0.5, 1, 3);
  CHECK_THROWS_AS(mnn.prepare(x.view, {}, 1), std::invalid_argument);  // one domain
  AugmentPipeline cross = single("crossover", 0.25);
  Rng rng(1);
  SparseBatch out;
  const std::vector<int> cells = all_cells(x.view.n_rows);
  CHECK_THROWS_AS(cross.view(x.view, cells.data(), x.view.n_rows, rng, out), std::logic_error);
}

TEST_CASE("PCA scores are a rotation of the centred rows at full rank", "[augment_pipeline]") {
  Dense rows(30, std::vector<double>(8, 0.0));
  Rng rng(13);
  for (auto& row : rows) {
    for (int g = 0; g < 8; ++g)
      row[g] = rng.uniform() < 0.6 ? 0.0 : 1 + 4 * rng.uniform() * (g + 1);
  }
  Csr x(rows);
  const concord::PcaScores pca = concord::pca_scores(x.view, 50, 3, 2);
  REQUIRE(pca.dims == 8);
  std::vector<double> mu(8, 0.0);
  for (const auto& row : rows) {
    for (int g = 0; g < 8; ++g) mu[g] += row[g] / 30;
  }
  for (int a = 0; a < 30; a += 3) {
    for (int b = a + 1; b < 30; b += 4) {
      double d_in = 0, d_pc = 0;
      for (int g = 0; g < 8; ++g) d_in += std::pow(rows[a][g] - rows[b][g], 2);
      for (int j = 0; j < 8; ++j) d_pc += std::pow(pca.rows[a * 8 + j] - pca.rows[b * 8 + j], 2);
      CHECK(std::sqrt(d_pc) == Approx(std::sqrt(d_in)).epsilon(1e-4));
    }
  }
  // Components in decreasing variance, centred.
  double previous = INFINITY;
  for (int j = 0; j < 8; ++j) {
    double s = 0, s2 = 0;
    for (int r = 0; r < 30; ++r) {
      s += pca.rows[r * 8 + j];
      s2 += pca.rows[r * 8 + j] * pca.rows[r * 8 + j];
    }
    CHECK(std::abs(s / 30) < 1e-3);
    CHECK(s2 <= previous * (1 + 1e-5));
    previous = s2;
  }
  const concord::PcaScores again = concord::pca_scores(x.view, 50, 3, 2);
  CHECK(again.rows == pca.rows);
}
