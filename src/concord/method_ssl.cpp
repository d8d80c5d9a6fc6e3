// The seven self-supervised methods of the SSL benchmark (SimCLR, MoCo, SimSiam, NNCLR,
// BYOL, VICReg, Barlow Twins) as its reference code builds them on LightlySSL: the heads
// and their sizes relative to the representation, losses, momentum targets and queues.
// The representation (the encoder's output) is the embedding; heads serve training only.
//
// Several modalities (ModelOptions::modality_features; the encoder has one block per
// modality, model.h): with sum or concat fusion the method's heads and loss see the
// fused representation (the modalities' embeddings summed or side by side) and are sized
// from its width. The benchmark instead gives each modality its own projection head and
// fuses the projections; fusing before the heads keeps every method's heads, momentum
// targets, queues and predictors as they are. CLIP fusion follows the benchmark: each
// modality's representation passes its own projection head (the method's layout) and
// CLIP's symmetric cross-entropy with a learned temperature contrasts the modalities of
// each cell, within each of the two views; the method's own loss is not used.
#include <algorithm>
#include <cmath>

#include "heads.h"
#include "loss.h"
#include "method.h"
#include "ssl_losses.h"

namespace concord {

namespace {

using Norm = HeadLayer::Norm;

// The benchmark's projection size factor of a method, unless SslOptions sets one.
int projection_factor(const TrainOptions& o) {
  if (o.ssl.projection_factor > 0) return o.ssl.projection_factor;
  const std::string& m = o.method;
  if (m == "simsiam") return 2;
  if (m == "byol" || m == "vicreg" || m == "barlowtwins") return 4;
  return 1;
}

// A method's projection head on a representation of width d: widths scaled down
// (contrastive methods) or up (BYOL, VICReg, Barlow Twins) by the factor.
std::vector<HeadLayer> projection_layers(const std::string& m, int d, int factor) {
  const int down = std::max(1, d / factor);
  const int up = d * factor;
  if (m == "simclr") return {{d, d, Norm::batch, true}, {d, down, Norm::batch, false}};
  if (m == "moco") return {{d, d, Norm::none, true}, {d, down, Norm::none, false}};
  if (m == "simsiam") return {{d, d, Norm::batch, true}, {d, d, Norm::batch, true}, {d, down, Norm::batch_no_affine, false}};
  if (m == "nnclr") return {{d, d, Norm::batch, true}, {d, d, Norm::batch, true}, {d, down, Norm::batch, false}};
  if (m == "byol") return {{d, up, Norm::batch, true}, {up, d, Norm::none, false}};
  if (m == "vicreg") return {{d, d, Norm::batch, true}, {d, up, Norm::none, false}};
  if (m == "barlowtwins") return {{d, up, Norm::batch, true}, {up, up, Norm::batch, true}, {up, up, Norm::none, false}};
  throw std::invalid_argument("unknown self-supervised method \"" + m + "\"");
}

int n_modalities(const ModelOptions& m) { return std::max(1, static_cast<int>(m.modality_features.size())); }

// Width of the representation the heads see: the fused embedding.
int fused_width(const ModelOptions& m) {
  return m.fusion == Fusion::sum ? m.latent_dim : n_modalities(m) * m.latent_dim;
}

// The representation of a first-layer output: the modalities' embeddings fused (one
// modality: the encoder's output).
torch::Tensor represent_fused(Encoder& encoder, const torch::Tensor& first) {
  return encoder->fuse(encoder->rest(first));
}

// Shared plumbing: heads on the method's device in training mode, their parameters,
// and a momentum copy of the online encoder and projection.
class SslMethod : public Method {
 public:
  explicit SslMethod(const MethodContext& c)
      : c_(c), dim_(fused_width(c.options.model)), factor_(projection_factor(c.options)) {}

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
  std::vector<HeadLayer> projection() const { return projection_layers(c_.options.method, dim_, factor_); }

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
    return head_->forward(represent_fused(encoder_, c_.first_layer(encoder_, view)));
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
  explicit SimClr(const MethodContext& c) : SslMethod(c) { proj_ = head("projection", projection()); }
  torch::Tensor loss(Encoder& online, const Step& s) override {
    return nt_xent(proj_->forward(represent_fused(online, s.h1)), proj_->forward(represent_fused(online, s.h2)),
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
      : SslMethod(c), layers_(projection()), queue_(c.options.ssl.queue_size, down(dim_), c.device) {
    proj_ = head("projection", layers_);
  }
  SecondView second_view() const override { return SecondView::unused; }
  torch::Tensor loss(Encoder& online, const Step& s) override {
    // Made at the first step, not at construction, so that it copies the weights that
    // training starts from (saved ones when fine-tuning).
    if (!target_) target_ = std::make_unique<Target>(online, proj_, layers_, c_);
    target_->update(s.epoch);
    const torch::Tensor query = proj_->forward(represent_fused(online, s.h1));
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
  explicit SimSiam(const MethodContext& c) : SslMethod(c) {
    const int out = down(dim_);
    proj_ = head("projection", projection());
    pred_ = head("prediction", {{out, std::max(1, out / 2), Norm::batch, true}, {std::max(1, out / 2), out, Norm::none, false}});
  }
  torch::Tensor loss(Encoder& online, const Step& s) override {
    const torch::Tensor z1 = proj_->forward(represent_fused(online, s.h1));
    const torch::Tensor z2 = proj_->forward(represent_fused(online, s.h2));
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
      : SslMethod(c), support_(c.options.ssl.queue_size, down(dim_), c.device) {
    const int out = down(dim_);
    proj_ = head("projection", projection());
    pred_ = head("prediction", {{out, dim_, Norm::batch, true}, {dim_, out, Norm::none, false}});
  }
  torch::Tensor loss(Encoder& online, const Step& s) override {
    const torch::Tensor z1 = proj_->forward(represent_fused(online, s.h1));
    const torch::Tensor z2 = proj_->forward(represent_fused(online, s.h2));
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
      : SslMethod(c), layers_(projection()) {
    proj_ = head("projection", layers_);
    pred_ = head("prediction", layers_);
  }
  torch::Tensor loss(Encoder& online, const Step& s) override {
    if (!target_) target_ = std::make_unique<Target>(online, proj_, layers_, c_);  // as MoCo's
    target_->update(s.epoch);
    const torch::Tensor p1 = pred_->forward(proj_->forward(represent_fused(online, s.h1)));
    const torch::Tensor p2 = pred_->forward(proj_->forward(represent_fused(online, s.h2)));
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
  explicit VicReg(const MethodContext& c) : SslMethod(c) { proj_ = head("projection", projection()); }
  torch::Tensor loss(Encoder& online, const Step& s) override {
    const SslOptions& o = c_.options.ssl;
    return vicreg_loss(proj_->forward(represent_fused(online, s.h1)), proj_->forward(represent_fused(online, s.h2)),
                       o.vicreg_invariance, o.vicreg_variance, o.vicreg_covariance);
  }

 private:
  torch::nn::Sequential proj_{nullptr};
};

// Barlow Twins: three-layer projection widened by the factor; the cross-correlation of
// the two views' projections is pushed towards the identity.
class BarlowTwins : public SslMethod {
 public:
  explicit BarlowTwins(const MethodContext& c) : SslMethod(c) { proj_ = head("projection", projection()); }
  torch::Tensor loss(Encoder& online, const Step& s) override {
    return barlow_twins_loss(proj_->forward(represent_fused(online, s.h1)), proj_->forward(represent_fused(online, s.h2)),
                             c_.options.ssl.barlow_lambda);
  }

 private:
  torch::nn::Sequential proj_{nullptr};
};

// CLIP fusion: one projection head per modality, on that modality's representation
// (width latent_dim), and CLIP's loss between every pair of modalities of a cell, in
// each view. As the benchmark, the temperature is learned (CLIP's logit scale, started
// at 1 / 0.07 and capped at 100), and the method's own loss is left out. Unlike the
// benchmark, which adds the two views' losses, this averages them (and the pairs of
// more than two modalities), so that the loss reads on the scale of one.
class SslClip : public SslMethod {
 public:
  explicit SslClip(const MethodContext& c) : SslMethod(c) {
    const int latent = c.options.model.latent_dim;
    for (int k = 0; k < n_modalities(c.options.model); ++k)
      proj_.push_back(head("projection_" + std::to_string(k + 1), projection_layers(c.options.method, latent, factor_)));
    log_scale_ = torch::full({1}, std::log(1 / 0.07), torch::TensorOptions().device(c.device)).requires_grad_(true);
    params_.push_back(log_scale_);
  }
  SecondView second_view() const override { return SecondView::trained; }
  torch::Tensor loss(Encoder& online, const Step& s) override {
    return 0.5 * (view_loss(online, s.h1) + view_loss(online, s.h2));
  }
  std::vector<std::pair<std::string, torch::Tensor>> state() override {
    auto out = SslMethod::state();
    out.emplace_back("clip.log_scale", log_scale_);
    return out;
  }

 private:
  torch::Tensor view_loss(Encoder& online, const torch::Tensor& first) {
    const std::vector<torch::Tensor> z = online->modalities(online->rest(first));
    std::vector<torch::Tensor> p;
    for (size_t k = 0; k < z.size(); ++k)
      p.push_back(torch::nn::functional::normalize(proj_[k]->forward(z[k]), torch::nn::functional::NormalizeFuncOptions().dim(1)));
    const torch::Tensor scale = log_scale_.exp().clamp_max(100);
    const torch::Tensor targets = torch::arange(first.size(0), torch::TensorOptions().device(first.device()).dtype(torch::kLong));
    torch::Tensor loss = torch::zeros({}, first.options());
    int pairs = 0;
    for (size_t a = 0; a < p.size(); ++a) {
      for (size_t b = a + 1; b < p.size(); ++b, ++pairs) {
        const torch::Tensor logits = torch::mm(p[a], p[b].t()) * scale;
        loss = loss + 0.5 * (torch::nn::functional::cross_entropy(logits, targets) +
                             torch::nn::functional::cross_entropy(logits.t(), targets));
      }
    }
    return loss / pairs;
  }

  std::vector<torch::nn::Sequential> proj_;
  torch::Tensor log_scale_;
};

}  // namespace

std::unique_ptr<Method> make_ssl_method(Encoder& online, const MethodContext& c) {
  const std::string& m = c.options.method;
  const bool known = m == "simclr" || m == "moco" || m == "simsiam" || m == "nnclr" || m == "byol" ||
                     m == "vicreg" || m == "barlowtwins";
  if (known && online->n_modalities() > 1 && online->fusion() == Fusion::clip) return std::make_unique<SslClip>(c);
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
