#include "adam.h"

#include "kernels.h"

namespace concord {

FusedAdam::FusedAdam(const std::vector<torch::Tensor>& params, double weight_decay)
    : params_(params), steps_(params.size(), 0), weight_decay_(weight_decay) {
  for (const auto& p : params_) {
    m_.push_back(torch::zeros_like(p));
    v_.push_back(torch::zeros_like(p));
  }
}

void FusedAdam::step(const std::vector<torch::Tensor>& grads, double lr, int threads) {
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!grads[i].defined()) continue;
    AdamSettings s;
    s.lr = lr;
    s.step = ++steps_[i];
    torch::Tensor g = grads[i].contiguous();
    if (weight_decay_ > 0) g = g + weight_decay_ * params_[i];
    adam_update(params_[i].data_ptr<float>(), g.data_ptr<float>(), m_[i].data_ptr<float>(),
                v_[i].data_ptr<float>(), params_[i].numel(), s, threads);
  }
}

}  // namespace concord
