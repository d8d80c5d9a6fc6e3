#include "cluster_align.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <stdexcept>

namespace concord {

namespace {

// Lloyd's k-means from k distinct rows drawn with `seed`; each row's cluster (long).
torch::Tensor kmeans(const torch::Tensor& x, int k, uint64_t seed) {
  const int64_t n = x.size(0);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 gen(seed);
  std::shuffle(order.begin(), order.end(), gen);
  order.resize(k);
  torch::Tensor centres = x.index_select(0, torch::tensor(order));
  torch::Tensor assign;
  const torch::Tensor ones = torch::ones({n}, x.options());
  for (int round = 0; round < 20; ++round) {
    assign = torch::cdist(x, centres).argmin(1);
    const torch::Tensor counts =
        torch::zeros({k}, x.options()).index_add(0, assign, ones).unsqueeze(1);
    const torch::Tensor sums = torch::zeros_like(centres).index_add(0, assign, x);
    // An empty cluster keeps its centre.
    centres = torch::where(counts > 0, sums / counts.clamp_min(1), centres);
  }
  return assign;
}

}  // namespace

void ClusterAlignment::refresh(const torch::Tensor& embedding, const std::vector<int>& domains,
                               int clusters, uint64_t seed, int min_cells) {
  torch::NoGradGuard no_grad;
  const int64_t n = embedding.size(0);
  if (n != static_cast<int64_t>(domains.size()))
    throw std::invalid_argument("one domain per embedded cell");
  if (n == 0 || clusters < 1)
    throw std::invalid_argument("cluster alignment needs cells and clusters");
  const int k = static_cast<int>(std::min<int64_t>(clusters, n));
  const int n_domains = *std::max_element(domains.begin(), domains.end()) + 1;
  const torch::Tensor x = embedding.to(torch::kFloat).contiguous();
  const int64_t d = x.size(1);
  group_ =
      torch::tensor(std::vector<int64_t>(domains.begin(), domains.end())) * k + kmeans(x, k, seed);

  const torch::Tensor counts = torch::zeros({n_domains * k}, x.options())
                                   .index_add(0, group_, torch::ones({n}, x.options()));
  const torch::Tensor means =
      (torch::zeros({n_domains * k, d}, x.options()).index_add(0, group_, x) /
       counts.clamp_min(1).unsqueeze(1))
          .view({n_domains, k, d});
  const torch::Tensor held = (counts >= min_cells).to(torch::kFloat).view({n_domains, k, 1});
  const torch::Tensor holders = held.sum(0);  // k x 1: domains holding each cluster
  const torch::Tensor target = (means * held).sum(0) / holders.clamp_min(1);
  const torch::Tensor shared = (holders >= 2).to(torch::kFloat).unsqueeze(0);
  shift_ = ((target.unsqueeze(0) - means) * held * shared).view({n_domains * k, d});
}

torch::Tensor ClusterAlignment::loss(const torch::Tensor& z, const std::vector<int>& cells) const {
  namespace F = torch::nn::functional;
  std::vector<int64_t> rows(cells.begin(), cells.end());
  const torch::Tensor shift =
      shift_.index_select(0, group_.index_select(0, torch::tensor(rows))).to(z.device());
  const torch::Tensor a = F::normalize(z, F::NormalizeFuncOptions().dim(1));
  return (a - (a + shift).detach()).square().sum(1).mean();
}

}  // namespace concord
