#include "augment.h"

namespace concord {

namespace {

void start(const CsrView& x, int n, SparseBatch& out) {
  out.n_rows = n;
  out.n_cols = x.n_cols;
  out.indptr.assign(1, 0);
  out.indptr.reserve(n + 1);
  out.indices.clear();
  out.values.clear();
}

}  // namespace

void gather_rows(const CsrView& x, const int* cells, int n, SparseBatch& out) {
  start(x, n, out);
  for (int r = 0; r < n; ++r) {
    for (int k = x.indptr[cells[r]]; k < x.indptr[cells[r] + 1]; ++k) {
      out.indices.push_back(x.indices[k]);
      out.values.push_back(static_cast<float>(x.values[k]));
    }
    out.indptr.push_back(static_cast<int>(out.values.size()));
  }
}

void masked_view(const CsrView& x, const int* cells, int n, double element_mask,
                 double feature_mask, Rng& rng, std::vector<uint8_t>& keep, SparseBatch& out) {
  start(x, n, out);
  keep.resize(x.n_cols);
  for (int g = 0; g < x.n_cols; ++g) keep[g] = rng.uniform() >= feature_mask;
  // A value is dropped when a 32-bit uniform falls below p * 2^32; each 64-bit draw
  // serves two values, since this loop makes one decision per stored value.
  const uint64_t cut = static_cast<uint64_t>(element_mask * 4294967296.0);
  uint64_t bits = 0;
  bool have_half = false;
  for (int r = 0; r < n; ++r) {
    for (int k = x.indptr[cells[r]]; k < x.indptr[cells[r] + 1]; ++k) {
      const int g = x.indices[k];
      if (!keep[g] || x.values[k] == 0) continue;
      if (!have_half) bits = rng.next();
      const uint64_t u = have_half ? bits >> 32 : bits & 0xffffffffULL;
      have_half = !have_half;
      if (u >= cut) {
        out.indices.push_back(g);
        out.values.push_back(static_cast<float>(x.values[k]));
      }
    }
    out.indptr.push_back(static_cast<int>(out.values.size()));
  }
}

}  // namespace concord
