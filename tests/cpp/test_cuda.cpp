// The CUDA path: every method trains and embeds on the GPU as on the CPU, and weights
// move between the two. These cases run only where the linked LibTorch sees a CUDA
// device (Debian's LibTorch has none: there the first case checks the refusal instead).
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "toy_data.h"
#include "trainer.h"

namespace {

concord::TrainOptions cuda_options(const std::string& method) {
  concord::TrainOptions o = small_options();
  o.method = method;
  o.epochs = 3;
  o.min_steps = 30;
  o.threads = 2;
  o.device = "cuda";
  if (method != "concord" && method != "concerto") {
    o.sampler_kind = method == "sccraft" ? concord::SamplerKind::balanced : concord::SamplerKind::uniform;
    o.model.norm = concord::Norm::batch;
    o.model.leaky_slope = 0;
    o.lr = 1e-3;
    o.temperature = 0.5;
    o.ssl.queue_size = 128;
  }
  if (method == "bascvi" || method == "sccraft") {
    o.model.latent_activation = true;
    o.model.encoder_dims = {};
    o.vae.latent_dim = 4;
    o.vae.decoder_dims = {32};
    o.vae.n_domains = 2;
    o.element_mask = 0;
    o.feature_mask = 0;
  }
  if (method == "concerto") {
    o.model.encoder_dims = {};
    o.model.norm = concord::Norm::none;
    o.model.latent_activation = false;
    o.concerto.embedding_dim = 8;
  }
  return o;
}

bool all_finite(const std::vector<float>& v) {
  for (float x : v) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("CUDA is refused with a clear error where LibTorch sees no device", "[cuda]") {
  if (concord::cuda_available()) return;
  Toy toy(100, 2, 40, 1);
  CHECK_THROWS_WITH(concord::train(toy.view, toy.domain, cuda_options("concord")),
                    Catch::Contains("no CUDA device"));
}

TEST_CASE("training on CUDA follows LibTorch's dense path on the CPU", "[cuda]") {
  if (!concord::cuda_available()) return;
  Toy toy(200, 2, 60, 3);
  auto o = cuda_options("concord");
  o.epochs = 1;
  o.min_steps = 3;
  const auto gpu = concord::train(toy.view, toy.domain, o);
  o.device = "cpu";
  o.sparse_kernels = false;
  const auto cpu = concord::train(toy.view, toy.domain, o);
  REQUIRE(gpu.embedding.size() == cpu.embedding.size());
  CHECK(max_abs_difference(gpu.embedding, cpu.embedding) < 1e-3);
  CHECK(gpu.epoch_loss[0] == Approx(cpu.epoch_loss[0]).epsilon(1e-4));
}

TEST_CASE("every method trains on CUDA, and its weights embed alike on either device", "[cuda]") {
  if (!concord::cuda_available()) return;
  Toy toy(300, 3, 60, 5);
  for (const std::string method : {"concord", "concord-knn", "simclr", "moco", "simsiam", "nnclr", "byol",
                                    "vicreg", "barlowtwins", "concerto", "bascvi", "sccraft"}) {
    INFO(method);
    const bool knn = method == "concord-knn";
    auto o = cuda_options(knn ? "concord" : method);
    if (knn) {
      o.sampler.p_intra_knn = 0.3;
      o.warmup_epochs = 1;
    }
    const std::vector<int> unlabelled(300, -1);
    const concord::TrainResult r = concord::train(toy.view, toy.domain, o, {}, nullptr, unlabelled);
    REQUIRE(all_finite(r.embedding));
    // Thirty steps leave some methods short of separating the toy's types (chance 1/3):
    // the GPU must learn as much as the CPU does, not a fixed amount.
    auto on_cpu_options = o;
    on_cpu_options.device = "cpu";
    const concord::TrainResult cpu = concord::train(toy.view, toy.domain, on_cpu_options, {}, nullptr, unlabelled);
    CHECK(neighbour_agreement(r, toy.type) > 0.6);
    CHECK(neighbour_agreement(r, toy.type) > neighbour_agreement(cpu, toy.type) - 0.1);
    const concord::Embedding on_gpu = concord::encode(toy.view, o, r.weights, 2, "cuda");
    CHECK(max_abs_difference(on_gpu.values, r.embedding) < 1e-4);
    const concord::Embedding on_cpu = concord::encode(toy.view, o, r.weights, 2, "cpu");
    CHECK(max_abs_difference(on_cpu.values, r.embedding) < 1e-3);
  }
}

TEST_CASE("the decoder and classifier heads train on CUDA", "[cuda]") {
  if (!concord::cuda_available()) return;
  Toy toy(300, 3, 60, 6);
  auto o = cuda_options("concord");
  o.model.decoder = true;
  o.model.decoder_dims = {32};
  o.model.n_domains = 2;
  o.model.n_classes = 3;
  std::vector<int> labels = toy.type;
  for (size_t c = 0; c < labels.size(); c += 2) labels[c] = -1;
  const concord::TrainResult r = concord::train(toy.view, toy.domain, o, {}, nullptr, labels);
  REQUIRE(all_finite(r.embedding));
  CHECK(neighbour_agreement(r, toy.type) > 0.8);
  const std::vector<float> decoded =
      concord::decode(r.embedding, r.n_cells, 60, o.model, r.weights, 0, 2);
  CHECK(decoded.size() == static_cast<size_t>(300) * 60);
  CHECK(all_finite(decoded));
}
