#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "loss.h"

namespace {

// The loss written out with loops in double precision, from its definition.
double reference_loss(const std::vector<std::vector<double>>& z, double t, double beta) {
  const int n = static_cast<int>(z.size()), b = n / 2;
  std::vector<std::vector<double>> u = z;
  for (auto& row : u) {
    double s = 0;
    for (double v : row) s += v * v;
    for (double& v : row) v /= std::sqrt(s);
  }
  double total = 0;
  for (int i = 0; i < n; ++i) {
    const int pos = (i + b) % n;
    std::vector<double> logit(n);
    for (int j = 0; j < n; ++j) {
      double dot = 0;
      for (size_t d = 0; d < u[i].size(); ++d) dot += u[i][d] * u[j][d];
      logit[j] = dot / t;
    }
    if (beta > 0) {
      // Negatives weighted by exp(beta s) / mean over the row's negatives.
      double mean_w = 0;
      for (int j = 0; j < n; ++j) {
        if (j != i && j != pos) mean_w += std::exp(beta * logit[j]);
      }
      mean_w /= (n - 2);
      for (int j = 0; j < n; ++j) {
        if (j != i && j != pos) logit[j] += std::log(std::exp(beta * logit[j]) / mean_w);
      }
    }
    double denom = 0;
    for (int j = 0; j < n; ++j) {
      if (j != i) denom += std::exp(logit[j]);
    }
    total += -(logit[pos] - std::log(denom));
  }
  return total / n;
}

}  // namespace

TEST_CASE("NT-Xent equals its definition on a tiny input", "[loss]") {
  const std::vector<std::vector<double>> z = {{1, 0, 0.5}, {0.2, 1, -0.3}, {-0.4, 0.3, 1},
                                              {0.9, 0.1, 0.4}, {0.1, 0.8, 0.0}, {-0.2, 0.5, 0.7}};
  torch::Tensor t = torch::empty({6, 3}, torch::kDouble);
  for (int i = 0; i < 6; ++i) {
    for (int j = 0; j < 3; ++j) t[i][j] = z[i][j];
  }
  torch::Tensor z1 = t.slice(0, 0, 3), z2 = t.slice(0, 3, 6);
  for (double beta : {0.0, 1.0, 2.5}) {
    const double got = concord::nt_xent(z1, z2, 0.4, beta).item<double>();
    CHECK(got == Approx(reference_loss(z, 0.4, beta)).epsilon(1e-10));
  }
}

TEST_CASE("NT-Xent with beta = 0 on two orthogonal cells matches a hand computation", "[loss]") {
  // Views identical, cells orthogonal: per row, positive cos 1, negatives cos 0 (twice
  // the other cell) -> loss = -log(e^(1/t) / (e^(1/t) + 2)).
  torch::Tensor z1 = torch::tensor({1.0, 0.0, 0.0, 1.0}, torch::kDouble).reshape({2, 2});
  const double t = 0.5;
  const double expected = -std::log(std::exp(1 / t) / (std::exp(1 / t) + 2.0));
  CHECK(concord::nt_xent(z1, z1.clone(), t, 0.0).item<double>() == Approx(expected).epsilon(1e-12));
  // With beta = 1 all negatives have the same logit, so the weights are all 1.
  CHECK(concord::nt_xent(z1, z1.clone(), t, 1.0).item<double>() == Approx(expected).epsilon(1e-12));
}

TEST_CASE("the loss gradient reaches the first view", "[loss]") {
  torch::manual_seed(1);
  torch::Tensor z1 = torch::randn({8, 5}, torch::requires_grad());
  torch::Tensor z2 = torch::randn({8, 5});
  concord::nt_xent(z1, z2, 0.4, 1.0).backward();
  REQUIRE(z1.grad().defined());
  CHECK(z1.grad().abs().sum().item<double>() > 0);
}
