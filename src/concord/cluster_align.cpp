#include "cluster_align.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <stdexcept>

namespace concord {

namespace {

namespace F = torch::nn::functional;

// Harmony's sigma: the softness of the cluster memberships, in squared distance between
// unit vectors (2 - 2 cos).
constexpr double kSigma = 0.1;

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

// Each row's membership of each cluster (n x k, rows summing to 1).
torch::Tensor memberships(const torch::Tensor& x, const torch::Tensor& centres) {
  return torch::softmax(-torch::cdist(x, centres).square() / kSigma, 1);
}

}  // namespace

void ClusterAlignment::refresh(const torch::Tensor& embedding, const std::vector<int>& domains, int n_domains,
                               int clusters, uint64_t seed, int min_cells) {
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
  centres_ = F::normalize(kmeans(x, k, seed), F::NormalizeFuncOptions().dim(1));
  const torch::Tensor r = memberships(x, centres_);

  // Each domain's membership-weighted count and mean in each cluster.
  std::vector<std::vector<int64_t>> rows(n_domains);
  for (int64_t i = 0; i < n; ++i) rows[domains[i]].push_back(i);
  torch::Tensor counts = torch::zeros({n_domains, k, 1}, x.options());
  torch::Tensor means = torch::zeros({n_domains, k, d}, x.options());
  for (int dom = 0; dom < n_domains; ++dom) {
    if (rows[dom].empty()) continue;
    const torch::Tensor pick = torch::tensor(rows[dom]);
    const torch::Tensor rd = r.index_select(0, pick);
    counts[dom].copy_(rd.sum(0).unsqueeze(1));
    means[dom].copy_(rd.t().mm(x.index_select(0, pick)) / counts[dom].clamp_min(1e-6));
  }
  const torch::Tensor held = (counts >= min_cells).to(torch::kFloat);
  const torch::Tensor holders = held.sum(0);  // k x 1: domains holding each cluster
  const torch::Tensor target = (means * held).sum(0) / holders.clamp_min(1);
  const torch::Tensor shared = (holders >= 2).to(torch::kFloat).unsqueeze(0);
  shift_ = (target.unsqueeze(0) - means) * held * shared;
}

torch::Tensor ClusterAlignment::loss(const torch::Tensor& z, const std::vector<int>& domains) {
  if (centres_.device() != z.device()) {
    centres_ = centres_.to(z.device());
    shift_ = shift_.to(z.device());
  }
  const torch::Tensor a = F::normalize(z, F::NormalizeFuncOptions().dim(1));
  torch::Tensor shift;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor dom = torch::tensor(std::vector<int64_t>(domains.begin(), domains.end())).to(z.device());
    const torch::Tensor r = memberships(a, centres_.to(a.dtype()));
    // Each row's shift: its domain's shifts weighted by its memberships.
    shift = r.unsqueeze(1).bmm(shift_.index_select(0, dom).to(a.dtype())).squeeze(1);
  }
  return (a - (a + shift).detach()).square().sum(1).mean();
}

}  // namespace concord
