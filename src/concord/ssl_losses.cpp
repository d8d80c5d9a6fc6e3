#include "ssl_losses.h"

namespace concord {

namespace {

torch::Tensor unit_rows(const torch::Tensor& x) {
  return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(1));
}

torch::Tensor off_diagonal(const torch::Tensor& square) {
  const int64_t n = square.size(0);
  return square.masked_select(~torch::eye(n, square.options().dtype(torch::kBool)));
}

torch::Tensor variance_hinge(const torch::Tensor& x) {
  return torch::relu(1.0 - torch::sqrt(x.var(0) + 1e-4)).mean();
}

torch::Tensor covariance_penalty(const torch::Tensor& x) {
  const torch::Tensor centred = x - x.mean(0);
  const torch::Tensor cov = torch::mm(centred.t(), centred) / static_cast<double>(x.size(0) - 1);
  return off_diagonal(cov).pow(2).sum() / static_cast<double>(x.size(1));
}

torch::Tensor standardise(const torch::Tensor& x) {
  // Batch normalization without affine parameters or running statistics.
  const torch::Tensor mean = x.mean(0);
  const torch::Tensor var = x.var(0, /*unbiased=*/false);
  return (x - mean) / torch::sqrt(var + 1e-5);
}

}  // namespace

torch::Tensor info_nce_queue(const torch::Tensor& query, const torch::Tensor& key,
                             const torch::Tensor& negatives, double temperature) {
  const torch::Tensor q = unit_rows(query);
  const torch::Tensor k = unit_rows(key).detach();
  const torch::Tensor positive = (q * k).sum(1, /*keepdim=*/true);
  const torch::Tensor negative = torch::mm(q, negatives.detach().t());
  const torch::Tensor logits = torch::cat({positive, negative}, 1) / temperature;
  const torch::Tensor target = torch::zeros({query.size(0)}, query.options().dtype(torch::kLong));
  return torch::nn::functional::cross_entropy(logits, target);
}

torch::Tensor negative_cosine(const torch::Tensor& prediction, const torch::Tensor& target) {
  return -torch::nn::functional::cosine_similarity(
              prediction, target.detach(),
              torch::nn::functional::CosineSimilarityFuncOptions().dim(1).eps(1e-8))
              .mean();
}

torch::Tensor vicreg_loss(const torch::Tensor& a, const torch::Tensor& b, double invariance,
                          double variance, double covariance) {
  const torch::Tensor inv = torch::mse_loss(a, b);
  const torch::Tensor var = 0.5 * (variance_hinge(a) + variance_hinge(b));
  const torch::Tensor cov = covariance_penalty(a) + covariance_penalty(b);
  return invariance * inv + variance * var + covariance * cov;
}

torch::Tensor barlow_twins_loss(const torch::Tensor& a, const torch::Tensor& b, double lambda) {
  const torch::Tensor c = torch::mm(standardise(a).t(), standardise(b)) / static_cast<double>(a.size(0));
  const torch::Tensor on = (torch::diagonal(c) - 1.0).pow(2).sum();
  return on + lambda * off_diagonal(c).pow(2).sum();
}

}  // namespace concord
