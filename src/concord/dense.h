// The dense products of a training step (the encoder's Linear layers after the sparse
// first one, the contrastive losses' similarity matrices) split by rows over the
// engine's threads, each part one single-threaded BLAS call inside the same OpenMP
// team as the sparse kernels. Left to LibTorch they run on one thread: its own
// parallelism is off during training (its many small ops paid a barrier each), and
// OpenBLAS's thread pool would spin against the OpenMP threads. Each product and
// gradient is LibTorch's, computed in parts (equal up to float rounding).
#pragma once

#include <torch/torch.h>

namespace concord {

// Threads for the products below while it lives (the count before it is restored).
class DenseThreads {
 public:
  explicit DenseThreads(int threads);
  ~DenseThreads();
  DenseThreads(const DenseThreads&) = delete;
  DenseThreads& operator=(const DenseThreads&) = delete;

 private:
  int previous_;
};

// x W^T + b, as torch::nn::Linear, tracked by autograd.
torch::Tensor split_linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);
// a b, as torch::mm, tracked by autograd.
torch::Tensor split_mm(const torch::Tensor& a, const torch::Tensor& b);
// A Sequential's forward with its Linear layers through split_linear and each LayerNorm
// followed by a LeakyReLU through layer_norm_leaky_relu (layer_norm.h).
torch::Tensor forward_split(torch::nn::Sequential& layers, torch::Tensor x);

}  // namespace concord
