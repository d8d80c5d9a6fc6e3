#include "cluster_align.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <stdexcept>

namespace concord {

namespace {

// Lloyd's k-means from k distinct rows drawn with `seed`: the centres (k x d).
torch::Tensor kmeans(const torch::Tensor& x, int k, uint64_t seed) {
  const int64_t n = x.size(0);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 gen(seed);
  std::shuffle(order.begin(), order.end(), gen);
  order.resize(k);
  torch::Tensor centres = x.index_select(0, torch::tensor(order));
  const torch::Tensor ones = torch::ones({n}, x.options());
  for (int round = 0; round < 20; ++round) {
    const torch::Tensor assign = torch::cdist(x, centres).argmin(1);
    const torch::Tensor counts =
        torch::zeros({k}, x.options()).index_add(0, assign, ones).unsqueeze(1);
    const torch::Tensor sums = torch::zeros_like(centres).index_add(0, assign, x);
    // An empty cluster keeps its centre.
    centres = torch::where(counts > 0, sums / counts.clamp_min(1), centres);
  }
  return centres;
}

}  // namespace

std::vector<int> ClusterAlignment::refresh(const torch::Tensor& embedding, const std::vector<int>& domains,
                                           int n_domains, int clusters, uint64_t seed, int min_cells) {
  torch::NoGradGuard no_grad;
  const int64_t n = embedding.size(0);
  if (n != static_cast<int64_t>(domains.size()))
    throw std::invalid_argument("one domain per embedded cell");
  if (n == 0 || clusters < 1)
    throw std::invalid_argument("cluster alignment needs cells and clusters");
  if (*std::max_element(domains.begin(), domains.end()) >= n_domains)
    throw std::invalid_argument("a domain beyond n_domains");
  const int k = static_cast<int>(std::min<int64_t>(clusters, n));
  const torch::Tensor x = embedding.to(torch::kFloat).contiguous();
  const int64_t d = x.size(1);
  centres_ = kmeans(x, k, seed);
  const torch::Tensor cluster = torch::cdist(x, centres_).argmin(1);
  const torch::Tensor group = torch::tensor(std::vector<int64_t>(domains.begin(), domains.end())) * k + cluster;

  const torch::Tensor counts = torch::zeros({n_domains * k}, x.options())
                                   .index_add(0, group, torch::ones({n}, x.options()));
  const torch::Tensor means =
      (torch::zeros({n_domains * k, d}, x.options()).index_add(0, group, x) /
       counts.clamp_min(1).unsqueeze(1))
          .view({n_domains, k, d});
  const torch::Tensor held = (counts >= min_cells).to(torch::kFloat).view({n_domains, k, 1});
  const torch::Tensor holders = held.sum(0);  // k x 1: domains holding each cluster
  const torch::Tensor target = (means * held).sum(0) / holders.clamp_min(1);
  const torch::Tensor shared = (holders >= 2).to(torch::kFloat).unsqueeze(0);
  shift_ = ((target.unsqueeze(0) - means) * held * shared).view({n_domains * k, d});
  const torch::Tensor c = cluster.to(torch::kInt).contiguous();
  return std::vector<int>(c.data_ptr<int>(), c.data_ptr<int>() + n);
}

torch::Tensor ClusterAlignment::loss(const torch::Tensor& z, const std::vector<int>& domains,
                                     const std::vector<int>& clusters) {
  namespace F = torch::nn::functional;
  if (centres_.device() != z.device()) {
    centres_ = centres_.to(z.device());
    shift_ = shift_.to(z.device());
  }
  const torch::Tensor a = F::normalize(z, F::NormalizeFuncOptions().dim(1));
  torch::Tensor shift;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor known = torch::tensor(std::vector<int64_t>(clusters.begin(), clusters.end())).to(z.device());
    const torch::Tensor nearest = torch::cdist(a, centres_.to(a.dtype())).argmin(1);
    const torch::Tensor group =
        torch::tensor(std::vector<int64_t>(domains.begin(), domains.end())).to(z.device()) * centres_.size(0) +
        torch::where(known >= 0, known, nearest);
    shift = shift_.index_select(0, group).to(a.dtype());
  }
  return (a - (a + shift).detach()).square().sum(1).mean();
}

}  // namespace concord
