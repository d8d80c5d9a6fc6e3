// The CONCORD encoder: blocks of Linear -> norm -> LeakyReLU -> Dropout for each hidden
// layer and for the latent layer. The embedding is the last block's output.
//
// The first Linear is held apart from the rest because its input is a sparse batch:
// on the CPU it runs through the sparse kernels (kernels.h), elsewhere through a dense
// copy of the batch and LibTorch's own matmul.
//
// Multimodal input (ModelOptions::modality_features) keeps this one encoder: the input
// holds the modalities' features side by side, the first Linear is block-diagonal (a
// modality's features feed only its own block of hidden units, the blocks between
// modalities are zero and stay zero: mask_first_layer_grad) and each block continues
// through its own body. So the sparse first layer, the trainer, every method, weights
// and projection work unchanged, and each modality still has an encoder of its own.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <vector>

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
  // Everything after the first Linear. With several modalities: each modality's
  // embedding, side by side (B x n_modalities * latent_dim), not yet fused.
  torch::Tensor rest(const torch::Tensor& first_out);
  // The joint embedding of rest()'s output: itself for concat and clip fusion, the sum
  // of the modalities' embeddings for sum fusion (one modality: itself).
  torch::Tensor fuse(const torch::Tensor& z) const;
  // rest()'s output split into one B x latent_dim embedding per modality.
  std::vector<torch::Tensor> modalities(const torch::Tensor& z) const;
  int n_modalities() const { return static_cast<int>(std::max<size_t>(1, modality_features_.size())); }
  Fusion fusion() const { return fusion_; }
  // Zeroes the first Linear's weight gradient between a modality's features and
  // another modality's hidden units (several modalities only), so that Adam never
  // moves those weights from zero.
  void mask_first_layer_grad(torch::Tensor& grad) const;
  // Class logits of embeddings (ModelOptions::n_classes > 0 only): one Linear layer.
  torch::Tensor classify(const torch::Tensor& z) { return classifier_->forward(z); }
  bool has_classifier() const { return !classifier_.is_empty(); }
  // Expression (cells x genes) decoded from embeddings and domain codes (decoder only).
  torch::Tensor decode(const torch::Tensor& z, const torch::Tensor& domains) {
    return decode_layers(torch::cat({z, domain_embedding_->forward(domains)}, 1));
  }
  bool has_decoder() const { return !decoder_.is_empty(); }

  int n_genes() const { return static_cast<int>(weight_in_.size(0)); }
  // Width of rest()'s output: latent_dim times the number of modalities.
  int latent_dim() const { return latent_dim_ * n_modalities(); }
  // Stored genes x hidden (transposed from nn::Linear) so that a gene's weights are one
  // contiguous row for the sparse kernels.
  torch::Tensor& weight_in() { return weight_in_; }
  torch::Tensor& bias_in() { return bias_in_; }

 private:
  torch::Tensor decode_layers(const torch::Tensor& input);

  torch::Tensor weight_in_;
  torch::Tensor bias_in_;
  torch::nn::Sequential body_;
  std::vector<torch::nn::Sequential> bodies_;  // modalities 2, 3, ... (body_ is the first's)
  std::vector<int> modality_features_;
  int hidden_ = 0;  // first-layer width of one modality
  Fusion fusion_ = Fusion::sum;
  torch::nn::Linear classifier_{nullptr};
  torch::nn::Embedding domain_embedding_{nullptr};
  torch::nn::Sequential decoder_{nullptr};
  int latent_dim_;
};
TORCH_MODULE(Encoder);

}  // namespace concord
