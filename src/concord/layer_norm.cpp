#include "layer_norm.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "simd.h"
#include "split_rows.h"

namespace concord {

namespace {

#define CONCORD_INLINE __attribute__((always_inline)) inline

// Macros rather than functions: a function passing v8 by value would have a different
// ABI in the baseline and the AVX2 builds.
#define LN_LOAD(p) (*reinterpret_cast<const v8*>(p))
#define LN_STORE(p, v) (*reinterpret_cast<v8*>(p) = (v))
#define LN_SPLAT(a) (v8{} + (a))
#define LN_LEAKY(y, slope) ((y) > v8{} ? (y) : (y) * (slope))

CONCORD_INLINE float total(const v8& v) {
  float s = 0;
  for (int i = 0; i < 8; ++i) s += v[i];
  return s;
}

struct Forward {
  const float* x;
  const float* gamma;
  const float* beta;
  float* out;
  float* mean;
  float* rstd;
  int64_t cols;
  float eps;
  float slope;
};

// Rows [begin, begin + n): mean and biased variance in two passes (the row is in L1),
// then the normalized, scaled, shifted and activated row.
CONCORD_INLINE void forward_rows(const Forward& a, int64_t begin, int64_t n) {
  const int64_t c = a.cols, vec = c - c % 8;
  const v8 slope = LN_SPLAT(a.slope);
  for (int64_t r = begin; r < begin + n; ++r) {
    const float* x = a.x + r * c;
    float* out = a.out + r * c;
    v8 s{};
    for (int64_t j = 0; j < vec; j += 8) s += LN_LOAD(x + j);
    float sum = total(s);
    for (int64_t j = vec; j < c; ++j) sum += x[j];
    const float mean = sum / static_cast<float>(c);
    const v8 mv = LN_SPLAT(mean);
    v8 q{};
    for (int64_t j = 0; j < vec; j += 8) {
      const v8 d = LN_LOAD(x + j) - mv;
      q += d * d;
    }
    float sq = total(q);
    for (int64_t j = vec; j < c; ++j) sq += (x[j] - mean) * (x[j] - mean);
    const float rstd = 1.0f / std::sqrt(std::max(sq / static_cast<float>(c), 0.0f) + a.eps);
    a.mean[r] = mean;
    a.rstd[r] = rstd;
    const v8 rv = LN_SPLAT(rstd);
    for (int64_t j = 0; j < vec; j += 8) {
      const v8 y = (LN_LOAD(x + j) - mv) * rv * LN_LOAD(a.gamma + j) + LN_LOAD(a.beta + j);
      LN_STORE(out + j, LN_LEAKY(y, slope));
    }
    for (int64_t j = vec; j < c; ++j) {
      const float y = (x[j] - mean) * rstd * a.gamma[j] + a.beta[j];
      out[j] = y > 0 ? y : y * a.slope;
    }
  }
}

// Rows per block of the weight and bias gradients' partial sums: the blocks, not the
// threads, fix the order of the sums.
constexpr int64_t kChunk = 32;

struct Backward {
  const float* grad;
  const float* x;
  const float* gamma;
  const float* beta;
  const float* mean;
  const float* rstd;
  float* dx;
  float* partial_gamma;  // chunks x cols
  float* partial_beta;   // chunks x cols
  int64_t rows;
  int64_t cols;
  float slope;
};

// Chunks [begin, begin + n) of kChunk rows. With xh the normalized row, y = xh * gamma +
// beta and dy the gradient through the LeakyReLU at y:
// dgamma += dy * xh, dbeta += dy, dx = rstd * (dxh - mean(dxh) - xh * mean(dxh * xh))
// for dxh = dy * gamma. dxh waits in dx between the row's two passes.
CONCORD_INLINE void backward_chunks(const Backward& a, int64_t begin, int64_t n) {
  const int64_t c = a.cols, vec = c - c % 8;
  const v8 slope = LN_SPLAT(a.slope);
  const float inv_c = 1.0f / static_cast<float>(c);
  for (int64_t k = begin; k < begin + n; ++k) {
    float* pg = a.partial_gamma + k * c;
    float* pb = a.partial_beta + k * c;
    std::fill(pg, pg + c, 0.0f);
    std::fill(pb, pb + c, 0.0f);
    const int64_t last = std::min(a.rows, (k + 1) * kChunk);
    for (int64_t r = k * kChunk; r < last; ++r) {
      const float* x = a.x + r * c;
      const float* g = a.grad + r * c;
      float* dx = a.dx + r * c;
      const float mean = a.mean[r], rstd = a.rstd[r];
      const v8 mv = LN_SPLAT(mean), rv = LN_SPLAT(rstd);
      v8 sa{}, sb{};
      for (int64_t j = 0; j < vec; j += 8) {
        const v8 xh = (LN_LOAD(x + j) - mv) * rv;
        const v8 gamma = LN_LOAD(a.gamma + j);
        const v8 y = xh * gamma + LN_LOAD(a.beta + j);
        const v8 gj = LN_LOAD(g + j);
        const v8 dy = y > v8{} ? gj : gj * slope;
        LN_STORE(pg + j, LN_LOAD(pg + j) + dy * xh);
        LN_STORE(pb + j, LN_LOAD(pb + j) + dy);
        const v8 dxh = dy * gamma;
        LN_STORE(dx + j, dxh);
        sa += dxh;
        sb += dxh * xh;
      }
      float sum_a = total(sa), sum_b = total(sb);
      for (int64_t j = vec; j < c; ++j) {
        const float xh = (x[j] - mean) * rstd;
        const float y = xh * a.gamma[j] + a.beta[j];
        const float dy = y > 0 ? g[j] : g[j] * a.slope;
        pg[j] += dy * xh;
        pb[j] += dy;
        dx[j] = dy * a.gamma[j];
        sum_a += dx[j];
        sum_b += dx[j] * xh;
      }
      const float ma = sum_a * inv_c, mb = sum_b * inv_c;
      const v8 mav = LN_SPLAT(ma), mbv = LN_SPLAT(mb);
      for (int64_t j = 0; j < vec; j += 8) {
        const v8 xh = (LN_LOAD(x + j) - mv) * rv;
        LN_STORE(dx + j, rv * (LN_LOAD(dx + j) - mav - xh * mbv));
      }
      for (int64_t j = vec; j < c; ++j) dx[j] = rstd * (dx[j] - ma - (x[j] - mean) * rstd * mb);
    }
  }
}

void forward_base(const Forward& a, int64_t begin, int64_t n) { forward_rows(a, begin, n); }
void backward_base(const Backward& a, int64_t begin, int64_t n) { backward_chunks(a, begin, n); }
#ifdef CONCORD_X86_FMA
CONCORD_FMA void forward_fma(const Forward& a, int64_t begin, int64_t n) {
  forward_rows(a, begin, n);
}
CONCORD_FMA void backward_fma(const Backward& a, int64_t begin, int64_t n) {
  backward_chunks(a, begin, n);
}
#endif

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

struct LayerNormLeakyRelu : public torch::autograd::Function<LayerNormLeakyRelu> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, double eps, double slope, int64_t threads) {
    const torch::Tensor xc = x.contiguous(), w = weight.contiguous(), b = bias.contiguous();
    const int64_t rows = xc.size(0), cols = xc.size(1);
    torch::Tensor out = torch::empty({rows, cols}, xc.options());
    torch::Tensor mean = torch::empty({rows}, xc.options()), rstd = torch::empty({rows}, xc.options());
    const Forward a{xc.data_ptr<float>(), w.data_ptr<float>(), b.data_ptr<float>(), out.data_ptr<float>(),
                    mean.data_ptr<float>(), rstd.data_ptr<float>(), cols, static_cast<float>(eps),
                    static_cast<float>(slope)};
    auto* fn = forward_base;
#ifdef CONCORD_X86_FMA
    if (use_fma()) fn = forward_fma;
#endif
    over_rows(rows, static_cast<int>(threads), [&](int64_t begin, int64_t n) { fn(a, begin, n); });
    ctx->save_for_backward({xc, w, b, mean, rstd});
    ctx->saved_data["slope"] = slope;
    ctx->saved_data["threads"] = threads;
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const int threads = static_cast<int>(ctx->saved_data["threads"].toInt());
    const torch::Tensor g = grads[0].contiguous();
    const int64_t rows = x.size(0), cols = x.size(1), chunks = (rows + kChunk - 1) / kChunk;
    torch::Tensor dx = torch::empty({rows, cols}, x.options());
    torch::Tensor partial = torch::empty({2, chunks, cols}, x.options());
    const Backward a{g.data_ptr<float>(),
                     x.data_ptr<float>(),
                     saved[1].data_ptr<float>(),
                     saved[2].data_ptr<float>(),
                     saved[3].data_ptr<float>(),
                     saved[4].data_ptr<float>(),
                     dx.data_ptr<float>(),
                     partial.data_ptr<float>(),
                     partial.data_ptr<float>() + chunks * cols,
                     rows,
                     cols,
                     static_cast<float>(ctx->saved_data["slope"].toDouble())};
    auto* fn = backward_base;
#ifdef CONCORD_X86_FMA
    if (use_fma()) fn = backward_fma;
#endif
    over_rows(chunks, threads, [&](int64_t begin, int64_t n) { fn(a, begin, n); });
    torch::Tensor dw, db;
    if (ctx->needs_input_grad(1) || ctx->needs_input_grad(2)) {
      // The chunks' partial sums, added in chunk order.
      dw = torch::zeros({cols}, x.options());
      db = torch::zeros({cols}, x.options());
      float* w = dw.data_ptr<float>();
      float* b = db.data_ptr<float>();
      for (int64_t k = 0; k < chunks; ++k) {
        const float* pg = a.partial_gamma + k * cols;
        const float* pb = a.partial_beta + k * cols;
        for (int64_t j = 0; j < cols; ++j) {
          w[j] += pg[j];
          b[j] += pb[j];
        }
      }
    }
    return {ctx->needs_input_grad(0) ? dx : torch::Tensor(), ctx->needs_input_grad(1) ? dw : torch::Tensor(),
            ctx->needs_input_grad(2) ? db : torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// Below this many values a row split is not worth a parallel region.
constexpr int64_t kMinSplit = 1 << 16;

}  // namespace

bool layer_norm_leaky_relu_accepts(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  const auto cpu_float = [](const torch::Tensor& t) {
    return t.defined() && t.device().is_cpu() && t.scalar_type() == torch::kFloat;
  };
  return cpu_float(x) && x.dim() == 2 && cpu_float(weight) && cpu_float(bias) && weight.numel() == x.size(1) &&
         bias.numel() == x.size(1);
}

torch::Tensor layer_norm_leaky_relu(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                    double eps, double slope, int threads) {
  if (!layer_norm_leaky_relu_accepts(x, weight, bias)) {
    throw std::invalid_argument("layer_norm_leaky_relu needs a 2-D CPU float input and CPU float weight and bias of its width");
  }
  if (x.numel() < kMinSplit) threads = 1;
  return LayerNormLeakyRelu::apply(x, weight, bias, eps, slope, static_cast<int64_t>(std::max(1, threads)));
}

}  // namespace concord
