// Adam over a model's parameters with the fused kernel (kernels.h), for the CPU path
// whose first-layer gradient comes from the sparse kernels instead of autograd.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace concord {

class FusedAdam {
 public:
  // weight_decay adds that multiple of each parameter to its gradient (an L2 penalty,
  // as PyTorch's Adam(weight_decay)).
  explicit FusedAdam(const std::vector<torch::Tensor>& params, double weight_decay = 0);

  // One update. A parameter whose gradient is undefined took no part in this step (the
  // classifier on a batch without labelled cells): as in PyTorch, it is left alone and
  // its own step count, which drives the bias correction, does not advance.
  void step(const std::vector<torch::Tensor>& grads, double lr, int threads);

 private:
  std::vector<torch::Tensor> params_, m_, v_;
  std::vector<int64_t> steps_;
  double weight_decay_;
};

}  // namespace concord
