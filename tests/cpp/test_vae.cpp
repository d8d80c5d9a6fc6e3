// LibTorch's headers bring glog's CHECK, which aborts; Catch's, included after them,
// replaces it.
#include "sampler.h"
#include "toy_data.h"
#include "trainer.h"
#include "vae.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

namespace {

concord::VaeOptions discriminator_options() {
  concord::VaeOptions v;
  v.n_domains = 2;
  v.discriminator_hidden = 16;
  v.discriminator_lr = 1e-2;
  return v;
}

// Cells of two domains whose inputs differ by a shift along the first coordinate.
std::pair<torch::Tensor, torch::Tensor> shifted_domains(int n, double shift) {
  torch::manual_seed(1);
  torch::Tensor domains = torch::arange(n) % 2;
  torch::Tensor x = torch::randn({n, 4});
  x.select(1, 0).add_(domains.to(torch::kFloat) * shift);
  return {x, domains};
}

// BA-scVI's architecture, shrunk: log1p(counts) in, a 4-dimensional latent.
concord::TrainOptions vae_options(const std::string& method) {
  concord::TrainOptions o;
  o.method = method;
  o.sampler_kind = method == "sccraft" ? concord::SamplerKind::balanced : concord::SamplerKind::uniform;
  o.model.latent_dim = 32;
  o.model.encoder_dims = {};
  o.model.norm = concord::Norm::batch;
  o.model.leaky_slope = 0;
  o.model.latent_activation = true;
  o.vae.latent_dim = 4;
  o.vae.decoder_dims = {32};
  o.vae.n_domains = 2;
  o.vae.adversary_weight = 1;
  o.sampler.batch_size = 32;
  o.element_mask = 0;
  o.feature_mask = 0;
  o.epochs = 3;
  o.min_steps = 30;
  o.lr = 1e-3;
  o.threads = 1;
  return o;
}

}  // namespace

TEST_CASE("KL to the standard normal is zero at the prior and closed-form elsewhere", "[vae]") {
  const concord::Gaussian prior{torch::zeros({1, 3}), torch::ones({1, 3})};
  CHECK(concord::kl_to_standard_normal(prior).item<double>() == Approx(0).margin(1e-7));
  // KL(N(1, 4) || N(0, 1)) = 0.5 (4 + 1 - 1 - log 4) per dimension.
  const concord::Gaussian q{torch::ones({1, 2}), torch::full({1, 2}, 4.0)};
  CHECK(concord::kl_to_standard_normal(q).item<double>() == Approx(2 * 0.5 * (4 - std::log(4.0))).epsilon(1e-5));
}

TEST_CASE("a discriminator learns the domains of frozen, separable inputs", "[vae]") {
  auto [x, domains] = shifted_domains(256, 4.0);
  concord::Adversary adversary(4, discriminator_options(), 1e-8, torch::kCPU);
  const double before = adversary.net()->accuracy(x, domains);
  adversary.train(x, domains, 100);
  const double after = adversary.net()->accuracy(x, domains);
  CHECK(after > 0.95);
  CHECK(after > before + 0.2);
}

TEST_CASE("a discriminator stays near chance on inputs that do not tell the domains apart", "[vae]") {
  auto [x, domains] = shifted_domains(256, 0.0);
  auto [held_out, held_domains] = shifted_domains(512, 0.0);
  concord::Adversary adversary(4, discriminator_options(), 1e-8, torch::kCPU);
  adversary.train(x, domains, 100);
  CHECK(adversary.net()->accuracy(held_out.narrow(0, 256, 256), held_domains.narrow(0, 256, 256)) < 0.62);
}

TEST_CASE("balanced batches hold equal shares of every domain", "[vae][sampler]") {
  std::vector<std::vector<int>> cells_of(3);
  for (int c = 0; c < 100; ++c) cells_of[c < 80 ? 0 : c < 95 ? 1 : 2].push_back(c);
  concord::Rng rng(4);
  const auto batches = concord::balanced_epoch(cells_of, 30, 5, rng);
  REQUIRE(batches.size() == 5);
  for (const auto& b : batches) {
    REQUIRE(b.size() == 30);
    int counts[3] = {0, 0, 0};
    for (int c : b) ++counts[c < 80 ? 0 : c < 95 ? 1 : 2];
    for (int d = 0; d < 3; ++d) CHECK(counts[d] == 10);
  }
}

TEST_CASE("the VAE methods train, embed their latent mean and restore from their weights", "[vae]") {
  Toy toy(240, 3, 60, 7);
  for (const std::string method : {"bascvi", "sccraft"}) {
    concord::TrainOptions o = vae_options(method);
    // log1p of whole counts, as R hands BA-scVI its input.
    std::vector<float> counts = toy.values;
    for (float& v : counts) v = static_cast<float>(std::log1p(std::round(v)));
    concord::CsrView x{toy.view.n_rows, toy.view.n_cols, toy.indptr.data(), toy.indices.data(), counts.data()};
    const concord::TrainResult r = concord::train(x, toy.domain, o, {}, nullptr, std::vector<int>(240, -1));
    REQUIRE(r.latent_dim == 4);
    CHECK(r.epoch_loss.back() < r.epoch_loss.front());
    const concord::Embedding e = concord::encode(x, o, r.weights, 1);
    REQUIRE(e.values.size() == r.embedding.size());
    for (size_t i = 0; i < e.values.size(); ++i) REQUIRE(e.values[i] == Approx(r.embedding[i]).margin(1e-5));
    const std::vector<float> decoded = concord::decode_cells(x, o, r.weights, 0, 1);
    CHECK(decoded.size() == static_cast<size_t>(240) * 60);
  }
}

TEST_CASE("BA-scVI's adversary leaves a fresh discriminator less able to tell the batches apart", "[vae]") {
  Toy toy(400, 3, 60, 11);
  std::vector<float> counts = toy.values;
  for (float& v : counts) v = static_cast<float>(std::log1p(std::round(v)));
  const concord::CsrView x{toy.view.n_rows, toy.view.n_cols, toy.indptr.data(), toy.indices.data(), counts.data()};
  // How well a discriminator trained on the final embedding (frozen) predicts the batch.
  auto batch_accuracy = [&](double weight) {
    concord::TrainOptions o = vae_options("bascvi");
    o.vae.adversary_weight = weight;
    o.min_steps = 400;
    const concord::TrainResult r = concord::train(x, toy.domain, o);
    torch::Tensor z = torch::from_blob(const_cast<float*>(r.embedding.data()), {r.n_cells, r.latent_dim}).clone();
    z = (z - z.mean(0)) / (z.std(0) + 1e-6);
    const torch::Tensor domains = torch::tensor(std::vector<int64_t>(toy.domain.begin(), toy.domain.end()));
    concord::VaeOptions v = discriminator_options();
    concord::Adversary probe(r.latent_dim, v, 1e-8, torch::kCPU);
    probe.train(z, domains, 200);
    return probe.net()->accuracy(z, domains);
  };
  const double frozen_out = batch_accuracy(0);
  const double adversarial = batch_accuracy(10);
  INFO("batch accuracy without adversary " << frozen_out << ", with " << adversarial);
  CHECK(frozen_out > 0.8);
  CHECK(adversarial < frozen_out - 0.1);
}
