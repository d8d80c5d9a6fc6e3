// The dataset- and neighbourhood-aware mini-batch sampler of CONCORD.
//
// Each batch is anchored to one domain (dataset / batch label). A share p_intra_knn of
// it comes from the kNN neighbourhood of a core cell of that domain (split between the
// domain and the other domains by p_intra_domain); the rest is drawn without
// replacement from the domain and, by 1 - p_intra_domain, from the other domains. So
// with the defaults every batch is domain-pure and the loss cannot learn batch effects.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "options.h"
#include "rng.h"

namespace concord {

// Fills `neighbours` (cores.size() x k, row-major) with the kNN of each core cell;
// entries of -1 mean "no neighbour".
using NeighbourFn =
    std::function<void(const std::vector<int>& cores, int k, std::vector<int64_t>& neighbours)>;

class Sampler {
 public:
  // `domains` holds one label in [0, n_domains) per cell.
  Sampler(std::vector<int> domains, SamplerOptions options);

  int n_cells() const { return static_cast<int>(domain_of_.size()); }
  int n_domains() const { return static_cast<int>(cells_of_.size()); }

  // Batches per epoch for each domain before duplicates and small batches are dropped.
  std::vector<int> batches_per_domain() const;

  // The batches of one epoch, in shuffled order. Without `neighbours` (or with
  // p_intra_knn = 0) the kNN share is drawn like the rest of the batch.
  std::vector<std::vector<int>> epoch(Rng& rng, const NeighbourFn& neighbours = nullptr, int k = 0);

 private:
  void draw_from_domain(int d, int count, Rng& rng, std::vector<int>& batch);
  void draw_outside_domain(int d, int count, Rng& rng, std::vector<int>& batch);

  std::vector<int> domain_of_;
  std::vector<std::vector<int>> cells_of_;
  std::vector<size_t> cursor_;  // next unused position in each domain's permutation
  SamplerOptions options_;
  std::vector<uint32_t> seen_;  // per-cell stamp, to remove duplicates in O(batch)
  uint32_t stamp_ = 0;
};

// Uniform batches for one epoch: a fresh permutation of the n cells cut into
// floor(n / batch_size) batches (at least one), the remainder dropped, as a shuffling
// DataLoader with drop_last; further permutations are drawn until there are at least
// `min_batches`.
std::vector<std::vector<int>> uniform_epoch(int n, int batch_size, int min_batches, Rng& rng);

// Batches of `batch_size` cells holding about batch_size / n_domains cells of every
// domain (scCRAFT), so that a batch discriminator sees every batch in every step. Each
// domain's cells are drawn in a fresh random order, starting over (with a new order)
// when a small domain runs out. An epoch has n_domains batches, as many cells as
// scCRAFT's epoch draws (batch_size from each domain), or `min_batches` if more.
// `cells_of` lists each domain's cells.
std::vector<std::vector<int>> balanced_epoch(const std::vector<std::vector<int>>& cells_of, int batch_size,
                                             int min_batches, Rng& rng);

}  // namespace concord
