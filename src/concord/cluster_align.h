// Alignment of domains within clusters of the model's own embedding (RunConcord's
// `align.weight`; not in the reference CONCORD). Domain-pure mini-batches remove what a
// domain shares across all its cells, but not a domain effect that differs by cell type
// (kang_ctrl_5donors: the donors' offsets within each cell type stay as large as in PCA,
// bench/README.md). Here, once per epoch, the L2-normalised embeddings of a sample of the
// cells are clustered (k-means) and each domain's share of a cluster gets a shift: from
// its own mean to the mean of the domains' means in that cluster. The loss pulls each
// cell of a mini-batch by its domain's shifts, as Harmony's per-cluster correction would
// move it, so that the encoder learns the correction rather than applying it afterwards.
// As in Harmony, cells belong to clusters softly (a softmax over their squared distances
// to the unit-length centres, at Harmony's sigma of 0.1): with hard clusters a population
// that k-means cuts in two is pulled apart at the cut (bench/README.md, eighth round). A
// sample keeps the cost of a refresh independent of the number of cells.
// The shifts follow the training within an epoch: each mini-batch moves its domain's
// means in each cluster toward its own cells' (tracked means, from the cells' embeddings
// as the refresh computes them, not from the masked views the loss trains: masking
// hides part of a batch effect, and domains that met in the views stayed apart in the
// embedding), so a pull stops once the domains meet. A shift held for the whole epoch
// was a constant push that carried the domains past each other (the simulated tree's
// two batches ended the first aligned epoch fully apart; an epoch of a large dataset is
// hundreds of steps). And each shift is shrunk by its noise (positive-part James-Stein,
// from the variances of the means): pulling domains apart by the sampling noise of a
// few dozen cells separated domains that coincided (bench/README.md, ninth round). With
// several ranks, each tracks the means of its own mini-batches.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace concord {

class ClusterAlignment {
 public:
  // `embedding`: n x d, rows L2-normalised, on the CPU; `domains`: each row's domain, all
  // below `n_domains`. Centres are k-means (Lloyd, 20 rounds) from `clusters` distinct
  // rows drawn with `seed`. A domain whose share of a cluster weighs less than
  // `min_cells` cells, and every cluster that fewer than two domains hold, get no shift.
  void refresh(const torch::Tensor& embedding, const std::vector<int>& domains, int n_domains, int clusters,
               uint64_t seed, int min_cells = 5);
  // The mean squared distance of the L2-normalised embeddings `z` (B x d, tracked) of
  // cells from `domains` from themselves moved by their shifts, held constant. The
  // cells' memberships come from `evaluated`, their embeddings as the refresh's were
  // computed (B x d, unit rows: unmasked, evaluation mode), which then update those
  // domains' tracked means.
  torch::Tensor loss(const torch::Tensor& z, const torch::Tensor& evaluated, const std::vector<int>& domains);

 private:
  // domains x clusters x d: each domain's move to the domains' mean in each cluster.
  torch::Tensor shifts() const;

  torch::Tensor centres_;    // clusters x d, unit length
  torch::Tensor means_;      // domains x clusters x d
  torch::Tensor variances_;  // domains x clusters x 1: of each mean (trace)
  torch::Tensor held_;       // domains x clusters x 1: 1 where the domain holds the cluster
  torch::Tensor shared_;     // 1 x clusters x 1: 1 where two domains or more hold it
};

}  // namespace concord
