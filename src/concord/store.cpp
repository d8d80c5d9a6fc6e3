#include "store.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "normalize.h"

namespace concord {

namespace {

double cell_total(const CellBlock& b, int c) {
  double total = 0.0;
  for (int k = b.p[c] - b.p[0]; k < b.p[c + 1] - b.p[0]; ++k) total += b.values[k];
  return total;
}

void check_block(const CellBlock& b, int n_genes) {
  if (b.n_genes != n_genes) {
    throw std::invalid_argument("a block of cells has " + std::to_string(b.n_genes) + " genes, not " +
                                std::to_string(n_genes));
  }
  for (int c = 0; c < b.n_cells; ++c) {
    if (b.p[c + 1] < b.p[c]) throw std::invalid_argument("a block's cell offsets decrease");
  }
  for (int64_t k = 0; k < b.p[b.n_cells] - b.p[0]; ++k) {
    if (b.genes[k] < 0 || b.genes[k] >= n_genes) throw std::invalid_argument("a block's gene index is out of range");
  }
}

}  // namespace

GeneMoments::GeneMoments(int n_genes, int n_domains)
    : sum(n_genes, 0.0),
      sum_sq(n_genes, 0.0),
      log_sum(n_genes, 0.0),
      log_sum_sq(n_genes, 0.0),
      expressed(n_genes, 0),
      n_domains(n_domains) {
  if (n_genes < 0 || n_domains < 0) throw std::invalid_argument("gene moments need non-negative sizes");
  const size_t cells = static_cast<size_t>(n_domains) * static_cast<size_t>(n_genes);
  domain_cells.assign(n_domains, 0);
  domain_sum.assign(cells, 0.0);
  domain_sum_sq.assign(cells, 0.0);
  domain_log_sum.assign(cells, 0.0);
  domain_log_sum_sq.assign(cells, 0.0);
}

void GeneMoments::add(const CellBlock& b, double scale, const int* domain) {
  const int n_genes = static_cast<int>(sum.size());
  check_block(b, n_genes);
  if (n_domains > 0) {
    if (domain == nullptr) throw std::invalid_argument("gene moments per domain need each cell's domain");
    for (int c = 0; c < b.n_cells; ++c) {
      if (domain[c] < 0 || domain[c] >= n_domains) {
        throw std::invalid_argument("a cell's domain " + std::to_string(domain[c]) + " is outside [0, " +
                                    std::to_string(n_domains) + ")");
      }
    }
  }
  constexpr double float_max = std::numeric_limits<float>::max();
  for (int c = 0; c < b.n_cells; ++c) {
    const double f = normalize_factor(cell_total(b, c), scale);
    // The domain's slice of the per-domain sums (offset 0 and unused without domains).
    const size_t at = n_domains > 0 ? static_cast<size_t>(domain[c]) * static_cast<size_t>(n_genes) : 0;
    for (int k = b.p[c] - b.p[0]; k < b.p[c + 1] - b.p[0]; ++k) {
      const double v = b.values[k];
      if (!std::isfinite(v)) {
        ++non_finite;
        continue;
      }
      if (v < 0) ++negative;
      if (v > float_max) ++too_large;
      if (v != std::round(v)) ++fractional;
      largest = std::max(largest, v);
      const int g = b.genes[k];
      sum[g] += v;
      sum_sq[g] += v * v;
      const double l = std::log1p(v * f);
      log_sum[g] += l;
      log_sum_sq[g] += l * l;
      if (v != 0) ++expressed[g];
      if (n_domains > 0) {
        domain_sum[at + g] += v;
        domain_sum_sq[at + g] += v * v;
        domain_log_sum[at + g] += l;
        domain_log_sum_sq[at + g] += l * l;
      }
    }
    if (n_domains > 0) ++domain_cells[domain[c]];
  }
  n_cells += b.n_cells;
}

CsrStore::CsrStore(std::vector<int> feature_of_gene, int n_features, double scale)
    : feature_of_gene_(std::move(feature_of_gene)), n_features_(n_features), scale_(scale) {
  for (int f : feature_of_gene_) {
    if (f < -1 || f >= n_features_) throw std::invalid_argument("a gene's feature column is out of range");
  }
}

void CsrStore::append(const CellBlock& b) {
  check_block(b, static_cast<int>(feature_of_gene_.size()));
  for (int c = 0; c < b.n_cells; ++c) {
    const double f = scale_ > 0 ? normalize_factor(cell_total(b, c), scale_) : 0.0;
    row_.clear();
    for (int k = b.p[c] - b.p[0]; k < b.p[c + 1] - b.p[0]; ++k) {
      const int column = feature_of_gene_[b.genes[k]];
      if (column < 0) continue;
      const double v = scale_ > 0 ? std::log1p(b.values[k] * f) : b.values[k];
      row_.emplace_back(column, static_cast<float>(v));
    }
    std::sort(row_.begin(), row_.end(), [](const auto& a, const auto& z) { return a.first < z.first; });
    if (static_cast<int64_t>(values_.size()) + static_cast<int64_t>(row_.size()) > std::numeric_limits<int>::max()) {
      throw std::length_error("the input holds more than 2^31 - 1 values of the chosen features");
    }
    for (const auto& [column, v] : row_) {
      indices_.push_back(column);
      values_.push_back(v);
    }
    indptr_.push_back(static_cast<int>(values_.size()));
  }
}

CsrView CsrStore::view() const {
  return CsrView{n_cells(), n_features_, indptr_.data(), indices_.data(), values_.data()};
}

int64_t CsrStore::bytes() const {
  return static_cast<int64_t>(indptr_.capacity() * sizeof(int) + indices_.capacity() * sizeof(int) +
                              values_.capacity() * sizeof(float));
}

}  // namespace concord
