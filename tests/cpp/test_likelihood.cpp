#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "likelihood.h"

namespace {

// The probabilities written out from their definitions in plain double precision.
double nb_reference(double x, double mu, double theta) {
  return std::lgamma(x + theta) - std::lgamma(theta) - std::lgamma(x + 1) +
         theta * std::log(theta / (theta + mu)) + x * std::log(mu / (theta + mu));
}

double zinb_reference(double x, double mu, double theta, double pi_logit) {
  const double p = 1 / (1 + std::exp(-pi_logit));
  const double nb = std::exp(nb_reference(x, mu, theta));
  return x == 0 ? std::log(p + (1 - p) * nb) : std::log((1 - p) * nb);
}

torch::Tensor row(const std::vector<double>& v) {
  return torch::tensor(v, torch::kFloat64).reshape({1, -1});
}

double entry(const torch::Tensor& t, int64_t j) { return t.index({0, j}).item<double>(); }

struct Case {
  double x, mu, theta, pi;
};

// Zero and large counts, tiny and large means, strong and weak dispersion, little and
// much zero inflation.
const std::vector<Case> kCases = {
    {0, 1.5, 2.0, -1.0},  {0, 1e-6, 0.5, 2.0},  {3, 1.5, 2.0, 0.0},      {7, 20.0, 0.3, -3.0},
    {250, 180.0, 10.0, 1.5}, {1, 0.01, 5.0, 4.0}, {40, 35.0, 1e4, -0.5}, {0, 300.0, 0.1, 0.3},
};

void fill(std::vector<double>& x, std::vector<double>& mu, std::vector<double>& th,
          std::vector<double>& pi) {
  for (const Case& c : kCases) {
    x.push_back(c.x);
    mu.push_back(c.mu);
    th.push_back(c.theta);
    pi.push_back(c.pi);
  }
}

}  // namespace

TEST_CASE("NB and ZINB log-probabilities match their closed forms", "[likelihood]") {
  std::vector<double> x, mu, th, pi;
  fill(x, mu, th, pi);
  torch::Tensor nb = concord::nb_log_prob(row(x), row(mu), torch::tensor(th, torch::kFloat64));
  torch::Tensor zinb = concord::zinb_log_prob(row(x), row(mu), row(th), row(pi));
  for (size_t j = 0; j < kCases.size(); ++j) {
    const Case& c = kCases[j];
    INFO("x = " << c.x << ", mu = " << c.mu << ", theta = " << c.theta << ", pi = " << c.pi);
    const double nb_ref = nb_reference(c.x, c.mu, c.theta);
    const double zinb_ref = zinb_reference(c.x, c.mu, c.theta, c.pi);
    CHECK(entry(nb, j) == Approx(nb_ref).epsilon(1e-6).margin(1e-6));
    CHECK(entry(zinb, j) == Approx(zinb_ref).epsilon(1e-6).margin(1e-6));
  }
}

TEST_CASE("NB and ZINB probabilities sum to one over the counts", "[likelihood]") {
  const int n = 100000;  // theta = 0.1, mu = 300 has a long tail
  std::vector<double> x(n);
  for (int i = 0; i < n; ++i) x[i] = i;
  for (const Case& c : kCases) {
    INFO("mu = " << c.mu << ", theta = " << c.theta << ", pi = " << c.pi);
    torch::Tensor xs = row(x);
    torch::Tensor mu = torch::full({1, n}, c.mu, torch::kFloat64);
    torch::Tensor th = torch::full({n}, c.theta, torch::kFloat64);
    torch::Tensor pi = torch::full({1, n}, c.pi, torch::kFloat64);
    CHECK(concord::nb_log_prob(xs, mu, th).exp().sum().item<double>() == Approx(1).epsilon(1e-6));
    CHECK(concord::zinb_log_prob(xs, mu, th, pi).exp().sum().item<double>() ==
          Approx(1).epsilon(1e-6));
  }
}

TEST_CASE("the limits: Poisson as theta grows, NB as pi -> -inf, float32 stays exact",
          "[likelihood]") {
  const std::vector<double> x = {0, 1, 4, 12, 60};
  const double mu = 9.5;
  auto mus = torch::full({1, 5}, mu, torch::kFloat64);
  for (double theta : {1e6, 1e8}) {
    torch::Tensor nb = concord::nb_log_prob(row(x), mus, torch::full({5}, theta, torch::kFloat64));
    for (size_t j = 0; j < x.size(); ++j) {
      const double poisson = x[j] * std::log(mu) - mu - std::lgamma(x[j] + 1);
      CHECK(entry(nb, j) == Approx(poisson).epsilon(1e-4).margin(1e-4));
    }
  }
  // float32 inputs: the double-precision evaluation keeps large theta exact.
  torch::Tensor nb32 = concord::nb_log_prob(row(x).to(torch::kFloat32), mus.to(torch::kFloat32),
                                            torch::full({5}, 1e7, torch::kFloat32));
  CHECK(nb32.scalar_type() == torch::kFloat32);
  for (size_t j = 0; j < x.size(); ++j) {
    const double poisson = x[j] * std::log(mu) - mu - std::lgamma(x[j] + 1);
    CHECK(entry(nb32, j) == Approx(poisson).epsilon(1e-4).margin(1e-4));
  }
  torch::Tensor th = torch::full({1, 5}, 2.5, torch::kFloat64);
  torch::Tensor zinb = concord::zinb_log_prob(row(x), mus, th, torch::full({1, 5}, -60.0, torch::kFloat64));
  torch::Tensor nb = concord::nb_log_prob(row(x), mus, th);
  CHECK(torch::allclose(zinb, nb, 1e-12, 1e-12));
  // Much zero inflation: a zero is almost certain, any count almost impossible.
  torch::Tensor inflated = concord::zinb_log_prob(row(x), mus, th, torch::full({1, 5}, 60.0, torch::kFloat64));
  CHECK(entry(inflated, 0) == Approx(0).margin(1e-12));
  CHECK(entry(inflated, 1) == Approx(nb_reference(1, mu, 2.5) - 60).epsilon(1e-9));
}

TEST_CASE("the continuous extension on log-normalized values", "[likelihood]") {
  // scCRAFT reconstructs log-normalized values with the NB expression: real x through lgamma.
  const std::vector<double> x = {0.0, 0.37, 1.2, 2.75, 5.1};
  const std::vector<double> mu = {0.2, 0.5, 1.0, 3.0, 4.4};
  const std::vector<double> th = {1.0, 3.0, 0.7, 12.0, 50.0};
  torch::Tensor nb = concord::nb_log_prob(row(x), row(mu), row(th));
  for (size_t j = 0; j < x.size(); ++j) {
    CHECK(entry(nb, j) == Approx(nb_reference(x[j], mu[j], th[j])).epsilon(1e-6));
  }
}

TEST_CASE("gradients are exact in the interior and finite at the edges", "[likelihood]") {
  // d/dmu log NB = x / mu - (x + theta) / (theta + mu).
  torch::Tensor mu = row({2.0, 0.5, 30.0}).requires_grad_(true);
  const std::vector<double> x = {0, 3, 25}, th = {1.5, 4.0, 0.8};
  concord::nb_log_prob(row(x), mu, row(th)).sum().backward();
  for (int j = 0; j < 3; ++j) {
    const double m = entry(mu.detach(), j);
    const double expected = x[j] / m - (x[j] + th[j]) / (th[j] + m);
    CHECK(entry(mu.grad(), j) == Approx(expected).epsilon(1e-6));
  }

  // Zero and large counts; zero, tiny and huge means; tiny and huge theta; extreme pi.
  const std::vector<double> ex = {0, 0, 5, 1e4, 0, 3, 0, 2.5};
  const std::vector<double> emu = {0.0, 1e-30, 1e-30, 1e4, 1e6, 2.0, 5.0, 1e-12};
  const std::vector<double> eth = {1.0, 1e-6, 1e8, 1e-4, 1e9, 1e-8, 1e10, 3.0};
  const std::vector<double> epi = {-80, 80, -80, 80, 0, 30, -30, 0};
  for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
    torch::Tensor m = row(emu).to(dtype).requires_grad_(true);
    torch::Tensor t = row(eth).to(dtype).requires_grad_(true);
    torch::Tensor p = row(epi).to(dtype).requires_grad_(true);
    torch::Tensor xs = row(ex).to(dtype);
    torch::Tensor lp = concord::zinb_log_prob(xs, m, t, p) + concord::nb_log_prob(xs, m, t);
    CHECK(torch::isfinite(lp).all().item<bool>());
    lp.sum().backward();
    CHECK(torch::isfinite(m.grad()).all().item<bool>());
    CHECK(torch::isfinite(t.grad()).all().item<bool>());
    CHECK(torch::isfinite(p.grad()).all().item<bool>());
  }
}

TEST_CASE("library size scales a softmax of the decoder's output", "[likelihood]") {
  torch::Tensor counts = torch::tensor({3.0, 0.0, 7.0, 0.0, 0.0, 0.0, 1.0, 1.0, 38.0}).reshape({3, 3});
  torch::Tensor lib = concord::observed_log_library(counts);
  CHECK(lib.sizes() == torch::IntArrayRef({3, 1}));
  CHECK(lib[0][0].item<double>() == Approx(std::log(10.0)));
  CHECK(std::isfinite(lib[1][0].item<double>()));
  CHECK(lib[2][0].item<double>() == Approx(std::log(40.0)));

  torch::Tensor logits = torch::tensor({0.0, 1.0, -2.0, 50.0, 0.0, 0.0, -1.0, 3.0, 0.5}).reshape({3, 3});
  torch::Tensor mu = concord::library_scaled_mean(logits, lib);
  torch::Tensor sums = mu.sum(1);
  CHECK(sums[0].item<double>() == Approx(10.0).epsilon(1e-5));
  CHECK(sums[2].item<double>() == Approx(40.0).epsilon(1e-5));
  const double e0 = 1.0, e1 = std::exp(1.0), e2 = std::exp(-2.0);
  CHECK(mu[0][1].item<double>() == Approx(10.0 * e1 / (e0 + e1 + e2)).epsilon(1e-5));
  CHECK(torch::isfinite(mu).all().item<bool>());
  CHECK(torch::allclose(concord::library_scaled_mean(logits, lib.reshape({3})), mu));
}

TEST_CASE("mismatched shapes are rejected", "[likelihood]") {
  torch::Tensor x = torch::zeros({4, 3}), mu = torch::ones({4, 3});
  CHECK_THROWS_AS(concord::nb_log_prob(x, torch::ones({4, 2}), torch::ones({3})), std::invalid_argument);
  CHECK_THROWS_AS(concord::nb_log_prob(x, mu, torch::ones({4})), std::invalid_argument);
  CHECK_THROWS_AS(concord::zinb_log_prob(x, mu, torch::ones({3}), torch::zeros({4})), std::invalid_argument);
  CHECK_THROWS_AS(concord::library_scaled_mean(x, torch::zeros({3})), std::invalid_argument);
  CHECK_NOTHROW(concord::zinb_log_prob(x, mu, torch::ones({4, 3}), torch::zeros({4, 3})));
}
