#include "simulate.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <cmath>
#include <stdexcept>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace concord {

namespace {


// log(k!) from a table for small k, Stirling's series beyond (error < 1e-15 there);
// std::lgamma writes the global signgam, which threads must not share.
double log_factorial(double k) {
  static const std::array<double, 256> table = [] {
    std::array<double, 256> t{};
    for (size_t i = 1; i < t.size(); ++i) t[i] = t[i - 1] + std::log(static_cast<double>(i));
    return t;
  }();
  if (k < 256) return table[static_cast<size_t>(k)];
  const double x = k + 1.0, x2 = x * x;
  return (x - 0.5) * std::log(x) - x + 0.91893853320467274178 +
         (1.0 / 12.0 - (1.0 / 360.0 - 1.0 / (1260.0 * x2)) / x2) / x;
}

int omp_thread() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

void release_free_memory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

// 1 / k, so that the inversion walks below multiply instead of divide.
const std::array<double, 257>& inverses() {
  static const std::array<double, 257> table = [] {
    std::array<double, 257> t{};
    for (size_t k = 1; k < t.size(); ++k) t[k] = 1.0 / static_cast<double>(k);
    return t;
  }();
  return table;
}

}  // namespace

uint64_t stream_seed(uint64_t seed, uint64_t stream, uint64_t block) {
  return splitmix64(splitmix64(splitmix64(seed) ^ stream) ^ block);
}

// ---------------------------------------------------------------- random variates


double Variates::open_uniform() {
  double u;
  do u = uniform();
  while (u == 0.0);
  return u;
}

// Marsaglia's polar method: exact, and only uses log and sqrt (correctly rounded
// enough in every libm that the sequence is the same across platforms in practice).
double Variates::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u, v, s;
  do {
    u = 2.0 * uniform() - 1.0;
    v = 2.0 * uniform() - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  const double m = std::sqrt(-2.0 * std::log(s) / s);
  spare_ = v * m;
  has_spare_ = true;
  return u * m;
}

// Marsaglia and Tsang (2000); shapes below 1 by the boost gamma(a + 1) * U^(1 / a).
double Variates::gamma(double shape) {
  if (shape <= 0.0) return 0.0;
  if (shape < 1.0) return gamma(shape + 1.0) * std::pow(open_uniform(), 1.0 / shape);
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = open_uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

// Inversion (one uniform, a walk up the cdf) for small means; Hoermann's PTRS (1993)
// beyond, whose cost does not grow with the mean.
double Variates::poisson(double lambda) {
  if (lambda <= 0.0) return 0.0;
  if (lambda < 10.0) {
    const auto& inv = inverses();
    const double u = uniform();
    double pk = std::exp(-lambda), cdf = pk;
    int k = 0;
    while (u > cdf && k < 256) {  // the cap only guards against cdf rounding below u
      ++k;
      pk *= lambda * inv[k];
      cdf += pk;
    }
    return k;
  }
  const double slam = std::sqrt(lambda), loglam = std::log(lambda);
  const double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
  const double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2.0);
  for (;;) {
    const double u = uniform() - 0.5, v = uniform();
    const double us = 0.5 - std::fabs(u);
    const double k = std::floor((2.0 * a / us + b) * u + lambda + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0.0 || (us < 0.013 && v > us)) continue;
    if (std::log(v) + std::log(invalpha) - std::log(a / (us * us) + b) <=
        -lambda + k * loglam - log_factorial(k)) {
      return k;
    }
  }
}

// Knuth's order-statistic reduction (TAOCP 3.4.1): a Beta variate splits n in halves
// until the expected count is small, which is then drawn by inversion. Exact for any n.
double Variates::binomial(double n, double p) {
  if (n <= 0.0 || p <= 0.0) return 0.0;
  if (p >= 1.0) return n;
  const double total = n;
  const bool flip = p > 0.5;
  double q = flip ? 1.0 - p : p, k = 0.0;
  while (n * q >= 16.0 || n > 255.0) {
    const double a = std::floor(n / 2.0) + 1.0, b = n + 1.0 - a;
    const double ga = gamma(a), x = ga / (ga + gamma(b));
    if (x >= q) {
      n = a - 1.0;
      q /= x;
    } else {
      k += a;
      n = b - 1.0;
      q = (q - x) / (1.0 - x);
    }
  }
  if (n > 0.0 && q > 0.0) {
    const auto& inv = inverses();
    const double u = uniform(), odds = q / (1.0 - q);
    // All entries of a cell share q: (1 - q)^n comes from a table filled as needed.
    if (q != cached_q_) {
      cached_q_ = q;
      cached_pow_[0] = 1.0;
      cached_filled_ = 1;
    }
    const size_t need = static_cast<size_t>(n) + 1;
    for (; cached_filled_ < need; ++cached_filled_) {
      cached_pow_[cached_filled_] = cached_pow_[cached_filled_ - 1] * (1.0 - q);
    }
    double pj = cached_pow_[need - 1], cdf = pj;
    int j = 0;
    while (u > cdf && j < n) {
      pj *= (n - j) * inv[j + 1] * odds;
      ++j;
      cdf += pj;
    }
    k += j;
  }
  return flip ? total - k : k;
}

// Mean `mean`, variance mean + dispersion * mean^2. Small means by inversion (one
// uniform, one pow, a walk up the cdf of size r = 1 / dispersion and success
// probability mean / (r + mean)), larger ones as a gamma-Poisson mixture.
double Variates::negative_binomial(double mean, double dispersion) {
  if (mean <= 0.0) return 0.0;
  if (dispersion <= 0.0) return poisson(mean);
  const double r = 1.0 / dispersion;
  if (mean < 30.0 && r < 200.0) {
    const auto& inv = inverses();
    const double odds = mean / (r + mean), u = uniform();
    // log(1 - odds) as log(r / (r + mean)): for tiny r, odds rounds to 1 and log1p(-odds)
    // to -inf, which zeroed the whole cdf.
    double pk = std::exp(r * (std::log(r) - std::log(r + mean))), cdf = pk;
    int k = 0;
    while (u > cdf && k < 255) {
      pk *= (k + r) * inv[k + 1] * odds;
      ++k;
      cdf += pk;
    }
    if (u <= cdf) return k;
    // The far tail (or cdf rounding): the mixture, conditioned past k by rejection. The
    // tries are bounded: when the tail is too thin for them (the walk ended on rounding),
    // the walk's end is the draw.
    for (int tries = 0; tries < 1000; ++tries) {
      const double x = poisson(gamma(r) * mean * dispersion);
      if (x > k) return x;
    }
    return k;
  }
  return poisson(gamma(r) * mean * dispersion);
}

double Variates::draw(const NoiseOptions& o, double mean) {
  switch (o.model) {
    case NoiseModel::normal:
      return mean + o.dispersion * normal();
    case NoiseModel::poisson:
      return poisson(mean);
    case NoiseModel::negative_binomial:
      return negative_binomial(mean, o.dispersion);
    case NoiseModel::lognormal:
      if (mean <= 0.0) return 0.0;
      return mean * std::exp(o.dispersion * normal() - 0.5 * o.dispersion * o.dispersion);
  }
  return mean;
}

// ---------------------------------------------------------------- sparse blocks

int64_t SparseBlocks::nnz() const {
  int64_t n = 0;
  for (const auto& b : blocks_) n += static_cast<int64_t>(b.row.size());
  return n;
}

int SparseBlocks::n_cells() const {
  int64_t n = 0;
  for (const auto& b : blocks_) n += static_cast<int64_t>(b.count.size());
  return static_cast<int>(n);
}

void SparseBlocks::move_to(int* p, int* i, double* x) {
  if (nnz() > INT_MAX) {
    throw std::length_error("the simulated matrix has " + std::to_string(nnz()) +
                            " non-zero values, more than a dgCMatrix can hold (2^31 - 1)");
  }
  int64_t at = 0, cell = 0, moved = 0;
  p[0] = 0;
  for (auto& b : blocks_) {
    for (int n : b.count) {
      p[cell + 1] = p[cell] + n;
      ++cell;
    }
    std::copy(b.row.begin(), b.row.end(), i + at);
    std::copy(b.value.begin(), b.value.end(), x + at);
    at += static_cast<int64_t>(b.row.size());
    // Release now: the caller's copy grows meanwhile.
    std::vector<int>().swap(b.count);
    std::vector<int>().swap(b.row);
    std::vector<double>().swap(b.value);
    // The blocks were allocated by worker threads, in glibc arenas that keep freed
    // memory resident; without handing it back, the peak is the matrix twice over.
    if (++moved % 64 == 0) release_free_memory();
  }
  release_free_memory();
}

// ---------------------------------------------------------------- simulation

namespace {

struct Workspace {
  explicit Workspace(int n_genes)
      : truth(n_genes, 0.0), noisy(n_genes, 0.0), in_truth(n_genes, 0), in_union(n_genes, 0) {}
  std::vector<double> truth, noisy;
  std::vector<uint8_t> in_truth, in_union;
  std::vector<int> touched, nonzero, all;
};

class CellSimulator {
 public:
  CellSimulator(const SimulationInput& in, const NoiseOptions& noise, const BatchEffects& batch)
      : in_(in), noise_(noise), batch_(batch), with_batch_(batch.active()) {
    if (!with_batch_) return;
    const int g = in.n_genes;
    shift_genes_.resize(batch.n_batches);
    specific_genes_.resize(batch.n_batches);
    for (int b = 0; b < batch.n_batches; ++b) {
      for (int j = 0; j < g; ++j) {
        if (!batch.shift.empty() && batch.shift[static_cast<size_t>(b) * g + j] != 0.0) {
          shift_genes_[b].push_back(j);
        }
        if (!batch.specific.empty() && batch.specific[static_cast<size_t>(b) * g + j] > 0.0) {
          specific_genes_[b].push_back(j);
        }
      }
    }
  }

  void run_block(int block, uint64_t seed, Workspace& w, SparseBlocks::Block& truth,
                 SparseBlocks::Block& noisy, SparseBlocks::Block& counts) const {
    Variates noise_draws(stream_seed(seed, 1, block));
    Variates batch_draws(stream_seed(seed, 2, block));
    const int first = block * kSimulateBlock;
    const int last = std::min(in_.n_cells, first + kSimulateBlock);
    for (int c = first; c < last; ++c) {
      cell_truth(c, w, truth);
      cell_noise(w, noise_draws, noisy);
      if (with_batch_) cell_batch(c, w, batch_draws, counts);
      for (int g : w.touched) w.in_truth[g] = 0;
      if (c == first) {
        // Sized from the first cell, to spare most of the regrowth copies.
        for (auto* b : {&truth, &noisy, &counts}) {
          const size_t guess = b->row.size() * (last - first) * 5 / 4 + 16;
          b->row.reserve(guess);
          b->value.reserve(guess);
        }
      }
    }
    for (auto* b : {&truth, &noisy, &counts}) {
      b->row.shrink_to_fit();
      b->value.shrink_to_fit();
    }
  }

 private:
  static void put(SparseBlocks::Block& out, int g, double v) {
    out.row.push_back(g);
    out.value.push_back(v);
  }

  void cell_truth(int c, Workspace& w, SparseBlocks::Block& out) const {
    w.touched.clear();
    for (int a = in_.activity_p[c]; a < in_.activity_p[c + 1]; ++a) {
      const int k = in_.activity_program[a];
      const double weight = in_.activity_weight[a];
      for (int j = in_.program_p[k]; j < in_.program_p[k + 1]; ++j) {
        const int g = in_.program_gene[j];
        if (!w.in_truth[g]) {
          w.in_truth[g] = 1;
          w.truth[g] = 0.0;
          w.touched.push_back(g);
        }
        w.truth[g] += weight * in_.program_level[j];
      }
    }
    std::sort(w.touched.begin(), w.touched.end());
    const size_t before = out.row.size();
    for (int g : w.touched) {
      if (w.truth[g] != 0.0) put(out, g, w.truth[g]);
    }
    out.count.push_back(static_cast<int>(out.row.size() - before));
  }

  double finish(double v, Variates& draws, double dropout) const {
    if (dropout > 0.0 && draws.uniform() < dropout) return 0.0;
    if (noise_.non_negative && v < 0.0) v = 0.0;
    if (noise_.round_values) v = std::round(v);
    return v;
  }

  // Count models and the log-normal keep zero means at zero, so only the truth's
  // entries are drawn; normal noise is additive and touches every gene.
  void cell_noise(Workspace& w, Variates& draws, SparseBlocks::Block& out) const {
    w.nonzero.clear();
    auto one = [&](int g, double mean) {
      const double v = finish(draws.draw(noise_, mean), draws, noise_.dropout);
      w.noisy[g] = v;
      if (v != 0.0) w.nonzero.push_back(g);
    };
    if (noise_.model == NoiseModel::normal) {
      for (int g = 0; g < in_.n_genes; ++g) one(g, w.in_truth[g] ? w.truth[g] : 0.0);
    } else {
      for (int g : w.touched) one(g, w.truth[g]);
    }
    for (int g : w.nonzero) put(out, g, w.noisy[g]);
    out.count.push_back(static_cast<int>(w.nonzero.size()));
  }

  void cell_batch(int c, Workspace& w, Variates& draws, SparseBlocks::Block& out) const {
    const int b = batch_.cell_batch[c];
    const size_t base = static_cast<size_t>(b) * in_.n_genes;
    const bool dense_noise = noise_.model == NoiseModel::normal;
    w.all.clear();
    auto add = [&](int g) {
      if (!w.in_union[g]) {
        w.in_union[g] = 1;
        w.all.push_back(g);
      }
    };
    for (int g : w.touched) add(g);
    for (int g : w.nonzero) add(g);
    if (!shift_genes_.empty()) for (int g : shift_genes_[b]) add(g);
    if (!specific_genes_.empty()) for (int g : specific_genes_[b]) add(g);
    std::sort(w.all.begin(), w.all.end());

    const double variance = batch_.variance.empty() ? 1.0 : batch_.variance[b];
    const double keep = batch_.depth.empty() ? 1.0 : batch_.depth[b];
    const double lambda = batch_.dropout.empty() ? 0.0 : batch_.dropout[b];
    const bool integer = noise_.integer_valued();
    const size_t before = out.row.size();
    for (int g : w.all) {
      w.in_union[g] = 0;
      const double t = w.in_truth[g] ? w.truth[g] : 0.0;
      double v = (dense_noise || w.in_truth[g]) ? w.noisy[g] : 0.0;
      if (variance != 1.0) v = t + (v - t) * variance;
      if (!batch_.shift.empty()) v += batch_.shift[base + g];
      if (!batch_.specific.empty() && batch_.specific[base + g] > 0.0) {
        v += draws.draw(noise_, batch_.specific[base + g]);
      }
      if (!batch_.scale.empty()) v *= batch_.scale[base + g];
      if (noise_.non_negative && v < 0.0) v = 0.0;
      if (integer) v = std::round(v);
      if (keep < 1.0) v = (integer && v > 0.0) ? draws.binomial(v, keep) : v * keep;
      if (lambda > 0.0 && v != 0.0 && draws.uniform() < std::exp(-lambda * v * v)) v = 0.0;
      if (v != 0.0) put(out, g, v);
    }
    out.count.push_back(static_cast<int>(out.row.size() - before));
  }

  const SimulationInput& in_;
  const NoiseOptions& noise_;
  const BatchEffects& batch_;
  const bool with_batch_;
  std::vector<std::vector<int>> shift_genes_, specific_genes_;
};

void check_input(const SimulationInput& in, const BatchEffects& batch) {
  if (in.n_cells < 0 || in.n_genes <= 0 || in.n_programs < 0) {
    throw std::invalid_argument("simulate_cells: bad dimensions");
  }
  for (int c = 0; c < in.n_cells; ++c) {
    if (in.activity_p[c + 1] < in.activity_p[c]) {
      throw std::invalid_argument("simulate_cells: activity pointers decrease");
    }
  }
  for (int a = 0; a < in.activity_p[in.n_cells]; ++a) {
    if (in.activity_program[a] < 0 || in.activity_program[a] >= in.n_programs) {
      throw std::invalid_argument("simulate_cells: activity names an unknown program");
    }
  }
  for (int j = 0; j < in.program_p[in.n_programs]; ++j) {
    if (in.program_gene[j] < 0 || in.program_gene[j] >= in.n_genes) {
      throw std::invalid_argument("simulate_cells: a program names a gene out of range");
    }
  }
  if (!batch.active()) return;
  const size_t nb = static_cast<size_t>(batch.n_batches), ng = static_cast<size_t>(in.n_genes);
  for (int c = 0; c < in.n_cells; ++c) {
    if (batch.cell_batch[c] < 0 || batch.cell_batch[c] >= batch.n_batches) {
      throw std::invalid_argument("simulate_cells: a cell's batch is out of range");
    }
  }
  auto sized = [](const std::vector<double>& v, size_t n) { return v.empty() || v.size() == n; };
  if (!sized(batch.variance, nb) || !sized(batch.depth, nb) || !sized(batch.dropout, nb) ||
      !sized(batch.shift, nb * ng) || !sized(batch.specific, nb * ng) ||
      !sized(batch.scale, nb * ng)) {
    throw std::invalid_argument("simulate_cells: a batch effect has the wrong length");
  }
}

}  // namespace

Simulated simulate_cells(const SimulationInput& input, const NoiseOptions& noise,
                         const BatchEffects& batch, uint64_t seed, int threads,
                         const InterruptFn& interrupted) {
  check_input(input, batch);
  const int n_blocks = (input.n_cells + kSimulateBlock - 1) / kSimulateBlock;
  Simulated out;
  out.counts_are_noisy = !batch.active();
  out.truth.blocks().resize(n_blocks);
  out.noisy.blocks().resize(n_blocks);
  out.counts.blocks().resize(out.counts_are_noisy ? 0 : n_blocks);
  const CellSimulator sim(input, noise, batch);
  // Only the calling thread (OpenMP's thread 0) may call back into the front end; it
  // polls after each of its blocks and the others skip what is left once it says stop.
  std::atomic<bool> stop{false};
#pragma omp parallel num_threads(std::max(1, threads))
  {
    Workspace w(input.n_genes);
#pragma omp for schedule(dynamic, 1)
    for (int b = 0; b < n_blocks; ++b) {
      if (stop.load(std::memory_order_relaxed)) continue;
      SparseBlocks::Block scratch;
      sim.run_block(b, seed, w, out.truth.blocks()[b], out.noisy.blocks()[b],
                    out.counts_are_noisy ? scratch : out.counts.blocks()[b]);
      if (omp_thread() == 0 && interrupted && interrupted()) stop = true;
    }
  }
  if (stop) throw Interrupted();
  return out;
}

}  // namespace concord
