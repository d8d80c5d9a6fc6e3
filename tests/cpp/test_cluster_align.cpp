// The alignment of domains within clusters (cluster_align.h) on hand-made embeddings, and
// trained with a sample of the cells.
// LibTorch's headers bring glog's CHECK, which aborts; Catch's, included after them,
// replaces it.
#include "cluster_align.h"
#include "toy_data.h"
#include "trainer.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <utility>
#include <vector>

namespace {

// Two tight clusters on the unit sphere of R^3 (near e1 and near e2), 40 cells each, half
// of each from domain 0 and half from domain 1; in the first cluster domain 1 sits
// `offset` further along e3. Rows are L2-normalised.
torch::Tensor two_clusters(float offset, std::vector<int>& domains) {
  std::vector<float> rows;
  domains.clear();
  for (int c = 0; c < 80; ++c) {
    const int cluster = c / 40, domain = c % 2;
    const float jitter = 0.01f * static_cast<float>(c % 5);
    float v[3] = {cluster == 0 ? 1.0f : jitter, cluster == 1 ? 1.0f : jitter,
                  cluster == 0 && domain == 1 ? offset : 0.0f};
    const float norm = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    for (float x : v) rows.push_back(x / norm);
    domains.push_back(domain);
  }
  return torch::tensor(rows).view({80, 3});
}

// One cluster of n unit vectors in R^20 scattered about e1, domains alternating; domain 1
// sits `offset` further along e2 (before normalising).
torch::Tensor one_cluster(int n, float offset, std::vector<int>& domains) {
  torch::manual_seed(11);
  torch::Tensor x = 0.3 * torch::randn({n, 20});
  x.select(1, 0).add_(1.0);
  domains.clear();
  for (int c = 0; c < n; ++c) {
    domains.push_back(c % 2);
    if (c % 2 == 1) x[c][1] += offset;
  }
  return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(1));
}

// The alignment's loss on all of x against the unshrunk one: the squared half distance
// between the two domains' means.
std::pair<float, float> loss_and_raw(const torch::Tensor& x, const std::vector<int>& domains) {
  concord::ClusterAlignment align;
  align.refresh(x, domains, 2, 1, 7);
  const torch::Tensor d = torch::tensor(std::vector<int64_t>(domains.begin(), domains.end()));
  const torch::Tensor half = (x.index({d == 0}).mean(0) - x.index({d == 1}).mean(0)) / 2;
  return {align.loss(x, x, domains).item<float>(), half.square().sum().item<float>()};
}

}  // namespace

TEST_CASE("cluster alignment pulls each domain to the domains' mean within its cluster", "[align]") {
  std::vector<int> domains;
  const torch::Tensor x = two_clusters(0.3f, domains);
  concord::ClusterAlignment align;
  align.refresh(x, domains, 2, 2, 7);

  // The first cluster's domains are pulled toward each other along e3: the gradient of
  // the loss moves domain 0 up and domain 1 down (a descent step goes against it).
  std::vector<int> first_rows, first_domains;
  for (int c = 0; c < 40; ++c) first_rows.push_back(c), first_domains.push_back(domains[c]);
  torch::Tensor z = x.index_select(0, torch::tensor(std::vector<int64_t>(first_rows.begin(), first_rows.end())))
                        .clone()
                        .requires_grad_(true);
  const torch::Tensor loss = align.loss(z, z.detach(), first_domains);
  REQUIRE(std::isfinite(loss.item<float>()));
  CHECK(loss.item<float>() > 1e-3);
  loss.backward();
  const torch::Tensor up = -z.grad().select(1, 2);
  for (int c = 0; c < 40; ++c) CHECK((domains[c] == 0 ? up[c].item<float>() > 0 : up[c].item<float>() < 0));

  // The second cluster, where the domains coincide, has nothing to align; nor has a
  // cluster that one domain alone holds.
  std::vector<int> second_domains(domains.begin() + 40, domains.end());
  CHECK(align.loss(x.slice(0, 40, 80), x.slice(0, 40, 80), second_domains).item<float>() < 1e-6f);
  std::vector<int> one(80, 0);
  align.refresh(x, one, 2, 2, 7);
  CHECK(align.loss(x, x, one).item<float>() == 0.0f);
}

TEST_CASE("cluster alignment stops pulling a domain once it meets the others", "[align]") {
  std::vector<int> domains;
  const torch::Tensor x = two_clusters(0.3f, domains);
  concord::ClusterAlignment align;
  align.refresh(x, domains, 2, 2, 7);
  // Domain 1's cells of the first cluster, moved onto domain 0's: their shift fades as the
  // mini-batches update the tracked means.
  std::vector<int64_t> rows;
  for (int c = 0; c < 40; ++c) if (domains[c] == 0) rows.push_back(c);
  const torch::Tensor met = x.index_select(0, torch::tensor(rows));
  const std::vector<int> ones(rows.size(), 1);
  const float first = align.loss(met, met, ones).item<float>();
  float last = first;
  for (int step = 0; step < 10; ++step) last = align.loss(met, met, ones).item<float>();
  CHECK(first > 1e-3f);
  CHECK(last < 0.01f * first);
}

TEST_CASE("cluster alignment leaves domains that differ by noise alone", "[align]") {
  std::vector<int> domains;
  const auto [noise_loss, noise_raw] = loss_and_raw(one_cluster(200, 0.0f, domains), domains);
  const auto [offset_loss, offset_raw] = loss_and_raw(one_cluster(200, 1.0f, domains), domains);
  REQUIRE(noise_raw > 1e-4f);
  CHECK(noise_loss < 0.5f * noise_raw);
  CHECK(offset_loss > 0.8f * offset_raw);
}

TEST_CASE("cluster alignment rejects domains beyond its count", "[align]") {
  std::vector<int> domains;
  const torch::Tensor x = two_clusters(0.3f, domains);
  concord::ClusterAlignment align;
  CHECK_THROWS_AS(align.refresh(x, domains, 1, 2, 7), std::invalid_argument);
}

TEST_CASE("training aligns with a sample of the cells", "[align]") {
  Toy toy(400, 4, 100, 3);
  concord::TrainOptions o = small_options();
  o.warmup_epochs = 1;
  o.align_weight = 1;
  o.align_clusters = 4;
  o.align_sample = 100;
  const auto r = concord::train(toy.view, toy.domain, o);
  REQUIRE(r.embedding.size() == 400u * 8u);
  for (float v : r.embedding) REQUIRE(std::isfinite(v));
  CHECK(r.epoch_loss.back() < r.epoch_loss.front());
  CHECK(neighbour_agreement(r, toy.type) > 0.9);
  o.align_sample = 0;
  CHECK_THROWS_AS(concord::train(toy.view, toy.domain, o), std::invalid_argument);
}
