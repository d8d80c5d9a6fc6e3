#include "dense.h"

#include <atomic>
#include <exception>
#include <memory>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace concord {

namespace {

std::atomic<int> dense_threads{1};

// Below this many multiply-adds a product is not worth a parallel region.
constexpr double kMinWork = 1 << 20;

int threads_for(const torch::Tensor& t, double work) {
  if (!t.device().is_cpu() || t.scalar_type() != torch::kFloat || work < kMinWork) return 1;
  return dense_threads.load();
}

// f(first row, rows) over `threads` contiguous parts of [0, rows), one per thread.
template <class F>
void over_rows(int64_t rows, int threads, F f) {
  std::exception_ptr error;
#pragma omp parallel num_threads(threads)
  {
#ifdef _OPENMP
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
#else
    const int t = 0, nt = 1;
#endif
    // Grad mode is per thread: the team's workers would otherwise record the out=
    // products, which autograd refuses.
    torch::NoGradGuard untracked;
    const int64_t begin = rows * t / nt, end = rows * (t + 1) / nt;
    try {
      if (end > begin) f(begin, end - begin);
    } catch (...) {
#pragma omp critical(concord_dense_error)
      error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
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
  for (auto& layer : *layers) {
    if (const auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(layer.ptr())) {
      x = split_linear(x, linear->weight, linear->bias);
    } else {
      x = layer.forward(x);
    }
  }
  return x;
}

}  // namespace concord
