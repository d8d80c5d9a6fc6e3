// R glue for the simulation engine: index arrays in, dgCMatrix slots out.
#include <Rcpp.h>

#include <climits>
#include <string>

#include "glue_engine.h"

#include "concord/simulate.h"

namespace {

concord::NoiseModel noise_model(const std::string& name) {
  if (name == "normal") return concord::NoiseModel::normal;
  if (name == "poisson") return concord::NoiseModel::poisson;
  if (name == "nb") return concord::NoiseModel::negative_binomial;
  if (name == "lognormal") return concord::NoiseModel::lognormal;
  throw std::invalid_argument("unknown noise model \"" + name + "\"");
}

std::vector<double> optional_vector(const Rcpp::List& list, const char* name) {
  if (!list.containsElementNamed(name) || Rf_isNull(list[name])) return {};
  return Rcpp::as<std::vector<double>>(list[name]);
}

// The slots of a dgCMatrix (p, i, x), moved out of the engine's blocks.
Rcpp::List slots(concord::SparseBlocks& m) {
  const int64_t nnz = m.nnz();
  if (nnz > INT_MAX) {
    throw std::length_error("the simulated matrix would have " + std::to_string(nnz) +
                            " non-zero values, more than a dgCMatrix holds (2^31 - 1); " +
                            "simulate fewer cells or genes, or use a count noise model");
  }
  Rcpp::IntegerVector p(m.n_cells() + 1);
  Rcpp::IntegerVector i(static_cast<R_xlen_t>(nnz));
  Rcpp::NumericVector x(static_cast<R_xlen_t>(nnz));
  m.move_to(p.begin(), i.begin(), x.begin());
  return Rcpp::List::create(Rcpp::Named("p") = p, Rcpp::Named("i") = i, Rcpp::Named("x") = x);
}

}  // namespace

// Truth, noisy and batch-affected matrices of a simulation. Programs and activities are
// 0-based compressed index arrays; `batch` is an empty list or holds `cell` (0-based batch
// of each cell), `n` and the effect vectors of concord::BatchEffects (NULL = off).
// [[Rcpp::export(.concord_simulate_cells)]]
Rcpp::List concord_simulate_cells(Rcpp::IntegerVector activity_p,
                                  Rcpp::IntegerVector activity_program,
                                  Rcpp::NumericVector activity_weight,
                                  Rcpp::IntegerVector program_p, Rcpp::IntegerVector program_gene,
                                  Rcpp::NumericVector program_level, int n_genes,
                                  std::string noise, double dispersion, double dropout,
                                  bool non_negative, bool round_values, Rcpp::List batch,
                                  double seed, int threads) {
  return glue::engine_call([&] {
    concord::SimulationInput in;
    in.n_cells = static_cast<int>(activity_p.size()) - 1;
    in.n_genes = n_genes;
    in.n_programs = static_cast<int>(program_p.size()) - 1;
    if (in.n_cells < 0 || in.n_programs < 0 ||
        activity_program.size() != activity_weight.size() ||
        activity_p[in.n_cells] != activity_program.size() ||
        program_gene.size() != program_level.size() ||
        program_p[in.n_programs] != program_gene.size()) {
      throw std::invalid_argument("inconsistent program or activity arrays");
    }
    in.activity_p = activity_p.begin();
    in.activity_program = activity_program.begin();
    in.activity_weight = activity_weight.begin();
    in.program_p = program_p.begin();
    in.program_gene = program_gene.begin();
    in.program_level = program_level.begin();

    concord::NoiseOptions o;
    o.model = noise_model(noise);
    o.dispersion = dispersion;
    o.dropout = dropout;
    o.non_negative = non_negative;
    o.round_values = round_values;

    concord::BatchEffects b;
    Rcpp::IntegerVector cell_batch;
    if (batch.size() > 0) {
      cell_batch = batch["cell"];
      if (cell_batch.size() != in.n_cells) throw std::invalid_argument("batch$cell has the wrong length");
      b.cell_batch = cell_batch.begin();
      b.n_batches = Rcpp::as<int>(batch["n"]);
      b.variance = optional_vector(batch, "variance");
      b.shift = optional_vector(batch, "shift");
      b.specific = optional_vector(batch, "specific");
      b.scale = optional_vector(batch, "scale");
      b.depth = optional_vector(batch, "depth");
      b.dropout = optional_vector(batch, "dropout");
    }

    concord::Simulated sim =
        concord::simulate_cells(in, o, b, static_cast<uint64_t>(seed), threads, glue::interrupt_pending);
    Rcpp::List out = Rcpp::List::create(Rcpp::Named("truth") = slots(sim.truth),
                                        Rcpp::Named("noisy") = slots(sim.noisy));
    out["counts"] = sim.counts_are_noisy ? R_NilValue : Rcpp::wrap(slots(sim.counts));
    return out;
  });
}
