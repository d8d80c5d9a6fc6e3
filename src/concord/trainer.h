// Training an encoder (CONCORD or a sister self-supervised method) and embedding all cells. This header is free of LibTorch
// so that front ends compile quickly against it.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "augment.h"
#include "csr.h"
#include "interrupt.h"
#include "options.h"
#include "rng.h"
#include "threads.h"

namespace concord {

struct TrainCallbacks {
  // After each epoch, with the epoch's mean loss (epochs count from 1).
  std::function<void(int epoch, int epochs, double loss)> epoch_end;
  // Polled between batches and between chunks of the embedding and kNN passes;
  // returning true stops training with Interrupted.
  InterruptFn interrupted;
};

// Thrown when a step's loss, or the final embedding, is not finite: training has
// diverged (a learning rate too high, a temperature too low, extreme input values).
// Training stops there, so no non-finite embedding or weights are ever returned.
class NonFiniteLoss : public std::runtime_error {
 public:
  NonFiniteLoss(int epoch, int64_t step)
      : std::runtime_error("the loss became non-finite at epoch " + std::to_string(epoch) +
                           ", step " + std::to_string(step)),
        epoch(epoch), step(step) {}
  const int epoch;      // 1-based; 0 for the final embedding
  const int64_t step;   // 1-based optimizer step
};

// Thrown when the sampler yields no batch of at least min_batch_size distinct cells in
// an epoch, so that epoch would train nothing (tiny domains, or a kNN share drawn from
// neighbourhoods holding too few cells of the batch's domain).
class EmptyEpoch : public std::runtime_error {
 public:
  explicit EmptyEpoch(int epoch)
      : std::runtime_error("epoch " + std::to_string(epoch) + " drew no mini-batch to train on"),
        epoch(epoch) {}
  const int epoch;  // 1-based
};

// Wall-clock seconds spent in each phase of training, for benchmarks and users.
struct PhaseSeconds {
  double sample = 0;     // drawing the epoch's batches (and kNN queries)
  double augment = 0;    // building the two augmented views
  double forward = 0;    // encoders and heads on both views, and the loss
  double backward = 0;   // autograd and the sparse first-layer gradient
  double optimizer = 0;  // Adam
  double embed = 0;      // embedding cells (kNN warm-up, a method's per-epoch sample, the final pass)
  double knn_index = 0;  // building the kNN index
};

// A model's parameters and buffers by name (LibTorch's module naming), in a form that
// front ends can store and hand back without knowing LibTorch.
struct NamedArray {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};
using Weights = std::vector<NamedArray>;

struct TrainResult {
  int n_cells = 0;
  int latent_dim = 0;
  std::vector<float> embedding;  // n_cells x latent_dim, row-major
  std::vector<double> epoch_loss;
  int64_t steps = 0;
  int threads = 0;               // threads actually used
  PhaseSeconds seconds;
  Weights weights;               // the trained encoder
};

// Makes one augmented view of rows cells[0..n) of x into out; `view_index` (0 or 1)
// tells the two views of a pair apart, for augmentations that treat them differently.
using ViewFn = std::function<void(const CsrView& x, const int* cells, int n, Rng& rng,
                                  SparseBatch& out, int view_index)>;

// Trains on the cells x genes matrix `x` (log-normalised values) with one domain label
// in [0, n_domains) per cell, then embeds every cell in evaluation mode. With `initial`,
// training continues from those weights (fine-tuning) instead of a random start. With a
// classifier (options.model.n_classes > 0), `labels` holds one class in
// [0, n_classes) per cell, or -1 for unlabelled cells. `options.method` chooses the
// method (method.h); `views` makes the augmented views, by default CONCORD's masks
// (options.element_mask and feature_mask).
TrainResult train(const CsrView& x, const std::vector<int>& domains, const TrainOptions& options,
                  const TrainCallbacks& callbacks = {}, const Weights* initial = nullptr,
                  const std::vector<int>& labels = {}, const ViewFn& views = nullptr);

struct Embedding {
  int n_cells = 0;
  int dim = 0;
  std::vector<float> values;  // n_cells x dim, row-major
};

// Embeds the cells of `x` (genes in the model's order) as a model trained with `options`
// does (options.method's representation, in evaluation mode). Throws
// std::invalid_argument when the weights do not fit the model.
Embedding encode(const CsrView& x, const TrainOptions& options, const Weights& weights,
                 int threads, const std::string& device = "cpu", const InterruptFn& interrupted = {});

// Expression decoded from an embedding (n_cells x latent_dim, row-major) as if every cell
// came from `domain`: n_cells x n_genes, row-major (models with a decoder only).
std::vector<float> decode(const std::vector<float>& embedding, int n_cells, int n_genes,
                          const ModelOptions& model, const Weights& weights, int domain,
                          int threads, const InterruptFn& interrupted = {});

// Expression of the cells of `x` decoded by a generative method's model (method.h's
// decode) as if every cell came from `domain`: n_cells x n_genes, row-major. Throws
// std::invalid_argument for a method that decodes nothing.
std::vector<float> decode_cells(const CsrView& x, const TrainOptions& options, const Weights& weights,
                                int domain, int threads, const InterruptFn& interrupted = {});

// Gene attribution: for each latent dimension d and gene g, the mean over the given
// cells of x_g * dz_d / dx_g (input times gradient, in evaluation mode), i.e. how much
// of dimension d each gene contributes, to first order. Returns genes x latent_dim,
// row-major. `cells` empty means every cell.
std::vector<float> attribution(const CsrView& x, const ModelOptions& model, const Weights& weights,
                               const std::vector<int>& cells, int threads,
                               const InterruptFn& interrupted = {});

// Whether the linked LibTorch has a CUDA backend and sees a device.
bool cuda_available();

}  // namespace concord
