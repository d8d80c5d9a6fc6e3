// Simulated single-cell data with a known truth: the heavy per-entry loops.
//
// The caller (the R front end) decides the structure: which genes form which gene
// program, and how active each program is in each cell. This module turns that into
// three genes x cells sparse matrices, one cell at a time:
//   truth   the noise-free means, sum over programs of activity * gene level;
//   noisy   values drawn around the means (normal, Poisson, negative binomial,
//           log-normal), with uniform dropout, clipping and rounding;
//   counts  the noisy values after per-batch effects.
// Cells are processed in fixed blocks, each with its own random streams seeded from
// (seed, stream, block), so the result is the same for any number of threads, and the
// noise does not change when batch effects are switched on or off.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "interrupt.h"
#include "rng.h"


namespace concord {

enum class NoiseModel { normal, poisson, negative_binomial, lognormal };

struct NoiseOptions {
  NoiseModel model = NoiseModel::negative_binomial;
  // normal: standard deviation; negative binomial: phi in var = mu + phi mu^2;
  // log-normal: sd of the log (the mean stays mu); Poisson: unused.
  double dispersion = 0.1;
  double dropout = 0.0;  // probability that a value is set to zero
  bool non_negative = true;
  bool round_values = false;  // count models give integers anyway

  bool integer_valued() const { return round_values || model == NoiseModel::poisson ||
                                       model == NoiseModel::negative_binomial; }
};

// Per-batch effects, applied to the noisy values of each cell of batch b, in this
// order: variance inflation, shift, batch-specific genes, scaling, (clip, round),
// downsampling, value-dependent dropout. Empty vectors mean "this effect is off".
struct BatchEffects {
  const int* cell_batch = nullptr;  // batch of each cell, in [0, n_batches)
  int n_batches = 0;
  std::vector<double> variance;  // [b]: deviation from the truth multiplied by this
  std::vector<double> shift;     // [b * n_genes + g]: added to the value
  std::vector<double> specific;  // [b * n_genes + g]: mean of an extra program, drawn
                                 // with the noise model (0 = not batch-specific)
  std::vector<double> scale;     // [b * n_genes + g]: value multiplied by this
  std::vector<double> depth;     // [b]: share of counts kept by binomial thinning
  std::vector<double> dropout;   // [b]: lambda, a value x is zeroed w.p. exp(-lambda x^2)

  bool active() const {
    return cell_batch != nullptr && (!variance.empty() || !shift.empty() || !specific.empty() ||
                                     !scale.empty() || !depth.empty() || !dropout.empty());
  }
};

// The programs and their activity per cell, as compressed index arrays.
struct SimulationInput {
  int n_cells = 0;
  int n_genes = 0;
  int n_programs = 0;
  // Cell c has programs activity_program[activity_p[c] .. activity_p[c+1]) with weights.
  const int* activity_p = nullptr;
  const int* activity_program = nullptr;
  const double* activity_weight = nullptr;
  // Program k holds genes program_gene[program_p[k] .. program_p[k+1]) with levels.
  const int* program_p = nullptr;
  const int* program_gene = nullptr;
  const double* program_level = nullptr;
};

// A genes x cells column-compressed matrix built block by block of cells, so that
// threads fill blocks independently and the caller can move it out without holding two
// copies at once.
class SparseBlocks {
 public:
  struct Block {
    std::vector<int> count;  // entries per cell
    std::vector<int> row;
    std::vector<double> value;
  };

  std::vector<Block>& blocks() { return blocks_; }
  const std::vector<Block>& blocks() const { return blocks_; }
  int64_t nnz() const;
  int n_cells() const;

  // Writes the column pointers (n_cells + 1), row indices and values (nnz each), 0-based,
  // freeing each block once copied. Throws std::length_error past 2^31 - 1 entries
  // (the most a dgCMatrix holds).
  void move_to(int* p, int* i, double* x);

 private:
  std::vector<Block> blocks_;
};

struct Simulated {
  SparseBlocks truth, noisy, counts;
  bool counts_are_noisy = true;  // no batch effect ran, `counts` left empty
};

// Cells per block of random streams; fixed so that results do not depend on threads.
constexpr int kSimulateBlock = 512;

Simulated simulate_cells(const SimulationInput& input, const NoiseOptions& noise,
                         const BatchEffects& batch, uint64_t seed, int threads,
                         const InterruptFn& interrupted = {});

// Exact random variates of the noise models, on the engine's generator (Rng).
class Variates : public Rng {
 public:
  using Rng::Rng;
  double normal();
  double gamma(double shape);  // scale 1
  double poisson(double lambda);
  double binomial(double n, double p);
  double negative_binomial(double mean, double dispersion);
  double draw(const NoiseOptions& o, double mean);  // one value of the noise model

 private:
  double open_uniform();  // on (0, 1)
  bool has_spare_ = false;
  double spare_ = 0.0;
  double cached_q_ = -1.0;                 // the last binomial q ...
  std::array<double, 256> cached_pow_{};  // ... and (1 - q)^n for n < cached_filled_
  std::size_t cached_filled_ = 0;
};

// A seed for stream `stream` of block `block`, well mixed so that neighbouring blocks
// get unrelated sequences.
uint64_t stream_seed(uint64_t seed, uint64_t stream, uint64_t block);

}  // namespace concord
