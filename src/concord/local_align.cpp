#include "local_align.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "rng.h"

namespace concord {

namespace {

namespace F = torch::nn::functional;

// Squared distance (between unit vectors) at which a domain's local mean counts e^-1 as
// much: Harmony's sigma, as for the cluster alignment's memberships.
constexpr double kGuard = 0.1;

// Fewest neighbours per neighbourhood: below it a local mean is mostly noise.
constexpr int64_t kMinNeighbours = 5;

// The columns of the k smallest of one row's n values, into `cols`. Every 8th value
// gives a pivot at about twice the k-th's quantile, and only the values under it (a few
// times k) are selected from: a selection over the whole row mispredicts a branch at
// nearly every value. A NaN, which would break the selection's ordering, is never under
// the pivot, and counts as infinitely far where the whole row is needed.
void nearest_in_row(const float* row, int64_t n, int64_t k, int64_t* cols, std::vector<float>& value,
                    std::vector<int64_t>& column, std::vector<float>& work) {
  constexpr int64_t kStride = 8;
  value.resize(n);
  column.resize(n);
  int64_t under = 0;
  if (n >= 16 * kStride) {
    int64_t m = 0;
    for (int64_t j = 0; j < n; j += kStride) {
      if (!std::isnan(row[j])) value[m++] = row[j];
    }
    if (m > 0) {
      const int64_t rank = std::min(m - 1, 2 * k * m / n + 2);
      std::nth_element(value.begin(), value.begin() + rank, value.begin() + m);
      const float pivot = value[rank];
      for (int64_t j = 0; j < n; ++j) {
        value[under] = row[j];
        column[under] = j;
        under += row[j] <= pivot;
      }
    }
  }
  if (under < k) {
    for (int64_t j = 0; j < n; ++j) {
      value[j] = std::isnan(row[j]) ? std::numeric_limits<float>::infinity() : row[j];
      column[j] = j;
    }
    under = n;
  }
  work.assign(value.begin(), value.begin() + under);
  std::nth_element(work.begin(), work.begin() + (k - 1), work.end());
  const float kth = work[k - 1];
  int64_t c = 0;
  for (int64_t i = 0; i < under; ++i) {
    if (value[i] < kth) cols[c++] = column[i];
  }
  for (int64_t i = 0; i < under && c < k; ++i) {
    if (value[i] == kth) cols[c++] = column[i];
  }
}

}  // namespace

torch::Tensor nearest_columns(const torch::Tensor& dist, int64_t k) {
  if (k < 1 || k > dist.size(1)) throw std::invalid_argument("k must be between 1 and the number of columns");
  // A GPU's top-k selects in parallel, and the distances stay where they are.
  if (!dist.is_cpu()) return std::get<1>(dist.topk(k, 1, false));
  const torch::Tensor d = dist.to(torch::kFloat).contiguous();
  const int64_t rows = d.size(0), n = d.size(1);
  torch::Tensor out = torch::empty({rows, k}, torch::kLong);
  const float* p = d.data_ptr<float>();
  int64_t* o = out.data_ptr<int64_t>();
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> value, work;
    std::vector<int64_t> column;
    for (int64_t r = begin; r < end; ++r) nearest_in_row(p + r * n, n, k, o + r * k, value, column, work);
  });
  return out;
}

void LocalAlignment::refresh(const torch::Tensor& embedding, const std::vector<int>& domains, int n_domains,
                             const std::vector<int64_t>& cells, int64_t n_cells, double share, int64_t max_rows,
                             uint64_t seed) {
  torch::NoGradGuard no_grad;
  const int64_t n = embedding.size(0);
  if (n != static_cast<int64_t>(domains.size()) || n != static_cast<int64_t>(cells.size()))
    throw std::invalid_argument("one domain and one cell per embedded row");
  if (!(share > 0 && share <= 1)) throw std::invalid_argument("the neighbourhood share must be in (0, 1]");
  if (max_rows < 1) throw std::invalid_argument("max_rows must be positive");
  const torch::Tensor x = embedding.to(torch::kFloat);
  std::vector<int64_t> kept(n);
  std::iota(kept.begin(), kept.end(), 0);
  if (n > max_rows) {
    Rng rng(seed);
    for (int64_t i = 0; i < max_rows; ++i) std::swap(kept[i], kept[i + static_cast<int64_t>(rng.below(n - i))]);
    kept.resize(max_rows);
    std::sort(kept.begin(), kept.end());
  }
  std::vector<std::vector<int64_t>> rows(n_domains);
  slot_.assign(n_cells, -1);
  for (const int64_t r : kept) {
    if (domains[r] < 0 || domains[r] >= n_domains) throw std::invalid_argument("a domain beyond n_domains");
    if (cells[r] >= n_cells) throw std::invalid_argument("a cell beyond n_cells");
    if (cells[r] >= 0) slot_[cells[r]] = static_cast<int64_t>(rows[domains[r]].size());
    rows[domains[r]].push_back(r);
  }
  rows_.assign(n_domains, torch::Tensor());
  k_.assign(n_domains, 0);
  for (int d = 0; d < n_domains; ++d) {
    const int64_t size = static_cast<int64_t>(rows[d].size());
    const int64_t k = std::max(kMinNeighbours, static_cast<int64_t>(std::llround(share * size)));
    // A domain too small for one neighbourhood besides the cell itself takes no part.
    if (size < k + 1) continue;
    rows_[d] = x.index_select(0, torch::tensor(rows[d])).contiguous();
    k_[d] = k;
  }
}

int64_t LocalAlignment::n_rows() const {
  int64_t n = 0;
  for (const auto& r : rows_) n += r.defined() ? r.size(0) : 0;
  return n;
}

torch::Tensor LocalAlignment::loss(const torch::Tensor& z, const torch::Tensor& evaluated,
                                   const std::vector<int>& cells, const std::vector<int>& domains) {
  for (auto& r : rows_) {
    if (r.defined() && r.device() != z.device()) r = r.to(z.device());
  }
  const torch::Tensor a = F::normalize(z, F::NormalizeFuncOptions().dim(1));
  const int64_t b = a.size(0), dim = a.size(1);
  const int n_domains = static_cast<int>(rows_.size());
  torch::Tensor shift;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor e = evaluated.to(torch::kFloat);
    // Per domain, the batch's cells that are rows of its sample and their rows there.
    std::vector<std::vector<int64_t>> batch_rows(n_domains), sample_rows(n_domains);
    for (int64_t i = 0; i < b; ++i) {
      const int64_t s = slot_[cells[i]];
      if (s < 0 || !rows_[domains[i]].defined()) continue;
      batch_rows[domains[i]].push_back(i);
      sample_rows[domains[i]].push_back(s);
    }
    const auto opts = e.options();
    torch::Tensor sum = torch::zeros({b, dim}, opts), weight_sum = torch::zeros({b, 1}, opts);
    torch::Tensor sq_weighted_var = torch::zeros({b, 1}, opts);
    torch::Tensor own_mean = torch::zeros({b, dim}, opts), own_var = torch::zeros({b, 1}, opts);
    torch::Tensor has_own = torch::zeros({b, 1}, opts);
    const torch::Tensor dom = torch::tensor(std::vector<int64_t>(domains.begin(), domains.end())).to(e.device());
    for (int d = 0; d < n_domains; ++d) {
      if (!rows_[d].defined()) continue;
      const int64_t k = k_[d];
      torch::Tensor dist;
      if (batch_rows[d].empty()) {
        dist = torch::cdist(e, rows_[d]).square();
      } else {
        // The cells' newer embeddings replace their rows; a cell is not its own neighbour.
        const torch::Tensor in_batch = torch::tensor(batch_rows[d]).to(e.device());
        const torch::Tensor in_sample = torch::tensor(sample_rows[d]).to(e.device());
        rows_[d].index_copy_(0, in_sample, e.index_select(0, in_batch));
        dist = torch::cdist(e, rows_[d]).square();
        dist.index_put_({in_batch, in_sample}, std::numeric_limits<float>::infinity());
      }
      const torch::Tensor nearest = nearest_columns(dist, k);
      const torch::Tensor neighbours = rows_[d].index_select(0, nearest.reshape(-1)).reshape({b, k, dim});
      const torch::Tensor mean = neighbours.mean(1);
      // The variance (trace) of each local mean, from its neighbours' spread about it,
      // 1 - |mean|^2 for unit rows.
      const torch::Tensor var = (1 - mean.square().sum(1, true)).clamp_min(0) / k;
      const torch::Tensor mine = (dom == d).to(torch::kFloat).unsqueeze(1);
      const torch::Tensor w =
          torch::where(mine > 0, torch::ones_like(mine), torch::exp(-(mean - e).square().sum(1, true) / kGuard));
      sum += w * mean;
      weight_sum += w;
      sq_weighted_var += w.square() * var;
      own_mean += mine * mean;
      own_var += mine * var;
      has_own += mine;
    }
    const torch::Tensor total = weight_sum.clamp_min(1e-12);
    shift = (sum / total - own_mean) * has_own;
    // Variance of (weighted mean of local means - own local mean), own weight 1.
    const torch::Tensor noise = sq_weighted_var / total.square() + own_var * (1 - 2 / total);
    shift = shift * (1 - noise / shift.square().sum(1, true).clamp_min(1e-12)).clamp_min(0);
    shift = shift.to(a.dtype());
  }
  return (a - (a + shift).detach()).square().sum(1).mean();
}

}  // namespace concord
