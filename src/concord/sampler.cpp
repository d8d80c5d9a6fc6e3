#include "sampler.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace concord {

namespace {

// floor(total * share) that treats shares like 1 - 1e-16 as exact.
int share_of(int total, double share) {
  return static_cast<int>(std::floor(total * share + 1e-9));
}

}  // namespace

Sampler::Sampler(std::vector<int> domains, SamplerOptions options)
    : domain_of_(std::move(domains)), options_(options) {
  if (options_.batch_size < 1) throw std::invalid_argument("batch_size must be at least 1");
  if (!(options_.p_intra_knn >= 0 && options_.p_intra_knn <= 1))
    throw std::invalid_argument("p_intra_knn must lie in [0, 1]");
  if (!(options_.p_intra_domain >= 0 && options_.p_intra_domain <= 1))
    throw std::invalid_argument("p_intra_domain must lie in [0, 1]");
  int n_domains = 0;
  for (int d : domain_of_) {
    if (d < 0) throw std::invalid_argument("domain labels must be non-negative");
    n_domains = std::max(n_domains, d + 1);
  }
  cells_of_.resize(n_domains);
  for (int i = 0; i < n_cells(); ++i) cells_of_[domain_of_[i]].push_back(i);
  for (int d = 0; d < n_domains; ++d) {
    if (cells_of_[d].empty())
      throw std::invalid_argument("domain " + std::to_string(d) + " has no cells");
  }
  cursor_.resize(n_domains);
  seen_.assign(domain_of_.size(), 0);
}

std::vector<int> Sampler::batches_per_domain() const {
  std::vector<int> counts(n_domains());
  int total = 0;
  for (int d = 0; d < n_domains(); ++d) {
    counts[d] = std::max(1, static_cast<int>(cells_of_[d].size()) / options_.batch_size);
    total += counts[d];
  }
  if (total < options_.min_batches_per_epoch) {
    // Scale every domain by the same factor, rounding up, so proportions are kept.
    const double factor = static_cast<double>(options_.min_batches_per_epoch) / total;
    for (int& c : counts) c = static_cast<int>(std::ceil(c * factor - 1e-9));
  }
  return counts;
}

void Sampler::draw_from_domain(int d, int count, Rng& rng, std::vector<int>& batch) {
  std::vector<int>& cells = cells_of_[d];
  count = std::min<int>(count, static_cast<int>(cells.size()));
  for (int taken = 0; taken < count; ++taken) {
    if (cursor_[d] == cells.size()) {
      rng.shuffle(cells);
      cursor_[d] = 0;
    }
    batch.push_back(cells[cursor_[d]++]);
  }
}

void Sampler::draw_outside_domain(int d, int count, Rng& rng, std::vector<int>& batch) {
  const size_t outside = domain_of_.size() - cells_of_[d].size();
  count = std::min<int>(count, static_cast<int>(outside));
  // Rejection from all cells: cheap unless domain d holds nearly every cell, and then
  // the expected number of tries per draw is still n / outside.
  for (int taken = 0; taken < count;) {
    const int cell = static_cast<int>(rng.below(domain_of_.size()));
    if (domain_of_[cell] != d) {
      batch.push_back(cell);
      ++taken;
    }
  }
}

std::vector<std::vector<int>> Sampler::epoch(Rng& rng, const NeighbourFn& neighbours, int k) {
  const int B = options_.batch_size;
  const bool use_knn = neighbours && options_.p_intra_knn > 0 && k > 0;
  const int knn_total = use_knn ? share_of(B, options_.p_intra_knn) : 0;
  const int knn_in = share_of(knn_total, options_.p_intra_domain);
  const int knn_out = knn_total - knn_in;
  const int global_total = B - knn_total;
  const int global_in = share_of(global_total, options_.p_intra_domain);
  const int global_out = global_total - global_in;

  // Every epoch starts each domain "exhausted", so that its first draw takes a fresh
  // permutation, as in the reference (an epoch drawing more cells than a domain holds
  // reshuffles it when used up).
  for (int d = 0; d < n_domains(); ++d) cursor_[d] = cells_of_[d].size();
  const std::vector<int> counts = batches_per_domain();
  std::vector<std::vector<int>> batches;
  std::vector<int> in_nb, out_nb, picked;
  std::vector<int64_t> knn;
  for (int d = 0; d < n_domains(); ++d) {
    std::vector<int> cores;
    if (use_knn) {
      for (int b = 0; b < counts[d]; ++b) cores.push_back(cells_of_[d][rng.below(cells_of_[d].size())]);
      neighbours(cores, k, knn);
    }
    for (int b = 0; b < counts[d]; ++b) {
      std::vector<int> batch;
      batch.reserve(B);
      if (use_knn) {
        in_nb.clear();
        out_nb.clear();
        for (int j = 0; j < k; ++j) {
          const int64_t cell = knn[static_cast<size_t>(b) * k + j];
          if (cell < 0) continue;
          (domain_of_[cell] == d ? in_nb : out_nb).push_back(static_cast<int>(cell));
        }
        // Partial Fisher-Yates: a uniform sample without replacement from each list.
        for (auto* list : {&in_nb, &out_nb}) {
          const int want = std::min<int>(list == &in_nb ? knn_in : knn_out, list->size());
          for (int t = 0; t < want; ++t) {
            const size_t j = t + rng.below(list->size() - t);
            std::swap((*list)[t], (*list)[j]);
            batch.push_back((*list)[t]);
          }
        }
      }
      draw_from_domain(d, global_in, rng, batch);
      // With a single domain the out-of-domain share is drawn from the domain itself.
      if (cells_of_[d].size() == domain_of_.size()) {
        draw_from_domain(d, global_out, rng, batch);
      } else {
        draw_outside_domain(d, global_out, rng, batch);
      }

      // Remove duplicates, keeping the first occurrence.
      if (++stamp_ == 0) {
        std::fill(seen_.begin(), seen_.end(), 0);
        stamp_ = 1;
      }
      picked.clear();
      for (int cell : batch) {
        if (seen_[cell] != stamp_) {
          seen_[cell] = stamp_;
          picked.push_back(cell);
        }
      }
      if (static_cast<int>(picked.size()) >= options_.min_batch_size) batches.push_back(picked);
    }
  }
  rng.shuffle(batches);
  return batches;
}

std::vector<std::vector<int>> uniform_epoch(int n, int batch_size, int min_batches, Rng& rng) {
  std::vector<std::vector<int>> batches;
  if (n < 1 || batch_size < 1) return batches;
  const int size = std::min(batch_size, n);
  const int per_permutation = n / size;
  std::vector<int> order(n);
  do {
    for (int c = 0; c < n; ++c) order[c] = c;
    rng.shuffle(order);
    for (int b = 0; b < per_permutation; ++b) {
      batches.emplace_back(order.begin() + static_cast<int64_t>(b) * size,
                           order.begin() + static_cast<int64_t>(b + 1) * size);
    }
  } while (static_cast<int>(batches.size()) < min_batches);
  return batches;
}

std::vector<std::vector<int>> balanced_epoch(const std::vector<std::vector<int>>& cells_of, int batch_size,
                                             int min_batches, Rng& rng) {
  std::vector<std::vector<int>> batches;
  std::vector<std::vector<int>> order;
  for (const auto& cells : cells_of) {
    if (!cells.empty()) order.push_back(cells);
  }
  const int d = static_cast<int>(order.size());
  if (d == 0 || batch_size < 1) return batches;
  std::vector<size_t> cursor(d, 0);
  for (auto& o : order) rng.shuffle(o);
  const int n_batches = std::max(d, min_batches);
  for (int b = 0; b < n_batches; ++b) {
    std::vector<int> batch;
    batch.reserve(batch_size);
    // The remainder of batch_size / d goes to different domains in turn.
    for (int k = 0; k < d; ++k) {
      const int share = batch_size / d + ((k - b % d + d) % d < batch_size % d ? 1 : 0);
      for (int i = 0; i < share; ++i) {
        if (cursor[k] == order[k].size()) {
          rng.shuffle(order[k]);
          cursor[k] = 0;
        }
        batch.push_back(order[k][cursor[k]++]);
      }
    }
    rng.shuffle(batch);
    batches.push_back(std::move(batch));
  }
  return batches;
}

}  // namespace concord
