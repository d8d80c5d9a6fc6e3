#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "simulate.h"

using concord::BatchEffects;
using concord::NoiseModel;
using concord::NoiseOptions;
using concord::Simulated;
using concord::SimulationInput;
using concord::SparseBlocks;
using concord::Variates;

namespace {

struct Moments {
  double mean = 0, var = 0;
};

template <typename F>
Moments moments(int n, F draw) {
  double s = 0, s2 = 0;
  for (int i = 0; i < n; ++i) {
    const double x = draw();
    s += x;
    s2 += x * x;
  }
  Moments m;
  m.mean = s / n;
  m.var = s2 / n - m.mean * m.mean;
  return m;
}

// Two programs over `n_genes` genes: program 0 on genes [0, half), program 1 on the rest,
// every gene at `level`. Cell c has program c % 2 at weight 1 and program 1 - c % 2 at
// weight `other`.
struct TwoPrograms {
  TwoPrograms(int cells, int genes, double level, double other) {
    for (int c = 0; c < cells; ++c) {
      act_program.push_back(c % 2);
      act_weight.push_back(1.0);
      if (other > 0) {
        act_program.push_back(1 - c % 2);
        act_weight.push_back(other);
      }
      act_p.push_back(static_cast<int>(act_program.size()));
    }
    for (int g = 0; g < genes; ++g) {
      gene.push_back(g);
      this->level.push_back(level);
    }
    prog_p = {0, genes / 2, genes};
    in.n_cells = cells;
    in.n_genes = genes;
    in.n_programs = 2;
    in.activity_p = act_p.data();
    in.activity_program = act_program.data();
    in.activity_weight = act_weight.data();
    in.program_p = prog_p.data();
    in.program_gene = gene.data();
    in.program_level = this->level.data();
  }
  std::vector<int> act_p{0}, act_program, prog_p, gene;
  std::vector<double> act_weight, level;
  SimulationInput in;
};

// A genes x cells CSC matrix as a dense, column-major vector.
std::vector<double> dense(SparseBlocks& m, int genes) {
  const int cells = m.n_cells();
  std::vector<int> p(cells + 1), i(m.nnz());
  std::vector<double> x(m.nnz());
  m.move_to(p.data(), i.data(), x.data());
  std::vector<double> out(static_cast<size_t>(genes) * cells, 0.0);
  for (int c = 0; c < cells; ++c) {
    for (int j = p[c]; j < p[c + 1]; ++j) out[static_cast<size_t>(c) * genes + i[j]] = x[j];
  }
  return out;
}

}  // namespace

TEST_CASE("simulate: variates have the asked-for mean and variance", "[simulate]") {
  Variates v(42);
  const int n = 200000;
  // Tolerances are about 5 standard errors.
  auto normal = moments(n, [&] { return v.normal(); });
  CHECK(normal.mean == Approx(0.0).margin(0.012));
  CHECK(normal.var == Approx(1.0).epsilon(0.02));
  auto gamma = moments(n, [&] { return v.gamma(3.0); });
  CHECK(gamma.mean == Approx(3.0).epsilon(0.01));
  CHECK(gamma.var == Approx(3.0).epsilon(0.03));
  auto small_gamma = moments(n, [&] { return v.gamma(0.5); });
  CHECK(small_gamma.mean == Approx(0.5).epsilon(0.02));
  for (double lambda : {0.3, 4.0, 25.0, 400.0}) {
    auto pois = moments(n, [&] { return v.poisson(lambda); });
    CHECK(pois.mean == Approx(lambda).epsilon(0.02));
    CHECK(pois.var == Approx(lambda).epsilon(0.04));
  }
  for (double trials : {7.0, 90.0, 5000.0}) {
    for (double p : {0.1, 0.8}) {
      auto b = moments(n, [&] { return v.binomial(trials, p); });
      CHECK(b.mean == Approx(trials * p).epsilon(0.01));
      CHECK(b.var == Approx(trials * p * (1 - p)).epsilon(0.04));
    }
  }
  // Inversion (small means) and the gamma-Poisson mixture (large means, tiny dispersion).
  for (double mean : {0.4, 6.0, 60.0}) {
    for (double phi : {0.002, 0.5, 2.0}) {
      auto nb = moments(n, [&] { return v.negative_binomial(mean, phi); });
      CHECK(nb.mean == Approx(mean).epsilon(0.025));
      CHECK(nb.var == Approx(mean + phi * mean * mean).epsilon(0.08));
    }
  }
}

TEST_CASE("simulate: draws are whole numbers for count models", "[simulate]") {
  Variates v(3);
  for (int i = 0; i < 1000; ++i) {
    const double x = v.negative_binomial(3.5, 0.3), y = v.binomial(17, 0.4);
    REQUIRE(x == std::round(x));
    REQUIRE(y == std::round(y));
    REQUIRE(y <= 17);
  }
}

TEST_CASE("simulate: truth is the activity-weighted sum of program levels", "[simulate]") {
  TwoPrograms t(10, 6, 2.0, 0.25);
  NoiseOptions o;
  Simulated s = concord::simulate_cells(t.in, o, BatchEffects(), 1, 1);
  REQUIRE(s.counts_are_noisy);
  const auto truth = dense(s.truth, 6);
  for (int c = 0; c < 10; ++c) {
    for (int g = 0; g < 6; ++g) {
      const bool own = (g < 3) == (c % 2 == 0);
      CHECK(truth[c * 6 + g] == Approx(own ? 2.0 : 0.5));
    }
  }
}

TEST_CASE("simulate: noise models keep the mean and the dispersion", "[simulate]") {
  const int cells = 4000, genes = 20;
  TwoPrograms t(cells, genes, 8.0, 0.0);  // half the genes at mean 8, half at 0
  struct Case {
    NoiseModel model;
    double dispersion, var_at_8;
  };
  for (Case k : {Case{NoiseModel::poisson, 0, 8}, Case{NoiseModel::negative_binomial, 0.25, 8 + 16},
                 Case{NoiseModel::normal, 1.5, 2.25},
                 Case{NoiseModel::lognormal, 0.3, 64 * (std::exp(0.09) - 1)}}) {
    NoiseOptions o;
    o.model = k.model;
    o.dispersion = k.dispersion;
    o.non_negative = false;
    Simulated s = concord::simulate_cells(t.in, o, BatchEffects(), 9, 2);
    const auto noisy = dense(s.noisy, genes);
    double sum = 0, sum2 = 0, zero_mean_sum2 = 0;
    int n = 0, n0 = 0;
    for (int c = 0; c < cells; ++c) {
      for (int g = 0; g < genes; ++g) {
        const double x = noisy[static_cast<size_t>(c) * genes + g];
        if ((g < genes / 2) == (c % 2 == 0)) {
          sum += x;
          sum2 += x * x;
          ++n;
        } else {
          zero_mean_sum2 += x * x;
          ++n0;
        }
      }
    }
    const double mean = sum / n, var = sum2 / n - mean * mean;
    CHECK(mean == Approx(8.0).epsilon(0.01));
    CHECK(var == Approx(k.var_at_8).epsilon(0.05));
    // Only the additive normal noise moves zero means.
    if (k.model == NoiseModel::normal) {
      CHECK(zero_mean_sum2 / n0 == Approx(2.25).epsilon(0.05));
    } else {
      CHECK(zero_mean_sum2 == 0.0);
    }
  }
}

TEST_CASE("simulate: dropout, clipping and rounding", "[simulate]") {
  TwoPrograms t(2000, 10, 0.5, 0.0);
  NoiseOptions o;
  o.model = NoiseModel::normal;
  o.dispersion = 1.0;
  o.dropout = 0.3;
  o.round_values = true;
  Simulated s = concord::simulate_cells(t.in, o, BatchEffects(), 5, 1);
  const auto noisy = dense(s.noisy, 10);
  int zeros = 0;
  for (double x : noisy) {
    REQUIRE(x >= 0.0);
    REQUIRE(x == std::round(x));
    zeros += x == 0.0;
  }
  // Zero if dropped (0.3) or if mean + noise rounds to <= 0: P(N(0.5, 1) < 0.5) = 0.5 for
  // expressed genes, P(N(0, 1) < 0.5) = 0.69 for the others.
  const double expected = 0.3 + 0.7 * (0.5 * 0.5 + 0.5 * 0.6915);
  CHECK(zeros / static_cast<double>(noisy.size()) == Approx(expected).margin(0.015));
}

TEST_CASE("simulate: same seed same data for any threads, and batch effects leave noise alone",
          "[simulate]") {
  const int cells = 3 * concord::kSimulateBlock + 17, genes = 40;
  TwoPrograms t(cells, genes, 5.0, 0.3);
  std::vector<int> batch(cells);
  for (int c = 0; c < cells; ++c) batch[c] = (c / 7) % 2;
  BatchEffects b;
  b.cell_batch = batch.data();
  b.n_batches = 2;
  b.depth = {0.5, 0.9};
  b.dropout = {0.05, 0.0};
  NoiseOptions o;
  Simulated one = concord::simulate_cells(t.in, o, b, 11, 1);
  Simulated two = concord::simulate_cells(t.in, o, b, 11, 3);
  Simulated plain = concord::simulate_cells(t.in, o, BatchEffects(), 11, 2);
  Simulated other = concord::simulate_cells(t.in, o, b, 12, 1);
  const auto n1 = dense(one.noisy, genes), c1 = dense(one.counts, genes);
  CHECK(n1 == dense(two.noisy, genes));
  CHECK(c1 == dense(two.counts, genes));
  CHECK(n1 == dense(plain.noisy, genes));
  CHECK(n1 != dense(other.noisy, genes));
  // Downsampling and dropout only ever lower counts, and more so in batch 0.
  double kept[2] = {0, 0}, total[2] = {0, 0};
  for (int c = 0; c < cells; ++c) {
    for (int g = 0; g < genes; ++g) {
      const size_t at = static_cast<size_t>(c) * genes + g;
      REQUIRE(c1[at] <= n1[at]);
      kept[batch[c]] += c1[at];
      total[batch[c]] += n1[at];
    }
  }
  CHECK(kept[1] / total[1] == Approx(0.9).margin(0.01));
  CHECK(kept[0] / total[0] < 0.5);
}

TEST_CASE("simulate: scaling, shift and batch-specific genes change only their entries",
          "[simulate]") {
  const int cells = 600, genes = 8;
  TwoPrograms t(cells, genes, 4.0, 0.0);
  std::vector<int> batch(cells);
  for (int c = 0; c < cells; ++c) batch[c] = c < cells / 2 ? 0 : 1;
  BatchEffects b;
  b.cell_batch = batch.data();
  b.n_batches = 2;
  b.scale.assign(2 * genes, 1.0);
  b.scale[0 * genes + 1] = 3.0;  // gene 1 tripled in batch 0
  b.shift.assign(2 * genes, 0.0);
  b.shift[1 * genes + 2] = 1.5;  // gene 2 shifted in batch 1
  b.specific.assign(2 * genes, 0.0);
  b.specific[1 * genes + 6] = 10.0;  // gene 6 gains a batch-1 program
  NoiseOptions o;
  o.model = NoiseModel::lognormal;  // real-valued: the effects stay exact
  o.dispersion = 0.2;
  Simulated s = concord::simulate_cells(t.in, o, b, 4, 2);
  const auto noisy = dense(s.noisy, genes), counts = dense(s.counts, genes);
  double specific = 0;
  for (int c = 0; c < cells; ++c) {
    for (int g = 0; g < genes; ++g) {
      const size_t at = static_cast<size_t>(c) * genes + g;
      double expected = noisy[at];
      if (batch[c] == 0 && g == 1) expected *= 3.0;
      if (batch[c] == 1 && g == 2) expected += 1.5;
      if (batch[c] == 1 && g == 6) {
        specific += counts[at] - noisy[at];
        continue;
      }
      REQUIRE(counts[at] == Approx(expected));
    }
  }
  CHECK(specific / (cells / 2) == Approx(10.0).epsilon(0.03));
}

TEST_CASE("simulate: variance inflation keeps the mean, widens the spread", "[simulate]") {
  const int cells = 4000, genes = 10;
  TwoPrograms t(cells, genes, 6.0, 0.0);
  std::vector<int> batch(cells, 0);
  BatchEffects b;
  b.cell_batch = batch.data();
  b.n_batches = 1;
  b.variance = {2.0};
  NoiseOptions o;
  o.model = NoiseModel::normal;
  o.dispersion = 1.0;
  o.non_negative = false;
  Simulated s = concord::simulate_cells(t.in, o, b, 8, 2);
  const auto truth = dense(s.truth, genes), noisy = dense(s.noisy, genes),
             counts = dense(s.counts, genes);
  for (size_t at = 0; at < counts.size(); ++at) {
    REQUIRE(counts[at] - truth[at] == Approx(2.0 * (noisy[at] - truth[at])).margin(1e-9));
  }
}

TEST_CASE("simulate: huge negative-binomial dispersions draw at once instead of spinning",
          "[simulate]") {
  // r = 1 / dispersion is so small that mean / (r + mean) rounds to 1; the cdf walk used
  // to see zero mass everywhere and the tail fallback to draw zeros forever.
  Variates v(11);
  for (double phi : {1e20, 1e100, 1e300}) {
    for (double mean : {0.5, 5.0, 29.0}) {
      const double x = v.negative_binomial(mean, phi);
      REQUIRE(std::isfinite(x));
      REQUIRE(x >= 0);
    }
  }
}

TEST_CASE("simulate: an interrupt stops the simulation", "[simulate]") {
  TwoPrograms t(20 * concord::kSimulateBlock, 10, 3.0, 0.0);
  int polls = 0;
  const concord::InterruptFn stop_at_second = [&] { return ++polls >= 2; };
  CHECK_THROWS_AS(concord::simulate_cells(t.in, NoiseOptions(), BatchEffects(), 1, 1, stop_at_second),
                  concord::Interrupted);
  CHECK(polls == 2);
}
