#include "dense.h"

#include <atomic>
#include <iterator>
#include <memory>

#include "layer_norm.h"
#include "split_rows.h"

namespace concord {

namespace {

std::atomic<int> dense_threads{1};

// Below this many multiply-adds a product is not worth a parallel region.
constexpr double kMinWork = 1 << 20;

int threads_for(const torch::Tensor& t, double work) {
  if (!t.device().is_cpu() || t.scalar_type() != torch::kFloat || work < kMinWork) return 1;
  return dense_threads.load();
}

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// out (a.rows x b.cols) = a b, split by rows of a.
torch::Tensor rows_mm(const torch::Tensor& a, const torch::Tensor& b, int threads) {
  torch::Tensor out = torch::empty({a.size(0), b.size(1)}, a.options());
  over_rows(a.size(0), threads, [&](int64_t begin, int64_t n) {
    torch::Tensor part = out.narrow(0, begin, n);
    torch::mm_out(part, a.narrow(0, begin, n), b);
  });
  return out;
}

// a^T b, split by columns of a (rows of the result).
torch::Tensor cols_tmm(const torch::Tensor& a, const torch::Tensor& b, int threads) {
  torch::Tensor out = torch::empty({a.size(1), b.size(1)}, a.options());
  over_rows(a.size(1), threads, [&](int64_t begin, int64_t n) {
    torch::Tensor part = out.narrow(0, begin, n);
    torch::mm_out(part, a.narrow(1, begin, n).t(), b);
  });
  return out;
}

struct SplitLinear : public torch::autograd::Function<SplitLinear> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, int64_t threads) {
    const torch::Tensor xc = x.contiguous();
    ctx->save_for_backward({xc, weight});
    ctx->saved_data["threads"] = threads;
    torch::Tensor out = torch::empty({x.size(0), weight.size(0)}, x.options());
    const torch::Tensor wt = weight.t();
    over_rows(x.size(0), static_cast<int>(threads), [&](int64_t begin, int64_t n) {
      torch::Tensor part = out.narrow(0, begin, n);
      torch::addmm_out(part, bias, xc.narrow(0, begin, n), wt);
    });
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const int threads = static_cast<int>(ctx->saved_data["threads"].toInt());
    const torch::Tensor g = grads[0].contiguous();
    torch::Tensor gx, gw, gb;
    if (ctx->needs_input_grad(0)) gx = rows_mm(g, saved[1], threads);
    if (ctx->needs_input_grad(1)) gw = cols_tmm(g, saved[0], threads);
    if (ctx->needs_input_grad(2)) gb = g.sum(0);
    return {gx, gw, gb, torch::Tensor()};
  }
};

struct SplitMm : public torch::autograd::Function<SplitMm> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& a, const torch::Tensor& b,
                               int64_t threads) {
    ctx->save_for_backward({a, b});
    ctx->saved_data["threads"] = threads;
    return rows_mm(a, b, static_cast<int>(threads));
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const int threads = static_cast<int>(ctx->saved_data["threads"].toInt());
    const torch::Tensor g = grads[0].contiguous();
    torch::Tensor ga, gb;
    if (ctx->needs_input_grad(0)) ga = rows_mm(g, saved[1].t(), threads);
    if (ctx->needs_input_grad(1)) gb = cols_tmm(saved[0], g, threads);
    return {ga, gb, torch::Tensor()};
  }
};

// A LayerNorm over the last dimension of a 2-D CPU float batch, with affine weights.
bool fusable(const torch::Tensor& x, const torch::nn::LayerNormImpl& norm) {
  const std::vector<int64_t>& shape = norm.options.normalized_shape();
  return layer_norm_leaky_relu_accepts(x, norm.weight, norm.bias) && shape.size() == 1 && shape[0] == x.size(1);
}

}  // namespace

DenseThreads::DenseThreads(int threads) : previous_(dense_threads.exchange(threads < 1 ? 1 : threads)) {}

DenseThreads::~DenseThreads() { dense_threads.store(previous_); }

torch::Tensor split_linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  const int threads = threads_for(x, static_cast<double>(x.size(0)) * weight.size(0) * weight.size(1));
  if (threads <= 1 || x.dim() != 2 || !bias.defined()) return torch::nn::functional::linear(x, weight, bias);
  return SplitLinear::apply(x, weight, bias, threads);
}

torch::Tensor split_mm(const torch::Tensor& a, const torch::Tensor& b) {
  const int threads = threads_for(a, static_cast<double>(a.size(0)) * a.size(1) * b.size(1));
  if (threads <= 1) return torch::mm(a, b);
  return SplitMm::apply(a, b, threads);
}

torch::Tensor forward_split(torch::nn::Sequential& layers, torch::Tensor x) {
  for (auto it = layers->begin(); it != layers->end(); ++it) {
    const auto layer = it->ptr();
    if (const auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(layer)) {
      x = split_linear(x, linear->weight, linear->bias);
      continue;
    }
    // LayerNorm then LeakyReLU (every block's tail with norm = layer) as one fused
    // operation, with the modules' own weights, eps and slope.
    const auto norm = std::dynamic_pointer_cast<torch::nn::LayerNormImpl>(layer);
    const auto next = std::next(it);
    if (norm && next != layers->end() && fusable(x, *norm)) {
      if (const auto act = std::dynamic_pointer_cast<torch::nn::LeakyReLUImpl>(next->ptr())) {
        x = layer_norm_leaky_relu(x, norm->weight, norm->bias, norm->options.eps(), act->options.negative_slope(),
                                  dense_threads.load());
        it = next;
        continue;
      }
    }
    x = it->forward(x);
  }
  return x;
}

}  // namespace concord
