// AugmentPipeline::prepare: the domains and the neighbour graphs of MNN and BBKNN.
//
// As in the benchmark, neighbours are found on the first 50 principal components of the
// model's input. MNN pairs are mutual 5-nearest neighbours between every two domains in
// cosine distance (CLAIRE takes them from Seurat's CCA anchors, whose L2-normalised
// canonical vectors make cosine the matching metric; PCA replaces CCA here, with no
// anchor filtering). Within-domain and batch-balanced neighbours are euclidean, as the
// benchmark's bbknn call.
#include <algorithm>
#include <memory>
#include <stdexcept>

#include "augment_pipeline.h"
#include "knn.h"
#include "pca.h"

namespace concord {

namespace {

constexpr int kPcaDims = 50;
constexpr int kAnchors = 5;  // CLAIRE's k_anchor, fixed in the benchmark
constexpr uint64_t kPcaSeed = 0x5ca1ab1e;

std::vector<float> rows_of(const PcaScores& pca, const std::vector<int>& cells) {
  std::vector<float> out(cells.size() * pca.dims);
  for (size_t i = 0; i < cells.size(); ++i) {
    std::copy_n(pca.rows.begin() + static_cast<int64_t>(cells[i]) * pca.dims, pca.dims,
                out.begin() + static_cast<int64_t>(i) * pca.dims);
  }
  return out;
}

// One index per domain over its cells' scores.
struct DomainIndex {
  std::vector<int> cells;
  std::unique_ptr<KnnIndex> index;
};

std::vector<DomainIndex> domain_indices(const PcaScores& pca,
                                        const std::vector<std::vector<int>>& members, Metric metric,
                                        int threads, const InterruptFn& interrupted) {
  KnnOptions o;
  o.metric = metric;
  std::vector<DomainIndex> out(members.size());
  for (size_t d = 0; d < members.size(); ++d) {
    out[d].cells = members[d];
    const std::vector<float> rows = rows_of(pca, members[d]);
    out[d].index = std::make_unique<KnnIndex>(rows.data(), members[d].size(), pca.dims, o, threads,
                                              interrupted);
  }
  return out;
}

// The k nearest cells of domain `to` to each cell of `queries` (global ids, nq x k,
// -1 where the domain has fewer cells), leaving out each query cell itself.
std::vector<int> nearest(const PcaScores& pca, const std::vector<int>& queries,
                         const DomainIndex& to, int k) {
  const int64_t want = std::min<int64_t>(k + 1, to.index->size());
  std::vector<int> out(queries.size() * k, -1);
  if (queries.empty()) return out;
  std::vector<int64_t> idx;
  std::vector<float> dist;
  const std::vector<float> q = rows_of(pca, queries);
  to.index->search(q.data(), static_cast<int64_t>(queries.size()), static_cast<int>(want), idx,
                   dist);
  for (size_t i = 0; i < queries.size(); ++i) {
    int found = 0;
    for (int64_t j = 0; j < want && found < k; ++j) {
      const int64_t local = idx[i * want + j];
      if (local < 0) continue;
      const int cell = to.cells[local];
      if (cell != queries[i]) out[i * k + found++] = cell;
    }
  }
  return out;
}

void append(AugmentPipeline::Graph& g, const std::vector<std::vector<int>>& lists) {
  g.offsets.assign(1, 0);
  g.ids.clear();
  for (const auto& l : lists) {
    g.ids.insert(g.ids.end(), l.begin(), l.end());
    g.offsets.push_back(static_cast<int64_t>(g.ids.size()));
  }
}

}  // namespace

void AugmentPipeline::prepare(const CsrView& x, const std::vector<int>& domains, int threads,
                              const InterruptFn& interrupted) {
  if (!domains.empty() && domains.size() != static_cast<size_t>(x.n_rows)) {
    throw std::invalid_argument("domains must have one entry per cell");
  }
  n_rows_ = x.n_rows;
  n_cols_ = x.n_cols;
  domain_ = domains.empty() ? std::vector<int>(x.n_rows, 0) : domains;
  int n_domains = 0;
  for (int d : domain_) {
    if (d < 0) throw std::invalid_argument("domain ids must be non-negative");
    n_domains = std::max(n_domains, d + 1);
  }
  members_.assign(n_domains, {});
  position_.assign(x.n_rows, 0);
  for (int c = 0; c < x.n_rows; ++c) {
    position_[c] = static_cast<int>(members_[domain_[c]].size());
    members_[domain_[c]].push_back(c);
  }
  members_.erase(
      std::remove_if(members_.begin(), members_.end(), [](const auto& m) { return m.empty(); }),
      members_.end());
  // Ids may skip values; renumber the domains by the order of their lists.
  for (size_t d = 0; d < members_.size(); ++d) {
    for (int c : members_[d]) domain_[c] = static_cast<int>(d);
  }
  within_ = Graph{};
  mnn_ = Graph{};
  balanced_ = Graph{};
  prepared_ = true;
  if (!needs_neighbours()) return;
  prepared_ = false;
  if (members_.size() < 2) {
    throw std::invalid_argument("the mnn and bbknn augmentations need at least two batches");
  }
  const PcaScores pca = pca_scores(x, kPcaDims, kPcaSeed, threads, interrupted);
  const std::vector<DomainIndex> euclid =
      domain_indices(pca, members_, Metric::euclidean, threads, interrupted);
  const size_t nd = members_.size();
  for (const AugmentStep& s : steps_) {
    if (s.kind == "mnn") {
      std::vector<std::vector<int>> within(x.n_rows), partners(x.n_rows);
      for (size_t d = 0; d < nd; ++d) {
        const std::vector<int> nn = nearest(pca, members_[d], euclid[d], s.k);
        for (size_t i = 0; i < members_[d].size(); ++i) {
          for (int j = 0; j < s.k; ++j) {
            if (nn[i * s.k + j] >= 0) within[members_[d][i]].push_back(nn[i * s.k + j]);
          }
        }
      }
      const std::vector<DomainIndex> cosine =
          domain_indices(pca, members_, Metric::cosine, threads, interrupted);
      for (size_t a = 0; a < nd; ++a) {
        for (size_t b = a + 1; b < nd; ++b) {
          poll(interrupted);
          const std::vector<int> ab = nearest(pca, members_[a], cosine[b], kAnchors);
          const std::vector<int> ba = nearest(pca, members_[b], cosine[a], kAnchors);
          for (size_t i = 0; i < members_[a].size(); ++i) {
            for (int j = 0; j < kAnchors; ++j) {
              const int other = ab[i * kAnchors + j];
              if (other < 0) continue;
              const int* back = &ba[static_cast<size_t>(position_[other]) * kAnchors];
              if (std::find(back, back + kAnchors, members_[a][i]) != back + kAnchors) {
                partners[members_[a][i]].push_back(other);
                partners[other].push_back(members_[a][i]);
              }
            }
          }
        }
      }
      append(within_, within);
      append(mnn_, partners);
    } else if (s.kind == "bbknn") {
      std::vector<std::vector<int>> lists(x.n_rows);
      for (size_t d = 0; d < nd; ++d) {
        poll(interrupted);
        std::vector<int> all(x.n_rows);
        for (int c = 0; c < x.n_rows; ++c) all[c] = c;
        const std::vector<int> nn = nearest(pca, all, euclid[d], s.k);
        for (int c = 0; c < x.n_rows; ++c) {
          for (int j = 0; j < s.k; ++j) {
            if (nn[static_cast<size_t>(c) * s.k + j] >= 0)
              lists[c].push_back(nn[static_cast<size_t>(c) * s.k + j]);
          }
        }
      }
      append(balanced_, lists);
    }
  }
  prepared_ = true;
}

}  // namespace concord
