#include "attention.h"

#include <algorithm>
#include <cmath>

namespace concord {

GeneAttentionImpl::GeneAttentionImpl(int n_genes, int dim) {
  if (n_genes < 1 || dim < 1) throw std::invalid_argument("gene attention needs at least one gene and dimension");
  // Keras' defaults, which the reference builds on: embeddings uniform in +-0.05,
  // Glorot-uniform scoring weights and context, zero bias.
  const double glorot = std::sqrt(6.0 / (2.0 * dim));
  embedding_ = register_parameter("embedding", torch::rand({n_genes, dim}) * 0.1 - 0.05);
  weight_ = register_parameter("weight", (torch::rand({dim, dim}) * 2 - 1) * glorot);
  bias_ = register_parameter("bias", torch::zeros({dim}));
  context_ = register_parameter("context", (torch::rand({dim}) * 2 - 1) * std::sqrt(3.0 / dim));
}

Pooled GeneAttentionImpl::forward(const SparseBatch& b) {
  const torch::Device device = embedding_.device();
  const int64_t nnz = b.nnz();
  std::vector<int64_t> genes(b.indices.begin(), b.indices.end());
  std::vector<int64_t> rows(nnz);
  for (int r = 0; r < b.n_rows; ++r) {
    std::fill(rows.begin() + b.indptr[r], rows.begin() + b.indptr[r + 1], static_cast<int64_t>(r));
  }
  const auto copy_to_device = [&](void* data, torch::ScalarType type) {
    return torch::from_blob(data, {nnz}, type).to(device, type, /*non_blocking=*/false, /*copy=*/true);
  };
  const torch::Tensor gene = copy_to_device(genes.data(), torch::kLong);
  const torch::Tensor row = copy_to_device(rows.data(), torch::kLong);
  const torch::Tensor value = copy_to_device(const_cast<float*>(b.values.data()), torch::kFloat);

  const torch::Tensor h = embedding_.index_select(0, gene) * value.unsqueeze(1);
  const torch::Tensor score = torch::mv(torch::tanh(torch::addmm(bias_, h, weight_)), context_);
  // Softmax within each cell, shifted by the cell's largest score so that exp() cannot
  // overflow; the shift cancels, so it carries no gradient.
  const torch::Tensor scores = score.detach().to(torch::kCPU).contiguous();
  const float* s = scores.data_ptr<float>();
  std::vector<float> top(b.n_rows, 0.f);
  for (int r = 0; r < b.n_rows; ++r) {
    if (b.indptr[r + 1] > b.indptr[r]) top[r] = *std::max_element(s + b.indptr[r], s + b.indptr[r + 1]);
  }
  const torch::Tensor shift = torch::from_blob(top.data(), {b.n_rows}).to(device, torch::kFloat, false, true);
  const torch::Tensor e = torch::exp(score - shift.index_select(0, row));
  const torch::Tensor total = torch::zeros({b.n_rows}, e.options()).index_add(0, row, e);
  const torch::Tensor alpha = e / total.index_select(0, row);
  const torch::Tensor pooled =
      torch::zeros({b.n_rows, dim()}, h.options()).index_add(0, row, h * alpha.unsqueeze(1));
  return {pooled, alpha};
}

void slice_rows(const SparseBatch& b, int begin, int end, SparseBatch& out) {
  const int from = b.indptr[begin], to = b.indptr[end];
  out.n_rows = end - begin;
  out.n_cols = b.n_cols;
  out.indices.assign(b.indices.begin() + from, b.indices.begin() + to);
  out.values.assign(b.values.begin() + from, b.values.begin() + to);
  out.indptr.resize(out.n_rows + 1);
  for (int r = 0; r <= out.n_rows; ++r) out.indptr[r] = b.indptr[begin + r] - from;
}

}  // namespace concord
