// The parts that self-supervised methods add around the encoder: projection and
// prediction heads (small MLPs), the momentum (exponential moving average) update of a
// target network, and the memory queue of past projections used by MoCo (negatives)
// and NNCLR (nearest-neighbour support set).
#pragma once

#include <torch/torch.h>

#include <vector>

namespace concord {

// One Linear layer of a head and what follows it. As in LightlySSL's heads, a layer
// followed by batch normalization has no bias (the norm's shift replaces it).
struct HeadLayer {
  enum class Norm { none, batch, batch_no_affine };
  int in = 0;
  int out = 0;
  Norm norm = Norm::none;
  bool relu = false;
};

// A head as a Sequential of its layers, with LibTorch's default Linear initialisation.
torch::nn::Sequential make_head(const std::vector<HeadLayer>& layers);

// target <- m * target + (1 - m) * online, parameter by parameter (buffers such as
// BatchNorm's running statistics are left to the target's own forward passes).
void momentum_update(const std::vector<torch::Tensor>& online,
                     const std::vector<torch::Tensor>& target, double m);

// Copies online parameters into the target (its starting point) and turns off their
// gradients.
void copy_into_target(const std::vector<torch::Tensor>& online,
                      const std::vector<torch::Tensor>& target);

// The momentum at `epoch` (0-based) of `epochs`: a cosine rise from `start` to `end`
// that reaches `end` at the last epoch, as LightlySSL's cosine_schedule.
double cosine_momentum(int epoch, int epochs, double start, double end);

// A first-in, first-out store of the last `size` vectors of width `dim`, started with
// random unit vectors. Entries are overwritten oldest first.
class MemoryQueue {
 public:
  MemoryQueue(int size, int dim, torch::Device device);

  // The entries (size x dim), detached from any graph.
  const torch::Tensor& entries() const { return bank_; }
  // Adds the rows of `batch`, replacing the oldest entries (a batch larger than the
  // queue keeps its last `size` rows).
  void enqueue(const torch::Tensor& batch);
  // For each row of `queries`, the stored entry of highest cosine similarity.
  torch::Tensor nearest(const torch::Tensor& queries) const;
  // Position the next entry is written to.
  int64_t position() const { return next_; }

 private:
  torch::Tensor bank_;
  int64_t next_ = 0;
};

}  // namespace concord
