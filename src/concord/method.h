// A training method: what one step computes on the two views of a batch. The loop in
// trainer.cpp owns everything else (sampling, views, the online encoder's sparse first
// layer, backward, Adam, schedule, callbacks, the embedding pass); a method owns its
// extra modules (heads, predictor, momentum target, queue) and its loss.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "augment.h"
#include "csr.h"
#include "model.h"
#include "options.h"

namespace concord {

// What a method needs of the online encoder's pass over the second view.
enum class SecondView {
  unused,    // only a momentum target sees it (MoCo)
  constant,  // encoded without gradient (CONCORD)
  trained,   // encoded with gradient, like the first view
};

// One step as the loop hands it over. h1 (and h2 when SecondView::trained) are the
// online encoder's first-layer outputs, tracked by autograd; the loop turns their
// gradient into the first layer's weight gradient.
struct Step {
  const std::vector<int>& cells;
  const SparseBatch& view1;
  const SparseBatch& view2;
  torch::Tensor h1;
  torch::Tensor h2;  // undefined when SecondView::unused
  int epoch = 0;     // 0-based
};

// What a method may read besides the step.
struct MethodContext {
  const CsrView& x;
  const std::vector<int>& domains;
  const std::vector<int>& labels;
  const TrainOptions& options;
  torch::Device device;
  // The first Linear of any encoder (the online one, a momentum target) on a batch,
  // untracked: the sparse kernels on the CPU, a dense product elsewhere.
  std::function<torch::Tensor(Encoder&, const SparseBatch&)> first_layer;
};

class Method {
 public:
  virtual ~Method() = default;
  virtual SecondView second_view() const = 0;
  // Parameters trained beside the online encoder's.
  virtual std::vector<torch::Tensor> parameters() { return {}; }
  // The step's loss on the online encoder (in training mode).
  virtual torch::Tensor loss(Encoder& online, const Step& step) = 0;

  // The embedding of a batch, in evaluation mode and without gradient, given the online
  // encoder's first-layer output on it: by default the online encoder's output. A
  // method whose representation is another network (Concerto's teacher) or a head on
  // the encoder (a variational mean) says so here; the kNN sampler, the final
  // embedding and projection of new cells all use it.
  virtual torch::Tensor represent(Encoder& online, const SparseBatch& batch, const torch::Tensor& first) {
    (void)batch;
    return online->rest(first);
  }
  virtual int embedding_dim(Encoder& online) const { return online->latent_dim(); }
  // Switches the method's own modules between training and evaluation mode (the loop
  // switches the online encoder).
  virtual void set_training(bool on) { (void)on; }
  // How many cells' representations the method reads before epoch `epoch` (0-based; 0
  // for none). The loop then hands epoch_start() that many cells drawn at random (all
  // when there are fewer), in the evaluation-mode pass of the final embedding: their
  // representations (row-major), domains and cells (each row's index among this rank's
  // cells, -1 for another rank's). In distributed training the count is over all ranks,
  // and every rank is handed the same cells in the same order.
  virtual int64_t embedding_sample(int epoch) const {
    (void)epoch;
    return 0;
  }
  virtual void epoch_start(Encoder& online, int epoch, const std::vector<float>& embedding,
                           const std::vector<int>& domains, const std::vector<int64_t>& cells) {
    (void)online, (void)epoch, (void)embedding, (void)domains, (void)cells;
  }
  // Parameters and buffers saved with the model beside the online encoder's, by name
  // (the loop prefixes "method."); restored, all of them, when training starts from
  // saved weights and when cells are embedded with a saved model.
  virtual std::vector<std::pair<std::string, torch::Tensor>> state() { return {}; }
  // Expression (cells x genes) a generative method decodes from a batch's
  // representation as if every cell came from `domain`, in evaluation mode and without
  // gradient; an undefined tensor for methods that decode nothing.
  virtual torch::Tensor decode(Encoder& online, const SparseBatch& batch, const torch::Tensor& first, int domain) {
    (void)online, (void)batch, (void)first, (void)domain;
    return {};
  }
};

// The method named by context.options.method. Throws std::invalid_argument for an
// unknown name.
std::unique_ptr<Method> make_method(Encoder& online, const MethodContext& context);

// The self-supervised methods of the SSL benchmark (method_ssl.cpp); nullptr for a name
// that is not one of them.
std::unique_ptr<Method> make_ssl_method(Encoder& online, const MethodContext& context);

// The variational autoencoders "bascvi" (method_bascvi.cpp) and "sccraft"
// (method_sccraft.cpp); nullptr for other names.
std::unique_ptr<Method> make_vae_method(Encoder& online, const MethodContext& context);
// Concerto's teacher-student distillation (method_concerto.cpp).
std::unique_ptr<Method> make_concerto_method(Encoder& online, const MethodContext& context);

}  // namespace concord
