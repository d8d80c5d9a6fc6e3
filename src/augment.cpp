// R glue for the augmentations: one augmented view of chosen cells, to inspect what an
// augment setting does to the data.
#include <Rcpp.h>

#include <chrono>

#include "augment_glue.h"
#include "glue_engine.h"
#include "glue_matrix.h"

// View `view` (0 or 1) of the 1-based `cells` of the genes x cells dgCMatrix `x`, as a
// genes x cells dgCMatrix; `domains` holds 0-based batch ids per cell (or is empty).
// Attribute "seconds": the time taken by prepare() (neighbour graphs) and by the view.
// [[Rcpp::export(.concord_augment_view)]]
Rcpp::S4 concord_augment_view(Rcpp::S4 x, Rcpp::IntegerVector domains, Rcpp::List steps,
                              Rcpp::IntegerVector cells, double seed, int view, int threads) {
  return glue::engine_call([&] {
    const InputView input(x);
    const concord::CsrView& csr = input.view();
    concord::validate(csr);
    std::vector<int> chosen(cells.begin(), cells.end());
    for (int& c : chosen) {
      if (c < 1 || c > csr.n_rows) throw std::invalid_argument("cells must be column numbers of x");
      --c;
    }
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    concord::AugmentPipeline pipeline = augment_pipeline_from(steps);
    pipeline.prepare(csr, std::vector<int>(domains.begin(), domains.end()), threads,
                     glue::interrupt_pending);
    const auto prepared = clock::now();
    concord::Rng rng(static_cast<uint64_t>(seed));
    concord::SparseBatch out;
    pipeline.view(csr, chosen.data(), static_cast<int>(chosen.size()), rng, out, view);
    const auto viewed = clock::now();

    Rcpp::S4 m("dgCMatrix");
    m.slot("Dim") = Rcpp::IntegerVector::create(out.n_cols, out.n_rows);
    m.slot("p") = Rcpp::IntegerVector(out.indptr.begin(), out.indptr.end());
    m.slot("i") = Rcpp::IntegerVector(out.indices.begin(), out.indices.end());
    m.slot("x") = Rcpp::NumericVector(out.values.begin(), out.values.end());
    m.attr("seconds") = Rcpp::NumericVector::create(
        Rcpp::Named("prepare") = std::chrono::duration<double>(prepared - start).count(),
        Rcpp::Named("view") = std::chrono::duration<double>(viewed - prepared).count());
    return m;
  });
}
