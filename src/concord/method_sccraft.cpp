// scCRAFT: a VAE on log-normalized expression whose decoder adds a batch-only pathway to
// the latent one, with a (continuous) NB reconstruction and a cosine reconstruction
// loss; a batch discriminator on the latent sample, updated several times per step and
// maximised by the autoencoder after the warm-up epochs; and the dual-resolution
// triplet loss that keeps each batch's own structure: within a batch, an anchor's
// positive shares its high-resolution cluster and its negative lies in another
// low-resolution cluster.
#include <map>

#include "likelihood.h"
#include "rng.h"
#include "vae.h"

namespace concord {

namespace {

torch::nn::Sequential pathway(int in, int genes) {
  return torch::nn::Sequential(torch::nn::Linear(in, 512), torch::nn::ReLU(), torch::nn::Linear(512, 1024),
                               torch::nn::ReLU(), torch::nn::Linear(1024, genes));
}

class ScCraft : public VaeMethod {
 public:
  ScCraft(Encoder& online, const MethodContext& c)
      : VaeMethod(online, c), rng_(splitmix64(c.options.seed ^ 0x5cc4af7ULL)) {
    const VaeOptions& v = c.options.vae;
    if (v.n_domains < 1) throw std::invalid_argument("scCRAFT needs at least one batch");
    if (v.n_high < 1) throw std::invalid_argument("n_high must be at least 1");
    const int genes = online->n_genes();
    latent_path_ = trained_->register_module("latent_path", pathway(v.latent_dim + v.n_domains, genes));
    batch_path_ = trained_->register_module("batch_path", pathway(v.n_domains, genes));
    mean_ = trained_->register_module("mean", torch::nn::Linear(genes, genes));
    dispersion_ = trained_->register_module("dispersion", torch::nn::Linear(genes, genes));
    trained_->to(c.device);
    adversary_ = std::make_unique<Adversary>(v.latent_dim, v, 1e-8, c.device);
    adversaries_->register_module("latent", adversary_->net());
  }

  torch::Tensor loss(Encoder& online, const Step& s) override {
    const VaeOptions& v = context_.options.vae;
    const Gaussian q = posterior(online, s.h1);
    const torch::Tensor z = reparameterize(q);
    gather_rows(context_.x, s.cells.data(), static_cast<int>(s.cells.size()), rows_);
    const torch::Tensor x = online->densify(rows_);
    const torch::Tensor code = one_hot_domains(s.cells, context_.domains, v.n_domains, z.device());
    const auto [mu, theta] = decode_from(z, code);
    // The reference caps each entry's loss at 1e5 so that one wild entry early in
    // training cannot dominate the step.
    const torch::Tensor reconstruction = torch::clamp_max(-nb_log_prob(x, mu, theta), 1e5).mean();
    const torch::Tensor cosine = (1 - torch::cosine_similarity(mu, x, 1, 1e-8)).mean();
    torch::Tensor loss = reconstruction + v.kl_weight * kl_to_standard_normal(q).mean() + v.cosine_weight * cosine;
    if (v.triplet_weight > 0 && !context_.labels.empty()) loss = loss + v.triplet_weight * triplet_loss(z, s.cells);
    if (v.adversarial) {
      const torch::Tensor domains = domain_tensor(s.cells, context_.domains, z.device());
      adversary_->train(z, domains, v.discriminator_steps);
      if (adversary_on(s.epoch)) loss = loss - v.adversary_weight * adversary_->net()->loss(z, domains);
    }
    return loss;
  }

  // The decoder's mean (log-normalized scale) for the latent mean of each cell, read
  // as if it came from batch `domain`.
  torch::Tensor decode(Encoder& online, const SparseBatch& batch, const torch::Tensor& first, int domain) override {
    (void)batch;
    const int n_domains = context_.options.vae.n_domains;
    if (domain < 0 || domain >= n_domains) throw std::invalid_argument("decode domain out of range");
    torch::NoGradGuard no_grad;
    const torch::Tensor z = heads_->forward(online->rest(first)).mean;
    const torch::Tensor code =
        torch::one_hot(torch::full({z.size(0)}, domain, torch::kLong).to(z.device()), n_domains).to(torch::kFloat);
    return decode_from(z, code).first;
  }

 private:
  // NB mean and inverse dispersion, each an exponential kept below exp(15) so that an
  // early overshoot cannot overflow.
  std::pair<torch::Tensor, torch::Tensor> decode_from(const torch::Tensor& z, const torch::Tensor& code) {
    const torch::Tensor h =
        torch::relu(latent_path_->forward(torch::cat({z, code}, 1)) + batch_path_->forward(code));
    return {torch::exp(torch::clamp_max(mean_->forward(h), 15)), torch::exp(torch::clamp_max(dispersion_->forward(h), 15))};
  }

  // For every (batch, low-resolution cluster) of the mini-batch, up to
  // triplets_per_cluster anchors, each with a positive from its own high-resolution
  // cluster and a negative from another low-resolution cluster of its batch; the mean
  // hinge max(0, |a - p| - |a - n| + margin). Zero when no triplet can be formed.
  torch::Tensor triplet_loss(const torch::Tensor& z, const std::vector<int>& cells) {
    const VaeOptions& v = context_.options.vae;
    std::map<std::pair<int, int>, std::vector<int64_t>> by_low;          // (batch, low) -> rows
    std::map<std::tuple<int, int, int>, std::vector<int64_t>> by_high;   // (batch, low, high) -> rows
    std::map<int, std::vector<int64_t>> by_batch;
    for (size_t r = 0; r < cells.size(); ++r) {
      const int label = context_.labels[cells[r]];
      if (label < 0) continue;
      const int d = context_.domains[cells[r]];
      by_low[{d, label / v.n_high}].push_back(static_cast<int64_t>(r));
      by_high[{d, label / v.n_high, label % v.n_high}].push_back(static_cast<int64_t>(r));
      by_batch[d].push_back(static_cast<int64_t>(r));
    }
    std::vector<int64_t> anchors, positives, negatives;
    for (const auto& [key, rows] : by_low) {
      const auto& batch_rows = by_batch[key.first];
      if (batch_rows.size() == rows.size()) continue;  // no other cluster in this batch
      for (int t = 0; t < v.triplets_per_cluster; ++t) {
        const int64_t a = rows[rng_.below(rows.size())];
        const int label = context_.labels[cells[a]];
        const auto& same = by_high[{key.first, key.second, label % v.n_high}];
        if (same.size() < 2) continue;
        int64_t p = a;
        while (p == a) p = same[rng_.below(same.size())];
        int64_t n = a;
        while (context_.labels[cells[n]] / v.n_high == key.second) n = batch_rows[rng_.below(batch_rows.size())];
        anchors.push_back(a);
        positives.push_back(p);
        negatives.push_back(n);
      }
    }
    if (anchors.empty()) return torch::zeros({}, z.options());
    auto pick = [&](const std::vector<int64_t>& rows) {
      return z.index_select(0, torch::tensor(rows, torch::kLong).to(z.device()));
    };
    const torch::Tensor a = pick(anchors);
    const torch::Tensor hinge = (a - pick(positives)).norm(2, 1) - (a - pick(negatives)).norm(2, 1) + v.triplet_margin;
    return torch::relu(hinge).mean();
  }

  Rng rng_;
  torch::nn::Sequential latent_path_{nullptr}, batch_path_{nullptr};
  torch::nn::Linear mean_{nullptr}, dispersion_{nullptr};
  std::unique_ptr<Adversary> adversary_;
  SparseBatch rows_;
};

}  // namespace

std::unique_ptr<Method> make_sccraft(Encoder& online, const MethodContext& context) {
  return std::make_unique<ScCraft>(online, context);
}

}  // namespace concord
