// CONCORD's step: NT-Xent between the two views with the second view as a constant,
// plus the optional classifier and decoder losses on the first view's embedding. With
// several modalities NT-Xent compares the fused embeddings of the two views (concat,
// sum), or, for CLIP fusion, CLIP's loss contrasts each pair of modalities of the
// first view (both trained) in place of the two views. With alignment weights, after the
// warm-up epochs, each cell is also pulled by its domain's shifts within its clusters
// (cluster_align.h) and within its neighbourhood (local_align.h).
#include <algorithm>

#include "cluster_align.h"
#include "local_align.h"
#include "loss.h"
#include "method.h"

namespace concord {

namespace {

class Concord : public Method {
 public:
  explicit Concord(const MethodContext& c) : c_(c) {}

  SecondView second_view() const override { return SecondView::constant; }

  int64_t embedding_sample(int epoch) const override { return aligning(epoch) ? c_.options.align_sample : 0; }

  // The alignments' clusters, shifts and neighbours, from the fused, L2-normalised
  // embedding.
  void epoch_start(Encoder& online, int epoch, const std::vector<float>& embedding,
                   const std::vector<int>& domains, const std::vector<int64_t>& cells) override {
    namespace F = torch::nn::functional;
    torch::NoGradGuard no_grad;
    const int64_t dim = online->latent_dim();
    const torch::Tensor z =
        torch::from_blob(const_cast<float*>(embedding.data()),
                         {static_cast<int64_t>(embedding.size()) / dim, dim}, torch::kFloat);
    int n_domains = 0;
    for (int d : c_.domains) n_domains = std::max(n_domains, d + 1);
    for (int d : domains) n_domains = std::max(n_domains, d + 1);
    const torch::Tensor unit = F::normalize(online->fuse(z), F::NormalizeFuncOptions().dim(1));
    if (c_.options.align_weight > 0)
      align_.refresh(unit, domains, n_domains, c_.options.align_clusters, c_.options.seed + epoch);
    if (c_.options.align_local_weight > 0)
      local_.refresh(unit, domains, n_domains, cells, c_.x.n_rows, c_.options.align_local_share,
                     LocalAlignment::kMaxRows, c_.options.seed + epoch);
  }

  torch::Tensor loss(Encoder& online, const Step& s) override {
    torch::Tensor z1 = online->rest(s.h1);
    const TrainOptions& o = c_.options;
    if (online->n_modalities() > 1 && online->fusion() == Fusion::clip) {
      const std::vector<torch::Tensor> z = online->modalities(z1);
      torch::Tensor loss = torch::zeros({}, z1.options());
      int pairs = 0;
      for (size_t a = 0; a < z.size(); ++a) {
        for (size_t b = a + 1; b < z.size(); ++b, ++pairs) loss = loss + clip_loss(z[a], z[b], o.temperature);
      }
      return loss / pairs;
    }
    z1 = online->fuse(z1);
    torch::Tensor z2;
    {
      torch::NoGradGuard no_grad;
      z2 = online->fuse(online->rest(s.h2));
    }
    torch::Tensor loss = nt_xent(z1, z2, o.temperature, o.beta);
    if (online->has_classifier())
      loss = loss + o.classifier_weight * labelled_cross_entropy(online->classify(z1), s.cells, c_.labels);
    if (online->has_decoder()) loss = loss + o.decoder_weight * decoder_loss(online, s.cells, z1);
    if (aligning(s.epoch)) {
      std::vector<int> domains(s.cells.size());
      for (size_t r = 0; r < s.cells.size(); ++r) domains[r] = c_.domains[s.cells[r]];
      const torch::Tensor e = evaluated(online, s.cells);
      if (o.align_weight > 0) loss = loss + o.align_weight * align_.loss(z1, e, domains);
      if (o.align_local_weight > 0) loss = loss + o.align_local_weight * local_.loss(z1, e, s.cells, domains);
    }
    return loss;
  }

 private:
  bool aligning(int epoch) const {
    return (c_.options.align_weight > 0 || c_.options.align_local_weight > 0) && epoch >= c_.options.warmup_epochs;
  }

  // The cells' joint embeddings as the alignment's refresh sees them: unmasked input,
  // evaluation mode, L2-normalised.
  torch::Tensor evaluated(Encoder& online, const std::vector<int>& cells) {
    namespace F = torch::nn::functional;
    torch::NoGradGuard no_grad;
    gather_rows(c_.x, cells.data(), static_cast<int>(cells.size()), original_);
    online->eval();
    const torch::Tensor e = online->fuse(online->rest(c_.first_layer(online, original_)));
    online->train();
    return F::normalize(e, F::NormalizeFuncOptions().dim(1));
  }

  // Mean squared error of the batch's expression (unmasked) decoded from the first view.
  torch::Tensor decoder_loss(Encoder& online, const std::vector<int>& cells, const torch::Tensor& z) {
    gather_rows(c_.x, cells.data(), static_cast<int>(cells.size()), original_);
    std::vector<int64_t> domains(cells.size());
    for (size_t r = 0; r < cells.size(); ++r) domains[r] = c_.domains[cells[r]];
    const auto codes = torch::tensor(domains, torch::kLong).to(z.device());
    return torch::mse_loss(online->decode(z, codes), online->densify(original_));
  }

  MethodContext c_;
  SparseBatch original_;
  ClusterAlignment align_;
  LocalAlignment local_;
};

}  // namespace

std::unique_ptr<Method> make_method(Encoder& online, const MethodContext& context) {
  if (context.options.method == "concord") return std::make_unique<Concord>(context);
  if (context.options.method == "concerto" || context.options.method == "concerto_finetune")
    return make_concerto_method(online, context);
  if (auto ssl = make_ssl_method(online, context)) return ssl;
  if (auto vae = make_vae_method(online, context)) return vae;
  throw std::invalid_argument("unknown method \"" + context.options.method + "\"");
}

}  // namespace concord
