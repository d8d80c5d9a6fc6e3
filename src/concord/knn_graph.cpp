#include "knn_graph.h"

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/utils/Heap.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "knn.h"
#include "options.h"
#include "threads.h"

extern "C" {
// BLAS single-precision matrix product (Fortran interface), linked through R's BLAS.
int sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const float* alpha,
           const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
           const int* ldc);
}

namespace concord {

namespace {

// Queries and candidates per matrix product: 256 x 4096 floats (4 MB) per thread.
constexpr size_t kQueryBlock = 256;
constexpr int64_t kCandidateBlock = 4096;
// Cells per parallel round; interrupts are polled between rounds.
constexpr int kCellsPerRound = 64;

using Heap = faiss::CMax<float, int64_t>;

double squared_distance(const float* a, const float* b, int dim) {
  double s = 0;
  for (int j = 0; j < dim; ++j) {
    const double d = static_cast<double>(a[j]) - b[j];
    s += d * d;
  }
  return s;
}

// The `width` nearest points of every point by IVF cells (see the header); row-major
// n x width, nearest first, ids -1 where missing. Distances are euclidean, computed
// directly (not from the products, whose rounding is of the order of |x|^2 * 1e-7).
void ivf_search(const float* x, int64_t n, int dim, int width, int nlist, int nprobe, int threads,
                std::vector<int64_t>& ids, std::vector<float>& dist, const InterruptFn& interrupted) {
  // k-means cells as IndexIVFFlat trains them: 10 iterations, at most 256 points per
  // centroid, sampled with Faiss's fixed seed.
  faiss::IndexFlatL2 quantizer(dim);
  faiss::ClusteringParameters cp;
  cp.niter = 10;
  faiss::Clustering clustering(dim, nlist, cp);
  clustering.train(n, x, quantizer);
  poll(interrupted);
  // Each point's probed cells, nearest centroid first: its own cell.
  std::vector<faiss::Index::idx_t> probe(static_cast<size_t>(n) * nprobe);
  {
    std::vector<float> unused(static_cast<size_t>(n) * nprobe);
    quantizer.search(n, x, nprobe, unused.data(), probe.data());
  }
  poll(interrupted);
  // Points grouped by cell (increasing index within a cell), and a copy of the data in
  // that order, so that each cell's points are one contiguous block.
  std::vector<int64_t> start(nlist + 1, 0);
  for (int64_t i = 0; i < n; ++i) ++start[probe[static_cast<size_t>(i) * nprobe] + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<int64_t> member(n);
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t i = 0; i < n; ++i) member[fill[probe[static_cast<size_t>(i) * nprobe]]++] = i;
  }
  std::vector<float> sorted(static_cast<size_t>(n) * dim);
  std::vector<float> norm(n);
  for (int64_t s = 0; s < n; ++s) {
    const float* r = x + member[s] * dim;
    std::copy_n(r, dim, sorted.data() + s * dim);
    norm[s] = std::inner_product(r, r + dim, r, 0.0f);
  }

  ids.assign(static_cast<size_t>(n) * width, -1);
  dist.assign(static_cast<size_t>(n) * width, std::numeric_limits<float>::infinity());
  // One BLAS thread per product: the cells run in parallel instead.
  set_blas_threads(1);
  for (int first = 0; first < nlist; first += kCellsPerRound) {
    poll(interrupted);
    const int last = std::min(nlist, first + kCellsPerRound);
#pragma omp parallel num_threads(threads)
    {
      std::vector<float> q, ip, hv;
      std::vector<int64_t> hi;
      std::vector<std::vector<int>> asking(nlist);  // queries of this cell probing each cell
      std::vector<int> touched;
#pragma omp for schedule(dynamic, 1)
      for (int c = first; c < last; ++c) {
        const int64_t base = start[c];
        const int nq_all = static_cast<int>(start[c + 1] - base);
        if (nq_all == 0) continue;
        touched.clear();
        for (int a = 0; a < nq_all; ++a) {
          const auto* p = probe.data() + static_cast<size_t>(member[base + a]) * nprobe;
          for (int j = 0; j < nprobe; ++j) {
            if (p[j] < 0) continue;
            auto& list = asking[p[j]];
            if (list.empty()) touched.push_back(static_cast<int>(p[j]));
            list.push_back(a);
          }
        }
        hv.resize(static_cast<size_t>(nq_all) * width);
        hi.resize(static_cast<size_t>(nq_all) * width);
        for (int a = 0; a < nq_all; ++a) faiss::heap_heapify<Heap>(width, hv.data() + a * width, hi.data() + a * width);
        // Each probed cell against the queries that probe it: Faiss's IVF candidates,
        // as matrix products.
        for (const int m : touched) {
          const std::vector<int>& asked = asking[m];
          const int64_t m_base = start[m];
          const int64_t nc_all = start[m + 1] - m_base;
          for (size_t q0 = 0; q0 < asked.size(); q0 += kQueryBlock) {
            const int nq = static_cast<int>(std::min<size_t>(kQueryBlock, asked.size() - q0));
            q.resize(static_cast<size_t>(nq) * dim);
            for (int a = 0; a < nq; ++a) {
              std::copy_n(sorted.data() + (base + asked[q0 + a]) * dim, dim, q.data() + static_cast<size_t>(a) * dim);
            }
            for (int64_t c0 = 0; c0 < nc_all; c0 += kCandidateBlock) {
              const int nc = static_cast<int>(std::min(kCandidateBlock, nc_all - c0));
              ip.resize(static_cast<size_t>(nq) * nc);
              // ip (nc x nq, column-major) = candidate block (nc x dim) * q^T.
              const float one = 1.0f, zero = 0.0f;
              sgemm_("T", "N", &nc, &nq, &dim, &one, sorted.data() + (m_base + c0) * dim, &dim, q.data(), &dim, &zero,
                     ip.data(), &nc);
              const float* cn = norm.data() + m_base + c0;
              const int64_t* cid = member.data() + m_base + c0;
              for (int a = 0; a < nq; ++a) {
                const int qa = asked[q0 + a];
                const float qn = norm[base + qa];
                float* val = hv.data() + static_cast<size_t>(qa) * width;
                int64_t* id = hi.data() + static_cast<size_t>(qa) * width;
                const float* row = ip.data() + static_cast<size_t>(a) * nc;
                for (int j = 0; j < nc; ++j) {
                  const float d2 = qn + cn[j] - 2.0f * row[j];
                  if (d2 < val[0]) faiss::heap_replace_top<Heap>(width, val, id, d2, cid[j]);
                }
              }
            }
          }
        }
        for (const int m : touched) asking[m].clear();
        // Exact distances, then nearest first (ties by index); missing ones last.
        std::vector<std::pair<double, int64_t>> found;
        for (int a = 0; a < nq_all; ++a) {
          const int64_t i = member[base + a];
          const int64_t* h = hi.data() + static_cast<size_t>(a) * width;
          found.clear();
          for (int j = 0; j < width; ++j) {
            if (h[j] >= 0) found.emplace_back(squared_distance(x + i * dim, x + h[j] * dim, dim), h[j]);
          }
          std::sort(found.begin(), found.end());
          int64_t* out = ids.data() + static_cast<size_t>(i) * width;
          float* out_d = dist.data() + static_cast<size_t>(i) * width;
          for (int j = 0; j < static_cast<int>(found.size()); ++j) {
            out[j] = found[j].second;
            out_d[j] = static_cast<float>(std::sqrt(found[j].first));
          }
        }
      }
    }
  }
}

}  // namespace

int knn_graph_nlist(int64_t n, const KnnGraphOptions& o) {
  if (o.nlist > 0) return static_cast<int>(std::min<int64_t>(o.nlist, n));
  const int64_t by_size = std::max<int64_t>(1, n / 40);
  // Truncated as KnnIndex does: on clustered data in many dimensions IVF's recall
  // depends on the exact partition (bench/README.md), so the same nlist keeps the
  // same cells as KnnIndex's search.
  const int64_t root = static_cast<int64_t>(std::sqrt(static_cast<double>(n)));
  return static_cast<int>(std::max<int64_t>(1, std::min(by_size, root)));
}

int knn_graph_nprobe(int64_t n, const KnnGraphOptions& o) {
  return std::min(o.nprobe > 0 ? o.nprobe : 10, knn_graph_nlist(n, o));
}

void knn_graph(const float* data, int64_t n, int dim, int k, const KnnGraphOptions& options, int threads,
               std::vector<int64_t>& indices, std::vector<float>& distances, const InterruptFn& interrupted) {
  if (dim < 1 || n < 2 || k < 1 || k >= n) throw std::invalid_argument("a kNN graph needs k in [1, points - 1]");
  if (options.nlist < 0 || options.nprobe < 0) throw std::invalid_argument("nlist and nprobe must be >= 0 (0: automatic)");
  threads = std::max(1, threads);
  const int width = k + 1;
  std::vector<int64_t> ids;
  std::vector<float> dist;
  if (n <= options.exact_max) {
    KnnOptions ko;
    ko.exact_max = options.exact_max;
    KnnIndex index(data, n, dim, ko, threads, interrupted);
    index.search(data, n, width, ids, dist);
  } else {
    ThreadGuard restore;
    set_omp_threads(threads);
    set_blas_threads(threads);
    ivf_search(data, n, dim, width, knn_graph_nlist(n, options), knn_graph_nprobe(n, options), threads, ids, dist,
               interrupted);
  }
  indices.resize(static_cast<size_t>(n) * k);
  distances.resize(static_cast<size_t>(n) * k);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t* row = ids.data() + i * width;
    const int skip = static_cast<int>(std::find(row, row + width, i) - row);  // width - 1 if absent
    for (int j = 0, c = 0; j < width; ++j) {
      if (j == std::min(skip, width - 1)) continue;
      indices[static_cast<size_t>(i) * k + c] = row[j];
      distances[static_cast<size_t>(i) * k + c] = dist[static_cast<size_t>(i) * width + j];
      ++c;
    }
  }
}

}  // namespace concord
