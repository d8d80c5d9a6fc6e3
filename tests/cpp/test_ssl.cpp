// LibTorch's headers bring glog's CHECK, which aborts; Catch's, included after them,
// replaces it.
#include "augment_pipeline.h"
#include "heads.h"
#include "sampler.h"
#include "ssl_losses.h"
#include "toy_data.h"
#include "trainer.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

namespace {

torch::Tensor rows(std::vector<std::vector<float>> v) {
  const int64_t n = static_cast<int64_t>(v.size()), d = static_cast<int64_t>(v[0].size());
  torch::Tensor t = torch::empty({n, d});
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < d; ++c) t[r][c] = v[r][c];
  }
  return t;
}

double value(const torch::Tensor& t) { return t.item<double>(); }

// The SSL benchmark's encoder shape, shrunk for speed.
concord::TrainOptions ssl_options(const std::string& method) {
  concord::TrainOptions o;
  o.method = method;
  o.sampler_kind = concord::SamplerKind::uniform;
  o.model.latent_dim = 16;
  o.model.encoder_dims = {32};
  o.model.norm = concord::Norm::batch;
  o.model.leaky_slope = 0;
  o.model.latent_activation = false;
  o.sampler.batch_size = 64;
  o.epochs = 6;
  o.min_steps = 60;
  o.lr = 1e-3;
  o.lr_decay = 1;
  o.temperature = 0.5;
  o.ssl.queue_size = 128;
  o.threads = 1;
  return o;
}

const char* kMethods[] = {"simclr", "moco", "simsiam", "nnclr", "byol", "vicreg", "barlowtwins"};

}  // namespace

TEST_CASE("the momentum update moves the target towards the online network by 1 - m", "[ssl]") {
  torch::Tensor online = torch::tensor({1.0f, 2.0f});
  torch::Tensor target = torch::tensor({3.0f, 4.0f});
  concord::momentum_update({online}, {target}, 0.9);
  CHECK(target[0].item<float>() == Approx(2.8f));
  CHECK(target[1].item<float>() == Approx(3.8f));
  CHECK(online[1].item<float>() == 2.0f);
  concord::momentum_update({online}, {target}, 0.0);
  CHECK(torch::equal(online, target));
}

TEST_CASE("the momentum rises on a cosine from start to end over the epochs", "[ssl]") {
  CHECK(concord::cosine_momentum(0, 11, 0.996, 1.0) == Approx(0.996));
  CHECK(concord::cosine_momentum(5, 11, 0.996, 1.0) == Approx(0.998));
  CHECK(concord::cosine_momentum(10, 11, 0.996, 1.0) == 1.0);
  CHECK(concord::cosine_momentum(0, 1, 0.996, 1.0) == 1.0);
}

TEST_CASE("the memory queue is first in, first out over 2048 entries", "[ssl]") {
  torch::manual_seed(0);
  concord::MemoryQueue queue(2048, 4, torch::kCPU);
  const torch::Tensor norms = queue.entries().norm(2, 1);
  CHECK(torch::allclose(norms, torch::ones({2048})));  // random unit vectors at first
  for (int b = 1; b <= 9; ++b) queue.enqueue(torch::full({256, 4}, static_cast<float>(b)));
  // Eight batches fill it; the ninth replaces the oldest (the first).
  const torch::Tensor e = queue.entries();
  CHECK(torch::all(e.narrow(0, 0, 256) == 9).item<bool>());
  for (int b = 2; b <= 8; ++b) CHECK(torch::all(e.narrow(0, (b - 1) * 256, 256) == b).item<bool>());
  CHECK(queue.position() == 256);
}

TEST_CASE("the memory queue wraps around when a batch crosses its end", "[ssl]") {
  concord::MemoryQueue queue(5, 1, torch::kCPU);
  queue.enqueue(torch::tensor({1.0f, 2.0f, 3.0f}).view({3, 1}));
  queue.enqueue(torch::tensor({4.0f, 5.0f, 6.0f}).view({3, 1}));
  CHECK(torch::equal(queue.entries().view({5}), torch::tensor({6.0f, 2.0f, 3.0f, 4.0f, 5.0f})));
  CHECK(queue.position() == 1);
  queue.enqueue(torch::arange(10, 17, torch::kFloat).view({7, 1}));  // keeps its last 5
  CHECK(torch::equal(queue.entries().view({5}), torch::tensor({16.0f, 12.0f, 13.0f, 14.0f, 15.0f})));
}

TEST_CASE("NNCLR's support set returns the entry of highest cosine similarity", "[ssl]") {
  concord::MemoryQueue queue(3, 2, torch::kCPU);
  queue.enqueue(rows({{10, 0}, {0, 1}, {-1, -1}}));
  const torch::Tensor nn = queue.nearest(rows({{1, 0.2f}, {0.1f, 5}, {-3, -2}}));
  CHECK(torch::equal(nn, rows({{10, 0}, {0, 1}, {-1, -1}})));
}

TEST_CASE("the VICReg loss matches a hand computation", "[ssl]") {
  const torch::Tensor a = rows({{0, 0}, {2, 2}});
  const torch::Tensor b = rows({{0, 0}, {2, 0}});
  // invariance: mean squared difference 4 / 4 = 1; variance: only b's second dimension
  // (std sqrt(1e-4)) misses 1, by 0.99, averaged over 2 dimensions and 2 views: 0.2475;
  // covariance: a's off-diagonal covariances are 2 and 2, (4 + 4) / 2 = 4; b's are 0.
  CHECK(value(concord::vicreg_loss(a, b, 5, 5, 1)) == Approx(5 * 1 + 5 * 0.2475 + 4).epsilon(1e-5));
  CHECK(value(concord::vicreg_loss(a, b, 1, 0, 0)) == Approx(1.0));
}

TEST_CASE("the Barlow Twins loss matches a hand computation", "[ssl]") {
  // Standardised over the batch every column is (-1, 1) except b's second, (1, -1):
  // C = [[1, -1], [1, -1]], on-diagonal (1 - 1)^2 + (-1 - 1)^2 = 4, off-diagonal 2.
  const torch::Tensor a = rows({{0, 0}, {2, 4}});
  const torch::Tensor b = rows({{1, 5}, {3, 1}});
  CHECK(value(concord::barlow_twins_loss(a, b, 0.5)) == Approx(4 + 0.5 * 2).epsilon(1e-4));
  CHECK(value(concord::barlow_twins_loss(a, a, 0.5)) == Approx(0.5 * 2).epsilon(1e-4));
}

TEST_CASE("InfoNCE against a queue and the negative cosine match hand computations", "[ssl]") {
  const torch::Tensor q = rows({{2, 0}});
  const torch::Tensor k = rows({{1, 0}});
  const torch::Tensor negatives = rows({{0, 1}, {-1, 0}});
  // logits (1, 0, -1): -log(e / (e + 1 + 1/e))
  const double expected = std::log(std::exp(1.0) + 1.0 + std::exp(-1.0)) - 1.0;
  CHECK(value(concord::info_nce_queue(q, k, negatives, 1.0)) == Approx(expected));
  CHECK(value(concord::info_nce_queue(q, k, negatives, 0.5)) ==
        Approx(std::log(std::exp(2.0) + 1.0 + std::exp(-2.0)) - 2.0));
  CHECK(value(concord::negative_cosine(rows({{1, 0}, {1, 1}}), rows({{3, 0}, {0, 1}}))) ==
        Approx(-(1.0 + std::sqrt(0.5)) / 2));
}

TEST_CASE("uniform batches are full, disjoint and cover the cells once per permutation", "[ssl]") {
  concord::Rng rng(1);
  const auto batches = concord::uniform_epoch(1000, 256, 0, rng);
  REQUIRE(batches.size() == 3);  // 232 cells left over are dropped
  std::vector<int> seen(1000, 0);
  for (const auto& b : batches) {
    REQUIRE(b.size() == 256);
    for (int c : b) ++seen[c];
  }
  for (int s : seen) CHECK(s <= 1);
  CHECK(concord::uniform_epoch(1000, 256, 7, rng).size() == 9);  // three permutations
  CHECK(concord::uniform_epoch(100, 256, 0, rng).front().size() == 100);
}

TEST_CASE("every SSL method trains, keeps cell types apart and is reproducible", "[ssl]") {
  Toy toy(300, 3, 80, 5);
  for (const char* method : kMethods) {
    INFO(method);
    const auto o = ssl_options(method);
    const auto a = concord::train(toy.view, toy.domain, o);
    REQUIRE(a.latent_dim == 16);
    for (float v : a.embedding) REQUIRE(std::isfinite(v));
    for (double l : a.epoch_loss) REQUIRE(std::isfinite(l));
    CHECK(neighbour_agreement(a, toy.type) > 0.85);
    const auto b = concord::train(toy.view, toy.domain, o);
    CHECK(a.embedding == b.embedding);
    CHECK(a.weights.size() == b.weights.size());
  }
}

TEST_CASE("SSL methods train on views from the augmentation pipeline, reproducibly", "[ssl]") {
  Toy toy(300, 3, 80, 8);
  // The CLEAR pipeline as RunSSL() passes it, and MNN across the toy's two domains.
  const std::vector<std::vector<concord::AugmentStep>> pipelines{
      {{"mask", 0.5, 0.2}, {"gaussian", 0.5, 0.2, 0.8}, {"innerswap", 0.5, 0.1}, {"crossover", 0.5, 0.25}},
      {{"mnn", 0.5, 0.5, 1, 5}, {"mask", 0.5, 0.2}}};
  for (const auto& steps : pipelines) {
    INFO(steps.front().kind);
    concord::AugmentPipeline pipeline(steps);
    pipeline.prepare(toy.view, toy.domain, 1);
    int calls[2] = {0, 0};
    const concord::ViewFn views = [&](const concord::CsrView& x, const int* cells, int n, concord::Rng& rng,
                                      concord::SparseBatch& out, int view_index) {
      ++calls[view_index];
      pipeline.view(x, cells, n, rng, out, view_index);
    };
    auto o = ssl_options("simclr");
    o.epochs = 3;
    const auto a = concord::train(toy.view, toy.domain, o, {}, nullptr, {}, views);
    for (float v : a.embedding) REQUIRE(std::isfinite(v));
    CHECK(calls[0] == a.steps);
    CHECK(calls[1] == a.steps);
    CHECK(neighbour_agreement(a, toy.type) > 0.85);
    const auto b = concord::train(toy.view, toy.domain, o, {}, nullptr, {}, views);
    CHECK(a.embedding == b.embedding);
    const auto masked = concord::train(toy.view, toy.domain, o);
    CHECK(a.embedding != masked.embedding);
  }
}

TEST_CASE("the sparse and dense first layers train SSL methods alike", "[ssl]") {
  Toy toy(200, 2, 60, 6);
  for (const char* method : {"simclr", "moco"}) {
    INFO(method);
    auto o = ssl_options(method);
    o.epochs = 2;
    o.min_steps = 0;
    const auto sparse = concord::train(toy.view, toy.domain, o);
    o.sparse_kernels = false;
    const auto dense = concord::train(toy.view, toy.domain, o);
    REQUIRE(sparse.embedding.size() == dense.embedding.size());
    CHECK(max_abs_difference(sparse.embedding, dense.embedding) < 1e-2);
  }
}

TEST_CASE("views mixing sparse rows and rows filled by noise train as on the dense path", "[ssl]") {
  // Cells store 14-21% of the genes; Gaussian noise on half of them fills 80%, so each
  // batch has rows on both sides of the sparse kernel's dense-row split (kernels.h).
  Toy toy(210, 7, 400, 9);
  concord::AugmentPipeline pipeline({{"gaussian", 0.5, 0.2, 0.8}});
  int dense_rows = 0, rows = 0;
  const concord::ViewFn views = [&](const concord::CsrView& x, const int* cells, int n, concord::Rng& rng,
                                    concord::SparseBatch& out, int view_index) {
    pipeline.view(x, cells, n, rng, out, view_index);
    for (int r = 0; r < n; ++r) dense_rows += out.indptr[r + 1] - out.indptr[r] >= 100;
    rows += n;
  };
  for (const char* method : {"simclr", "moco"}) {
    INFO(method);
    auto o = ssl_options(method);
    o.epochs = 2;
    o.min_steps = 0;
    const auto sparse = concord::train(toy.view, toy.domain, o, {}, nullptr, {}, views);
    o.sparse_kernels = false;
    const auto dense = concord::train(toy.view, toy.domain, o, {}, nullptr, {}, views);
    REQUIRE(sparse.embedding.size() == dense.embedding.size());
    CHECK(max_abs_difference(sparse.embedding, dense.embedding) < 1e-2);
    CHECK(sparse.epoch_loss[0] == Approx(dense.epoch_loss[0]).epsilon(1e-4));
  }
  CHECK(dense_rows > rows / 4);
  CHECK(dense_rows < 3 * rows / 4);
}

TEST_CASE("an unknown method is refused", "[ssl]") {
  Toy toy(50, 2, 20, 7);
  CHECK_THROWS_AS(concord::train(toy.view, toy.domain, ssl_options("dino")), std::invalid_argument);
}

TEST_CASE("a model saves its heads and training resumes from all of its weights", "[ssl]") {
  Toy toy(120, 2, 40, 8);
  for (const char* method : {"simsiam", "byol"}) {
    INFO(method);
    auto o = ssl_options(method);
    o.epochs = 2;
    o.min_steps = 0;
    const auto trained = concord::train(toy.view, toy.domain, o);
    int heads = 0;
    for (const auto& w : trained.weights) heads += w.name.rfind("method.prediction.", 0) == 0;
    CHECK(heads > 0);
    o.epochs = 0;
    const auto resumed = concord::train(toy.view, toy.domain, o, {}, &trained.weights);
    REQUIRE(resumed.weights.size() == trained.weights.size());
    for (size_t k = 0; k < trained.weights.size(); ++k) {
      CHECK(resumed.weights[k].name == trained.weights[k].name);
      CHECK(resumed.weights[k].values == trained.weights[k].values);
    }
    CHECK(resumed.embedding == trained.embedding);
    CHECK(concord::encode(toy.view, o, trained.weights, 1).values == trained.embedding);
  }
}
