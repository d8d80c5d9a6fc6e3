#include "augment_pipeline.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "ziggurat.h"

namespace concord {

namespace {

bool neighbourhood(const std::string& kind) { return kind == "mnn" || kind == "bbknn"; }

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

bool unit(double v) { return std::isfinite(v) && v >= 0 && v <= 1; }

// A cell's expression while its view is built: stored genes in increasing order.
struct Row {
  std::vector<int> genes;
  std::vector<float> values;

  void clear() {
    genes.clear();
    values.clear();
  }
  // Zeros are not stored, so that a view is as sparse as its values allow.
  void push(int g, float v) {
    if (v != 0) {
      genes.push_back(g);
      values.push_back(v);
    }
  }
  int size() const { return static_cast<int>(genes.size()); }
};

void load(const CsrView& x, int cell, Row& row) {
  row.clear();
  for (int k = x.indptr[cell]; k < x.indptr[cell + 1]; ++k)
    row.push(x.indices[k], static_cast<float>(x.values[k]));
}

// Draws an exactly `pick`-sized uniform subset of `population` items, one item at a time
// (Knuth's selection sampling). Items can be visited in any fixed order, so asking only
// about a row's stored genes first, and never about the rest, gives the stored genes
// exactly the membership they would have in a subset of all genes.
class Selection {
 public:
  Selection(int pick, int population) : pick_(pick), left_(population) {}
  bool next(Rng& rng) {
    bool chosen;
    if (pick_ == 0) {
      chosen = false;
    } else if (pick_ >= left_) {
      chosen = true;
    } else {
      chosen = rng.below(static_cast<uint64_t>(left_)) < static_cast<uint64_t>(pick_);
    }
    pick_ -= chosen;
    --left_;
    return chosen;
  }

 private:
  int pick_;
  int left_;
};

// Genes affected by a share: truncated, as Python's int() does in the reference.
int count_of(double share, int genes) { return static_cast<int>(share * genes); }

// Walks the union of two rows' stored genes in increasing order, calling f(g, a, b)
// with each row's value (0 where not stored).
template <typename F>
void merge(const Row& a, const Row& b, F f) {
  int i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    const int ga = i < a.size() ? a.genes[i] : INT32_MAX;
    const int gb = j < b.size() ? b.genes[j] : INT32_MAX;
    if (ga == gb) {
      f(ga, a.values[i++], b.values[j++]);
    } else if (ga < gb) {
      f(ga, a.values[i++], 0.0f);
    } else {
      f(gb, 0.0f, b.values[j++]);
    }
  }
}

void mask(const Row& in, const AugmentStep& s, int genes, Rng& rng, Row& out) {
  Selection zeroed(count_of(s.strength, genes), genes);
  for (int i = 0; i < in.size(); ++i) {
    if (!zeroed.next(rng)) out.push(in.genes[i], in.values[i]);
  }
}

// Chooses a uniform subset of exactly `pick` of `genes` genes as a mark per gene: gene g
// is chosen when marked[g] != the returned flag. Floyd's algorithm (one draw per marked
// gene) marks whichever of the subset and its complement is smaller, so noising 80% of
// 2,000 genes takes 400 draws, where asking gene by gene (Selection) takes 2,000.
bool mark_subset(int pick, int genes, Rng& rng, std::vector<uint8_t>& marked) {
  const bool complement = pick > genes - pick;
  marked.assign(genes, 0);
  for (int j = genes - (complement ? genes - pick : pick); j < genes; ++j) {
    const int t = static_cast<int>(rng.below(static_cast<uint64_t>(j) + 1));
    marked[marked[t] ? j : t] = 1;
  }
  return complement;
}

// Noise goes to genes that are zero as well, so this walks every gene.
void gaussian(const Row& in, const AugmentStep& s, int genes, Rng& rng,
              std::vector<uint8_t>& marked, Row& out) {
  const uint8_t unmarked_noisy = mark_subset(count_of(s.share, genes), genes, rng, marked);
  ZigguratNormal normal;
  int i = 0;
  for (int g = 0; g < genes; ++g) {
    float v = 0;
    if (i < in.size() && in.genes[i] == g) v = in.values[i++];
    if (marked[g] != unmarked_noisy) v += static_cast<float>(s.strength * normal(rng));
    out.push(g, v);
  }
}

// Swaps are applied one after another on a dense scratch copy of the touched genes, so
// the view is a permutation of the cell's values (the reference swaps all pairs at once,
// which duplicates values when pairs share a gene).
void innerswap(const Row& in, const AugmentStep& s, int genes, Rng& rng, std::vector<float>& dense,
               std::vector<int>& swapped, Row& out) {
  const int swaps = static_cast<int>(std::floor(s.strength * genes / 2));
  for (int i = 0; i < in.size(); ++i) dense[in.genes[i]] = in.values[i];
  swapped.clear();
  for (int t = 0; t < swaps; ++t) {
    const int a = static_cast<int>(rng.below(genes));
    const int b = static_cast<int>(rng.below(genes));
    std::swap(dense[a], dense[b]);
    swapped.push_back(a);
    swapped.push_back(b);
  }
  // Values now sit on the stored genes (sorted) and the swapped ones: walk both in order.
  std::sort(swapped.begin(), swapped.end());
  int i = 0;
  size_t j = 0;
  while (i < in.size() || j < swapped.size()) {
    const int gi = i < in.size() ? in.genes[i] : INT32_MAX;
    const int gj = j < swapped.size() ? swapped[j] : INT32_MAX;
    const int g = std::min(gi, gj);
    i += gi == g;
    while (j < swapped.size() && swapped[j] == g) ++j;
    out.push(g, dense[g]);
    dense[g] = 0;
  }
}

// The genes are chosen as a set (mark_subset): after Gaussian noise both rows are nearly
// dense, and asking gene by gene would take a draw for each.
void crossover(const Row& in, const Row& partner, const AugmentStep& s, int genes, Rng& rng,
               std::vector<uint8_t>& marked, Row& out) {
  const uint8_t unmarked_taken = mark_subset(count_of(s.strength, genes), genes, rng, marked);
  merge(in, partner, [&](int g, float a, float b) { out.push(g, marked[g] != unmarked_taken ? b : a); });
}

// lambda * a + (1 - lambda) * b with lambda ~ U(alpha, 1], as CLAIRE's interpolation.
void interpolate(const Row& a, const Row& b, double alpha, Rng& rng, Row& out) {
  const double lambda = 1.0 - (1.0 - alpha) * rng.uniform();
  merge(a, b, [&](int g, float u, float v) {
    out.push(g, static_cast<float>(lambda * u + (1 - lambda) * v));
  });
}

// Each gene keeps the cell's value with probability alpha, else takes the neighbour's
// (the benchmark's "exc" combination, its setting for BBKNN). Genes stored in neither
// row stay zero whichever is drawn, so only the union needs a draw.
void exchange(const Row& a, const Row& b, double alpha, Rng& rng, Row& out) {
  merge(a, b, [&](int g, float u, float v) { out.push(g, rng.uniform() < alpha ? u : v); });
}

// A uniformly chosen member of a cell's list, or the cell itself when the list is empty
// (as the reference does for cells without neighbours or partners).
int pick(const AugmentPipeline::Graph& graph, int cell, Rng& rng) {
  const int size = graph.size(cell);
  return size == 0 ? cell : graph.at(cell, static_cast<int>(rng.below(size)));
}

}  // namespace

AugmentPipeline::AugmentPipeline(std::vector<AugmentStep> steps) : steps_(std::move(steps)) {
  int mnn = 0, bbknn = 0;
  for (size_t i = 0; i < steps_.size(); ++i) {
    const AugmentStep& s = steps_[i];
    const std::string at = "augmentation \"" + s.kind + "\": ";
    require(unit(s.p), at + "p must be in [0, 1]");
    if (s.kind == "mask" || s.kind == "innerswap" || s.kind == "crossover") {
      require(unit(s.strength), at + "strength must be in [0, 1]");
    } else if (s.kind == "gaussian") {
      require(std::isfinite(s.strength) && s.strength >= 0,
              at + "sigma must be finite and non-negative");
      require(unit(s.share), at + "share must be in [0, 1]");
    } else if (neighbourhood(s.kind)) {
      require(unit(s.strength), at + "alpha must be in [0, 1]");
      require(s.k >= 1, at + "k must be at least 1");
      (s.kind == "mnn" ? mnn : bbknn) += 1;
      require(s.kind != "mnn" || i == 0, at + "must be the first augmentation");
    } else {
      throw std::invalid_argument("unknown augmentation \"" + s.kind +
                                  "\"; known: mask, gaussian, innerswap, crossover, mnn, bbknn");
    }
  }
  require(mnn <= 1 && bbknn <= 1, "mnn and bbknn may each appear only once");
}

bool AugmentPipeline::needs_neighbours() const {
  return std::any_of(steps_.begin(), steps_.end(),
                     [](const AugmentStep& s) { return neighbourhood(s.kind); });
}

bool AugmentPipeline::needs_prepare() const {
  return std::any_of(steps_.begin(), steps_.end(), [](const AugmentStep& s) {
    return s.kind == "crossover" || neighbourhood(s.kind);
  });
}

void AugmentPipeline::view(const CsrView& x, const int* cells, int n, Rng& rng, SparseBatch& out,
                           int view_index) const {
  if (steps_.empty()) return gather_rows(x, cells, n, out);
  if (needs_prepare() && (!prepared_ || x.n_rows != n_rows_ || x.n_cols != n_cols_)) {
    throw std::logic_error(
        "AugmentPipeline::prepare() must be called with this matrix before view()");
  }
  if (view_index != 0 && view_index != 1) throw std::invalid_argument("view_index must be 0 or 1");
  const int genes = x.n_cols;
  out.n_rows = n;
  out.n_cols = genes;
  out.indptr.assign(1, 0);
  out.indices.clear();
  out.values.clear();
  Row row, next, other, third;
  std::vector<float> dense;
  std::vector<int> swapped;
  std::vector<uint8_t> marked;
  for (int r = 0; r < n; ++r) {
    const int cell = cells[r];
    load(x, cell, row);
    for (const AugmentStep& s : steps_) {
      if (!(rng.uniform() < s.p)) continue;
      next.clear();
      if (s.kind == "mask") {
        mask(row, s, genes, rng, next);
      } else if (s.kind == "gaussian") {
        gaussian(row, s, genes, rng, marked, next);
      } else if (s.kind == "innerswap") {
        if (dense.empty()) dense.assign(genes, 0.0f);
        innerswap(row, s, genes, rng, dense, swapped, next);
      } else if (s.kind == "crossover") {
        const std::vector<int>& mates = members_[domain_[cell]];
        int partner = cell;
        if (mates.size() > 1) {
          // Any other cell of the domain: draw among n - 1 and skip the cell itself.
          int j = static_cast<int>(rng.below(mates.size() - 1));
          if (j >= position_[cell]) ++j;
          partner = mates[j];
        }
        load(x, partner, other);
        crossover(row, other, s, genes, rng, marked, next);
      } else if (s.kind == "mnn" && view_index == 1) {
        const int anchor = pick(mnn_, cell, rng);
        load(x, anchor, third);
        load(x, pick(within_, anchor, rng), other);
        interpolate(third, other, s.strength, rng, next);
      } else if (s.kind == "mnn") {
        load(x, pick(within_, cell, rng), other);
        interpolate(row, other, s.strength, rng, next);
      } else {  // bbknn
        load(x, pick(balanced_, cell, rng), other);
        exchange(row, other, s.strength, rng, next);
      }
      std::swap(row, next);
    }
    out.indices.insert(out.indices.end(), row.genes.begin(), row.genes.end());
    out.values.insert(out.values.end(), row.values.begin(), row.values.end());
    out.indptr.push_back(static_cast<int>(out.values.size()));
  }
}

}  // namespace concord
