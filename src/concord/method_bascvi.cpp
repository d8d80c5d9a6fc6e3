// BA-scVI (Batch-Adversarial scVI) and plain scVI. The encoder reads log1p(counts) (the
// engine's input for this method) into a Gaussian latent; the decoder turns z into the
// scale (softmax over genes), zero-inflation logits and per-gene dispersion of a ZINB
// whose mean is scaled by the cell's observed library size. scVI gives the decoder the
// batch's one-hot code in every layer; BA-scVI gives it none and instead trains two
// batch discriminators, on the latent mean and on the decoder's last hidden layer, which
// the autoencoder maximises with weight beta (alternating updates: discriminators first).
#include <cmath>

#include "likelihood.h"
#include "vae.h"

namespace concord {

namespace {

class BAscVI : public VaeMethod {
 public:
  BAscVI(Encoder& online, const MethodContext& c) : VaeMethod(online, c) {
    const VaeOptions& v = c.options.vae;
    if (v.n_domains < 1) throw std::invalid_argument("scVI needs at least one batch");
    if (v.decoder_dims.empty()) throw std::invalid_argument("the decoder needs at least one hidden layer");
    const int genes = online->n_genes();
    inject_ = v.adversarial ? 0 : v.n_domains;
    int in = v.latent_dim;
    for (size_t l = 0; l < v.decoder_dims.size(); ++l) {
      const int w = v.decoder_dims[l];
      if (w < 1) throw std::invalid_argument("decoder widths must be at least 1");
      layers_.push_back(trained_->register_module("decoder_" + std::to_string(l), torch::nn::Linear(in + inject_, w)));
      // scVI's batch norm: momentum 0.01, eps 1e-3.
      norms_.push_back(trained_->register_module(
          "decoder_norm_" + std::to_string(l),
          torch::nn::BatchNorm1d(torch::nn::BatchNorm1dOptions(w).momentum(0.01).eps(1e-3))));
      in = w;
    }
    scale_ = trained_->register_module("scale", torch::nn::Linear(in, genes));
    dropout_ = trained_->register_module("dropout", torch::nn::Linear(in, genes));
    log_theta_ = trained_->register_parameter("log_theta", torch::randn({genes}));
    trained_->to(c.device);
    if (v.adversarial) {
      // BA-scVI's discriminator Adam: eps 0.01.
      on_latent_ = std::make_unique<Adversary>(v.latent_dim, v, 0.01, c.device);
      on_decoder_ = std::make_unique<Adversary>(in, v, 0.01, c.device);
      adversaries_->register_module("latent", on_latent_->net());
      adversaries_->register_module("decoder", on_decoder_->net());
    }
  }

  torch::Tensor loss(Encoder& online, const Step& s) override {
    const VaeOptions& v = context_.options.vae;
    const Gaussian q = posterior(online, s.h1);
    const torch::Tensor z = reparameterize(q);
    const torch::Tensor counts = batch_counts(online, s.cells);
    const torch::Tensor code = inject_ > 0 ? one_hot_domains(s.cells, context_.domains, inject_, z.device())
                                           : torch::Tensor();
    const torch::Tensor hidden = decoder_hidden(z, code);
    const torch::Tensor mu = library_scaled_mean(scale_->forward(hidden), observed_log_library(counts));
    const torch::Tensor reconstruction =
        -zinb_log_prob(counts, mu, torch::exp(log_theta_), dropout_->forward(hidden)).sum(1);
    torch::Tensor loss = (reconstruction + v.kl_weight * kl_to_standard_normal(q)).mean();
    if (adversary_on(s.epoch)) {
      const torch::Tensor domains = domain_tensor(s.cells, context_.domains, z.device());
      on_latent_->train(q.mean, domains, v.discriminator_steps);
      on_decoder_->train(hidden, domains, v.discriminator_steps);
      loss = loss - v.adversary_weight * (on_latent_->net()->loss(q.mean, domains) +
                                          on_decoder_->net()->loss(hidden, domains));
    }
    return loss;
  }

  // scVI's normalized expression, log1p(scale * 1e4): what the decoder expects of a
  // cell of `domain` (plain scVI) or of any batch (BA-scVI) per 10,000 counts.
  torch::Tensor decode(Encoder& online, const SparseBatch& batch, const torch::Tensor& first, int domain) override {
    (void)batch;
    torch::NoGradGuard no_grad;
    const torch::Tensor z = heads_->forward(online->rest(first)).mean;
    torch::Tensor code;
    if (inject_ > 0) {
      if (domain < 0 || domain >= inject_) throw std::invalid_argument("decode domain out of range");
      code = torch::one_hot(torch::full({z.size(0)}, domain, torch::kLong).to(z.device()), inject_).to(torch::kFloat);
    }
    return torch::log1p(torch::softmax(scale_->forward(decoder_hidden(z, code)), 1) * 1e4);
  }

 private:
  torch::Tensor decoder_hidden(torch::Tensor h, const torch::Tensor& code) {
    for (size_t l = 0; l < layers_.size(); ++l) {
      if (code.defined()) h = torch::cat({h, code}, 1);
      h = torch::relu(norms_[l]->forward(layers_[l]->forward(h)));
    }
    return h;
  }

  // The cells' counts, dense: the engine's input is log1p(counts), exact in float32 to
  // well past any count a cell holds once rounded.
  torch::Tensor batch_counts(Encoder& online, const std::vector<int>& cells) {
    gather_rows(context_.x, cells.data(), static_cast<int>(cells.size()), rows_);
    return torch::round(torch::expm1(online->densify(rows_)));
  }

  int inject_ = 0;
  std::vector<torch::nn::Linear> layers_;
  std::vector<torch::nn::BatchNorm1d> norms_;
  torch::nn::Linear scale_{nullptr}, dropout_{nullptr};
  torch::Tensor log_theta_;
  std::unique_ptr<Adversary> on_latent_, on_decoder_;
  SparseBatch rows_;
};

}  // namespace

std::unique_ptr<Method> make_bascvi(Encoder& online, const MethodContext& context) {
  return std::make_unique<BAscVI>(online, context);
}

}  // namespace concord
