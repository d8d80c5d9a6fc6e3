// The seven self-supervised methods of the SSL benchmark (SimCLR, MoCo, SimSiam, NNCLR,
// BYOL, VICReg, Barlow Twins) as its reference code builds them on LightlySSL: the heads
// and their sizes relative to the representation, losses, momentum targets and queues.
// The representation (the encoder's output) is the embedding; heads serve training only.
#include <algorithm>

#include "heads.h"
#include "loss.h"
#include "method.h"
#include "ssl_losses.h"

namespace concord {

namespace {

using Norm = HeadLayer::Norm;

// Shared plumbing: heads on the method's device in training mode, their parameters,
// and a momentum copy of the online encoder and projection.
class SslMethod : public Method {
 public:
  SslMethod(const MethodContext& c, int default_factor)
      : c_(c), dim_(c.options.model.latent_dim),
        factor_(c.options.ssl.projection_factor > 0 ? c.options.ssl.projection_factor : default_factor) {}

  SecondView second_view() const override { return SecondView::trained; }
  std::vector<torch::Tensor> parameters() override { return params_; }
  void set_training(bool on) override {
    for (auto& [name, h] : heads_) h->train(on);
  }
  // The heads, so that fine-tuning a saved model continues from them. Momentum targets
  // restart as copies of the online network, and queues empty, as at the first start.
  std::vector<std::pair<std::string, torch::Tensor>> state() override {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (auto& [name, h] : heads_) {
      for (const auto& p : h->named_parameters()) out.emplace_back(name + "." + p.key(), p.value());
      for (const auto& b : h->named_buffers()) out.emplace_back(name + "." + b.key(), b.value());
    }
    return out;
  }

 protected:
  torch::nn::Sequential head(const std::string& name, const std::vector<HeadLayer>& layers) {
    torch::nn::Sequential h = make_head(layers);
    h->to(c_.device);
    h->train();
    for (auto& p : h->parameters()) params_.push_back(p);
    heads_.emplace_back(name, h);
    return h;
  }

  // Widths scaled down (contrastive methods) or up by the projection factor.
  int down(int width) const { return std::max(1, width / factor_); }
  int up(int width) const { return width * factor_; }

  MethodContext c_;
  int dim_;
  int factor_;
  std::vector<torch::Tensor> params_;
  std::vector<std::pair<std::string, torch::nn::Sequential>> heads_;
};

// A momentum (exponential moving average) copy of the online encoder and projection,
// started equal to them and never trained by gradient.
class Target {
 public:
  Target(Encoder& online, const torch::nn::Sequential& online_head, const std::vector<HeadLayer>& layers,
         const MethodContext& c)
      : c_(c), encoder_(online->n_genes(), c.options.model), head_(make_head(layers)) {
    encoder_->to(c.device);
    head_->to(c.device);
    online_ = online->parameters();
    for (auto& p : online_head->parameters()) online_.push_back(p);
    target_ = encoder_->parameters();
    for (auto& p : head_->parameters()) target_.push_back(p);
    copy_into_target(online_, target_);
    encoder_->train();
    head_->train();
  }

  void update(int epoch) {
    const SslOptions& s = c_.options.ssl;
    momentum_update(online_, target_, cosine_momentum(epoch, c_.options.epochs, s.momentum_start, s.momentum_end));
  }

  torch::Tensor project(const SparseBatch& view) {
    torch::NoGradGuard no_grad;
    return head_->forward(encoder_->rest(c_.first_layer(encoder_, view)));
  }

 private:
  MethodContext c_;
  Encoder encoder_;
  torch::nn::Sequential head_;
  std::vector<torch::Tensor> online_, target_;
};

// SimCLR: projection Linear-BN-ReLU-Linear-BN, NT-Xent over both views of the batch.
class SimClr : public SslMethod {
 public:
  explicit SimClr(const MethodContext& c) : SslMethod(c, 1) {
    proj_ = head("projection", {{dim_, dim_, Norm::batch, true}, {dim_, down(dim_), Norm::batch, false}});
  }
  torch::Tensor loss(Encoder& online, const Step& s) override {
    return nt_xent(proj_->forward(online->rest(s.h1)), proj_->forward(online->rest(s.h2)),
                   c_.options.temperature, 0.0);
  }

 private:
  torch::nn::Sequential proj_{nullptr};
};

// MoCo (v2 head: Linear-ReLU-Linear): the query from the online network on the first
// view, the key from the momentum target on the second, negatives from a queue of past
// keys.
class MoCo : public SslMethod {
 public:
  explicit MoCo(const MethodContext& c)
      : SslMethod(c, 1), layers_{{dim_, dim_, Norm::none, true}, {dim_, down(dim_), Norm::none, false}},
        queue_(c.options.ssl.queue_size, down(dim_), c.device) {
    proj_ = head("projection", layers_);
  }
  SecondView second_view() const override { return SecondView::unused; }
  torch::Tensor loss(Encoder& online, const Step& s) override {
    // Made at the first step, not at construction, so that it copies the weights that
    // training starts from (saved ones when fine-tuning).
    if (!target_) target_ = std::make_unique<Target>(online, proj_, layers_, c_);
    target_->update(s.epoch);
    const torch::Tensor query = proj_->forward(online->rest(s.h1));
    const torch::Tensor key = target_->project(s.view2);
    // A copy: the queue changes below, while backward still needs these negatives.
    torch::Tensor loss = info_nce_queue(query, key, queue_.entries().clone(), c_.options.temperature);
    queue_.enqueue(torch::nn::functional::normalize(key, torch::nn::functional::NormalizeFuncOptions().dim(1)));
    return loss;
  }

 private:
  std::vector<HeadLayer> layers_;
  torch::nn::Sequential proj_{nullptr};
  std::unique_ptr<Target> target_;
  MemoryQueue queue_;
};

// SimSiam: three-layer projection ending in a non-affine BatchNorm, a bottleneck
// predictor, symmetric negative cosine with stop-gradient on the projections.
class SimSiam : public SslMethod {
 public:
  explicit SimSiam(const MethodContext& c) : SslMethod(c, 2) {
    const int out = down(dim_);
    proj_ = head("projection", {{dim_, dim_, Norm::batch, true}, {dim_, dim_, Norm::batch, true},
                  {dim_, out, Norm::batch_no_affine, false}});
    pred_ = head("prediction", {{out, std::max(1, out / 2), Norm::batch, true}, {std::max(1, out / 2), out, Norm::none, false}});
  }
  torch::Tensor loss(Encoder& online, const Step& s) override {
    const torch::Tensor z1 = proj_->forward(online->rest(s.h1));
    const torch::Tensor z2 = proj_->forward(online->rest(s.h2));
    return 0.5 * (negative_cosine(pred_->forward(z1), z2) + negative_cosine(pred_->forward(z2), z1));
  }

 private:
  torch::nn::Sequential proj_{nullptr}, pred_{nullptr};
};

// NNCLR: each view's projection is replaced by its nearest neighbour in a support set
// of past projections, and contrasted (NT-Xent) with the other view's prediction.
class Nnclr : public SslMethod {
 public:
  explicit Nnclr(const MethodContext& c)
      : SslMethod(c, 1), support_(c.options.ssl.queue_size, down(dim_), c.device) {
    const int out = down(dim_);
    proj_ = head("projection", {{dim_, dim_, Norm::batch, true}, {dim_, dim_, Norm::batch, true}, {dim_, out, Norm::batch, false}});
    pred_ = head("prediction", {{out, dim_, Norm::batch, true}, {dim_, out, Norm::none, false}});
  }
  torch::Tensor loss(Encoder& online, const Step& s) override {
    const torch::Tensor z1 = proj_->forward(online->rest(s.h1));
    const torch::Tensor z2 = proj_->forward(online->rest(s.h2));
    const torch::Tensor n1 = support_.nearest(z1.detach());
    const torch::Tensor n2 = support_.nearest(z2.detach());
    support_.enqueue(z2.detach());
    const double t = c_.options.temperature;
    return 0.5 * (nt_xent(n1, pred_->forward(z2), t, 0.0) + nt_xent(n2, pred_->forward(z1), t, 0.0));
  }

 private:
  torch::nn::Sequential proj_{nullptr}, pred_{nullptr};
  MemoryQueue support_;
};

// BYOL: the online network's prediction of each view matches the momentum target's
// projection of the other view (symmetric negative cosine).
class Byol : public SslMethod {
 public:
  explicit Byol(const MethodContext& c)
      : SslMethod(c, 4), layers_{{dim_, up(dim_), Norm::batch, true}, {up(dim_), dim_, Norm::none, false}} {
    proj_ = head("projection", layers_);
    pred_ = head("prediction", layers_);
  }
  torch::Tensor loss(Encoder& online, const Step& s) override {
    if (!target_) target_ = std::make_unique<Target>(online, proj_, layers_, c_);  // as MoCo's
    target_->update(s.epoch);
    const torch::Tensor p1 = pred_->forward(proj_->forward(online->rest(s.h1)));
    const torch::Tensor p2 = pred_->forward(proj_->forward(online->rest(s.h2)));
    const torch::Tensor t1 = target_->project(s.view1);
    const torch::Tensor t2 = target_->project(s.view2);
    return 0.5 * (negative_cosine(p1, t2) + negative_cosine(p2, t1));
  }

 private:
  std::vector<HeadLayer> layers_;
  torch::nn::Sequential proj_{nullptr}, pred_{nullptr};
  std::unique_ptr<Target> target_;
};

// VICReg: two-layer projection widened by the factor; invariance, variance and
// covariance terms.
class VicReg : public SslMethod {
 public:
  explicit VicReg(const MethodContext& c) : SslMethod(c, 4) {
    proj_ = head("projection", {{dim_, dim_, Norm::batch, true}, {dim_, up(dim_), Norm::none, false}});
  }
  torch::Tensor loss(Encoder& online, const Step& s) override {
    const SslOptions& o = c_.options.ssl;
    return vicreg_loss(proj_->forward(online->rest(s.h1)), proj_->forward(online->rest(s.h2)),
                       o.vicreg_invariance, o.vicreg_variance, o.vicreg_covariance);
  }

 private:
  torch::nn::Sequential proj_{nullptr};
};

// Barlow Twins: three-layer projection widened by the factor; the cross-correlation of
// the two views' projections is pushed towards the identity.
class BarlowTwins : public SslMethod {
 public:
  explicit BarlowTwins(const MethodContext& c) : SslMethod(c, 4) {
    const int w = up(dim_);
    proj_ = head("projection", {{dim_, w, Norm::batch, true}, {w, w, Norm::batch, true}, {w, w, Norm::none, false}});
  }
  torch::Tensor loss(Encoder& online, const Step& s) override {
    return barlow_twins_loss(proj_->forward(online->rest(s.h1)), proj_->forward(online->rest(s.h2)),
                             c_.options.ssl.barlow_lambda);
  }

 private:
  torch::nn::Sequential proj_{nullptr};
};

}  // namespace

std::unique_ptr<Method> make_ssl_method(Encoder& online, const MethodContext& c) {
  const std::string& m = c.options.method;
  if (m == "simclr") return std::make_unique<SimClr>(c);
  if (m == "moco") return std::make_unique<MoCo>(c);
  if (m == "simsiam") return std::make_unique<SimSiam>(c);
  if (m == "nnclr") return std::make_unique<Nnclr>(c);
  if (m == "byol") return std::make_unique<Byol>(c);
  if (m == "vicreg") return std::make_unique<VicReg>(c);
  if (m == "barlowtwins") return std::make_unique<BarlowTwins>(c);
  return nullptr;
}

}  // namespace concord
