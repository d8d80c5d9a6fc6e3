#include "trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>
#include <random>

#include "adam.h"
#include "augment.h"
#include "dense.h"
#include "distributed.h"
#include "kernels.h"
#include "knn.h"
#include "method.h"
#include "model.h"
#include "rng.h"
#include "sampler.h"

namespace concord {

namespace {

// LibTorch calls whatever BLAS the system provides, and OpenBLAS keeps a thread pool of
// its own, sized to every core. Its matrices here are small (batch x hidden x latent),
// and its spinning threads compete with the OpenMP threads of the rest of the step, so
// it runs on the calling thread (every entry point restores the host's count).
void single_threaded_blas() { set_blas_threads(1); }

bool all_finite(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float f) { return std::isfinite(f); });
}

// Adds the seconds from construction to `stop()` (or destruction) to a phase total.
class Stopwatch {
 public:
  explicit Stopwatch(double& total) : total_(total), start_(std::chrono::steady_clock::now()) {}
  ~Stopwatch() { stop(); }
  void stop() {
    if (stopped_) return;
    total_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    stopped_ = true;
  }

 private:
  double& total_;
  std::chrono::steady_clock::time_point start_;
  bool stopped_ = false;
};

torch::Device device_of(const std::string& device) {
  if (device != "cpu" && device != "cuda") throw std::invalid_argument("device must be \"cpu\" or \"cuda\"");
  if (device == "cuda" && !cuda_available())
    throw std::invalid_argument("device \"cuda\" requested but LibTorch sees no CUDA device");
  return torch::Device(device == "cuda" ? torch::kCUDA : torch::kCPU);
}

// The cells `rows` (all when null) through the method's representation in evaluation
// mode, `chunk` cells at a time; cells x embedding_dim, row-major.
std::vector<float> embed(Method& method, Encoder& encoder, const CsrView& x, const std::vector<int>* rows, int chunk,
                         bool sparse, int threads, const InterruptFn& interrupted) {
  torch::NoGradGuard no_grad;
  DenseThreads dense(threads);
  encoder->eval();
  method.set_training(false);
  const int dim = method.embedding_dim(encoder);
  const int n_rows = rows ? static_cast<int>(rows->size()) : x.n_rows;
  std::vector<float> out(static_cast<size_t>(n_rows) * dim);
  chunk = std::max(1, chunk);
  std::vector<int> cells;
  SparseBatch batch;
  for (int start = 0; start < n_rows; start += chunk) {
    poll(interrupted);
    const int n = std::min(chunk, n_rows - start);
    cells.resize(n);
    for (int i = 0; i < n; ++i) cells[i] = rows ? (*rows)[start + i] : start + i;
    gather_rows(x, cells.data(), n, batch);
    torch::Tensor first = sparse ? encoder->first_layer_sparse(batch, threads) : encoder->first_layer_dense(batch);
    torch::Tensor z = method.represent(encoder, batch, first).to(torch::kCPU, torch::kFloat).contiguous();
    if (z.size(0) != n || z.size(1) != dim) throw std::logic_error("a method's representation has the wrong shape");
    std::copy_n(z.data_ptr<float>(), static_cast<size_t>(n) * dim, out.data() + static_cast<size_t>(start) * dim);
  }
  return out;
}

// The first layer's weight gradient x^T grad_h on the split of rows that its forward
// used (EncoderImpl::first_layer_sparse): the sparse kernel over the sparse rows, then a
// matrix product over the dense ones added on top.
void first_layer_weight_grad(const SparseBatch& x, const torch::Tensor& grad_h, torch::Tensor& grad_w,
                             RowSplit& split, Transposed& transposed, int threads) {
  const int h = static_cast<int>(grad_h.size(1));
  if (!split_dense_rows(x, split)) {
    sparse_weight_grad(x, grad_h.data_ptr<float>(), h, grad_w.data_ptr<float>(), transposed, threads);
    return;
  }
  const auto rows = [](std::vector<int64_t>& r) {
    return torch::from_blob(r.data(), {static_cast<int64_t>(r.size())}, torch::kLong);
  };
  // With no sparse rows this writes zeros, which the product then adds to.
  const torch::Tensor sparse_grad = grad_h.index_select(0, rows(split.sparse_rows)).contiguous();
  sparse_weight_grad(split.sparse, sparse_grad.data_ptr<float>(), h, grad_w.data_ptr<float>(), transposed,
                     threads);
  const torch::Tensor dense = torch::from_blob(
      split.dense.data(), {static_cast<int64_t>(split.dense_rows.size()), x.n_cols});
  grad_w.addmm_(dense.t(), grad_h.index_select(0, rows(split.dense_rows)));
}

// The gradients of `leaves`, one above the other; a leaf the loss did not read counts as
// zeros, and with none read the result is undefined.
torch::Tensor stacked_grad(const std::vector<torch::Tensor>& leaves) {
  std::vector<torch::Tensor> parts;
  bool any = false;
  for (const auto& leaf : leaves) {
    any = any || leaf.grad().defined();
    parts.push_back(leaf.grad().defined() ? leaf.grad() : torch::zeros_like(leaf));
  }
  if (!any) return torch::Tensor();
  return parts.size() == 1 ? parts[0].contiguous() : torch::cat(parts, 0);
}

// The rows of a followed by the rows of b, so that both views pass the sparse first
// layer (and its weight gradient) in one go.
void stack_rows(const SparseBatch& a, const SparseBatch& b, SparseBatch& out) {
  out.n_rows = a.n_rows + b.n_rows;
  out.n_cols = a.n_cols;
  out.indices = a.indices;
  out.indices.insert(out.indices.end(), b.indices.begin(), b.indices.end());
  out.values = a.values;
  out.values.insert(out.values.end(), b.values.begin(), b.values.end());
  out.indptr = a.indptr;
  const int offset = a.indptr.back();
  for (int r = 1; r <= b.n_rows; ++r) out.indptr.push_back(offset + b.indptr[r]);
}

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Every parameter and buffer (BatchNorm's running statistics) of the encoder, then the
// method's own under "method.".
NamedTensors state_of(Encoder& encoder, Method& method) {
  NamedTensors state;
  for (const auto& p : encoder->named_parameters()) state.emplace_back(p.key(), p.value());
  for (const auto& b : encoder->named_buffers()) state.emplace_back(b.key(), b.value());
  for (auto& [name, tensor] : method.state()) state.emplace_back("method." + name, tensor);
  return state;
}

Weights export_weights(const NamedTensors& state) {
  Weights out;
  for (auto& [name, tensor] : state) {
    torch::Tensor t = tensor.detach().to(torch::kCPU, torch::kFloat).contiguous();
    NamedArray a{name, t.sizes().vec(), {}};
    a.values.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    out.push_back(std::move(a));
  }
  return out;
}

void import_weights(const NamedTensors& state, const Weights& weights) {
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : state) {
    auto it = std::find_if(weights.begin(), weights.end(), [&](const NamedArray& a) { return a.name == name; });
    if (it == weights.end()) throw std::invalid_argument("the model has no weights for '" + name + "'");
    if (it->shape != tensor.sizes().vec() || static_cast<int64_t>(it->values.size()) != tensor.numel())
      throw std::invalid_argument("the weights for '" + name + "' do not have the shape the model needs");
    const torch::Tensor saved = torch::from_blob(const_cast<float*>(it->values.data()), tensor.sizes());
    tensor.copy_(saved.to(tensor.device(), tensor.scalar_type()));  // BatchNorm's step counter is an integer
  }
}

// The state less a classification head that `initial` lacks: supervised fine-tuning adds
// a head to a model pre-trained without one, and the head keeps its fresh initialisation.
NamedTensors without_new_head(NamedTensors state, const Weights& initial) {
  const auto is_new_head = [&](const std::pair<std::string, torch::Tensor>& entry) {
    return entry.first.rfind("classifier.", 0) == 0 &&
           std::none_of(initial.begin(), initial.end(), [&](const NamedArray& a) { return a.name == entry.first; });
  };
  state.erase(std::remove_if(state.begin(), state.end(), is_new_head), state.end());
  return state;
}

// The encoder alone (decoding and attribution, which only CONCORD models support).
void import_encoder_weights(Encoder& encoder, const Weights& weights) {
  NamedTensors state;
  for (const auto& p : encoder->named_parameters()) state.emplace_back(p.key(), p.value());
  for (const auto& b : encoder->named_buffers()) state.emplace_back(b.key(), b.value());
  import_weights(state, weights);
}

// Tensors as one contiguous float buffer and back, so that a collective moves all of
// them in one call (one all-reduce per step instead of one per parameter). Undefined
// tensors (a parameter without a gradient on this rank) count as zeros of `like`'s shape,
// so that every rank contributes the same layout.
torch::Tensor flatten(const std::vector<torch::Tensor>& tensors, const std::vector<torch::Tensor>& like) {
  std::vector<torch::Tensor> flat;
  for (size_t i = 0; i < tensors.size(); ++i) {
    flat.push_back(tensors[i].defined() ? tensors[i].detach().to(torch::kCPU, torch::kFloat).reshape({-1})
                                        : torch::zeros({like[i].numel()}, torch::kFloat));
  }
  return flat.empty() ? torch::zeros({0}, torch::kFloat) : torch::cat(flat).contiguous();
}

void unflatten(const torch::Tensor& flat, std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  int64_t offset = 0;
  for (auto& t : tensors) {
    t.copy_(flat.narrow(0, offset, t.numel()).view_as(t).to(t.device(), t.scalar_type()));
    offset += t.numel();
  }
}

class Trainer {
 public:
  // With a communicator, x is this rank's share of `n_total` cells; this rank's Rng
  // differs from the others' (its own batches and masks) and its weights start as rank
  // 0's.
  Trainer(const CsrView& x, const std::vector<int>& domains, const TrainOptions& o,
          const Weights* initial, const std::vector<int>& labels, const ViewFn& views,
          Communicator* comm = nullptr, int n_total = 0)
      : x_(x), o_(o), labels_(labels), domains_(domains), n_total_(n_total > 0 ? n_total : x.n_rows),
        rng_(comm == nullptr || comm->rank() == 0 ? o.seed : splitmix64(o.seed + comm->rank())),
        sampler_(domains, sampler_options(o)), views_(views), comm_(comm) {
    threads_ = resolve_threads(o.threads);
    // LibTorch's own operations here are small (batch x hidden), and each would open a
    // parallel region whose barrier costs a scheduler slice whenever another process
    // holds a core; measured, they ran faster on one thread. The threads go to the
    // sparse kernels and Adam, a few regions per step.
    torch::set_num_threads(1);
    single_threaded_blas();
    torch::manual_seed(o.seed);
    device_ = device_of(o.device);
    sparse_ = device_.is_cpu() && o.sparse_kernels;
    if (!views_) {
      views_ = [this](const CsrView& x, const int* cells, int n, Rng& rng, SparseBatch& out, int) {
        masked_view(x, cells, n, o_.element_mask, o_.feature_mask, rng, keep_, out);
      };
    }
    encoder_ = Encoder(x.n_cols, o.model);
    encoder_->to(device_);
    const MethodContext context{x_, domains_, labels_, o_, device_,
                                [this](Encoder& e, const SparseBatch& b) { return first_layer(e, b); }};
    method_ = make_method(encoder_, context);
    if (initial != nullptr) import_weights(without_new_head(state_of(encoder_, *method_), *initial), *initial);
    params_ = encoder_->parameters();
    for (auto& p : method_->parameters()) params_.push_back(p);
    if (comm_ != nullptr) broadcast_state();
    if (sparse_) {
      adam_ = std::make_unique<FusedAdam>(params_, o.weight_decay);
      weight_grad_ = torch::empty_like(encoder_->weight_in());
    } else {
      torch_adam_ = std::make_unique<torch::optim::Adam>(
          params_, torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
    }
  }

  TrainResult run(const TrainCallbacks& cb) {
    result_.threads = threads_;
    DenseThreads dense(threads_);
    const bool uniform = o_.sampler_kind == SamplerKind::uniform;
    const bool balanced = o_.sampler_kind == SamplerKind::balanced;
    const bool knn_mode = !uniform && !balanced && o_.sampler.p_intra_knn > 0;
    std::vector<std::vector<int>> cells_of;
    if (balanced) {
      for (int c = 0; c < x_.n_rows; ++c) {
        if (domains_[c] >= static_cast<int>(cells_of.size())) cells_of.resize(domains_[c] + 1);
        cells_of[domains_[c]].push_back(c);
      }
    }
    // Neighbourhoods are the k nearest of all cells, on every rank.
    const int k = o_.knn_k > 0 ? o_.knn_k : std::max(1, std::min(1000, n_total_ / 10));
    std::unique_ptr<KnnIndex> index;
    std::vector<float> embedding;
    // Distributed, `embedding` holds every rank's cells (rank order, each rank's share
    // in order) and this rank's cells start at row `offset`. A neighbourhood is then the
    // same kk cells one process would find; those held by other ranks become -1 (no
    // neighbour), leaving about kk / world_size to sample from, as the rank's batch is
    // about batch_size / world_size of the whole step's.
    int64_t offset = 0;
    NeighbourFn neighbours = [&](const std::vector<int>& cores, int kk, std::vector<int64_t>& out) {
      const int dim = method_->embedding_dim(encoder_);
      std::vector<float> queries(cores.size() * dim);
      for (size_t c = 0; c < cores.size(); ++c) {
        std::copy_n(embedding.data() + (offset + cores[c]) * dim, dim, queries.data() + c * dim);
      }
      std::vector<float> dist;
      index->search(queries.data(), static_cast<int64_t>(cores.size()), kk, out, dist);
      if (comm_ == nullptr) return;
      for (int64_t& cell : out) cell = cell >= offset && cell < offset + x_.n_rows ? cell - offset : -1;
    };

    for (int epoch = 0; epoch < o_.epochs; ++epoch) {
      if (knn_mode && epoch == o_.warmup_epochs) {
        embedding = embed_all(cb.interrupted);
        const int dim = method_->embedding_dim(encoder_);
        if (comm_ != nullptr) {
          std::vector<int64_t> counts;
          embedding = comm_->allgather(embedding.data(), static_cast<int64_t>(embedding.size()), &counts);
          offset = 0;
          for (int r = 0; r < comm_->rank(); ++r) offset += counts[r] / dim;
        }
        Stopwatch watch(result_.seconds.knn_index);
        index = std::make_unique<KnnIndex>(embedding.data(), static_cast<int64_t>(embedding.size()) / dim, dim, o_.knn,
                                           threads_, cb.interrupted);
      }
      start_epoch(epoch, cb.interrupted);
      const double lr = o_.lr * std::pow(o_.lr_decay, epoch / std::max(1, o_.lr_step_epochs));
      if (torch_adam_) {
        for (auto& group : torch_adam_->param_groups()) {
          static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
        }
      }
      Stopwatch sampling(result_.seconds.sample);
      const int min_batches = sampler_options(o_).min_batches_per_epoch;
      auto batches =
          uniform    ? uniform_epoch(x_.n_rows, o_.sampler.batch_size, min_batches, rng_)
          : balanced ? balanced_epoch(cells_of, o_.sampler.batch_size, min_batches, rng_)
                     : sampler_.epoch(rng_, index ? neighbours : NeighbourFn(), std::min(k, n_total_));
      sampling.stop();
      // Every rank must take part in every step's all-reduce: all take as many steps as
      // the rank with the fewest batches (the batches are in shuffled order, so the
      // dropped ones are a random few).
      if (comm_ != nullptr) batches.resize(comm_->allreduce_min(static_cast<int64_t>(batches.size())));
      if (batches.empty()) throw EmptyEpoch(epoch + 1);
      double total = 0;
      for (const auto& batch : batches) {
        poll(cb.interrupted);
        const double loss = step(batch, lr, epoch);
        ++result_.steps;
        if (!std::isfinite(loss)) throw NonFiniteLoss(epoch + 1, result_.steps);
        total += loss;
      }
      double mean = total / batches.size();
      if (comm_ != nullptr) {
        float sum = static_cast<float>(mean);
        comm_->allreduce_sum(&sum, 1);
        mean = sum / comm_->world_size();
      }
      result_.epoch_loss.push_back(mean);
      if (cb.epoch_end) cb.epoch_end(epoch + 1, o_.epochs, mean);
    }
    // Buffers (BatchNorm's running statistics) are not trained by the gradient: every
    // rank takes rank 0's, as PyTorch's DistributedDataParallel does.
    if (comm_ != nullptr) broadcast_buffers();
    result_.embedding = embed_all(cb.interrupted);
    if (!all_finite(result_.embedding)) throw NonFiniteLoss(0, result_.steps);
    result_.n_cells = x_.n_rows;
    result_.latent_dim = method_->embedding_dim(encoder_);
    result_.weights = export_weights(state_of(encoder_, *method_));
    return std::move(result_);
  }

 private:
  static SamplerOptions sampler_options(const TrainOptions& o) {
    SamplerOptions s = o.sampler;
    if (o.epochs > 0) s.min_batches_per_epoch = (o.min_steps + o.epochs - 1) / o.epochs;
    return s;
  }

  torch::Tensor first_layer(Encoder& encoder, const SparseBatch& b) {
    return sparse_ ? encoder->first_layer_sparse(b, threads_) : encoder->first_layer_dense(b);
  }

  double step(const std::vector<int>& batch, double lr, int epoch) {
    PhaseSeconds& t = result_.seconds;
    const int n = static_cast<int>(batch.size());
    Stopwatch augmenting(t.augment);
    views_(x_, batch.data(), n, rng_, view1_, 0);
    views_(x_, batch.data(), n, rng_, view2_, 1);
    augmenting.stop();
    encoder_->train();
    method_->set_training(true);

    Stopwatch forward(t.forward);
    // On the sparse path the first layer is outside autograd: its output is held by the
    // leaves `tracked`, whose gradients, one above the other, give the first layer's over
    // the rows of `input`.
    const SecondView second = method_->second_view();
    const SparseBatch* input = &view1_;
    std::vector<torch::Tensor> tracked;
    torch::Tensor h1, h2;
    if (second == SecondView::trained && sparse_) {
      stack_rows(view1_, view2_, both_);
      input = &both_;
      // Each view's half is a leaf of its own: as two views of one leaf, autograd would
      // write each half's gradient into a zero-filled tensor of both halves and add the two.
      const torch::Tensor first = first_layer(encoder_, both_);
      h1 = first.narrow(0, 0, n).detach().requires_grad_(true);
      h2 = first.narrow(0, n, n).detach().requires_grad_(true);
      tracked = {h1, h2};
    } else {
      h1 = first_layer(encoder_, view1_);
      if (sparse_) tracked = {h1.requires_grad_(true)};
      if (second == SecondView::trained) {
        h2 = first_layer(encoder_, view2_);
      } else if (second == SecondView::constant) {
        torch::NoGradGuard no_grad;
        h2 = first_layer(encoder_, view2_);
      }
    }
    torch::Tensor loss = method_->loss(encoder_, Step{batch, view1_, view2_, h1, h2, epoch});
    forward.stop();
    Stopwatch backward(t.backward);
    loss.backward();

    if (sparse_) {
      // A loss that does not read the first layer (Concerto's fine-tuning trains the
      // teacher) leaves it without a gradient, and Adam leaves it alone.
      const torch::Tensor grad_h = stacked_grad(tracked);
      const bool first_used = grad_h.defined();
      if (first_used) {
        first_layer_weight_grad(*input, grad_h, weight_grad_, split_, transposed_, threads_);
        encoder_->mask_first_layer_grad(weight_grad_);
      }
      backward.stop();
      Stopwatch optimizing(t.optimizer);
      std::vector<torch::Tensor> grads;
      for (auto& p : params_) {
        if (p.is_same(encoder_->weight_in())) {
          grads.push_back(first_used ? weight_grad_ : torch::Tensor());
        } else if (p.is_same(encoder_->bias_in())) {
          grads.push_back(first_used ? grad_h.sum(0) : torch::Tensor());
        } else {
          grads.push_back(p.grad());
        }
      }
      if (comm_ != nullptr) average(grads);
      adam_->step(grads, lr, threads_);
    } else {
      backward.stop();
      Stopwatch optimizing(t.optimizer);
      encoder_->mask_first_layer_grad(encoder_->weight_in().mutable_grad());
      if (comm_ != nullptr) {
        std::vector<torch::Tensor> grads;
        for (auto& p : params_) grads.push_back(p.grad());
        average(grads);
        for (size_t i = 0; i < params_.size(); ++i) params_[i].mutable_grad() = grads[i];
      }
      torch_adam_->step();
    }
    // Gradients are dropped, not zeroed (PyTorch's zero_grad(set_to_none=True)): a
    // parameter outside the next step's graph then has none, and Adam skips it.
    for (auto& p : params_) p.mutable_grad().reset();
    return loss.item<double>();
  }

  // Replaces each gradient by its mean over ranks (a missing one counts as zero and
  // becomes the mean of the others').
  void average(std::vector<torch::Tensor>& grads) {
    torch::Tensor flat = flatten(grads, params_);
    comm_->allreduce_sum(flat.data_ptr<float>(), flat.numel());
    flat.div_(comm_->world_size());
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!grads[i].defined()) grads[i] = torch::zeros_like(params_[i]);
    }
    unflatten(flat, grads);
  }

  void broadcast(std::vector<torch::Tensor> tensors) {
    torch::Tensor flat = flatten(tensors, tensors);
    comm_->broadcast(flat.data_ptr<float>(), flat.numel(), 0);
    unflatten(flat, tensors);
  }

  void broadcast_state() {
    std::vector<torch::Tensor> all;
    for (auto& [name, tensor] : state_of(encoder_, *method_)) all.push_back(tensor);
    broadcast(all);
  }

  void broadcast_buffers() {
    std::vector<torch::Tensor> buffers;
    for (const auto& b : encoder_->named_buffers()) buffers.push_back(b.value());
    broadcast(buffers);
  }

  std::vector<float> embed_all(const InterruptFn& interrupted) {
    Stopwatch watch(result_.seconds.embed);
    return embed(*method_, encoder_, x_, nullptr, o_.inference_batch_size, sparse_, threads_, interrupted);
  }

  // The method's sample of cells before `epoch`: each rank embeds its share of it, drawn
  // from its own cells with a generator of its own (the sampler's stream stays as it
  // is), and every rank gets all ranks' rows with their domains, in rank order.
  void start_epoch(int epoch, const InterruptFn& interrupted) {
    const int64_t wanted = method_->embedding_sample(epoch);
    if (wanted <= 0) return;
    Stopwatch watch(result_.seconds.embed);
    std::vector<int> rows(x_.n_rows);
    std::iota(rows.begin(), rows.end(), 0);
    const int64_t mine = (wanted * x_.n_rows + n_total_ - 1) / n_total_;
    if (mine < x_.n_rows) {
      const int rank = comm_ ? comm_->rank() : 0;
      std::mt19937_64 gen(o_.seed * 1000003ULL + static_cast<uint64_t>(epoch) * 7919ULL + static_cast<uint64_t>(rank));
      for (int64_t i = 0; i < mine; ++i) {
        std::swap(rows[i], rows[i + static_cast<int64_t>(gen() % static_cast<uint64_t>(x_.n_rows - i))]);
      }
      rows.resize(mine);
    }
    std::vector<float> embedding =
        embed(*method_, encoder_, x_, &rows, o_.inference_batch_size, sparse_, threads_, interrupted);
    std::vector<float> domains(rows.size());
    for (size_t r = 0; r < rows.size(); ++r) domains[r] = static_cast<float>(domains_[rows[r]]);
    std::vector<int64_t> cells(rows.begin(), rows.end());
    if (comm_ != nullptr) {
      embedding = comm_->allgather(embedding.data(), static_cast<int64_t>(embedding.size()));
      std::vector<int64_t> counts;
      domains = comm_->allgather(domains.data(), static_cast<int64_t>(domains.size()), &counts);
      // This rank's rows follow the earlier ranks'; other ranks' rows are none of its cells.
      int64_t before = 0;
      for (int r = 0; r < comm_->rank(); ++r) before += counts[r];
      cells.assign(domains.size(), -1);
      for (size_t r = 0; r < rows.size(); ++r) cells[before + r] = rows[r];
    }
    method_->epoch_start(encoder_, epoch, embedding, std::vector<int>(domains.begin(), domains.end()), cells);
  }

  const CsrView& x_;
  TrainOptions o_;
  TrainResult result_;
  std::vector<int> labels_;
  std::vector<int> domains_;
  int n_total_ = 0;  // cells over all ranks
  Rng rng_;
  Sampler sampler_;
  int threads_ = 1;
  torch::Device device_ = torch::kCPU;
  bool sparse_ = true;
  ViewFn views_;
  Encoder encoder_{nullptr};
  std::unique_ptr<Method> method_;
  std::vector<torch::Tensor> params_;
  std::unique_ptr<FusedAdam> adam_;
  std::unique_ptr<torch::optim::Adam> torch_adam_;
  torch::Tensor weight_grad_;
  SparseBatch view1_, view2_, both_;
  std::vector<uint8_t> keep_;
  Transposed transposed_;
  RowSplit split_;
  Communicator* comm_ = nullptr;
};

}  // namespace

bool cuda_available() { return torch::cuda::is_available(); }

Embedding encode(const CsrView& x, const TrainOptions& options, const Weights& weights,
                 int threads, const std::string& device, const InterruptFn& interrupted) {
  ThreadGuard restore;
  validate(x);
  const torch::Device dev = device_of(device);
  threads = resolve_threads(threads);
  torch::set_num_threads(1);
  single_threaded_blas();
  torch::manual_seed(options.seed);
  Encoder encoder(x.n_cols, options.model);
  encoder->to(dev);
  const std::vector<int> none;
  const bool sparse = dev.is_cpu();
  const MethodContext context{x, none, none, options, dev, [&](Encoder& e, const SparseBatch& b) {
                                return sparse ? e->first_layer_sparse(b, threads) : e->first_layer_dense(b);
                              }};
  std::unique_ptr<Method> method = make_method(encoder, context);
  import_weights(state_of(encoder, *method), weights);
  Embedding out;
  out.n_cells = x.n_rows;
  out.dim = method->embedding_dim(encoder);
  out.values = embed(*method, encoder, x, nullptr, options.inference_batch_size, sparse, threads, interrupted);
  return out;
}

std::vector<float> decode_cells(const CsrView& x, const TrainOptions& options, const Weights& weights,
                                int domain, int threads, const InterruptFn& interrupted) {
  ThreadGuard restore;
  validate(x);
  threads = resolve_threads(threads);
  torch::set_num_threads(1);
  single_threaded_blas();
  torch::manual_seed(options.seed);
  Encoder encoder(x.n_cols, options.model);
  const std::vector<int> none;
  const MethodContext context{x, none, none, options, torch::kCPU,
                              [&](Encoder& e, const SparseBatch& b) { return e->first_layer_sparse(b, threads); }};
  std::unique_ptr<Method> method = make_method(encoder, context);
  import_weights(state_of(encoder, *method), weights);
  torch::NoGradGuard no_grad;
  encoder->eval();
  method->set_training(false);
  std::vector<float> out;
  std::vector<int> cells;
  SparseBatch batch;
  const int chunk = std::max(1, options.inference_batch_size);
  for (int start = 0; start < x.n_rows; start += chunk) {
    poll(interrupted);
    const int n = std::min(chunk, x.n_rows - start);
    cells.resize(n);
    for (int i = 0; i < n; ++i) cells[i] = start + i;
    gather_rows(x, cells.data(), n, batch);
    torch::Tensor e = method->decode(encoder, batch, encoder->first_layer_sparse(batch, threads), domain);
    if (!e.defined()) throw std::invalid_argument("the model's method decodes no expression");
    e = e.to(torch::kCPU, torch::kFloat).contiguous();
    if (out.empty()) out.reserve(static_cast<size_t>(x.n_rows) * e.size(1));
    out.insert(out.end(), e.data_ptr<float>(), e.data_ptr<float>() + e.numel());
  }
  return out;
}

std::vector<float> decode(const std::vector<float>& embedding, int n_cells, int n_genes,
                          const ModelOptions& model, const Weights& weights, int domain,
                          int threads, const InterruptFn& interrupted) {
  ThreadGuard restore;
  if (!model.decoder) throw std::invalid_argument("the model has no decoder");
  if (domain < 0 || domain >= model.n_domains) throw std::invalid_argument("decode domain out of range");
  if (static_cast<int64_t>(embedding.size()) != static_cast<int64_t>(n_cells) * model.latent_dim)
    throw std::invalid_argument("the embedding does not have the model's latent dimension");
  torch::set_num_threads(std::max(1, resolve_threads(threads)));
  single_threaded_blas();
  Encoder encoder(n_genes, model);
  import_encoder_weights(encoder, weights);
  encoder->eval();
  torch::NoGradGuard no_grad;
  std::vector<float> out(static_cast<size_t>(n_cells) * n_genes);
  constexpr int chunk = 1024;
  for (int start = 0; start < n_cells; start += chunk) {
    poll(interrupted);
    const int n = std::min(chunk, n_cells - start);
    torch::Tensor z = torch::from_blob(const_cast<float*>(embedding.data()) + static_cast<size_t>(start) * model.latent_dim,
                                       {n, model.latent_dim}).clone();
    torch::Tensor e = encoder->decode(z, torch::full({n}, domain, torch::kLong)).contiguous();
    std::copy_n(e.data_ptr<float>(), static_cast<size_t>(n) * n_genes, out.data() + static_cast<size_t>(start) * n_genes);
  }
  return out;
}

std::vector<float> attribution(const CsrView& x, const ModelOptions& model, const Weights& weights,
                               const std::vector<int>& cells, int threads,
                               const InterruptFn& interrupted) {
  ThreadGuard restore;
  validate(x);
  torch::set_num_threads(std::max(1, resolve_threads(threads)));
  single_threaded_blas();
  Encoder encoder(x.n_cols, model);
  import_encoder_weights(encoder, weights);
  encoder->eval();
  std::vector<int> chosen = cells;
  if (chosen.empty()) {
    chosen.resize(x.n_rows);
    for (int c = 0; c < x.n_rows; ++c) chosen[c] = c;
  }
  for (int c : chosen) {
    if (c < 0 || c >= x.n_rows) throw std::invalid_argument("attribution cell index out of range");
  }
  const int dim = encoder->latent_dim();
  torch::Tensor total = torch::zeros({x.n_cols, dim}, torch::kDouble);
  SparseBatch batch;
  constexpr int chunk = 256;
  for (size_t start = 0; start < chosen.size(); start += chunk) {
    poll(interrupted);
    const int n = static_cast<int>(std::min<size_t>(chunk, chosen.size() - start));
    gather_rows(x, chosen.data() + start, n, batch);
    torch::Tensor input = encoder->densify(batch).requires_grad_(true);
    torch::Tensor z = encoder->rest(encoder->first_layer(input));
    for (int d = 0; d < dim; ++d) {
      // Cells do not interact in evaluation mode, so the gradient of the column sum
      // holds every cell's own gradient.
      torch::Tensor grad = torch::autograd::grad({z.select(1, d).sum()}, {input},
                                                 /*grad_outputs=*/{}, /*retain_graph=*/true)[0];
      total.select(1, d).add_((grad * input).sum(0).to(torch::kDouble));
    }
  }
  total = (total / static_cast<double>(chosen.size())).to(torch::kFloat).contiguous();
  return std::vector<float>(total.data_ptr<float>(), total.data_ptr<float>() + total.numel());
}

namespace {

// train()'s argument checks, shared by the distributed train().
void check_inputs(const CsrView& x, const std::vector<int>& domains, const TrainOptions& options,
                  const std::vector<int>& labels) {
  validate(x);
  if (static_cast<int>(domains.size()) != x.n_rows)
    throw std::invalid_argument("need one domain label per cell");
  if (options.epochs < 0) throw std::invalid_argument("epochs must be non-negative");
  if (!(options.temperature > 0)) throw std::invalid_argument("temperature must be positive");
  // A mask of 1 empties every view: training would run and learn nothing.
  if (!(options.element_mask >= 0 && options.element_mask < 1) ||
      !(options.feature_mask >= 0 && options.feature_mask < 1))
    throw std::invalid_argument("element_mask and feature_mask must lie in [0, 1)");
  device_of(options.device);
  if (options.model.n_classes > 0) {
    if (static_cast<int>(labels.size()) != x.n_rows)
      throw std::invalid_argument("the classifier needs one label (or -1) per cell");
    for (int l : labels) {
      if (l < -1 || l >= options.model.n_classes) throw std::invalid_argument("class label out of range");
    }
  }
  if (options.lr_step_epochs < 1) throw std::invalid_argument("lr_step_epochs must be at least 1");
  if (options.weight_decay < 0) throw std::invalid_argument("weight_decay must be non-negative");
  if (!(options.align_weight >= 0)) throw std::invalid_argument("align_weight must be non-negative");
  if (options.align_clusters < 1) throw std::invalid_argument("align_clusters must be at least 1");
  if (options.align_sample < 1) throw std::invalid_argument("align_sample must be at least 1");
  if (!(options.align_local_weight >= 0)) throw std::invalid_argument("align_local_weight must be non-negative");
  if (!(options.align_local_share > 0 && options.align_local_share <= 1))
    throw std::invalid_argument("align_local_share must lie in (0, 1]");
}

// A digest of the input and of the settings that shape training's collectives.
uint64_t fingerprint(int n_features, const std::vector<int>& domains, const TrainOptions& o) {
  uint64_t h = 0;
  const auto mix = [&h](uint64_t v) { h = splitmix64(h ^ v); };
  const auto mix_double = [&mix](double d) {
    uint64_t bits = 0;
    std::memcpy(&bits, &d, sizeof bits);
    mix(bits);
  };
  mix(domains.size()), mix(n_features);
  for (int d : domains) mix(static_cast<uint64_t>(d));
  mix(o.epochs), mix(o.warmup_epochs), mix(o.min_steps), mix(o.seed), mix(o.sampler.batch_size);
  mix(o.model.latent_dim), mix(o.model.n_classes), mix(o.model.decoder), mix(o.model.n_domains);
  for (int w : o.model.encoder_dims) mix(w);
  for (double d : {o.lr, o.lr_decay, o.temperature, o.element_mask, o.feature_mask, o.sampler.p_intra_knn,
                   o.sampler.p_intra_domain})
    mix_double(d);
  mix(std::hash<std::string>()(o.method));
  return h;
}

}  // namespace

TrainResult train(const CsrView& x, const std::vector<int>& domains, const TrainOptions& options,
                  const TrainCallbacks& callbacks, const Weights* initial,
                  const std::vector<int>& labels, const ViewFn& views) {
  ThreadGuard restore;
  check_inputs(x, domains, options, labels);
  Trainer trainer(x, domains, options, initial, labels, views);
  return trainer.run(callbacks);
}

}  // namespace concord

namespace concord {

TrainResult train(const CsrView& x, const std::vector<int>& domains, const TrainOptions& options,
                  Communicator& communicator, const TrainCallbacks& callbacks, const Weights* initial,
                  const std::vector<int>& labels) {
  const int rank = communicator.rank(), world = communicator.world_size();
  if (world == 1) return train(x, domains, options, callbacks, initial, labels);
  ThreadGuard restore;
  const int n_cells = static_cast<int>(domains.size());
  if (n_cells < world) throw std::invalid_argument("fewer cells than ranks");
  const std::vector<int> cells = share_of(n_cells, rank, world);
  if (x.n_rows != static_cast<int>(cells.size()))
    throw std::invalid_argument("the input does not hold this rank's share of the cells");
  if (!labels.empty() && labels.size() != domains.size())
    throw std::invalid_argument("labels and domains differ in length");
  std::vector<int> local_domains, local_labels;
  for (int c : cells) {
    local_domains.push_back(domains[c]);
    if (!labels.empty()) local_labels.push_back(labels[c]);
  }
  check_inputs(x, local_domains, options, local_labels);
  // Ranks given different data or settings would call different collectives (or move
  // gradients of different sizes) and fail obscurely or wait for the timeout: compare a
  // fingerprint of what they share (every cell's batch, the features, the settings) first.
  const uint64_t mine = fingerprint(x.n_cols, domains, options);
  const auto as_signed = [](uint64_t v) { return static_cast<int64_t>(v >> 1); };
  if (communicator.allreduce_min(as_signed(mine)) != -communicator.allreduce_min(-as_signed(mine)))
    throw DistributedError("the ranks were not given the same input and settings (cells, features, batch labels, "
                           "epochs, batch size, model, seed, ...): every rank must make the same call on the same data");
  TrainResult r;
  {
    Trainer trainer(x, local_domains, options, initial, local_labels, nullptr, &communicator, n_cells);
    r = trainer.run(callbacks);
  }
  // Rank 0 gathers every rank's share back into the cells' order.
  const int dim = r.latent_dim;
  const std::vector<float> all = communicator.gather(r.embedding.data(), static_cast<int64_t>(r.embedding.size()), 0);
  if (rank == 0) {
    std::vector<float> ordered(static_cast<size_t>(n_cells) * dim);
    size_t row = 0;
    for (int q = 0; q < world; ++q) {
      for (int c : share_of(n_cells, q, world)) {
        std::copy_n(all.data() + row * dim, dim, ordered.data() + static_cast<size_t>(c) * dim);
        ++row;
      }
    }
    r.embedding = std::move(ordered);
    r.n_cells = n_cells;
  }
  return r;
}

}  // namespace concord
