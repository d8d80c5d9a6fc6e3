#include "neighbour_intersection.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "knn.h"
#include "metrics.h"

namespace concord {

namespace {

// Per cell, its neighbours from other batches (nearest first), as offsets into one list;
// outliers get none and are flagged.
struct CrossBatch {
  std::vector<int64_t> offsets{0};
  std::vector<int64_t> cells;
  std::vector<char> outlier;
  int64_t n_outliers = 0;

  // `nb` holds the cell's neighbours, nearest first; a -1 or the cell itself is skipped.
  // `is_outlier` decides from (neighbours, of which from other batches).
  template <typename Rule>
  void add(int64_t cell, const int64_t* nb, int64_t count, const int* batch, Rule is_outlier) {
    const size_t start = cells.size();
    int64_t found = 0;
    for (int64_t j = 0; j < count; ++j) {
      if (nb[j] < 0 || nb[j] == cell) continue;
      ++found;
      if (batch[nb[j]] != batch[cell]) cells.push_back(nb[j]);
    }
    const bool out = is_outlier(found, static_cast<int64_t>(cells.size() - start));
    if (out) cells.resize(start);
    outlier.push_back(out);
    n_outliers += out;
    offsets.push_back(static_cast<int64_t>(cells.size()));
  }
};

// Share of cells that are not outliers and whose neighbours from other batches carry,
// by majority, their own label. The vote is majority_label's, over chunks of cells
// padded to their longest list.
double share_correct(const CrossBatch& cb, const int* labels, int n_labels) {
  const int64_t n = static_cast<int64_t>(cb.outlier.size());
  constexpr int64_t kChunk = 1024;
  int64_t correct = 0;
  std::vector<int64_t> padded;
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t end = std::min(n, start + kChunk);
    int64_t width = 1;
    for (int64_t i = start; i < end; ++i) width = std::max(width, cb.offsets[i + 1] - cb.offsets[i]);
    padded.assign(static_cast<size_t>((end - start) * width), -1);
    for (int64_t i = start; i < end; ++i) {
      std::copy(cb.cells.begin() + cb.offsets[i], cb.cells.begin() + cb.offsets[i + 1],
                padded.begin() + (i - start) * width);
    }
    const std::vector<int> vote =
        majority_label(padded.data(), end - start, static_cast<int>(width), labels, n, n_labels);
    for (int64_t i = start; i < end; ++i) correct += !cb.outlier[i] && vote[i - start] == labels[i];
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

void check_inputs(int64_t n, int dim, const int* batch, const int* labels, int n_labels,
                  const IntersectionOptions& o) {
  if (n < 2 || dim < 1) throw std::invalid_argument("KNI and RbNI need at least 2 cells and 1 dimension");
  if (o.k < 1 || o.tau < 0 || o.tau > o.k) {
    throw std::invalid_argument("KNI needs k >= 1 and 0 <= tau <= k");
  }
  if (!(o.radius >= 0) || !(o.share >= 0 && o.share <= 1)) {
    throw std::invalid_argument("RbNI needs a radius >= 0 and a share in [0, 1]");
  }
  for (int64_t i = 0; i < n; ++i) {
    if (batch[i] < 0) throw std::invalid_argument("batch code out of range");
    if (labels[i] < 0 || labels[i] >= n_labels) throw std::invalid_argument("label out of range");
  }
}

}  // namespace

void scale_by_quartiles(float* x, int64_t n, int dim) {
  std::vector<double> col(n);
  auto quantile = [&](double p) {
    const double h = (n - 1) * p;
    const int64_t lo = static_cast<int64_t>(std::floor(h));
    const int64_t hi = std::min(lo + 1, n - 1);
    return col[lo] + (h - lo) * (col[hi] - col[lo]);
  };
  for (int d = 0; d < dim; ++d) {
    for (int64_t i = 0; i < n; ++i) col[i] = x[i * dim + d];
    std::sort(col.begin(), col.end());
    const double median = quantile(0.5), iqr = quantile(0.75) - quantile(0.25);
    const double scale = iqr > 0 ? iqr : 1.0;
    for (int64_t i = 0; i < n; ++i) {
      x[i * dim + d] = static_cast<float>((x[i * dim + d] - median) / scale);
    }
  }
}

IntersectionScores neighbour_intersection(const float* x, int64_t n, int dim, const int* batch,
                                          const int* labels, int n_labels,
                                          const IntersectionOptions& o, int threads) {
  check_inputs(n, dim, batch, labels, n_labels, o);
  KnnOptions ko;
  ko.exact_max = o.exact_max;
  KnnIndex index(x, n, dim, ko, threads);
  IntersectionScores out;

  // k + 1 found, so that k remain once the cell itself is skipped; if it is not among
  // them (many duplicates), the farthest is dropped instead.
  const int k = static_cast<int>(std::min<int64_t>(o.k, n - 1));
  std::vector<int64_t> idx, offsets;
  std::vector<float> dist;
  index.search(x, n, k + 1, idx, dist);
  CrossBatch kni;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t* row = idx.data() + i * (k + 1);
    const bool has_self = std::find(row, row + k + 1, i) != row + k + 1;
    kni.add(i, row, has_self ? k + 1 : k, batch,
            [&](int64_t, int64_t other) { return other < o.tau; });
  }
  out.kni = share_correct(kni, labels, n_labels);
  out.kni_outliers = kni.n_outliers;

  index.radius_search(x, n, static_cast<float>(o.radius), offsets, idx, dist);
  CrossBatch rbni;
  for (int64_t i = 0; i < n; ++i) {
    rbni.add(i, idx.data() + offsets[i], offsets[i + 1] - offsets[i], batch,
             [&](int64_t found, int64_t other) {
               return found == 0 || static_cast<double>(other) < o.share * static_cast<double>(found);
             });
  }
  out.rbni = share_correct(rbni, labels, n_labels);
  out.rbni_outliers = rbni.n_outliers;
  return out;
}

}  // namespace concord
