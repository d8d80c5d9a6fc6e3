#include "loss.h"

#include <cmath>
#include <limits>

#include "dense.h"

namespace concord {

torch::Tensor clip_loss(const torch::Tensor& a, const torch::Tensor& b, double temperature) {
  const auto unit = torch::nn::functional::NormalizeFuncOptions().dim(1);
  const torch::Tensor logits = split_mm(torch::nn::functional::normalize(a, unit),
                                         torch::nn::functional::normalize(b, unit).t()) / temperature;
  const torch::Tensor targets = torch::arange(a.size(0), torch::TensorOptions().device(a.device()).dtype(torch::kLong));
  return 0.5 * (torch::nn::functional::cross_entropy(logits, targets) +
                torch::nn::functional::cross_entropy(logits.t(), targets));
}

torch::Tensor nt_xent(const torch::Tensor& z1, const torch::Tensor& z2, double temperature,
                      double beta) {
  const int64_t b = z1.size(0);
  const auto opts = torch::TensorOptions().device(z1.device());
  torch::Tensor z = torch::nn::functional::normalize(
      torch::cat({z1, z2}, 0), torch::nn::functional::NormalizeFuncOptions().dim(1));
  torch::Tensor logits = split_mm(z, z.t()) / temperature;

  torch::Tensor self = torch::eye(2 * b, opts.dtype(torch::kBool));
  torch::Tensor targets = torch::cat({torch::arange(b, 2 * b, opts.dtype(torch::kLong)),
                                      torch::arange(0, b, opts.dtype(torch::kLong))});
  if (beta > 0 && b > 1) {
    torch::Tensor positive = torch::zeros({2 * b, 2 * b}, opts.dtype(torch::kBool));
    positive.scatter_(1, targets.unsqueeze(1), true);
    torch::Tensor negative = ~(self | positive);
    const double neg_inf = -std::numeric_limits<double>::infinity();
    torch::Tensor weighted = (beta * logits).masked_fill(~negative, neg_inf);
    torch::Tensor log_norm =
        torch::logsumexp(weighted, 1, /*keepdim=*/true) - std::log(static_cast<double>(2 * b - 2));
    logits = torch::where(negative, (beta + 1.0) * logits - log_norm, logits);
  }
  logits = logits.masked_fill(self, -std::numeric_limits<double>::infinity());
  return torch::nn::functional::cross_entropy(logits, targets);
}

torch::Tensor labelled_cross_entropy(const torch::Tensor& logits, const std::vector<int>& cells,
                                     const std::vector<int>& labels) {
  std::vector<int64_t> rows, classes;
  for (size_t r = 0; r < cells.size(); ++r) {
    if (labels[cells[r]] >= 0) {
      rows.push_back(static_cast<int64_t>(r));
      classes.push_back(labels[cells[r]]);
    }
  }
  if (rows.empty()) return torch::zeros({}, logits.options());
  const auto index = torch::tensor(rows, torch::kLong).to(logits.device());
  const auto target = torch::tensor(classes, torch::kLong).to(logits.device());
  return torch::nn::functional::cross_entropy(logits.index_select(0, index), target);
}

}  // namespace concord
