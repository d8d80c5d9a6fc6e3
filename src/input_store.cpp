// R glue for the engine-side training input (concord/store.h): a scan of the input
// (gene sums, value checks) and the store built after it, each fed a block of cells at
// a time as the offsets, gene indices and values of a genes x cells compressed matrix.
#include <Rcpp.h>

#include <algorithm>
#include <string>

#include "glue_engine.h"
#include "glue_matrix.h"

namespace {

// The block's offsets are rebased by the engine (p[0] may be non-zero: a slice).
concord::CellBlock block_of(const Rcpp::IntegerVector& p, const Rcpp::IntegerVector& i, const Rcpp::NumericVector& x,
                            int n_genes) {
  if (p.size() < 1 || p[p.size() - 1] - p[0] != i.size() || i.size() != x.size()) {
    throw std::invalid_argument("the block's offsets, indices and values do not match");
  }
  return concord::CellBlock{static_cast<int>(p.size()) - 1, n_genes, p.begin(), i.begin(), x.begin()};
}

}  // namespace

// `n_domains` > 0 keeps the sums per domain (batch) too; each block then comes with its
// cells' 0-based domains.
// [[Rcpp::export(.concord_scan_new)]]
SEXP concord_scan_new(int n_genes, int n_domains) {
  return glue::engine_call([&] {
    return Rcpp::XPtr<concord::GeneMoments>(new concord::GeneMoments(n_genes, n_domains), true);
  });
}

// [[Rcpp::export(.concord_scan_add)]]
void concord_scan_add(SEXP scan, Rcpp::IntegerVector p, Rcpp::IntegerVector i, Rcpp::NumericVector x,
                      double scale, Rcpp::IntegerVector domain) {
  glue::engine_call([&] {
    Rcpp::XPtr<concord::GeneMoments> m(scan);
    const concord::CellBlock b = block_of(p, i, x, static_cast<int>(m->sum.size()));
    if (m->n_domains > 0 && domain.size() != b.n_cells) {
      throw std::invalid_argument("a block of " + std::to_string(b.n_cells) + " cells came with " +
                                  std::to_string(domain.size()) + " domains");
    }
    m->add(b, scale, m->n_domains > 0 ? domain.begin() : nullptr);
    return 0;
  });
}

namespace {

// A domain-major engine vector as an R genes x domains matrix (column d: domain d).
Rcpp::NumericMatrix by_domain(const std::vector<double>& v, int n_genes, int n_domains) {
  Rcpp::NumericMatrix out(n_genes, n_domains);
  std::copy(v.begin(), v.end(), out.begin());
  return out;
}

}  // namespace

// [[Rcpp::export(.concord_scan_result)]]
Rcpp::List concord_scan_result(SEXP scan) {
  return glue::engine_call([&] {
    Rcpp::XPtr<concord::GeneMoments> m(scan);
    const int n_genes = static_cast<int>(m->sum.size()), n_domains = m->n_domains;
    Rcpp::List out = Rcpp::List::create(
        Rcpp::Named("n_cells") = static_cast<double>(m->n_cells), Rcpp::Named("sum") = m->sum,
        Rcpp::Named("sum_sq") = m->sum_sq, Rcpp::Named("log_sum") = m->log_sum,
        Rcpp::Named("log_sum_sq") = m->log_sum_sq,
        Rcpp::Named("expressed") = std::vector<double>(m->expressed.begin(), m->expressed.end()),
        Rcpp::Named("non_finite") = static_cast<double>(m->non_finite),
        Rcpp::Named("negative") = static_cast<double>(m->negative),
        Rcpp::Named("too_large") = static_cast<double>(m->too_large),
        Rcpp::Named("fractional") = static_cast<double>(m->fractional), Rcpp::Named("largest") = m->largest);
    if (n_domains > 0) {
      out["domain_cells"] = std::vector<double>(m->domain_cells.begin(), m->domain_cells.end());
      out["domain_sum"] = by_domain(m->domain_sum, n_genes, n_domains);
      out["domain_sum_sq"] = by_domain(m->domain_sum_sq, n_genes, n_domains);
      out["domain_log_sum"] = by_domain(m->domain_log_sum, n_genes, n_domains);
      out["domain_log_sum_sq"] = by_domain(m->domain_log_sum_sq, n_genes, n_domains);
    }
    return out;
  });
}

// `feature_of_gene`: each gene's 0-based feature column, -1 to leave it out; `scale` > 0
// log-normalizes counts to that total, 0 keeps the values as given.
// [[Rcpp::export(.concord_store_new)]]
SEXP concord_store_new(Rcpp::IntegerVector feature_of_gene, int n_features, double scale) {
  return glue::engine_call([&] {
    std::vector<int> map(feature_of_gene.begin(), feature_of_gene.end());
    return Rcpp::XPtr<concord::CsrStore>(new concord::CsrStore(std::move(map), n_features, scale), true);
  });
}

// [[Rcpp::export(.concord_store_append)]]
double concord_store_append(SEXP store, Rcpp::IntegerVector p, Rcpp::IntegerVector i, Rcpp::NumericVector x,
                            int n_genes) {
  return glue::engine_call([&] {
    Rcpp::XPtr<concord::CsrStore> s(store);
    s->append(block_of(p, i, x, n_genes));
    return static_cast<double>(s->bytes());
  });
}

// Frees the store's memory at once (its R object would wait for a garbage collection);
// using it afterwards is an error (InputView).
// [[Rcpp::export(.concord_store_free)]]
void concord_store_free(SEXP store) {
  Rcpp::XPtr<concord::CsrStore> s(store);
  s.release();
}
