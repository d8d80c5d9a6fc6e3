// Several modalities in one encoder (model.h): the first Linear is block-diagonal over
// the modalities, and training must keep the blocks between modalities at exactly zero
// (mask_first_layer_grad), for every method that trains the encoder (CONCORD, the SSL
// methods with each fusion, Concerto).
// LibTorch's headers bring glog's CHECK, which aborts; Catch's, included after them,
// replaces it.
#include "toy_data.h"
#include "trainer.h"

#include <catch2/catch.hpp>

#include <string>

namespace {

// The toy data's first 30 genes as "RNA", the last 10 as a second modality.
concord::TrainOptions multimodal_options(const std::string& method, concord::Fusion fusion) {
  concord::TrainOptions o;
  o.method = method;
  o.model.latent_dim = 8;
  o.model.encoder_dims = {16};
  o.model.modality_features = {30, 10};
  o.model.fusion = fusion;
  o.sampler.batch_size = 32;
  o.epochs = 2;
  o.min_steps = 20;
  o.threads = 1;
  if (method != "concord" && method != "concerto") {
    o.model.norm = concord::Norm::batch;
    o.model.leaky_slope = 0;
    o.model.latent_activation = false;
    o.sampler_kind = concord::SamplerKind::uniform;
    o.lr = 1e-3;
    o.temperature = 0.5;
    o.ssl.queue_size = 64;
  }
  if (method == "concerto") {
    o.model.encoder_dims = {};
    o.model.norm = concord::Norm::none;
    o.model.latent_activation = false;
    o.concerto.embedding_dim = 8;
  }
  return o;
}

// The largest |weight| of the first Linear (stored genes x hidden) between a modality's
// features and another modality's hidden units.
float largest_off_block(const concord::Weights& w, int hidden) {
  for (const auto& a : w) {
    if (a.name != "weight_in") continue;
    REQUIRE(a.shape.size() == 2);
    const int64_t genes = a.shape[0], cols = a.shape[1];
    REQUIRE(cols == 2 * hidden);
    float largest = 0;
    for (int64_t g = 0; g < genes; ++g) {
      const int own = g < 30 ? 0 : 1;
      for (int64_t h = 0; h < cols; ++h) {
        if (h / hidden != own) largest = std::max(largest, std::abs(a.values[g * cols + h]));
      }
    }
    return largest;
  }
  FAIL("no weight_in among the weights");
  return -1;
}

}  // namespace

TEST_CASE("training keeps the first layer block-diagonal over the modalities", "[multimodal]") {
  Toy toy(128, 4, 40, 11);
  struct Case {
    std::string method;
    concord::Fusion fusion;
  };
  const Case cases[] = {{"concord", concord::Fusion::sum},     {"concord", concord::Fusion::clip},
                        {"simclr", concord::Fusion::concat},   {"vicreg", concord::Fusion::sum},
                        {"simclr", concord::Fusion::clip},     {"byol", concord::Fusion::sum},
                        {"concerto", concord::Fusion::sum},    {"concerto", concord::Fusion::concat}};
  for (const Case& c : cases) {
    INFO(c.method << ", fusion " << static_cast<int>(c.fusion));
    const concord::TrainOptions o = multimodal_options(c.method, c.fusion);
    const concord::TrainResult r = concord::train(toy.view, toy.domain, o);
    REQUIRE(r.steps >= 20);
    const int hidden = o.model.encoder_dims.empty() ? o.model.latent_dim : o.model.encoder_dims[0];
    CHECK(largest_off_block(r.weights, hidden) == 0.0f);
    // Concerto's representation leads with the joint embedding; the others' holds the
    // modalities' embeddings side by side.
    CHECK(r.latent_dim == (c.method == "concerto" ? 3 : 2) * o.model.latent_dim);
    for (float v : r.embedding) REQUIRE(std::isfinite(v));
  }
}

TEST_CASE("Concerto refuses CLIP fusion", "[multimodal]") {
  Toy toy(64, 4, 40, 3);
  const concord::TrainOptions o = multimodal_options("concerto", concord::Fusion::clip);
  CHECK_THROWS_WITH(concord::train(toy.view, toy.domain, o), Catch::Contains("self-distillation"));
}
