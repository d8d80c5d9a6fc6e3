// Concerto (Yang et al. 2022): self-distillation between an attention "teacher" and a
// dense "student" that see the same cell, with dropout as the only augmentation.
//
// Teacher: gene attention pooling (attention.h) -> batch norm -> dropout -> Dense ->
// ReLU; its output is the embedding. Student: the online encoder's sparse first Linear
// -> ReLU -> batch norm -> dropout -> Dense -> ReLU, the reference's student less its
// batch norm of the input values (normalizing every gene of every cell would densify the
// input; a per-gene affine map before a Linear layer is one the Linear can learn). NT-Xent
// pulls the two outputs of a cell together. Batch norms compute their statistics per
// source (domain) within a mini-batch: the paper's source-aware training.
//
// Method "concerto_finetune" is the paper's supervised fine-tuning for annotation, run
// from the pre-trained weights: the teacher and the online encoder's classification head
// (a Linear layer, softmax in the loss) are trained together by cross-entropy on the
// labelled cells, as the reference code does (its classifier model holds the teacher's
// variables). With a consistency weight, unlabelled cells (the query) add the paper's
// domain-adaptation loss (its eq. 13): the cross-entropy between the head's prediction
// from the teacher's embedding, held fixed, and its prediction from the student's
// (dropout-augmented) embedding of the same cell, which trains head and student. The
// reference code computes this loss but never adds it to the objective; here it is
// applied as the paper states.
//
// Several modalities (the paper's "Multimodal integration", its eqs. 10-11): the teacher
// has one gene attention per modality, each over its own features, and the student's
// first Dense layer is the online encoder's block-diagonal first Linear (one block per
// modality, model.h). The modalities' attention outputs (teacher) and Dense outputs after
// ReLU (student) are summed, Concerto's choice, or concatenated, before the batch norm;
// the rest is unchanged. The embedding is the teacher's output on all modalities; with
// it, the representation holds each modality's own embedding, the teacher's output with
// the other modalities' attention outputs at zero, which is also what a cell lacking
// those modalities gets (an empty attention pool is zero). CLIP fusion does not apply:
// Concerto's loss contrasts the teacher and the student of one cell, and contrasting
// modalities instead would leave no self-distillation.
#include <algorithm>
#include <map>
#include <sstream>

#include "attention.h"
#include "concerto.h"
#include "loss.h"
#include "method.h"

namespace concord {

namespace {

// Batch normalization whose training statistics are those of each source's cells within
// the mini-batch (one shared scale and shift). Evaluation uses running statistics
// averaged over the sources: normalizing training cells with their own source's instead
// scored 0.02 lower on kang_ctrl_5donors (bench/README.md), and a query cell's source
// is not known anyway.
class SourceNormImpl : public torch::nn::Module {
 public:
  explicit SourceNormImpl(int dim) {
    gamma_ = register_parameter("weight", torch::ones({dim}));
    beta_ = register_parameter("bias", torch::zeros({dim}));
    running_mean_ = register_buffer("running_mean", torch::zeros({dim}));
    running_var_ = register_buffer("running_var", torch::ones({dim}));
  }

  // `source`: each row's source (long); unused in evaluation.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& source) {
    if (!is_training()) return (x - running_mean_) * torch::rsqrt(running_var_ + eps_) * gamma_ + beta_;
    const auto unique = torch::_unique(source, /*sorted=*/true, /*return_inverse=*/true);
    const torch::Tensor& local = std::get<1>(unique);
    const int64_t k = std::get<0>(unique).size(0);
    const torch::Tensor count =
        torch::zeros({k}, x.options()).index_add(0, local, torch::ones({x.size(0)}, x.options())).unsqueeze(1);
    const torch::Tensor mean = torch::zeros({k, x.size(1)}, x.options()).index_add(0, local, x) / count;
    const torch::Tensor centred = x - mean.index_select(0, local);
    const torch::Tensor var =
        torch::zeros({k, x.size(1)}, x.options()).index_add(0, local, centred.square()) / count;
    {
      torch::NoGradGuard no_grad;
      running_mean_.mul_(1 - momentum_).add_(mean.mean(0), momentum_);
      running_var_.mul_(1 - momentum_).add_(var.mean(0), momentum_);
    }
    return centred * torch::rsqrt(var.index_select(0, local) + eps_) * gamma_ + beta_;
  }

 private:
  static constexpr double eps_ = 1e-5;
  static constexpr double momentum_ = 0.1;  // PyTorch's BatchNorm default
  torch::Tensor gamma_, beta_, running_mean_, running_var_;
};
TORCH_MODULE(SourceNorm);

// Batch norm -> dropout -> Dense -> ReLU: the end of both teacher and student.
class HeadImpl : public torch::nn::Module {
 public:
  HeadImpl(int in, int out, double dropout)
      : norm_(register_module("norm", SourceNorm(in))),
        dropout_(register_module("dropout", torch::nn::Dropout(dropout))),
        dense_(register_module("dense", torch::nn::Linear(in, out))) {}
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& source) {
    return torch::relu(dense_(dropout_(norm_(x, source))));
  }

 private:
  SourceNorm norm_;
  torch::nn::Dropout dropout_;
  torch::nn::Linear dense_;
};
TORCH_MODULE(Head);

// Columns [offset, offset + n) of a batch, renumbered from 0: one modality's features.
void slice_columns(const SparseBatch& b, int offset, int n, SparseBatch& out) {
  out.n_rows = b.n_rows;
  out.n_cols = n;
  out.indptr.assign(1, 0);
  out.indices.clear();
  out.values.clear();
  for (int r = 0; r < b.n_rows; ++r) {
    for (int k = b.indptr[r]; k < b.indptr[r + 1]; ++k) {
      const int j = b.indices[k] - offset;
      if (j < 0 || j >= n) continue;
      out.indices.push_back(j);
      out.values.push_back(b.values[k]);
    }
    out.indptr.push_back(static_cast<int>(out.values.size()));
  }
}

// The modalities' features per column of the input: {n_genes} for one modality.
std::vector<int> modality_widths(int n_genes, const ModelOptions& m) {
  return m.modality_features.size() > 1 ? m.modality_features : std::vector<int>{n_genes};
}

// Sum or concatenation of per-modality outputs (one modality: itself).
torch::Tensor fuse_parts(const std::vector<torch::Tensor>& parts, Fusion fusion) {
  if (parts.size() == 1) return parts[0];
  return fusion == Fusion::sum ? torch::stack(parts, 0).sum(0) : torch::cat(parts, 1);
}

class TeacherImpl : public torch::nn::Module {
 public:
  TeacherImpl(int n_genes, const TrainOptions& o, int units)
      : widths_(modality_widths(n_genes, o.model)), fusion_(o.model.fusion) {
    const ConcertoOptions& c = o.concerto;
    // The first modality's attention keeps the single-modality name, so that its
    // parameters read the same in either kind of model.
    for (size_t k = 0; k < widths_.size(); ++k) {
      const std::string name = k == 0 ? "attention" : "attention_" + std::to_string(k + 1);
      attention_.push_back(register_module(name, GeneAttention(widths_[k], c.embedding_dim)));
    }
    const int in = fusion_ == Fusion::sum ? c.embedding_dim : static_cast<int>(widths_.size()) * c.embedding_dim;
    head_ = register_module("head", Head(in, units, c.dropout));
  }
  torch::Tensor forward(const SparseBatch& b, const torch::Tensor& source) {
    return head_(fuse_parts(pooled(b), fusion_), source);
  }
  // The output on all modalities, then on each modality alone (the others' attention
  // outputs at zero), side by side (evaluation).
  torch::Tensor forward_each(const SparseBatch& b, const torch::Tensor& source) {
    const std::vector<torch::Tensor> parts = pooled(b);
    std::vector<torch::Tensor> out{head_(fuse_parts(parts, fusion_), source)};
    for (size_t k = 0; k < parts.size(); ++k) {
      std::vector<torch::Tensor> alone;
      for (size_t j = 0; j < parts.size(); ++j) alone.push_back(j == k ? parts[j] : torch::zeros_like(parts[j]));
      out.push_back(head_(fuse_parts(alone, fusion_), source));
    }
    return torch::cat(out, 1);
  }
  GeneAttention& attention() { return attention_[0]; }
  int n_modalities() const { return static_cast<int>(widths_.size()); }

 private:
  std::vector<torch::Tensor> pooled(const SparseBatch& b) {
    if (widths_.size() == 1) return {attention_[0](b).cells};
    std::vector<torch::Tensor> parts;
    int offset = 0;
    for (size_t k = 0; k < widths_.size(); ++k) {
      slice_columns(b, offset, widths_[k], part_);
      parts.push_back(attention_[k](part_).cells);
      offset += widths_[k];
    }
    return parts;
  }

  std::vector<int> widths_;
  Fusion fusion_;
  std::vector<GeneAttention> attention_;
  Head head_{nullptr};
  SparseBatch part_;
};
TORCH_MODULE(Teacher);

// Stored values per piece of a batch passed in evaluation: bounds the nnz x dim
// intermediates (32 MB each at dim 128), whatever the batch and the number of genes.
constexpr int64_t kPieceValues = 1 << 16;

class Concerto : public Method {
 public:
  Concerto(Encoder& online, const MethodContext& c)
      : c_(c),
        teacher_(c.x.n_cols, c.options, c.options.model.latent_dim),
        student_(online->fusion() == Fusion::sum ? c.options.model.latent_dim : online->latent_dim(),
                 c.options.model.latent_dim, c.options.concerto.dropout),
        finetune_(c.options.method == "concerto_finetune"),
        consistency_(finetune_ ? c.options.concerto.consistency : 0.0) {
    if (c.options.concerto.embedding_dim < 1) throw std::invalid_argument("the gene embedding needs at least one dimension");
    if (!(c.options.concerto.dropout >= 0 && c.options.concerto.dropout < 1))
      throw std::invalid_argument("Concerto's dropout must lie in [0, 1)");
    // The student's Dense layer is the encoder's first Linear, whose per-modality blocks
    // fuse() splits at latent_dim: the encoder must have no hidden layers.
    if (!c.options.model.encoder_dims.empty()) throw std::invalid_argument("Concerto's online encoder has no hidden layers");
    if (online->n_modalities() > 1 && online->fusion() == Fusion::clip)
      throw std::invalid_argument(
          "Concerto fuses modalities by sum or concatenation: its loss contrasts a cell's teacher and student, "
          "and CLIP's contrast between modalities would replace that self-distillation");
    // Training only: embedding cells (a model's check encodes an empty cell) gives a cell
    // without expression the teacher's output for an empty pool.
    const bool training = !c.domains.empty();
    for (int r = 0; training && r < c.x.n_rows; ++r) {
      if (c.x.row_nnz(r) == 0) {
        std::ostringstream m;
        m << "cell " << r + 1 << " expresses none of the " << c.x.n_cols
          << " features: Concerto's teacher embeds a cell from the genes it expresses, so it cannot "
             "embed this one. Remove cells without counts in the features, or use more features "
             "(features = \"all\").";
        throw std::invalid_argument(m.str());
      }
    }
    if (!(consistency_ >= 0)) throw std::invalid_argument("the consistency weight must not be negative");
    if (finetune_ && training) {
      if (!online->has_classifier()) throw std::invalid_argument("Concerto's fine-tuning needs a classification head");
      if (static_cast<int>(c.labels.size()) != c.x.n_rows) throw std::invalid_argument("Concerto's fine-tuning needs a label per cell");
      const auto unlabelled = std::count_if(c.labels.begin(), c.labels.end(), [](int l) { return l < 0; });
      if (unlabelled == c.x.n_rows) throw std::invalid_argument("Concerto's fine-tuning needs labelled cells");
      if (unlabelled > 0 && consistency_ == 0)
        throw std::invalid_argument("without the consistency loss, Concerto's fine-tuning trains on labelled cells only");
    }
    teacher_->to(c.device);
    student_->to(c.device);
  }

  SecondView second_view() const override { return SecondView::unused; }

  std::vector<torch::Tensor> parameters() override {
    std::vector<torch::Tensor> out = teacher_->parameters();
    if (finetune_ && consistency_ == 0) return out;
    for (auto& p : student_->parameters()) out.push_back(p);
    return out;
  }

  torch::Tensor loss(Encoder& online, const Step& s) override {
    const torch::Tensor source = sources(s.cells);
    const torch::Tensor zt = teacher_(s.view1, source);
    if (finetune_) {
      const torch::Tensor logits = online->classify(zt);
      const torch::Tensor supervised = labelled_cross_entropy(logits, s.cells, c_.labels);
      if (consistency_ == 0) return supervised;
      return supervised + consistency_ * consistency(online, s, source, logits);
    }
    const torch::Tensor zs = student_(online->fuse(torch::relu(s.h1)), source);
    return nt_xent(zt, zs, c_.options.temperature, 0.0);
  }

  // The teacher's output, a piece of the batch at a time; with several modalities,
  // followed by each modality's own (TeacherImpl::forward_each).
  torch::Tensor represent(Encoder& online, const SparseBatch& batch, const torch::Tensor& first) override {
    (void)online;
    (void)first;
    std::vector<torch::Tensor> out;
    const torch::Tensor unknown;
    const bool each = teacher_->n_modalities() > 1;
    for_pieces(batch, [&](const SparseBatch& piece) {
      out.push_back(each ? teacher_->forward_each(piece, unknown) : teacher_(piece, unknown));
    });
    return torch::cat(out);
  }
  int embedding_dim(Encoder& online) const override {
    (void)online;
    const int m = teacher_->n_modalities();
    return c_.options.model.latent_dim * (m > 1 ? m + 1 : 1);
  }

  void set_training(bool on) override {
    teacher_->train(on);
    student_->train(on);
  }

  std::vector<std::pair<std::string, torch::Tensor>> state() override {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    const auto add = [&out](const std::string& prefix, torch::nn::Module& m) {
      for (const auto& p : m.named_parameters()) out.emplace_back(prefix + p.key(), p.value());
      for (const auto& b : m.named_buffers()) out.emplace_back(prefix + b.key(), b.value());
    };
    add("teacher.", *teacher_);
    add("student.", *student_);
    return out;
  }

  // The attention weights of a batch's stored values, in its order (evaluation mode).
  torch::Tensor attention(const SparseBatch& batch) {
    std::vector<torch::Tensor> out;
    for_pieces(batch, [&](const SparseBatch& piece) { out.push_back(teacher_->attention()(piece).weights); });
    return torch::cat(out);
  }

 private:
  // The cells' sources (domains), for the batch norms.
  torch::Tensor sources(const std::vector<int>& cells) const {
    std::vector<int64_t> ids(cells.size());
    for (size_t r = 0; r < cells.size(); ++r) ids[r] = c_.domains[cells[r]];
    return torch::tensor(ids, torch::kLong).to(c_.device);
  }

  // The paper's eq. 13 on the step's unlabelled cells: the teacher's prediction, held
  // fixed, is the target of the student's. Zero when every cell is labelled.
  torch::Tensor consistency(Encoder& online, const Step& s, const torch::Tensor& source,
                            const torch::Tensor& teacher_logits) {
    std::vector<int64_t> rows;
    for (size_t r = 0; r < s.cells.size(); ++r) {
      if (c_.labels[s.cells[r]] < 0) rows.push_back(static_cast<int64_t>(r));
    }
    if (rows.empty()) return torch::zeros({}, teacher_logits.options());
    const torch::Tensor index = torch::tensor(rows, torch::kLong).to(teacher_logits.device());
    const torch::Tensor target = torch::softmax(teacher_logits.index_select(0, index).detach(), 1);
    const torch::Tensor zs = student_(online->fuse(torch::relu(s.h1.index_select(0, index))), source.index_select(0, index));
    return -(target * torch::log_softmax(online->classify(zs), 1)).sum(1).mean();
  }

  template <class F>
  void for_pieces(const SparseBatch& batch, F&& f) {
    for (int begin = 0; begin < batch.n_rows;) {
      int end = begin + 1;
      while (end < batch.n_rows && batch.indptr[end + 1] - batch.indptr[begin] <= kPieceValues) ++end;
      slice_rows(batch, begin, end, piece_);
      f(piece_);
      begin = end;
    }
  }

  MethodContext c_;
  Teacher teacher_;
  Head student_;
  bool finetune_;
  double consistency_;
  SparseBatch piece_;
};

}  // namespace

std::unique_ptr<Method> make_concerto_method(Encoder& online, const MethodContext& context) {
  return std::make_unique<Concerto>(online, context);
}

std::vector<float> concerto_attention(const CsrView& x, const TrainOptions& options, const Weights& weights,
                                      const InterruptFn& interrupted) {
  ThreadGuard restore;
  validate(x);
  torch::set_num_threads(1);
  if (options.method != "concerto") throw std::invalid_argument("attention weights need a Concerto model");
  if (options.model.modality_features.size() > 1)
    throw std::invalid_argument("attention weights of a multimodal Concerto model are not available");
  torch::NoGradGuard no_grad;
  Encoder encoder(x.n_cols, options.model);
  const std::vector<int> none;
  const MethodContext context{x, none, none, options, torch::kCPU, nullptr};
  Concerto method(encoder, context);
  for (auto& [name, tensor] : method.state()) {
    const std::string key = "method." + name;
    auto it = std::find_if(weights.begin(), weights.end(), [&](const NamedArray& a) { return a.name == key; });
    if (it == weights.end() || static_cast<int64_t>(it->values.size()) != tensor.numel())
      throw std::invalid_argument("the model's weights do not fit its Concerto teacher ('" + key + "')");
    tensor.copy_(torch::from_blob(const_cast<float*>(it->values.data()), tensor.sizes()));
  }
  method.set_training(false);
  std::vector<float> out(x.nnz());
  std::vector<int> cells;
  SparseBatch batch;
  constexpr int chunk = 1024;
  for (int start = 0; start < x.n_rows; start += chunk) {
    poll(interrupted);
    const int n = std::min(chunk, x.n_rows - start);
    cells.resize(n);
    for (int i = 0; i < n; ++i) cells[i] = start + i;
    gather_rows(x, cells.data(), n, batch);
    const torch::Tensor a = method.attention(batch).contiguous();
    std::copy_n(a.data_ptr<float>(), a.numel(), out.data() + x.indptr[start]);
  }
  return out;
}

}  // namespace concord
