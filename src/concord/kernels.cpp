#include "kernels.h"

#include <algorithm>
#include <cmath>

#include "simd.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

namespace concord {

namespace {

// Columns are processed in blocks of up to kBlock so that a block of the gathered
// matrix is reused from cache across all output rows, and one output row's block sits
// in registers while its non-zeros are summed.
constexpr int kVectors = 8;
constexpr int kBlock = 8 * kVectors;

// out[0..8V) = init + sum_k val[k] * m[idx[k] * ld + 0..8V)
template <int V>
__attribute__((always_inline)) inline void gather_block(const int* idx, const float* val, int count, const float* m, int64_t ld,
                         const float* init, float* out) {
  // Fully unrolled so that the accumulators stay in registers.
  v8 acc[V];
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) acc[v] = init ? *reinterpret_cast<const v8*>(init + 8 * v) : v8{};
  for (int k = 0; k < count; ++k) {
    const float a = val[k];
    const float* row = m + idx[k] * ld;
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[v] += a * *reinterpret_cast<const v8*>(row + 8 * v);
  }
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) *reinterpret_cast<v8*>(out + 8 * v) = acc[v];
}

// The same for `width` (< 8) leftover columns.
__attribute__((always_inline)) inline void gather_tail(const int* idx, const float* val, int count, const float* m, int64_t ld,
                        const float* init, float* out, int width) {
  for (int j = 0; j < width; ++j) out[j] = init ? init[j] : 0.0f;
  for (int k = 0; k < count; ++k) {
    const float* row = m + idx[k] * ld;
    for (int j = 0; j < width; ++j) out[j] += val[k] * row[j];
  }
}

// For each output row r of `rows`, columns [col, col + width) of
// out[r] = init + sum over r's entries (idx, val) of val * m[idx].
__attribute__((always_inline)) inline void gather_rows_block(const int* ptr, const int* idx, const float* val, int rows, const float* m,
                       int64_t ld, const float* init, float* out, int64_t out_ld, int col,
                       int width) {
  const int vectors = width / 8;
  const int tail = width - 8 * vectors;
  const float* mb = m + col;
  const float* ib = init ? init + col : nullptr;
  for (int r = 0; r < rows; ++r) {
    const int* ri = idx + ptr[r];
    const float* rv = val + ptr[r];
    const int count = ptr[r + 1] - ptr[r];
    float* o = out + r * out_ld + col;
    switch (vectors) {
      case 8: gather_block<8>(ri, rv, count, mb, ld, ib, o); break;
      case 7: gather_block<7>(ri, rv, count, mb, ld, ib, o); break;
      case 6: gather_block<6>(ri, rv, count, mb, ld, ib, o); break;
      case 5: gather_block<5>(ri, rv, count, mb, ld, ib, o); break;
      case 4: gather_block<4>(ri, rv, count, mb, ld, ib, o); break;
      case 3: gather_block<3>(ri, rv, count, mb, ld, ib, o); break;
      case 2: gather_block<2>(ri, rv, count, mb, ld, ib, o); break;
      case 1: gather_block<1>(ri, rv, count, mb, ld, ib, o); break;
      default: break;
    }
    if (tail > 0) {
      gather_tail(ri, rv, count, mb + 8 * vectors, ld, ib ? ib + 8 * vectors : nullptr,
                  o + 8 * vectors, tail);
    }
  }
}

void gather_rows_block_base(const int* ptr, const int* idx, const float* val, int rows,
                            const float* m, int64_t ld, const float* init, float* out,
                            int64_t out_ld, int col, int width) {
  gather_rows_block(ptr, idx, val, rows, m, ld, init, out, out_ld, col, width);
}

#ifdef CONCORD_X86_FMA
CONCORD_FMA void gather_rows_block_fma(const int* ptr, const int* idx, const float* val, int rows,
                                       const float* m, int64_t ld, const float* init, float* out,
                                       int64_t out_ld, int col, int width) {
  gather_rows_block(ptr, idx, val, rows, m, ld, init, out, out_ld, col, width);
}
#endif

// out (rows x h) = init + sparse (rows, CSR) * m (h columns), column blocks in parallel.
void sparse_times_dense(const int* ptr, const int* idx, const float* val, int rows, const float* m,
                        int h, const float* init, float* out, int threads) {
  const int blocks = (h + kBlock - 1) / kBlock;
  auto* block_fn = gather_rows_block_base;
#ifdef CONCORD_X86_FMA
  if (use_fma()) block_fn = gather_rows_block_fma;
#endif
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int b = 0; b < blocks; ++b) {
    const int col = b * kBlock;
    block_fn(ptr, idx, val, rows, m, h, init, out, h, col, std::min(kBlock, h - col));
  }
}

void adam_chunk_base(float* p, const float* g, float* m, float* v, int64_t n, float b1, float b2,
                     float step_size, float inv_sqrt_bc2, float eps) {
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = b1 * m[i] + (1.0f - b1) * gi;
    const float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
  }
}

#ifdef CONCORD_X86_FMA
// The compiler leaves the loop above scalar at -O2 (square root and division), so the
// wide version is written out.
CONCORD_FMA void adam_chunk_fma(float* p, const float* g, float* m, float* v, int64_t n, float b1,
                                float b2, float step_size, float inv_sqrt_bc2, float eps) {
  const __m256 vb1 = _mm256_set1_ps(b1), vb1c = _mm256_set1_ps(1.0f - b1);
  const __m256 vb2 = _mm256_set1_ps(b2), vb2c = _mm256_set1_ps(1.0f - b2);
  const __m256 vstep = _mm256_set1_ps(step_size), vinv = _mm256_set1_ps(inv_sqrt_bc2);
  const __m256 veps = _mm256_set1_ps(eps);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 gi = _mm256_loadu_ps(g + i);
    const __m256 mi = _mm256_fmadd_ps(vb1, _mm256_loadu_ps(m + i), _mm256_mul_ps(vb1c, gi));
    const __m256 vi =
        _mm256_fmadd_ps(vb2, _mm256_loadu_ps(v + i), _mm256_mul_ps(vb2c, _mm256_mul_ps(gi, gi)));
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    const __m256 denom = _mm256_fmadd_ps(_mm256_sqrt_ps(vi), vinv, veps);
    const __m256 update = _mm256_div_ps(_mm256_mul_ps(vstep, mi), denom);
    _mm256_storeu_ps(p + i, _mm256_sub_ps(_mm256_loadu_ps(p + i), update));
  }
  adam_chunk_base(p + i, g + i, m + i, v + i, n - i, b1, b2, step_size, inv_sqrt_bc2, eps);
}
#endif

}  // namespace

void sparse_forward(const SparseBatch& x, const float* w, const float* bias, int h, float* out,
                    int threads) {
  sparse_times_dense(x.indptr.data(), x.indices.data(), x.values.data(), x.n_rows, w, h, bias, out,
                     threads);
}

void sparse_weight_grad(const SparseBatch& x, const float* grad_out, int h, float* grad_w,
                        Transposed& t, int threads) {
  const int genes = x.n_cols;
  t.col_ptr.assign(genes + 1, 0);
  for (int64_t k = 0; k < x.nnz(); ++k) ++t.col_ptr[x.indices[k] + 1];
  for (int g = 0; g < genes; ++g) t.col_ptr[g + 1] += t.col_ptr[g];
  t.rows.resize(x.nnz());
  t.values.resize(x.nnz());
  std::vector<int> fill(t.col_ptr.begin(), t.col_ptr.end() - 1);
  for (int r = 0; r < x.n_rows; ++r) {
    for (int k = x.indptr[r]; k < x.indptr[r + 1]; ++k) {
      const int slot = fill[x.indices[k]]++;
      t.rows[slot] = r;
      t.values[slot] = x.values[k];
    }
  }
  // grad_w = x^T grad_out: the transposed batch times grad_out, one row per gene.
  sparse_times_dense(t.col_ptr.data(), t.rows.data(), t.values.data(), genes, grad_out, h, nullptr,
                     grad_w, threads);
}

bool split_dense_rows(const SparseBatch& x, RowSplit& out) {
  const int64_t min_stored = (x.n_cols + 3) / 4;
  int dense = 0;
  for (int r = 0; r < x.n_rows; ++r) dense += x.indptr[r + 1] - x.indptr[r] >= min_stored;
  if (dense == 0) return false;
  out.dense_rows.clear();
  out.sparse_rows.clear();
  out.dense.assign(static_cast<size_t>(dense) * x.n_cols, 0.0f);
  SparseBatch& s = out.sparse;
  s.n_rows = x.n_rows - dense;
  s.n_cols = x.n_cols;
  s.indptr.assign(1, 0);
  s.indices.clear();
  s.values.clear();
  for (int r = 0; r < x.n_rows; ++r) {
    const int begin = x.indptr[r], end = x.indptr[r + 1];
    if (end - begin >= min_stored) {
      float* row = out.dense.data() + out.dense_rows.size() * x.n_cols;
      for (int k = begin; k < end; ++k) row[x.indices[k]] = x.values[k];
      out.dense_rows.push_back(r);
    } else {
      s.indices.insert(s.indices.end(), x.indices.begin() + begin, x.indices.begin() + end);
      s.values.insert(s.values.end(), x.values.begin() + begin, x.values.begin() + end);
      s.indptr.push_back(static_cast<int>(s.values.size()));
      out.sparse_rows.push_back(r);
    }
  }
  return true;
}

void adam_update(float* param, const float* grad, float* m, float* v, int64_t n,
                 const AdamSettings& s, int threads) {
  const double bc1 = 1.0 - std::pow(s.beta1, static_cast<double>(s.step));
  const double bc2 = 1.0 - std::pow(s.beta2, static_cast<double>(s.step));
  const float step_size = static_cast<float>(s.lr / bc1);
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  // Chunks of a fixed size keep the split, and so the result, independent of threads.
  constexpr int64_t chunk = 1 << 14;
  const int64_t n_chunks = (n + chunk - 1) / chunk;
  auto* chunk_fn = adam_chunk_base;
#ifdef CONCORD_X86_FMA
  if (use_fma()) chunk_fn = adam_chunk_fma;
#endif
  // A parameter of one chunk (every one but the first layer's weights) opens no team:
  // the other thread would only wait at its barrier.
  const int team = static_cast<int>(std::min<int64_t>(std::max(threads, 1), std::max<int64_t>(n_chunks, 1)));
#pragma omp parallel for num_threads(team) schedule(static) if (team > 1)
  for (int64_t c = 0; c < n_chunks; ++c) {
    const int64_t begin = c * chunk;
    const int64_t len = std::min(chunk, n - begin);
    chunk_fn(param + begin, grad + begin, m + begin, v + begin, len, static_cast<float>(s.beta1),
             static_cast<float>(s.beta2), step_size, inv_sqrt_bc2, static_cast<float>(s.eps));
  }
}

}  // namespace concord
