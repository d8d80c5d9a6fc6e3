#include "pca.h"

#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>

#include "rng.h"

namespace concord {

namespace {

// Oversampling and power iterations: with 10 extra columns and 4 iterations the leading
// components of expression data are found to a precision far below what a kNN graph
// can tell apart (Halko et al., section 10).
constexpr int kOversample = 10;
constexpr int kPowerIterations = 4;

// (X - 1 mu^T) m for an n x l `m`; rows are independent, so threads do not change it.
torch::Tensor times(const CsrView& x, const std::vector<double>& mu, const torch::Tensor& m,
                    int threads) {
  const int64_t l = m.size(1);
  const torch::Tensor shift =
      torch::from_blob(const_cast<double*>(mu.data()), {1, x.n_cols}, torch::kDouble)
          .mm(m)
          .contiguous();
  torch::Tensor out = torch::empty({x.n_rows, l}, torch::kDouble);
  const double* mp = m.data_ptr<double>();
  const double* sp = shift.data_ptr<double>();
  double* op = out.data_ptr<double>();
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int r = 0; r < x.n_rows; ++r) {
    double* o = op + static_cast<int64_t>(r) * l;
    for (int64_t j = 0; j < l; ++j) o[j] = -sp[j];
    for (int k = x.indptr[r]; k < x.indptr[r + 1]; ++k) {
      const double v = x.values[k];
      const double* row = mp + static_cast<int64_t>(x.indices[k]) * l;
      for (int64_t j = 0; j < l; ++j) o[j] += v * row[j];
    }
  }
  return out;
}

// (X - 1 mu^T)^T q for an n x l `q`: a sum over cells, kept sequential so that its
// rounding does not depend on the thread count.
torch::Tensor times_transposed(const CsrView& x, const std::vector<double>& mu,
                               const torch::Tensor& q) {
  const int64_t l = q.size(1);
  torch::Tensor out = torch::zeros({x.n_cols, l}, torch::kDouble);
  const torch::Tensor colsum = q.sum(0).contiguous();
  const double* qp = q.data_ptr<double>();
  const double* cp = colsum.data_ptr<double>();
  double* op = out.data_ptr<double>();
  for (int r = 0; r < x.n_rows; ++r) {
    const double* row = qp + static_cast<int64_t>(r) * l;
    for (int k = x.indptr[r]; k < x.indptr[r + 1]; ++k) {
      const double v = x.values[k];
      double* o = op + static_cast<int64_t>(x.indices[k]) * l;
      for (int64_t j = 0; j < l; ++j) o[j] += v * row[j];
    }
  }
  for (int g = 0; g < x.n_cols; ++g) {
    double* o = op + static_cast<int64_t>(g) * l;
    for (int64_t j = 0; j < l; ++j) o[j] -= mu[g] * cp[j];
  }
  return out;
}

torch::Tensor orthonormal(const torch::Tensor& a) {
  return std::get<0>(torch::linalg_qr(a)).contiguous();
}

// Scopes LibTorch's intra-op thread count to one call.
class TorchThreads {
 public:
  explicit TorchThreads(int threads) : previous_(torch::get_num_threads()) {
    torch::set_num_threads(threads);
  }
  ~TorchThreads() { torch::set_num_threads(previous_); }

 private:
  int previous_;
};

}  // namespace

PcaScores pca_scores(const CsrView& x, int dims, uint64_t seed, int threads,
                     const InterruptFn& interrupted) {
  if (dims < 1) throw std::invalid_argument("PCA needs at least one component");
  const int rank = std::min(x.n_rows, x.n_cols);
  if (rank < 1) throw std::invalid_argument("PCA needs at least one cell and one gene");
  threads = std::max(1, threads);
  TorchThreads scope(threads);
  torch::NoGradGuard no_grad;
  dims = std::min(dims, rank);
  const int l = std::min(dims + kOversample, rank);

  std::vector<double> mu(x.n_cols, 0.0);
  for (int64_t k = 0; k < x.nnz(); ++k) mu[x.indices[k]] += x.values[k];
  for (double& m : mu) m /= x.n_rows;

  Rng rng(seed);
  StandardNormal normal;
  torch::Tensor omega = torch::empty({x.n_cols, l}, torch::kDouble);
  double* w = omega.data_ptr<double>();
  for (int64_t i = 0; i < omega.numel(); ++i) w[i] = normal(rng);

  torch::Tensor q = orthonormal(times(x, mu, omega, threads));
  for (int it = 0; it < kPowerIterations; ++it) {
    poll(interrupted);
    const torch::Tensor z = orthonormal(times_transposed(x, mu, q));
    q = orthonormal(times(x, mu, z, threads));
  }
  // X_c ~ Q B with B = (X_c^T Q)^T; B B^T = U S^2 U^T gives the scores X_c V = Q U S.
  const torch::Tensor bt = times_transposed(x, mu, q);
  const auto eig = torch::linalg_eigh(bt.t().mm(bt));
  const torch::Tensor values = std::get<0>(eig).flip(0).slice(0, 0, dims).clamp_min(0);
  const torch::Tensor vectors = std::get<1>(eig).flip(1).slice(1, 0, dims);
  const torch::Tensor scores =
      (q.mm(vectors) * values.sqrt().unsqueeze(0)).to(torch::kFloat).contiguous();
  const float* s = scores.data_ptr<float>();
  return PcaScores{dims, std::vector<float>(s, s + scores.numel())};
}

}  // namespace concord
