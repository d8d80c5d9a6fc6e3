// The alignment of domains within clusters (cluster_align.h) on hand-made embeddings, and
// trained with a sample of the cells.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "cluster_align.h"
#include "toy_data.h"
#include "trainer.h"

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
  const torch::Tensor loss = align.loss(z, first_domains);
  REQUIRE(std::isfinite(loss.item<float>()));
  CHECK(loss.item<float>() > 1e-3);
  loss.backward();
  const torch::Tensor up = -z.grad().select(1, 2);
  for (int c = 0; c < 40; ++c) CHECK((domains[c] == 0 ? up[c].item<float>() > 0 : up[c].item<float>() < 0));

  // The second cluster, where the domains coincide, has nothing to align; nor has a
  // cluster that one domain alone holds.
  std::vector<int> second_domains(domains.begin() + 40, domains.end());
  CHECK(align.loss(x.slice(0, 40, 80), second_domains).item<float>() < 1e-6f);
  std::vector<int> one(80, 0);
  align.refresh(x, one, 2, 2, 7);
  CHECK(align.loss(x, one).item<float>() == 0.0f);
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
