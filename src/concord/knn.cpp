#include "knn.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "threads.h"

namespace concord {

struct KnnIndex::Impl {
  std::unique_ptr<faiss::IndexFlatL2> quantizer;
  std::unique_ptr<faiss::Index> index;
};

namespace {

// Faiss parallelises with OpenMP's global thread count; this scopes it to one call.
class OmpThreads {
 public:
  explicit OmpThreads(int threads) { omp_set_num_threads(threads); }

 private:
  ThreadGuard restore_;
};

// Points added per call, with a poll for interrupts between calls.
constexpr int64_t kAddChunk = 1 << 16;

void add_in_chunks(faiss::Index& index, const float* data, int64_t n, int dim,
                   const InterruptFn& interrupted) {
  for (int64_t start = 0; start < n; start += kAddChunk) {
    poll(interrupted);
    index.add(std::min(kAddChunk, n - start), data + start * dim);
  }
}

}  // namespace

void normalize_rows(float* data, int64_t n, int dim) {
  for (int64_t i = 0; i < n; ++i) {
    float* row = data + i * dim;
    double sum = 0;
    for (int j = 0; j < dim; ++j) sum += static_cast<double>(row[j]) * row[j];
    if (sum > 0) {
      const float inv = static_cast<float>(1.0 / std::sqrt(sum));
      for (int j = 0; j < dim; ++j) row[j] *= inv;
    }
  }
}

KnnIndex::KnnIndex(const float* data, int64_t n, int dim, const KnnOptions& options, int threads,
                   const InterruptFn& interrupted)
    : impl_(new Impl), n_(n), dim_(dim), options_(options), threads_(std::max(1, threads)) {
  if (n < 1 || dim < 1) throw std::invalid_argument("kNN index needs at least one point and one dimension");
  std::vector<float> normalised;
  if (options_.metric == Metric::cosine) {
    normalised.assign(data, data + n * dim);
    normalize_rows(normalised.data(), n, dim);
    data = normalised.data();
  }
  OmpThreads scope(threads_);
  if (n <= options_.exact_max) {
    auto flat = std::make_unique<faiss::IndexFlatL2>(dim);
    add_in_chunks(*flat, data, n, dim, interrupted);
    impl_->index = std::move(flat);
    return;
  }
  const int nlist = options_.nlist > 0 ? options_.nlist
                                       : std::max(1, static_cast<int>(std::sqrt(static_cast<double>(n))));
  impl_->quantizer = std::make_unique<faiss::IndexFlatL2>(dim);
  auto ivf = std::make_unique<faiss::IndexIVFFlat>(impl_->quantizer.get(), dim, nlist, faiss::METRIC_L2);
  ivf->nprobe = options_.nprobe;
  ivf->train(n, data);
  add_in_chunks(*ivf, data, n, dim, interrupted);
  impl_->index = std::move(ivf);
}

KnnIndex::~KnnIndex() = default;

bool KnnIndex::exact() const { return impl_->quantizer == nullptr; }

namespace {

// Rows of `queries` as the index stores them: L2-normalised for cosine.
const float* prepared(const float* queries, int64_t nq, int dim, Metric metric,
                      std::vector<float>& normalised) {
  if (metric != Metric::cosine) return queries;
  normalised.assign(queries, queries + nq * dim);
  normalize_rows(normalised.data(), nq, dim);
  return normalised.data();
}

// Faiss reports squared L2 (tiny negative values come from rounding).
float from_squared(float d2, Metric metric) {
  d2 = std::max(0.0f, d2);
  return metric == Metric::cosine ? d2 / 2.0f : std::sqrt(d2);
}

}  // namespace

void KnnIndex::search(const float* queries, int64_t nq, int k, std::vector<int64_t>& indices,
                      std::vector<float>& distances) const {
  if (k < 1) throw std::invalid_argument("k must be at least 1");
  std::vector<float> normalised;
  queries = prepared(queries, nq, dim_, options_.metric, normalised);
  std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(nq) * k);
  distances.resize(static_cast<size_t>(nq) * k);
  {
    OmpThreads scope(threads_);
    impl_->index->search(nq, queries, k, distances.data(), labels.data());
  }
  indices.assign(labels.begin(), labels.end());
  for (size_t i = 0; i < distances.size(); ++i) {
    if (labels[i] < 0) {
      distances[i] = std::numeric_limits<float>::infinity();
    } else {
      distances[i] = from_squared(distances[i], options_.metric);
    }
  }
}

void KnnIndex::radius_search(const float* queries, int64_t nq, float radius,
                             std::vector<int64_t>& offsets, std::vector<int64_t>& indices,
                             std::vector<float>& distances) const {
  if (!(radius >= 0)) throw std::invalid_argument("radius must be a number >= 0");
  std::vector<float> normalised;
  queries = prepared(queries, nq, dim_, options_.metric, normalised);
  // Faiss compares squared L2 with a strict '<'; the nudge keeps points at distance
  // exactly `radius`, as a radius neighbourhood (|a - b| <= r) includes them.
  const float limit = options_.metric == Metric::cosine ? 2.0f * radius : radius * radius;
  faiss::RangeSearchResult found(nq);
  {
    OmpThreads scope(threads_);
    impl_->index->range_search(nq, queries, std::nextafter(limit, std::numeric_limits<float>::infinity()),
                               &found);
  }
  offsets.assign(found.lims, found.lims + nq + 1);
  indices.resize(offsets[nq]);
  distances.resize(offsets[nq]);
  std::vector<int64_t> order;
  for (int64_t q = 0; q < nq; ++q) {
    const int64_t start = offsets[q], count = offsets[q + 1] - start;
    order.resize(count);
    std::iota(order.begin(), order.end(), start);
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return found.distances[a] < found.distances[b] ||
             (found.distances[a] == found.distances[b] && found.labels[a] < found.labels[b]);
    });
    for (int64_t j = 0; j < count; ++j) {
      indices[start + j] = found.labels[order[j]];
      distances[start + j] = from_squared(found.distances[order[j]], options_.metric);
    }
  }
}

}  // namespace concord
