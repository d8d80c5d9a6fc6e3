#include "model.h"

#include <cmath>
#include <stdexcept>

#include "dense.h"
#include "kernels.h"

namespace concord {

namespace {

void add_block_tail(torch::nn::Sequential& body, int width, const ModelOptions& o,
                    bool activation = true) {
  switch (o.norm) {
    case Norm::layer:
      body->push_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
      break;
    case Norm::batch:
      body->push_back(torch::nn::BatchNorm1d(width));
      break;
    case Norm::none:
      break;
  }
  if (activation) {
    body->push_back(torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(o.leaky_slope)));
  }
  if (o.dropout > 0) body->push_back(torch::nn::Dropout(o.dropout));
}

// The blocks after the first Linear of one modality's encoder.
torch::nn::Sequential make_body(const std::vector<int>& widths, const ModelOptions& o) {
  torch::nn::Sequential body;
  const size_t last = widths.size() - 1;
  add_block_tail(body, widths[0], o, last > 0 || o.latent_activation);
  for (size_t l = 1; l < widths.size(); ++l) {
    torch::nn::Linear linear(widths[l - 1], widths[l]);
    torch::nn::init::kaiming_normal_(linear->weight, 0.0, torch::kFanIn, torch::kLeakyReLU);
    torch::nn::init::zeros_(linear->bias);
    body->push_back(linear);
    add_block_tail(body, widths[l], o, l < last || o.latent_activation);
  }
  return body;
}

}  // namespace

EncoderImpl::EncoderImpl(int n_genes, const ModelOptions& o)
    : modality_features_(o.modality_features), fusion_(o.fusion), latent_dim_(o.latent_dim) {
  if (n_genes < 1) throw std::invalid_argument("the encoder needs at least one input gene");
  if (o.latent_dim < 1) throw std::invalid_argument("latent_dim must be at least 1");
  std::vector<int> widths = o.encoder_dims;
  widths.push_back(o.latent_dim);
  for (int w : widths) {
    if (w < 1) throw std::invalid_argument("layer widths must be at least 1");
  }
  const int m = n_modalities();
  if (!modality_features_.empty()) {
    int total = 0;
    for (int f : modality_features_) {
      if (f < 1) throw std::invalid_argument("every modality needs at least one feature");
      total += f;
    }
    if (total != n_genes) throw std::invalid_argument("the modalities' features do not add up to the input's");
    if (m > 1 && (o.n_classes > 0 || o.decoder))
      throw std::invalid_argument("a multimodal encoder has no classifier or decoder");
  }
  hidden_ = widths[0];
  // Kaiming-normal weights for a LeakyReLU with PyTorch's default a = 0 (gain sqrt(2)),
  // zero biases, as the reference initialises its Linear layers. Several modalities:
  // each diagonal block with its own fan-in, zeros between modalities.
  torch::Tensor w = torch::zeros({n_genes, m * hidden_});
  if (m == 1) {
    w = torch::randn({n_genes, hidden_}) * std::sqrt(2.0 / n_genes);
  } else {
    int offset = 0;
    for (int k = 0; k < m; ++k) {
      const int f = modality_features_[k];
      w.narrow(0, offset, f).narrow(1, k * hidden_, hidden_).copy_(torch::randn({f, hidden_}) * std::sqrt(2.0 / f));
      offset += f;
    }
  }
  weight_in_ = register_parameter("weight_in", w);
  bias_in_ = register_parameter("bias_in", torch::zeros({m * hidden_}));
  // The first modality's body keeps the single-modality name, so that its parameters
  // read the same in either kind of model.
  body_ = register_module("body", make_body(widths, o));
  for (int k = 1; k < m; ++k) bodies_.push_back(register_module("body_" + std::to_string(k + 1), make_body(widths, o)));
  if (o.n_classes > 0) classifier_ = register_module("classifier", torch::nn::Linear(o.latent_dim, o.n_classes));
  if (o.decoder) {
    if (o.n_domains < 1) throw std::invalid_argument("the decoder needs at least one domain");
    domain_embedding_ = register_module("domain_embedding", torch::nn::Embedding(o.n_domains, o.domain_dim));
    decoder_ = register_module("decoder", torch::nn::Sequential());
    int in = o.latent_dim + o.domain_dim;
    for (int w : o.decoder_dims) {
      if (w < 1) throw std::invalid_argument("decoder widths must be at least 1");
      decoder_->push_back(torch::nn::Linear(in, w));
      add_block_tail(decoder_, w, o);
      in = w;
    }
    decoder_->push_back(torch::nn::Linear(in, n_genes));
  }
}

torch::Tensor EncoderImpl::rest(const torch::Tensor& first_out) {
  if (bodies_.empty()) return forward_split(body_, first_out);
  std::vector<torch::Tensor> z{forward_split(body_, first_out.narrow(1, 0, hidden_))};
  for (size_t k = 0; k < bodies_.size(); ++k)
    z.push_back(forward_split(bodies_[k], first_out.narrow(1, static_cast<int64_t>(k + 1) * hidden_, hidden_)));
  return torch::cat(z, 1);
}

torch::Tensor EncoderImpl::decode_layers(const torch::Tensor& input) { return forward_split(decoder_, input); }

std::vector<torch::Tensor> EncoderImpl::modalities(const torch::Tensor& z) const {
  return z.split(latent_dim_, 1);
}

torch::Tensor EncoderImpl::fuse(const torch::Tensor& z) const {
  if (n_modalities() == 1 || fusion_ != Fusion::sum) return z;
  return torch::stack(modalities(z), 0).sum(0);
}

void EncoderImpl::mask_first_layer_grad(torch::Tensor& grad) const {
  if (n_modalities() == 1 || !grad.defined()) return;
  torch::NoGradGuard no_grad;
  int offset = 0;
  for (int k = 0; k < n_modalities(); ++k) {
    const int f = modality_features_[k];
    torch::Tensor rows = grad.narrow(0, offset, f);
    if (k > 0) rows.narrow(1, 0, k * hidden_).zero_();
    const int after = (n_modalities() - k - 1) * hidden_;
    if (after > 0) rows.narrow(1, (k + 1) * hidden_, after).zero_();
    offset += f;
  }
}

torch::Tensor EncoderImpl::first_layer_sparse(const SparseBatch& x, int threads) const {
  const int h = static_cast<int>(weight_in_.size(1));
  // Reused between calls: a dense block is a few megabytes.
  thread_local RowSplit split;
  if (!split_dense_rows(x, split)) {
    torch::Tensor out = torch::empty({x.n_rows, h});
    sparse_forward(x, weight_in_.data_ptr<float>(), bias_in_.data_ptr<float>(), h,
                   out.data_ptr<float>(), threads);
    return out;
  }
  const auto rows = [](std::vector<int64_t>& r) {
    return torch::from_blob(r.data(), {static_cast<int64_t>(r.size())}, torch::kLong);
  };
  torch::NoGradGuard untracked;  // as the sparse kernel's output (the trainer does the backward)
  torch::Tensor out = torch::empty({x.n_rows, h});
  const torch::Tensor dense = torch::from_blob(
      split.dense.data(), {static_cast<int64_t>(split.dense_rows.size()), x.n_cols});
  out.index_copy_(0, rows(split.dense_rows), torch::addmm(bias_in_, dense, weight_in_));
  if (split.sparse.n_rows > 0) {
    torch::Tensor part = torch::empty({split.sparse.n_rows, h});
    sparse_forward(split.sparse, weight_in_.data_ptr<float>(), bias_in_.data_ptr<float>(), h,
                   part.data_ptr<float>(), threads);
    out.index_copy_(0, rows(split.sparse_rows), part);
  }
  return out;
}

torch::Tensor EncoderImpl::densify(const SparseBatch& x) const {
  torch::Tensor dense = torch::zeros({x.n_rows, x.n_cols});
  float* d = dense.data_ptr<float>();
  for (int r = 0; r < x.n_rows; ++r) {
    for (int k = x.indptr[r]; k < x.indptr[r + 1]; ++k) {
      d[static_cast<int64_t>(r) * x.n_cols + x.indices[k]] = x.values[k];
    }
  }
  return dense.to(weight_in_.device());
}

torch::Tensor EncoderImpl::first_layer(const torch::Tensor& dense) const {
  return torch::addmm(bias_in_, dense, weight_in_);
}

}  // namespace concord
