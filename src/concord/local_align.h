// Alignment of domains within each cell's neighbourhood in the model's own embedding
// (RunConcord's `align.local.weight`; not in the reference CONCORD), the finer partner of
// the cluster alignment (cluster_align.h). Twenty clusters of a few hundred cells leave
// a domain offset that lives within smaller populations: on the simulated tree the two
// batches still sat apart within each ~57-cell branch segment (bench/README.md, tenth
// round). Here each cell's shift goes from its own domain's local mean (its nearest cells
// of its domain) to the mean of every domain's local mean around it, like the corrections
// Seurat and fastMNN derive from neighbours across batches, and the loss pulls the cell
// by that shift, held constant.
// - Each domain's neighbourhood is the same share of its cells, not the same count: kNN
//   balls of equal mass cover the same region in domains of different sizes when their
//   cells are alike, so the local means agree unless the domains differ there. A fixed 50
//   neighbours pulled kang_ifnb_muscat's rarest cell types (15-20 cells in a sample)
//   toward their neighbours (bench/README.md, eleventh round).
// - A domain whose local mean lies far from the cell counts less (Gaussian in squared
//   distance at Harmony's sigma of 0.1): a population that one domain lacks is not pulled
//   toward another one's nearest cells.
// - Each shift is shrunk by its noise (positive-part James-Stein, from the spread of the
//   neighbours), as the cluster alignment's: local means of a few dozen cells differ by
//   sampling noise alone.
// - The cells' embeddings are the sample's from the start of the epoch, each replaced by
//   the cell's newer one whenever a mini-batch holds it, so that a pull stops once the
//   domains meet instead of acting for a whole epoch.
// - Each step compares its cells with every row, so the rows are at most kMaxRows of the
//   sample, drawn at random each epoch: with all of the cluster alignment's 20,000 at
//   100,000 cells an aligned step took 2.9x as long as without the term, with 4,000 1.4x
//   (bench/README.md, thirteenth round). Being a share, a neighbourhood covers the same
//   region in fewer rows.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace concord {

// Per row of `dist` (rows x n), the columns of its k smallest values, in no order, on
// `dist`'s device. On the CPU ties are broken by column and a NaN counts as infinite;
// LibTorch's top-k, which sorts (value, index) pairs there, took 3.8x as long for 256 x
// 1,737 (bench/README.md, twelfth round). On a GPU it is that device's top-k.
torch::Tensor nearest_columns(const torch::Tensor& dist, int64_t k);

class LocalAlignment {
 public:
  static constexpr int64_t kMaxRows = 4000;

  // `embedding`: the sample's rows (n x d, L2-normalised, on the CPU); `domains`: each
  // row's domain, all below `n_domains`; `cells`: each row's cell among this process's
  // `n_cells`, or -1 for a row of another rank. Of more than `max_rows` rows, `max_rows`
  // drawn with `seed` are kept. Each domain's neighbourhoods hold `share` of its kept
  // rows (at least 5).
  void refresh(const torch::Tensor& embedding, const std::vector<int>& domains, int n_domains,
               const std::vector<int64_t>& cells, int64_t n_cells, double share, int64_t max_rows = kMaxRows,
               uint64_t seed = 0);
  // The rows searched since the last refresh, over all domains.
  int64_t n_rows() const;
  // The mean squared distance of the L2-normalised embeddings `z` (B x d, tracked) of
  // `cells` from `domains` from themselves moved by their shifts, held constant. The
  // neighbourhoods are found around `evaluated`, the cells' embeddings as the refresh's
  // were computed (B x d, unit rows), which then replace those cells' rows.
  torch::Tensor loss(const torch::Tensor& z, const torch::Tensor& evaluated, const std::vector<int>& cells,
                     const std::vector<int>& domains);

 private:
  std::vector<torch::Tensor> rows_;  // per domain: its sample rows (n_D x d)
  std::vector<int64_t> k_;           // per domain: neighbours per neighbourhood
  std::vector<int64_t> slot_;        // per cell: its row within its domain's, or -1
};

}  // namespace concord
