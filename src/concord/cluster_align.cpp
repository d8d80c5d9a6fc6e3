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

// Membership weight (in cells) against which a mini-batch updates the tracked means.
constexpr double kTracking = 32;

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

// The mean of unit-length rows `x` in each cluster, weighted by their memberships `r`
// (clusters x d).
torch::Tensor weighted_mean(const torch::Tensor& r, const torch::Tensor& x) {
  return r.t().mm(x) / r.sum(0).unsqueeze(1).clamp_min(1e-6);
}

// The variance (trace) of such a weighted mean, from the spread of unit vectors about
// their mean, 1 - |mean|^2, and the weights' effective count (sum r)^2 / sum r^2.
torch::Tensor variance_of_mean(const torch::Tensor& r, const torch::Tensor& means) {
  const torch::Tensor spread = (1 - means.square().sum(1, true)).clamp_min(0);
  return spread * r.square().sum(0).unsqueeze(1) / r.sum(0).square().unsqueeze(1).clamp_min(1e-12);
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

  // Each domain's membership-weighted count, mean and the variance of that mean in each
  // cluster.
  std::vector<std::vector<int64_t>> rows(n_domains);
  for (int64_t i = 0; i < n; ++i) rows[domains[i]].push_back(i);
  torch::Tensor counts = torch::zeros({n_domains, k, 1}, x.options());
  means_ = torch::zeros({n_domains, k, d}, x.options());
  variances_ = torch::zeros({n_domains, k, 1}, x.options());
  for (int dom = 0; dom < n_domains; ++dom) {
    if (rows[dom].empty()) continue;
    const torch::Tensor pick = torch::tensor(rows[dom]);
    const torch::Tensor rd = r.index_select(0, pick);
    counts[dom].copy_(rd.sum(0).unsqueeze(1));
    means_[dom].copy_(weighted_mean(rd, x.index_select(0, pick)));
    variances_[dom].copy_(variance_of_mean(rd, means_[dom]));
  }
  held_ = (counts >= min_cells).to(torch::kFloat);
  shared_ = (held_.sum(0) >= 2).to(torch::kFloat).unsqueeze(0);
}

torch::Tensor ClusterAlignment::shifts() const {
  const torch::Tensor holders = held_.sum(0).clamp_min(1);
  const torch::Tensor target = (means_ * held_).sum(0) / holders;
  const torch::Tensor shift = (target.unsqueeze(0) - means_) * held_ * shared_;
  // The variance of each shift from its means' variances (target minus own mean), and the
  // positive-part James-Stein factor that shrinks a shift no larger than its noise to 0.
  const torch::Tensor v = variances_ * held_;
  const torch::Tensor noise = v * (1 - 2 / holders).unsqueeze(0) + (v.sum(0) / holders.square()).unsqueeze(0);
  return shift * (1 - noise / shift.square().sum(2, true).clamp_min(1e-12)).clamp_min(0);
}

torch::Tensor ClusterAlignment::loss(const torch::Tensor& z, const torch::Tensor& evaluated,
                                     const std::vector<int>& domains) {
  if (centres_.device() != z.device()) {
    centres_ = centres_.to(z.device());
    means_ = means_.to(z.device());
    variances_ = variances_.to(z.device());
    held_ = held_.to(z.device());
    shared_ = shared_.to(z.device());
  }
  const torch::Tensor a = F::normalize(z, F::NormalizeFuncOptions().dim(1));
  torch::Tensor shift;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor dom = torch::tensor(std::vector<int64_t>(domains.begin(), domains.end())).to(z.device());
    const torch::Tensor e = evaluated.to(torch::kFloat);
    const torch::Tensor r = memberships(e, centres_);
    // Each row's shift: its domain's shifts weighted by its memberships.
    shift = r.unsqueeze(1).bmm(shifts().index_select(0, dom)).squeeze(1).to(a.dtype());
    // Then each domain here moves its tracked means toward these cells', by the weight of
    // the cells against kTracking.
    std::vector<int> present(domains);
    std::sort(present.begin(), present.end());
    present.erase(std::unique(present.begin(), present.end()), present.end());
    for (int d : present) {
      const torch::Tensor pick = (dom == d).nonzero().squeeze(1);
      const torch::Tensor rd = r.index_select(0, pick);
      const torch::Tensor m = weighted_mean(rd, e.index_select(0, pick));
      const torch::Tensor mass = rd.sum(0).unsqueeze(1);
      const torch::Tensor rate = mass / (mass + kTracking);
      means_[d].add_(rate * (m - means_[d]));
      variances_[d].copy_((1 - rate).square() * variances_[d] + rate.square() * variance_of_mean(rd, m));
    }
  }
  return (a - (a + shift).detach()).square().sum(1).mean();
}

}  // namespace concord
