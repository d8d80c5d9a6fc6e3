// The kNN graph of a point set (every point's nearest other points), as the evaluation
// metrics need it: one search of all points against themselves.
//
// Exact (a flat Faiss index) up to KnnGraphOptions::exact_max points. Above that, the
// candidates of Faiss's IVF-Flat search: the points are split into `nlist` cells
// (Faiss k-means, as IndexIVFFlat trains them) and each point is compared with the
// points of the `nprobe` cells of nearest centroid. Only the order of work differs
// from IndexIVFFlat::search: the points of one cell are searched together, each probed
// cell against all of them that probe it, so that the distances are matrix products
// (BLAS) rather than one scalar loop per pair, the cost that made a million-point graph
// slow. The distances reported are then recomputed directly.
#pragma once

#include <cstdint>
#include <vector>

#include "interrupt.h"

namespace concord {

struct KnnGraphOptions {
  // Exact search up to this many points.
  int64_t exact_max = 20000;
  // IVF cells; 0: sqrt(n) (as KnnIndex), at most n / 40 (k-means wants 39 points
  // per cell).
  int nlist = 0;
  // Cells probed for each point; 0: 10 (as KnnIndex). bench/README.md ("Evaluation
  // pipeline") has the recall this gives.
  int nprobe = 0;
};

// Cells and probes used for n points (the options' values, or the automatic ones).
int knn_graph_nlist(int64_t n, const KnnGraphOptions& options);
int knn_graph_nprobe(int64_t n, const KnnGraphOptions& options);

// For each of the n points of `data` (n x dim, row-major, euclidean), its k nearest
// other points, nearest first (ties by index): `indices` (0-based) and `distances`
// (euclidean, not squared), both n x k, row-major; -1 and infinity where fewer than k
// were found. The point itself is left out wherever the search placed it; a point
// not found among its own k + 1 nearest (many exact duplicates) loses the farthest.
// `interrupted` is polled between blocks of cells. The result does not depend on
// `threads` except through the rounding of BLAS products (ties of distance).
void knn_graph(const float* data, int64_t n, int dim, int k, const KnnGraphOptions& options, int threads,
               std::vector<int64_t>& indices, std::vector<float>& distances,
               const InterruptFn& interrupted = {});

}  // namespace concord
