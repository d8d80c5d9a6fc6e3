#include "vae.h"

namespace concord {

GaussianHeadsImpl::GaussianHeadsImpl(int in, int latent) {
  mean_ = register_module("mean", torch::nn::Linear(in, latent));
  log_var_ = register_module("log_var", torch::nn::Linear(in, latent));
}

Gaussian GaussianHeadsImpl::forward(const torch::Tensor& h) {
  return {mean_->forward(h), torch::exp(log_var_->forward(h)) + 1e-4};
}

torch::Tensor reparameterize(const Gaussian& q) { return q.mean + torch::sqrt(q.var) * torch::randn_like(q.mean); }

torch::Tensor kl_to_standard_normal(const Gaussian& q) {
  return 0.5 * (q.var + q.mean * q.mean - 1 - torch::log(q.var)).sum(1);
}

torch::Tensor domain_tensor(const std::vector<int>& cells, const std::vector<int>& domains, torch::Device device) {
  std::vector<int64_t> d(cells.size());
  for (size_t r = 0; r < cells.size(); ++r) d[r] = domains[cells[r]];
  return torch::tensor(d, torch::kLong).to(device);
}

torch::Tensor one_hot_domains(const std::vector<int>& cells, const std::vector<int>& domains, int n,
                              torch::Device device) {
  return torch::one_hot(domain_tensor(cells, domains, device), n).to(torch::kFloat);
}

DiscriminatorImpl::DiscriminatorImpl(int in, int hidden, int n_domains) {
  net_ = register_module("net", torch::nn::Sequential(torch::nn::Linear(in, hidden), torch::nn::ReLU(),
                                                      torch::nn::Linear(hidden, hidden), torch::nn::ReLU(),
                                                      torch::nn::Linear(hidden, n_domains)));
}

torch::Tensor DiscriminatorImpl::loss(const torch::Tensor& x, const torch::Tensor& domains) {
  return torch::nn::functional::cross_entropy(net_->forward(x), domains);
}

double DiscriminatorImpl::accuracy(const torch::Tensor& x, const torch::Tensor& domains) {
  torch::NoGradGuard no_grad;
  return net_->forward(x).argmax(1).eq(domains).to(torch::kDouble).mean().item<double>();
}

Adversary::Adversary(int in, const VaeOptions& o, double adam_eps, torch::Device device) {
  if (o.n_domains < 1) throw std::invalid_argument("the discriminator needs at least one domain");
  net_ = Discriminator(in, o.discriminator_hidden, o.n_domains);
  net_->to(device);
  adam_ = std::make_unique<torch::optim::Adam>(
      net_->parameters(),
      torch::optim::AdamOptions(o.discriminator_lr).weight_decay(o.discriminator_weight_decay).eps(adam_eps));
}

void Adversary::train(const torch::Tensor& x, const torch::Tensor& domains, int steps) {
  const torch::Tensor input = x.detach();
  for (int k = 0; k < steps; ++k) {
    adam_->zero_grad();  // also drops what the autoencoder's backward left on it
    net_->loss(input, domains).backward();
    adam_->step();
  }
  adam_->zero_grad();
}

VaeMethod::VaeMethod(Encoder& online, const MethodContext& context)
    : context_(context),
      trained_(std::make_shared<torch::nn::Module>()),
      adversaries_(std::make_shared<torch::nn::Module>()) {
  const VaeOptions& v = context.options.vae;
  if (v.latent_dim < 1) throw std::invalid_argument("the latent dimension must be at least 1");
  heads_ = trained_->register_module("heads", GaussianHeads(online->latent_dim(), v.latent_dim));
}

torch::Tensor VaeMethod::represent(Encoder& online, const SparseBatch& batch, const torch::Tensor& first) {
  (void)batch;
  return heads_->forward(online->rest(first)).mean;
}

void VaeMethod::set_training(bool on) {
  trained_->train(on);
  adversaries_->train(on);
}

std::vector<std::pair<std::string, torch::Tensor>> VaeMethod::state() {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : trained_->named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : trained_->named_buffers()) out.emplace_back(b.key(), b.value());
  for (const auto& p : adversaries_->named_parameters()) out.emplace_back("adversary." + p.key(), p.value());
  return out;
}

std::unique_ptr<Method> make_vae_method(Encoder& online, const MethodContext& context) {
  if (context.options.method == "bascvi") return make_bascvi(online, context);
  if (context.options.method == "sccraft") return make_sccraft(online, context);
  return nullptr;
}

}  // namespace concord
