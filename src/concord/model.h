// The CONCORD encoder: blocks of Linear -> norm -> LeakyReLU -> Dropout for each hidden
// layer and for the latent layer. The embedding is the last block's output.
//
// The first Linear is held apart from the rest because its input is a sparse batch:
// on the CPU it runs through the sparse kernels (kernels.h), elsewhere through a dense
// copy of the batch and LibTorch's own matmul.
#pragma once

#include <torch/torch.h>

#include "augment.h"
#include "options.h"

namespace concord {

class EncoderImpl : public torch::nn::Module {
 public:
  EncoderImpl(int n_genes, const ModelOptions& options);

  // First Linear on the sparse kernels; not tracked by autograd (CPU only).
  torch::Tensor first_layer_sparse(const SparseBatch& x, int threads) const;
  // First Linear through a dense copy of the batch, tracked by autograd (any device).
  torch::Tensor first_layer_dense(const SparseBatch& x) const { return first_layer(densify(x)); }
  // First Linear of a dense cells x genes tensor, tracked by autograd.
  torch::Tensor first_layer(const torch::Tensor& dense) const;
  // The batch as a dense cells x genes tensor on the model's device.
  torch::Tensor densify(const SparseBatch& x) const;
  // Everything after the first Linear.
  torch::Tensor rest(const torch::Tensor& first_out) { return body_->forward(first_out); }
  // Class logits of embeddings (ModelOptions::n_classes > 0 only): one Linear layer.
  torch::Tensor classify(const torch::Tensor& z) { return classifier_->forward(z); }
  bool has_classifier() const { return !classifier_.is_empty(); }
  // Expression (cells x genes) decoded from embeddings and domain codes (decoder only).
  torch::Tensor decode(const torch::Tensor& z, const torch::Tensor& domains) {
    return decoder_->forward(torch::cat({z, domain_embedding_->forward(domains)}, 1));
  }
  bool has_decoder() const { return !decoder_.is_empty(); }

  int n_genes() const { return static_cast<int>(weight_in_.size(0)); }
  int latent_dim() const { return latent_dim_; }
  // Stored genes x hidden (transposed from nn::Linear) so that a gene's weights are one
  // contiguous row for the sparse kernels.
  torch::Tensor& weight_in() { return weight_in_; }
  torch::Tensor& bias_in() { return bias_in_; }

 private:
  torch::Tensor weight_in_;
  torch::Tensor bias_in_;
  torch::nn::Sequential body_;
  torch::nn::Linear classifier_{nullptr};
  torch::nn::Embedding domain_embedding_{nullptr};
  torch::nn::Sequential decoder_{nullptr};
  int latent_dim_;
};
TORCH_MODULE(Encoder);

}  // namespace concord
