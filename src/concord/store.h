// The engine's own copy of what training reads: the chosen features of every cell,
// log-normalized where the input holds counts, as float32 CSR (8 bytes a stored value;
// R's dgCMatrix takes 12, and preparing it in R took copies of the whole input). Built a
// block of cells at a time, from an R matrix or from blocks read out of a file, so that
// the input never has to be held in memory in another form.
#pragma once

#include <cstdint>
#include <vector>

#include "csr.h"

namespace concord {

// A block of cells in the layout of a dgCMatrix and of an .h5ad CSR slice: genes x cells,
// compressed by cell. Cell c's values are values[p[c] - p[0] .. p[c + 1] - p[0]), so that
// p may be a slice of a larger matrix's offsets.
struct CellBlock {
  int n_cells = 0;
  int n_genes = 0;
  const int* p = nullptr;  // n_cells + 1 offsets
  const int* genes = nullptr;
  const double* values = nullptr;
};

// What one pass over the input learns before anything is kept: per-gene sums of the
// values as given and of their log-normalized form (for the choice of variable genes
// either way), and the values training cannot use or that decide the normalization.
// With domains (batches), the same sums are kept per domain too, so that variable genes
// can be ranked within each batch (as the reference's feature selection does) from the
// same pass: n_domains x n_genes x 4 doubles more.
struct GeneMoments {
  explicit GeneMoments(int n_genes, int n_domains = 0);
  // Adds the block's cells. `scale` is the log-normalization's target total
  // (log1p(value / cell total * scale)). `domain`: each of the block's cells' domain in
  // [0, n_domains), required when there are domains and ignored otherwise.
  void add(const CellBlock& b, double scale, const int* domain = nullptr);

  int64_t n_cells = 0;
  std::vector<double> sum, sum_sq;          // values as given
  std::vector<double> log_sum, log_sum_sq;  // log-normalized
  std::vector<int64_t> expressed;           // cells with a non-zero value, per gene
  int64_t non_finite = 0;   // NA, NaN, Inf
  int64_t negative = 0;
  int64_t too_large = 0;    // above float32's largest
  int64_t fractional = 0;   // not whole numbers: not counts
  double largest = 0;

  // Per domain, domain-major (domain d's gene g at d * n_genes + g); empty without domains.
  int n_domains = 0;
  std::vector<int64_t> domain_cells;
  std::vector<double> domain_sum, domain_sum_sq, domain_log_sum, domain_log_sum_sq;
};

class CsrStore {
 public:
  // `feature_of_gene`: each source gene's column in the store, -1 to leave it out.
  // `scale` > 0: values are counts, stored log-normalized by each cell's total over all
  // source genes; 0: stored as given.
  CsrStore(std::vector<int> feature_of_gene, int n_features, double scale);

  // Appends the block's cells, each cell's kept values ordered by column. Throws
  // std::invalid_argument for a block of the wrong shape and std::length_error past
  // 2^31 - 1 stored values.
  void append(const CellBlock& b);

  CsrView view() const;
  int n_cells() const { return static_cast<int>(indptr_.size()) - 1; }
  int n_features() const { return n_features_; }
  int64_t bytes() const;

 private:
  std::vector<int> feature_of_gene_;
  int n_features_;
  double scale_;
  std::vector<int> indptr_{0};
  std::vector<int> indices_;
  std::vector<float> values_;
  std::vector<std::pair<int, float>> row_;  // one cell's kept values, to order them
};

}  // namespace concord
