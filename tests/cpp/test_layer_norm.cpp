#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "dense.h"
#include "layer_norm.h"
#include "threads.h"

using namespace concord;

namespace {

struct Case {
  torch::Tensor x, weight, bias, upstream;
};

// Rows far from zero mean and unit scale, weights and biases away from LayerNorm's
// initial ones and of both signs, so that both sides of the LeakyReLU are reached.
Case make_case(int64_t rows, int64_t cols) {
  return {torch::randn({rows, cols}) * 3 + 2, torch::randn({cols}), torch::randn({cols}) * 0.5,
          torch::randn({rows, cols})};
}

// Output, then the gradients of x, weight and bias of sum(f(x, weight, bias) * upstream).
std::vector<torch::Tensor> run(const Case& c,
                               const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&,
                                                                 const torch::Tensor&)>& f) {
  const torch::Tensor x = c.x.clone().requires_grad_(true), w = c.weight.clone().requires_grad_(true),
                      b = c.bias.clone().requires_grad_(true);
  const torch::Tensor out = f(x, w, b);
  (out * c.upstream).sum().backward();
  return {out.detach(), x.grad(), w.grad(), b.grad()};
}

torch::Tensor reference(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b, double eps,
                        double slope) {
  return torch::leaky_relu(torch::layer_norm(x, {x.size(1)}, w, b, eps), slope);
}

void expect_close(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("tensor " << i << " (output, then the gradients of x, weight and bias)");
    REQUIRE(a[i].defined());
    REQUIRE(a[i].sizes() == b[i].sizes());
    INFO("largest difference " << (a[i] - b[i]).abs().max().item<float>() << ", largest value "
                               << b[i].abs().max().item<float>());
    // Relative to the tensor's scale: the weight's gradient sums hundreds of rows.
    REQUIRE(torch::allclose(a[i], b[i], 1e-4, 1e-5 * (1 + b[i].abs().max().item<double>())));
  }
}

}  // namespace

TEST_CASE("layer_norm_leaky_relu: output and gradients equal LibTorch's layer_norm + leaky_relu", "[layer_norm]") {
  ThreadGuard restore;
  torch::manual_seed(11);
  // The encoder's two shapes (batch x 1,000 and batch x 100), odd counts of rows (not
  // whole blocks of 32) and widths that are not whole vectors of 8.
  const std::vector<std::pair<int64_t, int64_t>> shapes{{256, 1000}, {513, 100}, {70, 37}, {3, 5}, {1, 8}};
  for (const auto& [rows, cols] : shapes) {
    const Case c = make_case(rows, cols);
    for (double slope : {0.1, 0.0}) {
      const double eps = 1e-5;
      const auto expected = run(c, [&](const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
        return reference(x, w, b, eps, slope);
      });
      for (int threads : {1, 2, 3}) {
        INFO(rows << " x " << cols << ", slope " << slope << ", threads " << threads);
        const auto fused = run(c, [&](const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
          return layer_norm_leaky_relu(x, w, b, eps, slope, threads);
        });
        expect_close(fused, expected);
      }
    }
  }
}

TEST_CASE("layer_norm_leaky_relu: the same numbers on any number of threads", "[layer_norm]") {
  ThreadGuard restore;
  torch::manual_seed(12);
  const Case c = make_case(1000, 300);  // above the size that is split
  const auto fused = [](int threads) {
    return [threads](const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
      return layer_norm_leaky_relu(x, w, b, 1e-5, 0.1, threads);
    };
  };
  const auto one = run(c, fused(1));
  for (int threads : {2, 3}) {
    const auto many = run(c, fused(threads));
    for (size_t i = 0; i < one.size(); ++i) REQUIRE(torch::equal(many[i], one[i]));
  }
}

TEST_CASE("layer_norm_leaky_relu: frozen weights and untracked inputs get no gradient", "[layer_norm]") {
  torch::manual_seed(13);
  const Case c = make_case(300, 400);
  const torch::Tensor x = c.x.clone().requires_grad_(true);
  const torch::Tensor out = layer_norm_leaky_relu(x, c.weight, c.bias, 1e-5, 0.1, 2);
  (out * c.upstream).sum().backward();
  const torch::Tensor xr = c.x.clone().requires_grad_(true);
  (reference(xr, c.weight, c.bias, 1e-5, 0.1) * c.upstream).sum().backward();
  REQUIRE_FALSE(c.weight.grad().defined());
  REQUIRE(torch::allclose(x.grad(), xr.grad(), 1e-4, 1e-5));
  {
    torch::NoGradGuard untracked;
    REQUIRE(torch::allclose(layer_norm_leaky_relu(c.x, c.weight, c.bias, 1e-5, 0.1, 2),
                            reference(c.x, c.weight, c.bias, 1e-5, 0.1), 1e-4, 1e-5));
  }
  REQUIRE_THROWS_AS(layer_norm_leaky_relu(c.x, c.weight.narrow(0, 0, 10), c.bias, 1e-5, 0.1, 1),
                    std::invalid_argument);
  REQUIRE_THROWS_AS(layer_norm_leaky_relu(c.x.to(torch::kDouble), c.weight, c.bias, 1e-5, 0.1, 1),
                    std::invalid_argument);
}

TEST_CASE("forward_split: a LayerNorm then LeakyReLU block trains as LibTorch's modules", "[layer_norm][dense]") {
  ThreadGuard restore;
  torch::manual_seed(14);
  // The encoder's body: LayerNorm, LeakyReLU, Linear, LayerNorm, LeakyReLU, with
  // weights moved off their initial ones and LayerNorm's eps and the slope not the defaults.
  torch::nn::Sequential body(torch::nn::LayerNorm(torch::nn::LayerNormOptions({1000}).eps(1e-3)),
                             torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.2)),
                             torch::nn::Linear(1000, 100), torch::nn::LayerNorm(torch::nn::LayerNormOptions({100})),
                             torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.1)));
  {
    torch::NoGradGuard untracked;
    for (auto& p : body->parameters()) p.add_(torch::randn_like(p) * 0.3);
  }
  const torch::Tensor x = torch::randn({256, 1000}) * 2 + 1, upstream = torch::randn({256, 100});
  const auto gradients = [&](bool split) {
    for (auto& p : body->parameters()) p.mutable_grad().reset();
    const torch::Tensor xl = x.clone().requires_grad_(true);
    DenseThreads dense(split ? 2 : 1);
    const torch::Tensor out = split ? forward_split(body, xl) : body->forward(xl);
    (out * upstream).sum().backward();
    std::vector<torch::Tensor> all{out.detach(), xl.grad()};
    for (auto& p : body->parameters()) all.push_back(p.grad().clone());
    return all;
  };
  expect_close(gradients(true), gradients(false));
}
