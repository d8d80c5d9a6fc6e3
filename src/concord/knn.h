// Nearest neighbours through Faiss: build an index once, then search it.
//
// Exact (flat L2) search up to KnnOptions::exact_max points, IVF-Flat with
// nlist = sqrt(n) lists and nprobe probes above it. Cosine distance is euclidean
// distance between L2-normalised rows (for unit vectors, |a - b|^2 = 2 - 2 cos).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "interrupt.h"
#include "options.h"

namespace concord {

class KnnIndex {
 public:
  // `data` is n x dim, row-major; it is copied into the index, in chunks between which
  // `interrupted` is polled.
  KnnIndex(const float* data, int64_t n, int dim, const KnnOptions& options, int threads = 1,
           const InterruptFn& interrupted = {});
  ~KnnIndex();
  KnnIndex(const KnnIndex&) = delete;
  KnnIndex& operator=(const KnnIndex&) = delete;

  int64_t size() const { return n_; }
  bool exact() const;

  // For each of the nq query rows, the k nearest indexed points, nearest first:
  // `indices` and `distances` (euclidean or cosine distance, not squared) are nq x k;
  // missing neighbours are -1 with infinite distance.
  void search(const float* queries, int64_t nq, int k, std::vector<int64_t>& indices,
              std::vector<float>& distances) const;

  // Every indexed point within distance `radius` of each query row (on an IVF index,
  // those in the probed lists). The neighbours of query q are indices[offsets[q]] to
  // indices[offsets[q + 1] - 1], nearest first, with their distances alongside.
  void radius_search(const float* queries, int64_t nq, float radius, std::vector<int64_t>& offsets,
                     std::vector<int64_t>& indices, std::vector<float>& distances) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t n_ = 0;
  int dim_ = 0;
  KnnOptions options_;
  int threads_ = 1;
};

// L2-normalises each row in place; all-zero rows stay zero.
void normalize_rows(float* data, int64_t n, int dim);

}  // namespace concord
