// LayerNorm over the last dimension followed by LeakyReLU, in one pass over each row and
// split by rows over the engine's threads (the encoder's block tail, dense.cpp's
// forward_split). LibTorch runs the two on one thread during training as several
// element-wise passes and autograd nodes; this computes the same function and its
// gradients (equal up to float rounding) with one node and two passes each way.
#pragma once

#include <torch/torch.h>

namespace concord {

// leaky_relu(layer_norm(x, {x.size(1)}, weight, bias, eps), slope) for a 2-D CPU float x
// and CPU float weight and bias of x.size(1) values, tracked by autograd. The result
// does not depend on `threads` (the gradients of weight and bias are summed over fixed
// blocks of rows in a fixed order).
torch::Tensor layer_norm_leaky_relu(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                    double eps, double slope, int threads);

// Whether layer_norm_leaky_relu takes these arguments (it throws std::invalid_argument
// otherwise): callers with other devices or types take LibTorch's modules instead.
bool layer_norm_leaky_relu_accepts(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

}  // namespace concord
