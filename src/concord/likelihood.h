// Count likelihoods of the generative methods (scVI / BA-scVI, scCRAFT): negative
// binomial and zero-inflated negative binomial log-probabilities as differentiable
// LibTorch expressions, and scVI's library-size scaling of the decoder's output.
#pragma once

#include <torch/torch.h>

namespace concord {

// Added inside logarithms so that mu = 0 or theta = 0 stays finite (scvi-tools' eps).
constexpr double kLikelihoodEps = 1e-8;

// Elementwise log NB(x; mu, theta) with mean mu and inverse dispersion theta
// (variance mu + mu^2 / theta):
//   lgamma(x + theta) - lgamma(theta) - lgamma(x + 1)
//   + theta log(theta / (theta + mu)) + x log(mu / (theta + mu)).
// x and mu are cells x genes; theta is one value per gene (genes) or per entry (cells x
// genes). For integer x this is the NB probability mass; for real x >= 0 (log-normalized
// values, as scCRAFT reconstructs them) the same expression is its continuous extension
// through lgamma, which scCRAFT uses as its reconstruction loss. Evaluated in double
// precision, since in float32 lgamma(x + theta) - lgamma(theta) loses every digit once
// theta passes ~1e5, and returned in mu's dtype. Throws std::invalid_argument on shapes
// that do not match.
torch::Tensor nb_log_prob(const torch::Tensor& x, const torch::Tensor& mu,
                          const torch::Tensor& theta);

// Elementwise log ZINB(x; mu, theta, pi) as scVI: with probability sigmoid(pi) an extra
// zero, else NB(mu, theta). pi are logits, cells x genes. In log space:
//   x = 0: logaddexp(pi, log NB(0)) - softplus(pi)
//   x > 0: log NB(x) - softplus(pi)
// so that pi -> -inf gives the NB and large theta or tiny mu never overflow. Same
// shapes, precision and errors as nb_log_prob.
torch::Tensor zinb_log_prob(const torch::Tensor& x, const torch::Tensor& mu,
                            const torch::Tensor& theta, const torch::Tensor& pi);

// scVI's mean: the library size times a softmax over genes of the decoder's output,
// mu = exp(log_library) * softmax(logits), computed as exp(log_softmax + log_library).
// logits: cells x genes; log_library: one log library size per cell (cells or cells x
// 1), observed (log of the cell's total count) or encoded by a library encoder.
torch::Tensor library_scaled_mean(const torch::Tensor& logits, const torch::Tensor& log_library);

// The observed log library size of each cell, log(total count), cells x 1; a cell with
// no counts gets log(eps) instead of -inf.
torch::Tensor observed_log_library(const torch::Tensor& counts);

}  // namespace concord
