#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "dense.h"
#include "threads.h"

using namespace concord;

namespace {

// Output and every input gradient of f(inputs) under `threads` split threads; the
// inputs are cloned so that each run has its own leaves.
std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& inputs, int threads,
                               const std::function<torch::Tensor(const std::vector<torch::Tensor>&)>& f) {
  DenseThreads dense(threads);
  std::vector<torch::Tensor> leaves;
  for (const auto& t : inputs) leaves.push_back(t.clone().requires_grad_(true));
  const torch::Tensor out = f(leaves);
  (out * torch::linspace(-1, 1, out.numel()).view_as(out)).sum().backward();
  std::vector<torch::Tensor> all{out.detach()};
  for (const auto& l : leaves) all.push_back(l.grad());
  return all;
}

void expect_close(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("tensor " << i);
    REQUIRE(a[i].sizes() == b[i].sizes());
    INFO("largest difference " << (a[i] - b[i]).abs().max().item<float>());
    REQUIRE(torch::allclose(a[i], b[i], 1e-4, 1e-4));
  }
}

}  // namespace

TEST_CASE("dense: split products and their gradients equal LibTorch's on 1, 2 and 3 threads", "[dense]") {
  ThreadGuard restore;
  torch::manual_seed(1);
  // Large enough to be split (above the work threshold), with odd row counts.
  const std::vector<torch::Tensor> linear_in{torch::randn({257, 300}), torch::randn({101, 300}), torch::randn({101})};
  const auto linear = [](const std::vector<torch::Tensor>& t) { return split_linear(t[0], t[1], t[2]); };
  const auto reference_linear = [](const std::vector<torch::Tensor>& t) {
    return torch::nn::functional::linear(t[0], t[1], t[2]);
  };
  const std::vector<torch::Tensor> mm_in{torch::randn({513, 64}), torch::randn({64, 200})};
  const auto mm = [](const std::vector<torch::Tensor>& t) { return split_mm(t[0], t[1]); };
  const auto gram = [](const std::vector<torch::Tensor>& t) { return split_mm(t[0], t[0].t()); };
  const auto reference_gram = [](const std::vector<torch::Tensor>& t) { return torch::mm(t[0], t[0].t()); };
  const auto reference_mm = [](const std::vector<torch::Tensor>& t) { return torch::mm(t[0], t[1]); };
  for (int threads : {1, 2, 3}) {
    INFO("threads " << threads);
    expect_close(run(linear_in, threads, linear), run(linear_in, 1, reference_linear));
    expect_close(run(mm_in, threads, mm), run(mm_in, 1, reference_mm));
    expect_close(run({mm_in[0]}, threads, gram), run({mm_in[0]}, 1, reference_gram));
  }
}

TEST_CASE("dense: a Sequential runs the same through forward_split", "[dense]") {
  ThreadGuard restore;
  torch::manual_seed(2);
  torch::nn::Sequential layers(torch::nn::Linear(300, 200), torch::nn::LayerNorm(torch::nn::LayerNormOptions({200})),
                               torch::nn::LeakyReLU(), torch::nn::Linear(200, 50));
  const torch::Tensor x = torch::randn({300, 300});
  DenseThreads dense(2);
  REQUIRE(torch::allclose(forward_split(layers, x), layers->forward(x), 1e-5, 1e-5));
}

TEST_CASE("dense: the thread count is restored and products without a gradient skip it", "[dense]") {
  torch::Tensor a = torch::randn({600, 300}), b = torch::randn({300, 40}).requires_grad_(true);
  {
    DenseThreads outer(2);
    { DenseThreads inner(3); }
    // Only b wants a gradient: a's is never computed.
    const torch::Tensor out = split_mm(a, b);
    out.sum().backward();
    REQUIRE_FALSE(a.grad().defined());
    REQUIRE(torch::allclose(b.grad(), a.sum(0).unsqueeze(1).expand({300, 40}), 1e-4, 1e-4));
  }
}
