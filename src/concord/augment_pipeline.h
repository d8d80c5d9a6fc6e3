// The single-cell augmentations of the SSL benchmark (scAugmentBench: CLEAR's masking,
// Gaussian noise, InnerSwap and CrossOver; CLAIRE's MNN and the benchmark's BBKNN),
// composed in sequence, each applied to a cell with its own probability.
//
// Views are built on the sparse rows. Gaussian noise is the one augmentation that fills
// zeros (it adds noise to a share of all genes), so its views are nearly dense
// (bench/README.md measures the cost). Each step acts on one cell at a time, as in the
// reference, where a dataset item is augmented on its own.
//
// Where this departs from the reference code (OlgaOvcharenko/scAugmentBench):
// - mask zeroes `strength` of the genes, as the paper says; the reference's mask keeps
//   that share and zeroes the rest.
// - InnerSwap swaps its pairs one after another, so a view is a permutation of the
//   cell's values; the reference assigns all pairs at once (pairs sharing a gene then
//   duplicate values) and builds its second view from the first.
// - CrossOver takes its partner from the cell's domain (any cell when there is one
//   domain); the reference draws from all cells.
// - MNN pairs come from PCA (cosine), not Seurat's CCA anchors, without filtering; the
//   reference interpolates with the cell whose id is the neighbour's position in the
//   list (for the first MNN view and BBKNN), here the neighbour itself is used.
// - Each view draws its own "apply" for MNN; the reference draws once for both views.
#pragma once

#include <string>
#include <vector>

#include "augment.h"
#include "csr.h"
#include "interrupt.h"
#include "rng.h"

namespace concord {

// One augmentation. `kind` and the meaning of its numbers:
//   "mask"      strength = share of the cell's genes set to zero
//   "gaussian"  strength = sigma of the added N(0, sigma^2) noise, share = share of
//               genes receiving it
//   "innerswap" strength = share of genes whose values are swapped pairwise
//   "crossover" strength = share of genes whose values are taken from another random
//               cell of the same domain
//   "mnn"       strength = alpha, k = within-domain neighbours: the cell is
//               interpolated towards a neighbour, lambda ~ U(alpha, 1] kept of itself;
//               the second view (view_index 1) interpolates a mutual nearest neighbour
//               from another domain towards one of its own neighbours (CLAIRE)
//   "bbknn"     strength = alpha, k = neighbours per domain: each gene keeps the
//               cell's value with probability alpha, else takes that of a random
//               neighbour of its batch-balanced kNN graph
// A count "share x genes" is truncated to an integer and chosen exactly, as in the
// reference. `p` is the probability that a cell receives the augmentation in a view.
struct AugmentStep {
  std::string kind;
  double p = 0.5;
  double strength = 0;
  double share = 1;
  int k = 0;
};

class AugmentPipeline {
 public:
  AugmentPipeline() = default;  // no augmentation
  // Validates kinds and ranges (std::invalid_argument). "mnn" must come first, because
  // its second view replaces the cell by another one; "mnn" and "bbknn" at most once.
  explicit AugmentPipeline(std::vector<AugmentStep> steps);

  const std::vector<AugmentStep>& steps() const { return steps_; }
  bool needs_neighbours() const;  // MNN / BBKNN present

  // Stores the domains (CrossOver draws its partner from the cell's domain) and builds
  // the MNN / BBKNN neighbour graphs once, with Faiss on the first 50 principal
  // components of `x`; those two need at least two domains. `domains` holds one
  // non-negative id per row of `x`, or is empty for one domain. Must be called before
  // view() when the pipeline has "crossover", "mnn" or "bbknn", with the same `x`.
  // `interrupted` is polled between the parts of the graph building.
  void prepare(const CsrView& x, const std::vector<int>& domains, int threads,
               const InterruptFn& interrupted = {});

  // One augmented view of rows cells[0..n) of x into out (CSR, float), each step applied
  // in order with its probability per cell. `view_index` (0 or 1) tells the two views
  // of a pair apart; only MNN uses it (0: within-domain view, 1: across-domain view).
  // Deterministic given the state of `rng`.
  void view(const CsrView& x, const int* cells, int n, Rng& rng, SparseBatch& out,
            int view_index = 0) const;

  // A list of cells per cell (global row ids), in compressed form.
  struct Graph {
    std::vector<int64_t> offsets{0};
    std::vector<int> ids;
    int size(int cell) const { return static_cast<int>(offsets[cell + 1] - offsets[cell]); }
    int at(int cell, int j) const { return ids[offsets[cell] + j]; }
  };
  // The graphs prepare() built (empty when not needed), for tests and diagnostics:
  // kNN inside the cell's domain (MNN), mutual nearest neighbours in other domains
  // (MNN), k nearest neighbours in every domain (BBKNN).
  const Graph& within_graph() const { return within_; }
  const Graph& mnn_graph() const { return mnn_; }
  const Graph& balanced_graph() const { return balanced_; }

 private:
  bool needs_prepare() const;

  std::vector<AugmentStep> steps_;
  bool prepared_ = false;
  int n_rows_ = 0;
  int n_cols_ = 0;
  std::vector<int> domain_;                // per cell
  std::vector<int> position_;              // of each cell in its domain's list
  std::vector<std::vector<int>> members_;  // cells of each domain
  Graph within_;
  Graph mnn_;
  Graph balanced_;
};

}  // namespace concord
