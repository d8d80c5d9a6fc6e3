#include "likelihood.h"

#include <stdexcept>
#include <string>

namespace concord {

namespace {

std::string shape_of(const torch::Tensor& t) {
  std::string s = "(";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + ")";
}

// x, mu (and pi when given) cells x genes of one shape; theta per gene or per entry.
void check_shapes(const torch::Tensor& x, const torch::Tensor& mu, const torch::Tensor& theta,
                  const torch::Tensor* pi) {
  if (x.dim() != 2 || x.sizes() != mu.sizes()) {
    throw std::invalid_argument("likelihood: x " + shape_of(x) + " and mu " + shape_of(mu) +
                                " must be cells x genes matrices of the same shape");
  }
  const bool per_gene = theta.dim() == 1 && theta.size(0) == x.size(1);
  if (!per_gene && theta.sizes() != x.sizes()) {
    throw std::invalid_argument("likelihood: theta " + shape_of(theta) +
                                " must hold one value per gene or per entry of x " + shape_of(x));
  }
  if (pi != nullptr && pi->sizes() != x.sizes()) {
    throw std::invalid_argument("likelihood: pi " + shape_of(*pi) + " must have the shape of x " +
                                shape_of(x));
  }
}

torch::Tensor as_double(const torch::Tensor& t) { return t.to(torch::kFloat64); }

// log NB in double precision. theta log(theta / (theta + mu)) is written as
// -theta log1p(mu / theta), which tends to -mu as theta grows instead of cancelling.
torch::Tensor nb_double(const torch::Tensor& x, const torch::Tensor& mu, const torch::Tensor& theta,
                        torch::Tensor* log_zero) {
  const double eps = kLikelihoodEps;
  torch::Tensor th = theta + eps;
  torch::Tensor zero_term = -th * torch::log1p(mu / th);
  if (log_zero != nullptr) *log_zero = zero_term;
  return zero_term + x * (torch::log(mu + eps) - torch::log(th + mu)) + torch::lgamma(x + th) -
         torch::lgamma(th) - torch::lgamma(x + 1.0);
}

}  // namespace

torch::Tensor nb_log_prob(const torch::Tensor& x, const torch::Tensor& mu,
                          const torch::Tensor& theta) {
  check_shapes(x, mu, theta, nullptr);
  return nb_double(as_double(x), as_double(mu), as_double(theta), nullptr).to(mu.scalar_type());
}

torch::Tensor zinb_log_prob(const torch::Tensor& x, const torch::Tensor& mu,
                            const torch::Tensor& theta, const torch::Tensor& pi) {
  check_shapes(x, mu, theta, &pi);
  torch::Tensor xd = as_double(x), pid = as_double(pi);
  torch::Tensor log_nb_zero;
  torch::Tensor log_nb = nb_double(xd, as_double(mu), as_double(theta), &log_nb_zero);
  torch::Tensor log_not_inflated = torch::nn::functional::softplus(pid);
  // Both branches are finite everywhere, so where() passes finite gradients.
  torch::Tensor zero_case = torch::logaddexp(pid, log_nb_zero) - log_not_inflated;
  torch::Tensor count_case = log_nb - log_not_inflated;
  return torch::where(xd == 0, zero_case, count_case).to(mu.scalar_type());
}

torch::Tensor library_scaled_mean(const torch::Tensor& logits, const torch::Tensor& log_library) {
  if (logits.dim() != 2 || log_library.numel() != logits.size(0) ||
      (log_library.dim() == 2 && log_library.size(1) != 1) || log_library.dim() > 2) {
    throw std::invalid_argument("library_scaled_mean: logits " + shape_of(logits) +
                                " must be cells x genes and log_library " + shape_of(log_library) +
                                " hold one value per cell");
  }
  return torch::exp(torch::log_softmax(logits, 1) + log_library.reshape({-1, 1}));
}

torch::Tensor observed_log_library(const torch::Tensor& counts) {
  if (counts.dim() != 2) {
    throw std::invalid_argument("observed_log_library: counts " + shape_of(counts) +
                                " must be a cells x genes matrix");
  }
  return torch::log(counts.sum(1, /*keepdim=*/true).clamp_min(kLikelihoodEps));
}

}  // namespace concord
