// What the variational autoencoders (method_bascvi.cpp, method_sccraft.cpp) share: the
// Gaussian latent on the online encoder (mean and variance heads, reparameterisation,
// KL to the standard normal), batch discriminators with their own optimiser and the
// alternating update, and the method plumbing (embedding = latent mean, saved state).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "method.h"

namespace concord {

struct Gaussian {
  torch::Tensor mean;
  torch::Tensor var;
};

// Mean and variance of q(z | x) from the trunk's output; the variance is
// exp(Linear) + 1e-4, as scVI and scCRAFT keep it off zero.
class GaussianHeadsImpl : public torch::nn::Module {
 public:
  GaussianHeadsImpl(int in, int latent);
  Gaussian forward(const torch::Tensor& h);

 private:
  torch::nn::Linear mean_{nullptr}, log_var_{nullptr};
};
TORCH_MODULE(GaussianHeads);

// z = mean + sqrt(var) * eps, eps drawn from LibTorch's seeded generator.
torch::Tensor reparameterize(const Gaussian& q);

// KL(q || N(0, I)) of each cell, summed over the latent dimensions (cells).
torch::Tensor kl_to_standard_normal(const Gaussian& q);

// One-hot codes (cells x n) of the domains of `cells`, on `device`.
torch::Tensor one_hot_domains(const std::vector<int>& cells, const std::vector<int>& domains, int n,
                              torch::Device device);
// The domains of `cells` as a long tensor on `device`.
torch::Tensor domain_tensor(const std::vector<int>& cells, const std::vector<int>& domains, torch::Device device);

// A batch classifier: in -> hidden -> hidden -> n_domains with ReLUs (scCRAFT's; BA-scVI
// does not give its discriminators' shape), trained by its own Adam on detached inputs.
class DiscriminatorImpl : public torch::nn::Module {
 public:
  DiscriminatorImpl(int in, int hidden, int n_domains);
  torch::Tensor forward(const torch::Tensor& x) { return net_->forward(x); }
  // Mean cross-entropy of the domains given x; gradients flow into x.
  torch::Tensor loss(const torch::Tensor& x, const torch::Tensor& domains);
  // Share of cells whose domain the discriminator predicts, without gradient.
  double accuracy(const torch::Tensor& x, const torch::Tensor& domains);

 private:
  torch::nn::Sequential net_{nullptr};
};
TORCH_MODULE(Discriminator);

// A discriminator with its optimiser: the "first step" of the alternating update.
class Adversary {
 public:
  Adversary(int in, const VaeOptions& o, double adam_eps, torch::Device device);
  // `steps` Adam updates of the discriminator on x, detached from the autoencoder.
  void train(const torch::Tensor& x, const torch::Tensor& domains, int steps);
  Discriminator& net() { return net_; }

 private:
  Discriminator net_{nullptr};
  std::unique_ptr<torch::optim::Adam> adam_;
};

// The plumbing both methods share. A subclass registers its modules on trained_ (the
// autoencoder's, trained by the loop's optimiser) and adversaries_ (the discriminators,
// trained by their own); both are saved with the model.
class VaeMethod : public Method {
 public:
  VaeMethod(Encoder& online, const MethodContext& context);

  SecondView second_view() const override { return SecondView::unused; }
  std::vector<torch::Tensor> parameters() override { return trained_->parameters(); }
  torch::Tensor represent(Encoder& online, const SparseBatch& batch, const torch::Tensor& first) override;
  int embedding_dim(Encoder& online) const override {
    (void)online;
    return context_.options.vae.latent_dim;
  }
  void set_training(bool on) override;
  std::vector<std::pair<std::string, torch::Tensor>> state() override;

 protected:
  // The posterior of a step's cells (training mode, tracked).
  Gaussian posterior(Encoder& online, const torch::Tensor& first) { return heads_->forward(online->rest(first)); }
  bool adversary_on(int epoch) const {
    const VaeOptions& v = context_.options.vae;
    return v.adversarial && epoch >= v.adversary_warmup_epochs;
  }

  MethodContext context_;
  std::shared_ptr<torch::nn::Module> trained_;
  std::shared_ptr<torch::nn::Module> adversaries_;
  GaussianHeads heads_{nullptr};
};

// The two methods (method_bascvi.cpp, method_sccraft.cpp).
std::unique_ptr<Method> make_bascvi(Encoder& online, const MethodContext& context);
std::unique_ptr<Method> make_sccraft(Encoder& online, const MethodContext& context);

}  // namespace concord
