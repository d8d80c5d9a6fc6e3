// R glue for the trainer: dgCMatrix slots in (no copy), embedding and loss out.
#include <Rcpp.h>

#include "concord/trainer.h"

namespace {

void check_interrupt(void*) { R_CheckUserInterrupt(); }

// R_CheckUserInterrupt() would longjmp over C++ frames; run it at top level instead
// and report whether an interrupt is pending.
bool interrupt_pending() { return R_ToplevelExec(check_interrupt, nullptr) == FALSE; }

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

std::string metric_name(concord::Metric m) { return m == concord::Metric::cosine ? "cosine" : "euclidean"; }

std::string norm_name(concord::Norm n) {
  return n == concord::Norm::layer ? "layer" : n == concord::Norm::batch ? "batch" : "none";
}

concord::TrainOptions options_from(const Rcpp::List& o) {
  concord::TrainOptions t;
  t.model.latent_dim = Rcpp::as<int>(o["latent_dim"]);
  t.model.encoder_dims = Rcpp::as<std::vector<int>>(o["encoder_dims"]);
  t.model.norm = parse_norm(Rcpp::as<std::string>(o["norm"]));
  t.model.dropout = Rcpp::as<double>(o["dropout"]);
  t.sampler.batch_size = Rcpp::as<int>(o["batch_size"]);
  t.sampler.p_intra_knn = Rcpp::as<double>(o["p_intra_knn"]);
  t.sampler.p_intra_domain = Rcpp::as<double>(o["p_intra_domain"]);
  t.knn.metric = parse_metric(Rcpp::as<std::string>(o["knn_metric"]));
  t.epochs = Rcpp::as<int>(o["epochs"]);
  t.lr = Rcpp::as<double>(o["lr"]);
  t.lr_decay = Rcpp::as<double>(o["lr_decay"]);
  t.temperature = Rcpp::as<double>(o["temperature"]);
  t.beta = Rcpp::as<double>(o["beta"]);
  t.element_mask = Rcpp::as<double>(o["element_mask"]);
  t.feature_mask = Rcpp::as<double>(o["feature_mask"]);
  t.knn_k = Rcpp::as<int>(o["knn_k"]);
  t.warmup_epochs = Rcpp::as<int>(o["warmup_epochs"]);
  t.min_steps = Rcpp::as<int>(o["min_steps"]);
  t.seed = static_cast<uint64_t>(Rcpp::as<double>(o["seed"]));
  t.threads = Rcpp::as<int>(o["threads"]);
  t.device = Rcpp::as<std::string>(o["device"]);
  return t;
}

}  // namespace

// [[Rcpp::export(.concord_train)]]
Rcpp::List concord_train(Rcpp::S4 x, Rcpp::IntegerVector domains, Rcpp::List options,
                         Rcpp::Nullable<Rcpp::Function> on_epoch) {
  const Rcpp::IntegerVector dim = x.slot("Dim");
  const Rcpp::IntegerVector p = x.slot("p");
  const Rcpp::IntegerVector i = x.slot("i");
  const Rcpp::NumericVector values = x.slot("x");
  concord::CsrView view;
  view.n_rows = dim[1];
  view.n_cols = dim[0];
  view.indptr = p.begin();
  view.indices = i.begin();
  view.values = values.begin();

  const std::vector<int> dom(domains.begin(), domains.end());
  concord::TrainCallbacks callbacks;
  callbacks.interrupted = interrupt_pending;
  if (on_epoch.isNotNull()) {
    Rcpp::Function f(on_epoch);
    callbacks.epoch_end = [f](int epoch, int epochs, double loss) { f(epoch, epochs, loss); };
  }
  concord::TrainResult r;
  try {
    r = concord::train(view, dom, options_from(options), callbacks);
  } catch (const concord::Interrupted&) {
    throw Rcpp::internal::InterruptedException();
  }
  // Engine rows are cells, row-major; R matrices are column-major.
  Rcpp::NumericMatrix emb(r.n_cells, r.latent_dim);
  for (int c = 0; c < r.n_cells; ++c) {
    for (int j = 0; j < r.latent_dim; ++j) emb(c, j) = r.embedding[static_cast<size_t>(c) * r.latent_dim + j];
  }
  const concord::PhaseSeconds& s = r.seconds;
  const Rcpp::NumericVector phases = Rcpp::NumericVector::create(
      Rcpp::Named("sample") = s.sample, Rcpp::Named("augment") = s.augment,
      Rcpp::Named("forward") = s.forward, Rcpp::Named("backward") = s.backward,
      Rcpp::Named("optimizer") = s.optimizer, Rcpp::Named("embed") = s.embed,
      Rcpp::Named("knn_index") = s.knn_index);
  return Rcpp::List::create(Rcpp::Named("embedding") = emb,
                            Rcpp::Named("loss") = Rcpp::wrap(r.epoch_loss),
                            Rcpp::Named("steps") = static_cast<double>(r.steps),
                            Rcpp::Named("threads") = r.threads, Rcpp::Named("phases") = phases);
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
  d["batch_size"] = t.sampler.batch_size;
  d["p_intra_knn"] = t.sampler.p_intra_knn;
  d["p_intra_domain"] = t.sampler.p_intra_domain;
  d["knn_metric"] = metric_name(t.knn.metric);
  d["epochs"] = t.epochs;
  d["lr"] = t.lr;
  d["lr_decay"] = t.lr_decay;
  d["temperature"] = t.temperature;
  d["beta"] = t.beta;
  d["element_mask"] = t.element_mask;
  d["feature_mask"] = t.feature_mask;
  d["knn_k"] = t.knn_k;
  d["warmup_epochs"] = t.warmup_epochs;
  d["min_steps"] = t.min_steps;
  d["seed"] = static_cast<double>(t.seed);
  d["threads"] = t.threads;
  d["device"] = t.device;
  return d;
}

// [[Rcpp::export(.concord_cuda_available)]]
bool concord_cuda_available() { return concord::cuda_available(); }

// [[Rcpp::export(.concord_resolve_threads)]]
int concord_resolve_threads(int requested) { return concord::resolve_threads(requested); }
