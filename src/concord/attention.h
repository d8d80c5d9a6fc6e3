// Attention pooling over a cell's expressed genes, Concerto's teacher input layer: each
// non-zero gene's learned embedding scaled by its value, scored by a tanh layer against
// a learned context vector, softmax over the cell's own non-zero genes, weighted sum.
// Only the batch's stored values are touched, so that it scales to all genes: the
// cells x genes matrix is never densified.
#pragma once

#include <torch/torch.h>

#include "augment.h"

namespace concord {

struct Pooled {
  torch::Tensor cells;    // n_rows x dim
  torch::Tensor weights;  // one per stored value, in the batch's order; sums to 1 per cell
};

class GeneAttentionImpl : public torch::nn::Module {
 public:
  GeneAttentionImpl(int n_genes, int dim);
  Pooled forward(const SparseBatch& batch);
  int dim() const { return static_cast<int>(embedding_.size(1)); }

 private:
  torch::Tensor embedding_;  // genes x dim
  torch::Tensor weight_;     // dim x dim, the scoring layer
  torch::Tensor bias_;
  torch::Tensor context_;    // dim
};
TORCH_MODULE(GeneAttention);

// Rows [begin, end) of a batch, so that a large batch can pass in pieces.
void slice_rows(const SparseBatch& batch, int begin, int end, SparseBatch& out);

}  // namespace concord
