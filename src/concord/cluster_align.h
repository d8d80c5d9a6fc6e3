// Alignment of domains within clusters of the model's own embedding (RunConcord's
// `align.weight`; not in the reference CONCORD). Domain-pure mini-batches remove what a
// domain shares across all its cells, but not a domain effect that differs by cell type
// (kang_ctrl_5donors: the donors' offsets within each cell type stay as large as in PCA,
// bench/README.md). Here, once per epoch, the L2-normalised embeddings of a sample of the
// cells are clustered (k-means) and each domain's share of a cluster gets a shift: from
// its own mean to the mean of the domains' means in that cluster. The loss pulls each
// cell of a mini-batch by its domain's shift in its cluster (the sample's cells keep the
// cluster of their evaluation-mode embedding, the others go to the nearest one), as
// Harmony's per-cluster correction would move it, so that the encoder learns the
// correction rather than applying it afterwards. A sample keeps the cost of a refresh
// independent of the number of cells (bench/README.md, atlas scale).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace concord {

class ClusterAlignment {
 public:
  // `embedding`: n x d, rows L2-normalised, on the CPU; `domains`: each row's domain, all
  // below `n_domains`. Clusters are k-means (Lloyd, 20 rounds) from `clusters` distinct
  // rows drawn with `seed`. A domain with fewer than `min_cells` rows in a cluster, and
  // every cluster that fewer than two domains hold, get no shift. Returns each row's cluster.
  std::vector<int> refresh(const torch::Tensor& embedding, const std::vector<int>& domains, int n_domains,
                           int clusters, uint64_t seed, int min_cells = 5);
  // The mean squared distance of the L2-normalised embeddings `z` (B x d, tracked) of
  // cells from `domains` in `clusters` (-1: the nearest to the row of `z`) from
  // themselves moved by their shifts, held constant.
  torch::Tensor loss(const torch::Tensor& z, const std::vector<int>& domains, const std::vector<int>& clusters);

 private:
  torch::Tensor centres_;  // clusters x d
  torch::Tensor shift_;    // (domains * clusters) x d
};

}  // namespace concord
