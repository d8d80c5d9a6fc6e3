// The losses of the SSL benchmark's methods beside CONCORD's NT-Xent (loss.h), each as
// LightlySSL defines it. Inputs are batch x dim projections of two views of the same
// cells, row i of one matching row i of the other.
#pragma once

#include <torch/torch.h>

namespace concord {

// InfoNCE against a queue (MoCo): rows of `query` and `key` are L2-normalised; each
// query's logits are its cosine with its own key, then with every row of `negatives`
// (queue x dim, unit rows), over `temperature`; the loss is the mean cross-entropy with
// the own key as the target. No gradient flows into `key` or `negatives`.
torch::Tensor info_nce_queue(const torch::Tensor& query, const torch::Tensor& key,
                             const torch::Tensor& negatives, double temperature);

// Minus the mean cosine similarity of prediction and target rows, the target taken
// as a constant (the stop-gradient of SimSiam and BYOL).
torch::Tensor negative_cosine(const torch::Tensor& prediction, const torch::Tensor& target);

// VICReg: invariance * mean squared difference of a and b, plus variance * the mean
// hinge max(0, 1 - std) of each dimension's standard deviation (averaged over both
// views; std = sqrt(var + 1e-4)), plus covariance * the summed squared off-diagonal
// covariances of each view divided by the dimension (summed over both views).
torch::Tensor vicreg_loss(const torch::Tensor& a, const torch::Tensor& b, double invariance,
                          double variance, double covariance);

// Barlow Twins: each dimension standardised over the batch (mean 0, variance 1, biased
// variance), C = a^T b / batch; sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2.
torch::Tensor barlow_twins_loss(const torch::Tensor& a, const torch::Tensor& b, double lambda);

}  // namespace concord
