#include "heads.h"

#include <cmath>
#include <stdexcept>

namespace concord {

torch::nn::Sequential make_head(const std::vector<HeadLayer>& layers) {
  torch::nn::Sequential head;
  for (const HeadLayer& l : layers) {
    if (l.in < 1 || l.out < 1) throw std::invalid_argument("head layer widths must be at least 1");
    const bool normed = l.norm != HeadLayer::Norm::none;
    head->push_back(torch::nn::Linear(torch::nn::LinearOptions(l.in, l.out).bias(!normed)));
    if (normed) {
      head->push_back(torch::nn::BatchNorm1d(
          torch::nn::BatchNorm1dOptions(l.out).affine(l.norm == HeadLayer::Norm::batch)));
    }
    if (l.relu) head->push_back(torch::nn::ReLU());
  }
  return head;
}

void momentum_update(const std::vector<torch::Tensor>& online,
                     const std::vector<torch::Tensor>& target, double m) {
  if (online.size() != target.size()) throw std::invalid_argument("momentum networks differ in shape");
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < online.size(); ++i) target[i].mul_(m).add_(online[i], 1.0 - m);
}

void copy_into_target(const std::vector<torch::Tensor>& online,
                      const std::vector<torch::Tensor>& target) {
  if (online.size() != target.size()) throw std::invalid_argument("momentum networks differ in shape");
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < online.size(); ++i) {
    target[i].copy_(online[i]);
    target[i].set_requires_grad(false);
  }
}

double cosine_momentum(int epoch, int epochs, double start, double end) {
  if (epochs <= 1 || epoch >= epochs - 1) return end;
  const double pi = std::acos(-1.0);
  return end - (end - start) * (std::cos(pi * epoch / (epochs - 1)) + 1.0) / 2.0;
}

MemoryQueue::MemoryQueue(int size, int dim, torch::Device device) {
  if (size < 1 || dim < 1) throw std::invalid_argument("the memory queue needs a positive size and width");
  bank_ = torch::nn::functional::normalize(torch::randn({size, dim}),
                                           torch::nn::functional::NormalizeFuncOptions().dim(1))
              .to(device);
}

void MemoryQueue::enqueue(const torch::Tensor& batch) {
  torch::NoGradGuard no_grad;
  const int64_t size = bank_.size(0);
  torch::Tensor rows = batch.detach();
  if (rows.size(0) > size) rows = rows.narrow(0, rows.size(0) - size, size);
  int64_t done = 0;
  while (done < rows.size(0)) {
    const int64_t n = std::min(rows.size(0) - done, size - next_);
    bank_.narrow(0, next_, n).copy_(rows.narrow(0, done, n));
    done += n;
    next_ = (next_ + n) % size;
  }
}

torch::Tensor MemoryQueue::nearest(const torch::Tensor& queries) const {
  torch::NoGradGuard no_grad;
  const auto unit = torch::nn::functional::NormalizeFuncOptions().dim(1);
  torch::Tensor sim = torch::mm(torch::nn::functional::normalize(queries, unit),
                                torch::nn::functional::normalize(bank_, unit).t());
  return bank_.index_select(0, sim.argmax(1));
}

}  // namespace concord
