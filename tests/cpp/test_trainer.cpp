#include <catch2/catch.hpp>

#include <cmath>

#include "rng.h"
#include "toy_data.h"
#include "trainer.h"

TEST_CASE("training separates cell types and lowers the loss", "[trainer]") {
  Toy toy(400, 4, 100, 1);
  const auto r = concord::train(toy.view, toy.domain, small_options());
  REQUIRE(r.n_cells == 400);
  REQUIRE(r.latent_dim == 8);
  REQUIRE(r.embedding.size() == 400u * 8u);
  for (float v : r.embedding) REQUIRE(std::isfinite(v));
  REQUIRE(r.epoch_loss.size() == 4);
  CHECK(r.epoch_loss.back() < r.epoch_loss.front());
  CHECK(r.steps >= 40);
  CHECK(neighbour_agreement(r, toy.type) > 0.95);
}

TEST_CASE("the same seed and threads give the same embedding, another seed does not", "[trainer]") {
  Toy toy(200, 2, 60, 2);
  auto o = small_options();
  o.epochs = 2;
  const auto a = concord::train(toy.view, toy.domain, o);
  const auto b = concord::train(toy.view, toy.domain, o);
  CHECK(a.embedding == b.embedding);
  o.seed = 1;
  CHECK(concord::train(toy.view, toy.domain, o).embedding != a.embedding);
}

TEST_CASE("sparse kernels and LibTorch's dense path train the same model", "[trainer]") {
  Toy toy(200, 2, 60, 3);
  auto o = small_options();
  o.epochs = 1;
  o.min_steps = 3;
  const auto sparse = concord::train(toy.view, toy.domain, o);
  o.sparse_kernels = false;
  const auto dense = concord::train(toy.view, toy.domain, o);
  REQUIRE(sparse.embedding.size() == dense.embedding.size());
  CHECK(max_abs_difference(sparse.embedding, dense.embedding) < 1e-3);
  CHECK(sparse.epoch_loss[0] == Approx(dense.epoch_loss[0]).epsilon(1e-4));
}

TEST_CASE("kNN sampling mode trains after its warm-up", "[trainer]") {
  Toy toy(300, 3, 80, 4);
  auto o = small_options();
  o.sampler.p_intra_knn = 0.3;
  o.warmup_epochs = 1;
  o.epochs = 3;
  const auto r = concord::train(toy.view, toy.domain, o);
  CHECK(r.epoch_loss.size() == 3);
  CHECK(neighbour_agreement(r, toy.type) > 0.9);
}

TEST_CASE("batch norm and no norm variants train", "[trainer]") {
  Toy toy(200, 2, 60, 5);
  for (auto norm : {concord::Norm::batch, concord::Norm::none}) {
    auto o = small_options();
    o.model.norm = norm;
    o.model.dropout = 0.1;
    const auto r = concord::train(toy.view, toy.domain, o);
    for (float v : r.embedding) REQUIRE(std::isfinite(v));
    CHECK(neighbour_agreement(r, toy.type) > 0.9);
  }
}

TEST_CASE("an interrupt stops training with Interrupted", "[trainer]") {
  Toy toy(200, 2, 60, 6);
  int polls = 0;
  concord::TrainCallbacks cb;
  cb.interrupted = [&] { return ++polls > 3; };
  CHECK_THROWS_AS(concord::train(toy.view, toy.domain, small_options(), cb), concord::Interrupted);
  CHECK(polls == 4);
}

TEST_CASE("bad input is rejected before training", "[trainer]") {
  Toy toy(100, 2, 40, 7);
  CHECK_THROWS_AS(concord::train(toy.view, std::vector<int>(99, 0), small_options()), std::invalid_argument);
  auto o = small_options();
  o.device = "tpu";
  CHECK_THROWS_AS(concord::train(toy.view, toy.domain, o), std::invalid_argument);
  std::vector<int> bad_indices = toy.indices;
  bad_indices[0] = 40;  // column out of range
  concord::CsrView v = toy.view;
  v.indices = bad_indices.data();
  CHECK_THROWS_AS(concord::train(v, toy.domain, small_options()), std::invalid_argument);
}

TEST_CASE("encoding with the exported weights reproduces the training embedding", "[trainer]") {
  Toy toy(150, 3, 50, 8);
  for (auto norm : {concord::Norm::layer, concord::Norm::batch}) {
    auto o = small_options();
    o.model.norm = norm;
    const auto r = concord::train(toy.view, toy.domain, o);
    REQUIRE_FALSE(r.weights.empty());
    CHECK(concord::encode(toy.view, o, r.weights, 1).values == r.embedding);
    CHECK(concord::encode(toy.view, o, r.weights, 2).values == r.embedding);
  }
}

TEST_CASE("weights that do not fit the model are rejected", "[trainer]") {
  Toy toy(100, 2, 40, 9);
  auto o = small_options();
  const auto r = concord::train(toy.view, toy.domain, o);
  auto wider = o;
  wider.model.encoder_dims = {64};
  CHECK_THROWS_AS(concord::encode(toy.view, wider, r.weights, 1), std::invalid_argument);
  concord::Weights missing(r.weights.begin() + 1, r.weights.end());
  CHECK_THROWS_AS(concord::encode(toy.view, o, missing, 1), std::invalid_argument);
}

TEST_CASE("attribution is input times gradient and finds a planted marker", "[trainer]") {
  // No hidden layer, no norm: z = LeakyReLU(x W + b). With positive inputs, weights and
  // bias, every pre-activation is positive, so dz_d/dx_g = W[g, d] and the attribution
  // is mean_c x_cg W[g, d]. Gene 5 carries dimension 0.
  Toy toy(60, 2, 20, 10);
  concord::ModelOptions m;
  m.latent_dim = 3;
  m.encoder_dims = {};
  m.norm = concord::Norm::none;
  concord::NamedArray w{"weight_in", {20, 3}, std::vector<float>(60, 0.01f)};
  w.values[5 * 3 + 0] = 3.0f;
  concord::NamedArray b{"bias_in", {3}, {0.1f, 0.1f, 0.1f}};
  const concord::Weights weights = {w, b};
  const auto a = concord::attribution(toy.view, m, weights, {}, 1);
  REQUIRE(a.size() == 20u * 3u);
  std::vector<double> mean(20, 0.0);
  for (int c = 0; c < 60; ++c) {
    for (int k = toy.indptr[c]; k < toy.indptr[c + 1]; ++k) mean[toy.indices[k]] += toy.values[k] / 60.0;
  }
  for (int g = 0; g < 20; ++g) {
    for (int d = 0; d < 3; ++d) CHECK(a[g * 3 + d] == Approx(mean[g] * w.values[g * 3 + d]).epsilon(1e-5));
  }
  int best = 0;
  for (int g = 1; g < 20; ++g) best = a[g * 3] > a[best * 3] ? g : best;
  CHECK(best == 5);
  // A subset of cells averages over those cells only.
  const auto one = concord::attribution(toy.view, m, weights, {0}, 1);
  double x05 = 0;
  for (int k = toy.indptr[0]; k < toy.indptr[1]; ++k) x05 += toy.indices[k] == 5 ? toy.values[k] : 0.0;
  CHECK(one[5 * 3] == Approx(3.0 * x05).margin(1e-5));
}

TEST_CASE("the classifier head learns labels, with unlabelled cells allowed", "[trainer]") {
  Toy toy(300, 3, 60, 11);
  auto o = small_options();
  o.model.n_classes = 3;
  std::vector<int> labels = toy.type;
  for (int c = 0; c < 300; c += 2) labels[c] = -1;  // half the cells unlabelled
  const auto r = concord::train(toy.view, toy.domain, o, {}, nullptr, labels);
  // The head is Linear(latent -> classes) on the embedding: score every cell with it.
  const concord::NamedArray* w = nullptr;
  const concord::NamedArray* b = nullptr;
  for (const auto& a : r.weights) {
    if (a.name == "classifier.weight") w = &a;
    if (a.name == "classifier.bias") b = &a;
  }
  REQUIRE(w != nullptr);
  REQUIRE(b != nullptr);
  REQUIRE(w->shape == std::vector<int64_t>{3, 8});
  int right = 0, unlabelled = 0;
  for (int c = 0; c < 300; c += 2, ++unlabelled) {
    int best = 0;
    double best_score = -1e30;
    for (int k = 0; k < 3; ++k) {
      double s = b->values[k];
      for (int j = 0; j < 8; ++j) s += w->values[k * 8 + j] * r.embedding[c * 8 + j];
      if (s > best_score) best_score = s, best = k;
    }
    right += best == toy.type[c];
  }
  CHECK(right / static_cast<double>(unlabelled) > 0.9);
  CHECK_THROWS_AS(concord::train(toy.view, toy.domain, o, {}, nullptr, std::vector<int>(300, 3)),
                  std::invalid_argument);
  // The classifier travels with the weights.
  CHECK(concord::encode(toy.view, o, r.weights, 1).values == r.embedding);
}

TEST_CASE("the decoder removes a batch-only gene block when decoding as the other domain", "[trainer]") {
  // Toy(400, 4, 100): genes 0-19 mark type 0, ..., 60-79 type 3, and 80-99 are expressed
  // only in domain 1.
  Toy toy(400, 4, 100, 12);
  auto o = small_options();
  o.model.decoder = true;
  o.model.decoder_dims = {32};
  o.model.n_domains = 2;
  o.epochs = 6;
  o.min_steps = 150;
  const auto r = concord::train(toy.view, toy.domain, o);
  const auto as0 = concord::decode(r.embedding, 400, 100, o.model, r.weights, 0, 1);
  const auto as1 = concord::decode(r.embedding, 400, 100, o.model, r.weights, 1, 1);
  double batch_genes_as0 = 0, batch_genes_as1 = 0, own_marker = 0, other_marker = 0;
  int n1 = 0;
  for (int c = 0; c < 400; ++c) {
    const int t = toy.type[c];
    for (int g = 0; g < 20; ++g) {
      own_marker += as0[c * 100 + t * 20 + g] / (400.0 * 20);
      other_marker += as0[c * 100 + ((t + 1) % 4) * 20 + g] / (400.0 * 20);
    }
    if (toy.domain[c] != 1) continue;
    ++n1;
    for (int g = 80; g < 100; ++g) {
      batch_genes_as0 += as0[c * 100 + g];
      batch_genes_as1 += as1[c * 100 + g];
    }
  }
  batch_genes_as0 /= n1 * 20.0;
  batch_genes_as1 /= n1 * 20.0;
  // Domain 1's own cells carry the block (mean about 0.6 x 2); decoded as domain 0 they
  // lose most of it, while cell-type markers stay apart.
  CHECK(batch_genes_as1 > 0.8);
  CHECK(batch_genes_as0 < 0.3 * batch_genes_as1);
  CHECK(own_marker > 3 * other_marker);
  CHECK_THROWS_AS(concord::decode(r.embedding, 400, 100, o.model, r.weights, 2, 1), std::invalid_argument);
}

TEST_CASE("a non-finite loss stops training with NonFiniteLoss", "[trainer]") {
  Toy toy(200, 2, 60, 12);
  auto o = small_options();
  o.temperature = 1e-300;  // logits of +-inf from the first step
  CHECK_THROWS_AS(concord::train(toy.view, toy.domain, o), concord::NonFiniteLoss);
  o = small_options();
  o.lr = 1e30;  // the first update sends every weight to +-1e30
  try {
    concord::train(toy.view, toy.domain, o);
    FAIL("training with lr = 1e30 returned");
  } catch (const concord::NonFiniteLoss& e) {
    CHECK(e.epoch == 1);
    CHECK(e.step >= 1);
  }
}

TEST_CASE("an epoch without a single batch is an error, not a zero loss", "[trainer]") {
  // kNN batches drawn from 3 neighbours hold at most 3 distinct cells, fewer than the 4
  // a batch needs, so every batch after the warm-up is dropped.
  Toy toy(120, 2, 40, 13);
  auto o = small_options();
  o.sampler.p_intra_knn = 1.0;
  o.knn_k = 3;
  o.warmup_epochs = 1;
  o.epochs = 3;
  try {
    concord::train(toy.view, toy.domain, o);
    FAIL("training without batches returned");
  } catch (const concord::EmptyEpoch& e) {
    CHECK(e.epoch == 2);
  }
}

TEST_CASE("masks of 1, which empty every view, are rejected", "[trainer]") {
  Toy toy(100, 2, 40, 14);
  auto o = small_options();
  o.element_mask = 1.0;
  CHECK_THROWS_AS(concord::train(toy.view, toy.domain, o), std::invalid_argument);
  o = small_options();
  o.feature_mask = 1.0;
  CHECK_THROWS_AS(concord::train(toy.view, toy.domain, o), std::invalid_argument);
}

TEST_CASE("the final embedding pass polls for interrupts", "[trainer]") {
  Toy toy(100, 2, 40, 15);
  auto o = small_options();
  o.epochs = 0;  // no step: only the embedding pass can see the interrupt
  concord::TrainCallbacks cb;
  cb.interrupted = [] { return true; };
  CHECK_THROWS_AS(concord::train(toy.view, toy.domain, o, cb), concord::Interrupted);
  const auto r = concord::train(toy.view, toy.domain, o);
  CHECK_THROWS_AS(concord::encode(toy.view, o, r.weights, 1, "cpu", cb.interrupted),
                  concord::Interrupted);
}

TEST_CASE("training and encoding leave OpenMP's and OpenBLAS's thread counts as found",
          "[trainer]") {
  Toy toy(100, 2, 40, 16);
  const int omp_before = concord::omp_threads(), blas_before = concord::blas_threads();
  concord::set_omp_threads(3);
  if (blas_before > 0) concord::set_blas_threads(2);
  auto o = small_options();
  o.threads = 2;
  const auto r = concord::train(toy.view, toy.domain, o);
  concord::encode(toy.view, o, r.weights, 2);
  o.temperature = 1e-300;
  CHECK_THROWS(concord::train(toy.view, toy.domain, o));
  CHECK(concord::omp_threads() == 3);
  if (blas_before > 0) CHECK(concord::blas_threads() == 2);
  concord::set_omp_threads(omp_before);
  if (blas_before > 0) concord::set_blas_threads(blas_before);
}
