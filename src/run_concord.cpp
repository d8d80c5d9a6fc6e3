// R glue for the trainer: a dgCMatrix or an engine-side store in, embedding and loss out.
#include <Rcpp.h>

#include <algorithm>
#include <sstream>

#include "augment_glue.h"
#include "glue_engine.h"
#include "glue_matrix.h"

#include "concord/concerto.h"
#include "concord/distributed.h"
#include "concord/trainer.h"

namespace {

concord::Norm parse_norm(const std::string& s) {
  if (s == "layer") return concord::Norm::layer;
  if (s == "batch") return concord::Norm::batch;
  if (s == "none") return concord::Norm::none;
  throw std::invalid_argument("norm must be \"layer\", \"batch\" or \"none\"");
}

concord::Metric parse_metric(const std::string& s) {
  if (s == "euclidean") return concord::Metric::euclidean;
  if (s == "cosine") return concord::Metric::cosine;
  throw std::invalid_argument("metric must be \"euclidean\" or \"cosine\"");
}

concord::Fusion parse_fusion(const std::string& s) {
  if (s == "concat") return concord::Fusion::concat;
  if (s == "sum") return concord::Fusion::sum;
  if (s == "clip") return concord::Fusion::clip;
  throw std::invalid_argument("fusion must be \"concat\", \"sum\" or \"clip\"");
}

concord::SamplerKind parse_sampler(const std::string& s) {
  if (s == "concord") return concord::SamplerKind::concord;
  if (s == "uniform") return concord::SamplerKind::uniform;
  if (s == "balanced") return concord::SamplerKind::balanced;
  throw std::invalid_argument("sampler must be \"uniform\", \"concord\" or \"balanced\"");
}

// Options that only some methods' parameter lists carry keep the engine's default when
// absent (models saved before they existed included).
template <typename T>
void read_optional(const Rcpp::List& o, const char* name, T& into) {
  if (o.containsElementNamed(name)) into = Rcpp::as<T>(o[name]);
}

std::string metric_name(concord::Metric m) { return m == concord::Metric::cosine ? "cosine" : "euclidean"; }

std::string fusion_name(concord::Fusion f) {
  return f == concord::Fusion::sum ? "sum" : f == concord::Fusion::concat ? "concat" : "clip";
}

std::string norm_name(concord::Norm n) {
  return n == concord::Norm::layer ? "layer" : n == concord::Norm::batch ? "batch" : "none";
}

concord::ModelOptions model_from(const Rcpp::List& o) {
  concord::ModelOptions m;
  m.latent_dim = Rcpp::as<int>(o["latent_dim"]);
  m.encoder_dims = Rcpp::as<std::vector<int>>(o["encoder_dims"]);
  m.norm = parse_norm(Rcpp::as<std::string>(o["norm"]));
  m.dropout = Rcpp::as<double>(o["dropout"]);
  read_optional(o, "leaky_slope", m.leaky_slope);
  read_optional(o, "latent_activation", m.latent_activation);
  read_optional(o, "modality_features", m.modality_features);
  if (o.containsElementNamed("fusion")) m.fusion = parse_fusion(Rcpp::as<std::string>(o["fusion"]));
  if (o.containsElementNamed("n_classes")) m.n_classes = Rcpp::as<int>(o["n_classes"]);
  if (o.containsElementNamed("decoder")) {
    m.decoder = Rcpp::as<bool>(o["decoder"]);
    m.decoder_dims = Rcpp::as<std::vector<int>>(o["decoder_dims"]);
    m.n_domains = Rcpp::as<int>(o["n_domains"]);
  }
  return m;
}

concord::TrainOptions options_from(const Rcpp::List& o) {
  concord::TrainOptions t;
  t.model = model_from(o);
  t.sampler.batch_size = Rcpp::as<int>(o["batch_size"]);
  t.sampler.p_intra_knn = Rcpp::as<double>(o["p_intra_knn"]);
  t.sampler.p_intra_domain = Rcpp::as<double>(o["p_intra_domain"]);
  t.knn.metric = parse_metric(Rcpp::as<std::string>(o["knn_metric"]));
  t.epochs = Rcpp::as<int>(o["epochs"]);
  t.lr = Rcpp::as<double>(o["lr"]);
  t.lr_decay = Rcpp::as<double>(o["lr_decay"]);
  t.temperature = Rcpp::as<double>(o["temperature"]);
  t.beta = Rcpp::as<double>(o["beta"]);
  // Parameters without them predate the alignments (models saved before they existed):
  // they were trained, and fine-tune, without them, whatever the engine's defaults.
  t.align_weight = 0;
  read_optional(o, "align_weight", t.align_weight);
  read_optional(o, "align_clusters", t.align_clusters);
  t.align_local_weight = 0;
  read_optional(o, "align_local_weight", t.align_local_weight);
  read_optional(o, "align_local_share", t.align_local_share);
  t.element_mask = Rcpp::as<double>(o["element_mask"]);
  t.classifier_weight = Rcpp::as<double>(o["classifier_weight"]);
  t.decoder_weight = Rcpp::as<double>(o["decoder_weight"]);
  t.feature_mask = Rcpp::as<double>(o["feature_mask"]);
  t.knn_k = Rcpp::as<int>(o["knn_k"]);
  t.warmup_epochs = Rcpp::as<int>(o["warmup_epochs"]);
  t.min_steps = Rcpp::as<int>(o["min_steps"]);
  t.seed = static_cast<uint64_t>(Rcpp::as<double>(o["seed"]));
  t.threads = Rcpp::as<int>(o["threads"]);
  t.device = Rcpp::as<std::string>(o["device"]);
  read_optional(o, "method", t.method);
  if (o.containsElementNamed("sampler")) t.sampler_kind = parse_sampler(Rcpp::as<std::string>(o["sampler"]));
  read_optional(o, "lr_step_epochs", t.lr_step_epochs);
  read_optional(o, "weight_decay", t.weight_decay);
  read_optional(o, "projection_factor", t.ssl.projection_factor);
  read_optional(o, "queue_size", t.ssl.queue_size);
  read_optional(o, "momentum_start", t.ssl.momentum_start);
  read_optional(o, "momentum_end", t.ssl.momentum_end);
  read_optional(o, "vicreg_invariance", t.ssl.vicreg_invariance);
  read_optional(o, "vicreg_variance", t.ssl.vicreg_variance);
  read_optional(o, "vicreg_covariance", t.ssl.vicreg_covariance);
  read_optional(o, "barlow_lambda", t.ssl.barlow_lambda);
  read_optional(o, "vae_latent_dim", t.vae.latent_dim);
  read_optional(o, "vae_decoder_dims", t.vae.decoder_dims);
  read_optional(o, "kl_weight", t.vae.kl_weight);
  read_optional(o, "adversarial", t.vae.adversarial);
  read_optional(o, "adversary_weight", t.vae.adversary_weight);
  read_optional(o, "adversary_warmup_epochs", t.vae.adversary_warmup_epochs);
  read_optional(o, "discriminator_lr", t.vae.discriminator_lr);
  read_optional(o, "discriminator_weight_decay", t.vae.discriminator_weight_decay);
  read_optional(o, "discriminator_steps", t.vae.discriminator_steps);
  read_optional(o, "vae_n_domains", t.vae.n_domains);
  read_optional(o, "cosine_weight", t.vae.cosine_weight);
  read_optional(o, "triplet_weight", t.vae.triplet_weight);
  read_optional(o, "triplet_margin", t.vae.triplet_margin);
  read_optional(o, "triplets_per_cluster", t.vae.triplets_per_cluster);
  read_optional(o, "n_high", t.vae.n_high);
  read_optional(o, "concerto_embedding_dim", t.concerto.embedding_dim);
  read_optional(o, "concerto_dropout", t.concerto.dropout);
  read_optional(o, "concerto_consistency", t.concerto.consistency);
  return t;
}

// What embedding with a saved model needs: its training options when the model records
// them (every model RunConcord or a sister verb made), else the network's shape alone (a
// hand-built CONCORD encoder).
concord::TrainOptions embedding_options(const Rcpp::List& o) {
  if (o.containsElementNamed("batch_size")) return options_from(o);
  concord::TrainOptions t;
  t.model = model_from(o);
  read_optional(o, "method", t.method);
  return t;
}

// Weights as a named list of numeric vectors, each with its row-major "shape".
Rcpp::List weights_to_r(const concord::Weights& w) {
  Rcpp::List out(w.size());
  Rcpp::CharacterVector names(w.size());
  for (size_t k = 0; k < w.size(); ++k) {
    Rcpp::NumericVector v(w[k].values.begin(), w[k].values.end());
    v.attr("shape") = Rcpp::NumericVector(w[k].shape.begin(), w[k].shape.end());
    out[k] = v;
    names[k] = w[k].name;
  }
  out.attr("names") = names;
  return out;
}

concord::Weights weights_from_r(const Rcpp::List& w) {
  const Rcpp::CharacterVector names = w.names();
  concord::Weights out;
  for (R_xlen_t k = 0; k < w.size(); ++k) {
    const Rcpp::NumericVector v = w[k];
    if (!v.hasAttribute("shape")) throw std::invalid_argument("model weights lack their shape");
    const Rcpp::NumericVector shape = v.attr("shape");
    concord::NamedArray a{Rcpp::as<std::string>(names[k]), {}, {}};
    for (double s : shape) a.shape.push_back(static_cast<int64_t>(s));
    a.values.assign(v.begin(), v.end());
    out.push_back(std::move(a));
  }
  return out;
}

// The trainer's own failures, in the words of RunConcord()'s arguments.
std::string diverged(const concord::NonFiniteLoss& e, const concord::TrainOptions& o) {
  std::ostringstream m;
  m << "training diverged: ";
  if (e.epoch > 0) {
    m << "the loss became non-finite (NaN or Inf) at epoch " << e.epoch << ", step " << e.step;
  } else {
    m << "the final embedding holds non-finite values";
  }
  m << ", so no embedding is returned. Likely causes: a learning rate too high (lr = " << o.lr
    << "), a temperature too low (temperature = " << o.temperature
    << "), or extreme input values. Lower 'lr', raise 'temperature', or check the input "
       "for outliers.";
  return m.str();
}

std::string empty_epoch(const concord::EmptyEpoch& e, const concord::TrainOptions& o) {
  std::ostringstream m;
  m << "training stopped: epoch " << e.epoch << " drew no mini-batch of at least "
    << o.sampler.min_batch_size << " distinct cells, so it would train nothing. ";
  if (o.sampler.p_intra_knn > 0) {
    m << "With p.intra.knn = " << o.sampler.p_intra_knn
      << " the kNN share of each mini-batch comes from neighbourhoods of knn.k cells, which "
         "hold too few distinct cells of the mini-batch's own batch: lower 'p.intra.knn', raise "
         "'knn.k', or give each batch (group.by) more cells.";
  } else {
    m << "Each batch (group.by) needs at least " << o.sampler.min_batch_size
      << " cells; merge small batches.";
  }
  return m.str();
}

// The process group of a distributed run, from RunConcord()'s checked `distributed`
// list (rank, world_size, address, port, timeout).
concord::DistributedOptions distributed_from(const Rcpp::List& d) {
  concord::DistributedOptions o;
  o.rank = Rcpp::as<int>(d["rank"]);
  o.world_size = Rcpp::as<int>(d["world_size"]);
  o.address = Rcpp::as<std::string>(d["address"]);
  o.port = Rcpp::as<int>(d["port"]);
  o.timeout_seconds = Rcpp::as<double>(d["timeout"]);
  return o;
}

// The 1-based cells whose rows the embedding holds: all of them on rank 0 (and without
// distribution), the rank's own share on the others.
Rcpp::IntegerVector cells_of(int n_cells, int rank, int world) {
  std::vector<int> cells = rank == 0 ? concord::share_of(n_cells, 0, 1) : concord::share_of(n_cells, rank, world);
  for (int& c : cells) ++c;
  return Rcpp::wrap(cells);
}

std::string lost_contact(const concord::DistributedError& e) {
  return std::string("distributed training stopped: ") + e.what() +
         ". No embedding is returned. Check the other ranks' output for the first error; "
         "restart every rank to train again.";
}

}  // namespace

// [[Rcpp::export(.concord_train)]]
Rcpp::List concord_train(SEXP x, Rcpp::IntegerVector domains, Rcpp::List options,
                         Rcpp::Nullable<Rcpp::Function> on_epoch,
                         Rcpp::Nullable<Rcpp::List> initial_weights = R_NilValue,
                         Rcpp::Nullable<Rcpp::IntegerVector> labels = R_NilValue,
                         Rcpp::Nullable<Rcpp::List> distributed = R_NilValue) {
  return glue::engine_call([&] {
    const InputView input(x);
    const concord::CsrView& view = input.view();
    const std::vector<int> dom(domains.begin(), domains.end());
    concord::TrainCallbacks callbacks;
    callbacks.interrupted = glue::interrupt_pending;
    if (on_epoch.isNotNull()) {
      Rcpp::Function f(on_epoch);
      callbacks.epoch_end = [f](int epoch, int epochs, double loss) { f(epoch, epochs, loss); };
    }
    concord::Weights initial;
    if (initial_weights.isNotNull()) initial = weights_from_r(Rcpp::List(initial_weights));
    const concord::TrainOptions o = options_from(options);
    const std::vector<int> classes =
        labels.isNotNull() ? Rcpp::as<std::vector<int>>(labels) : std::vector<int>();
    // RunSSL's options carry its augmentations ("augment"), whose neighbour graphs are
    // built once here; without them (RunConcord) the trainer makes CONCORD's masked views.
    concord::AugmentPipeline pipeline;
    concord::ViewFn views;
    if (options.containsElementNamed("augment")) {
      pipeline = augment_pipeline_from(Rcpp::List(options["augment"]));
      pipeline.prepare(view, dom, concord::resolve_threads(o.threads), callbacks.interrupted);
      views = [&pipeline](const concord::CsrView& x, const int* cells, int n, concord::Rng& rng,
                          concord::SparseBatch& out, int view_index) {
        pipeline.view(x, cells, n, rng, out, view_index);
      };
    }
    concord::TrainResult r;
    int rank = 0, world = 1;
    try {
      if (distributed.isNotNull()) {
        if (views) throw std::invalid_argument("distributed training supports CONCORD's own views only");
        // The group lives until training ends here or unwinds: a rank that stops with an
        // error closes its connections, which stops the others at their next collective.
        concord::Communicator group(distributed_from(Rcpp::List(distributed)));
        rank = group.rank();
        world = group.world_size();
        r = concord::train(view, dom, o, group, callbacks, initial_weights.isNotNull() ? &initial : nullptr,
                           classes);
      } else {
        r = concord::train(view, dom, o, callbacks, initial_weights.isNotNull() ? &initial : nullptr,
                           classes, views);
      }
    } catch (const concord::DistributedError& e) {
      glue::stop(lost_contact(e));
    } catch (const concord::NonFiniteLoss& e) {
      glue::stop(diverged(e, o));
    } catch (const concord::EmptyEpoch& e) {
      glue::stop(empty_epoch(e, o));
    }
    const concord::PhaseSeconds& s = r.seconds;
    const Rcpp::NumericVector phases = Rcpp::NumericVector::create(
        Rcpp::Named("sample") = s.sample, Rcpp::Named("augment") = s.augment,
        Rcpp::Named("forward") = s.forward, Rcpp::Named("backward") = s.backward,
        Rcpp::Named("optimizer") = s.optimizer, Rcpp::Named("embed") = s.embed,
        Rcpp::Named("knn_index") = s.knn_index);
    return Rcpp::List::create(Rcpp::Named("embedding") = matrix_of(r.embedding, r.n_cells, r.latent_dim),
                              Rcpp::Named("weights") = weights_to_r(r.weights),
                              Rcpp::Named("loss") = Rcpp::wrap(r.epoch_loss),
                              Rcpp::Named("steps") = static_cast<double>(r.steps),
                              Rcpp::Named("threads") = r.threads, Rcpp::Named("phases") = phases,
                              Rcpp::Named("cells") = cells_of(static_cast<int>(dom.size()), rank, world));
  });
}

// Embeds the cells of x (genes x cells, in the model's gene order) with a trained model.
// [[Rcpp::export(.concord_encode)]]
Rcpp::NumericMatrix concord_encode(Rcpp::S4 x, Rcpp::List weights, Rcpp::List options, int threads,
                                   std::string device) {
  return glue::engine_call([&] {
    const concord::Embedding e = concord::encode(InputView(x).view(), embedding_options(options), weights_from_r(weights),
                                                 threads, device, glue::interrupt_pending);
    return matrix_of(e.values, e.n_cells, e.dim);
  });
}

// Expression decoded from a cells x latent embedding as if every cell came from `domain`
// (0-based): genes x cells. Decoded a block of cells at a time straight into the result,
// so that the peak is the result plus one block, not several copies of the result.
// [[Rcpp::export(.concord_decode)]]
Rcpp::NumericMatrix concord_decode(Rcpp::NumericMatrix embedding, Rcpp::List weights,
                                   Rcpp::List options, int domain, int n_genes, int threads) {
  return glue::engine_call([&] {
    const concord::ModelOptions model = model_from(options);
    if (embedding.ncol() != model.latent_dim)
      throw std::invalid_argument("the embedding does not have the model's latent dimension");
    const concord::Weights w = weights_from_r(weights);
    const int n_cells = embedding.nrow(), dim = embedding.ncol();
    const int block = std::max(1, (1 << 24) / std::max(1, n_genes));  // 64 MB of floats
    Rcpp::NumericMatrix out(n_genes, n_cells);
    std::vector<float> z;
    for (int start = 0; start < n_cells; start += block) {
      const int n = std::min(block, n_cells - start);
      z.resize(static_cast<size_t>(n) * dim);
      for (int r = 0; r < n; ++r) {
        for (int c = 0; c < dim; ++c) z[static_cast<size_t>(r) * dim + c] = static_cast<float>(embedding(start + r, c));
      }
      const std::vector<float> e = concord::decode(z, n, n_genes, model, w, domain, threads, glue::interrupt_pending);
      // Row-major cells x genes is column-major genes x cells. The decoder is trained
      // without an output activation (a final ReLU, as the reference's, lost marker
      // contrast: README.md); expression is never negative, so its output is clamped.
      double* dst = out.begin() + static_cast<R_xlen_t>(start) * n_genes;
      std::transform(e.begin(), e.end(), dst, [](float v) { return v > 0.f ? static_cast<double>(v) : 0.0; });
    }
    return out;
  });
}

// Expression a generative model (RunBAscVI, RunSCCRAFT) decodes for the cells of x
// (genes x cells, in the model's gene order and input scale) as if every cell came from
// `domain` (0-based): genes x cells.
// [[Rcpp::export(.concord_decode_cells)]]
Rcpp::NumericMatrix concord_decode_cells(Rcpp::S4 x, Rcpp::List weights, Rcpp::List options, int domain,
                                         int threads) {
  return glue::engine_call([&] {
    const InputView input(x);
    const concord::CsrView& view = input.view();
    const std::vector<float> e = concord::decode_cells(view, options_from(options), weights_from_r(weights), domain,
                                                       threads, glue::interrupt_pending);
    const int genes = view.n_cols;
    Rcpp::NumericMatrix out(genes, view.n_rows);
    std::copy(e.begin(), e.end(), out.begin());  // row-major cells x genes is genes x cells
    return out;
  });
}

// Genes x latent attribution of a trained model, averaged over `cells` (0-based; empty:
// all cells).
// [[Rcpp::export(.concord_attribution)]]
Rcpp::NumericMatrix concord_attribution(Rcpp::S4 x, Rcpp::List weights, Rcpp::List options,
                                        Rcpp::IntegerVector cells, int threads) {
  return glue::engine_call([&] {
    const concord::ModelOptions model = model_from(options);
    const InputView input(x);
    const concord::CsrView& view = input.view();
    const std::vector<int> chosen(cells.begin(), cells.end());
    return matrix_of(concord::attribution(view, model, weights_from_r(weights), chosen, threads,
                                          glue::interrupt_pending),
                     view.n_cols, model.latent_dim);
  });
}

// The teacher's attention weight of each stored value of x (genes x cells, in the model's
// gene order) under a Concerto model, in x's storage order.
// [[Rcpp::export(.concerto_attention)]]
Rcpp::NumericVector concord_concerto_attention(Rcpp::S4 x, Rcpp::List weights, Rcpp::List options) {
  return glue::engine_call([&] {
    const std::vector<float> a = concord::concerto_attention(InputView(x).view(), options_from(options), weights_from_r(weights),
                                                             glue::interrupt_pending);
    return Rcpp::NumericVector(a.begin(), a.end());
  });
}

// The engine's defaults, named as the options list above, for the test that the R
// defaults equal them.
// [[Rcpp::export(.concord_engine_defaults)]]
Rcpp::List concord_engine_defaults() {
  const concord::TrainOptions t;
  Rcpp::List d;
  d["latent_dim"] = t.model.latent_dim;
  d["encoder_dims"] = t.model.encoder_dims;
  d["norm"] = norm_name(t.model.norm);
  d["dropout"] = t.model.dropout;
  d["fusion"] = fusion_name(t.model.fusion);
  d["batch_size"] = t.sampler.batch_size;
  d["p_intra_knn"] = t.sampler.p_intra_knn;
  d["p_intra_domain"] = t.sampler.p_intra_domain;
  d["knn_metric"] = metric_name(t.knn.metric);
  d["epochs"] = t.epochs;
  d["lr"] = t.lr;
  d["weight_decay"] = t.weight_decay;
  d["lr_decay"] = t.lr_decay;
  d["temperature"] = t.temperature;
  d["beta"] = t.beta;
  d["align_weight"] = t.align_weight;
  d["align_clusters"] = t.align_clusters;
  d["align_local_weight"] = t.align_local_weight;
  d["align_local_share"] = t.align_local_share;
  d["element_mask"] = t.element_mask;
  d["classifier_weight"] = t.classifier_weight;
  d["decoder_weight"] = t.decoder_weight;
  d["decoder_dims"] = t.model.decoder_dims;
  d["feature_mask"] = t.feature_mask;
  d["knn_k"] = t.knn_k;
  d["warmup_epochs"] = t.warmup_epochs;
  d["min_steps"] = t.min_steps;
  d["seed"] = static_cast<double>(t.seed);
  d["threads"] = t.threads;
  d["device"] = t.device;
  d["queue_size"] = t.ssl.queue_size;
  d["momentum_start"] = t.ssl.momentum_start;
  d["momentum_end"] = t.ssl.momentum_end;
  d["vicreg_invariance"] = t.ssl.vicreg_invariance;
  d["vicreg_variance"] = t.ssl.vicreg_variance;
  d["vicreg_covariance"] = t.ssl.vicreg_covariance;
  d["barlow_lambda"] = t.ssl.barlow_lambda;
  return d;
}

// [[Rcpp::export(.concord_cuda_available)]]
bool concord_cuda_available() { return concord::cuda_available(); }

// [[Rcpp::export(.concord_resolve_threads)]]
int concord_resolve_threads(int requested) { return concord::resolve_threads(requested); }

// The session's OpenMP and OpenBLAS thread counts (0: no OpenBLAS), for the test that
// every exported function leaves them as it found them.
// [[Rcpp::export(.concord_thread_counts)]]
Rcpp::IntegerVector concord_thread_counts() {
  return Rcpp::IntegerVector::create(Rcpp::Named("omp") = concord::omp_threads(),
                                     Rcpp::Named("blas") = concord::blas_threads());
}

// Sets both counts, so that the test can start from values other than the defaults.
// [[Rcpp::export(.concord_set_thread_counts)]]
void concord_set_thread_counts(int omp, int blas) {
  concord::set_omp_threads(omp);
  concord::set_blas_threads(blas);
}
