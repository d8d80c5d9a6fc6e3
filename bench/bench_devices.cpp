// Training throughput of the engine on the CPU and on CUDA, without R: synthetic
// log-normalised data (cell types with their own marker genes over a sparse background,
// two domains), trained with each method's defaults for a fixed number of epochs.
//
//   bench_devices [cells=200000] [genes=2000] [epochs=2] [threads=0] [methods=concord,...]
//
// Prints one line per method and device: s/epoch, cells/s, the phases' seconds, the last
// epoch's loss and how many cells' nearest neighbour shares their type (a sanity check
// that both devices learn the same thing). Built by tests/cpp's CMake as an optional
// target: cmake --build build/cpp --target bench_devices.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "knn.h"
#include "rng.h"
#include "trainer.h"

namespace {

struct Data {
  std::vector<int> indptr{0}, indices, type, domain;
  std::vector<float> values;
  concord::CsrView view;
};

// About 150 values per cell: 40 draws from its type's 50 marker genes and 130 from all
// genes, repeats merged.
Data synthetic(int cells, int genes, int types) {
  Data d;
  concord::Rng rng(42);
  std::vector<int> row;
  for (int c = 0; c < cells; ++c) {
    const int t = static_cast<int>(rng.below(types));
    d.type.push_back(t);
    d.domain.push_back(static_cast<int>(rng.below(2)));
    row.clear();
    for (int i = 0; i < 40; ++i) row.push_back((t * 50 + static_cast<int>(rng.below(50))) % genes);
    for (int i = 0; i < 130; ++i) row.push_back(static_cast<int>(rng.below(genes)));
    std::sort(row.begin(), row.end());
    row.erase(std::unique(row.begin(), row.end()), row.end());
    for (int g : row) {
      d.indices.push_back(g);
      d.values.push_back(static_cast<float>(0.5 + 2.0 * rng.uniform()));
    }
    d.indptr.push_back(static_cast<int>(d.indices.size()));
  }
  d.view = concord::CsrView{cells, genes, d.indptr.data(), d.indices.data(), d.values.data()};
  return d;
}

// Each method's encoder as the R verbs build it by default: RunConcord's; RunSSL's
// (128 hidden units, batch norm, ReLU, a 64-dimensional representation; CONCORD's masks
// as the views); RunBAscVI's trunk (512, 512) into a 10-dimensional latent (R/vae.R).
concord::TrainOptions options_for(const std::string& method) {
  concord::TrainOptions o;
  o.method = method;
  o.min_steps = 0;
  if (method == "concord") return o;
  o.model.norm = concord::Norm::batch;
  o.model.leaky_slope = 0;
  if (method == "bascvi") {
    o.sampler_kind = concord::SamplerKind::uniform;
    o.model.encoder_dims = {512};
    o.model.latent_dim = 512;
    o.model.n_domains = 2;
    o.vae.n_domains = 2;
    o.lr_decay = 1;
    o.temperature = 1;
    o.element_mask = 0;
    o.feature_mask = 0;
    o.warmup_epochs = 0;
    return o;
  }
  const std::vector<std::string> ssl{"simclr", "moco", "simsiam", "nnclr", "byol", "vicreg", "barlowtwins"};
  if (std::find(ssl.begin(), ssl.end(), method) == ssl.end()) {
    std::fprintf(stderr, "bench_devices: method '%s' is not benchmarked here; use concord, bascvi or an SSL method\n",
                 method.c_str());
    std::exit(2);
  }
  o.sampler_kind = concord::SamplerKind::uniform;
  o.model.encoder_dims = {128};
  o.model.latent_dim = 64;
  o.model.latent_activation = false;
  o.temperature = 0.5;
  return o;
}

double nearest_type_agreement(const concord::TrainResult& r, const std::vector<int>& type) {
  const int n = std::min(r.n_cells, 20000);
  concord::KnnIndex index(r.embedding.data(), r.n_cells, r.latent_dim, concord::KnnOptions());
  std::vector<int64_t> idx;
  std::vector<float> dist;
  index.search(r.embedding.data(), n, 2, idx, dist);
  int same = 0;
  for (int c = 0; c < n; ++c) same += type[idx[2 * c + 1]] == type[c];
  return same / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  const int cells = argc > 1 ? std::atoi(argv[1]) : 200000;
  const int genes = argc > 2 ? std::atoi(argv[2]) : 2000;
  const int epochs = argc > 3 ? std::atoi(argv[3]) : 2;
  const int threads = argc > 4 ? std::atoi(argv[4]) : 0;
  std::vector<std::string> methods;
  std::stringstream list(argc > 5 ? argv[5] : "concord,simclr,bascvi");
  for (std::string m; std::getline(list, m, ',');) methods.push_back(m);

  const Data data = synthetic(cells, genes, 20);
  std::printf("data: %d cells x %d genes, %lld values; CUDA %s\n", cells, genes,
              static_cast<long long>(data.view.nnz()), concord::cuda_available() ? "available" : "absent");
  std::vector<std::string> devices{"cpu"};
  if (concord::cuda_available()) devices.push_back("cuda");
  for (const std::string& method : methods) {
    for (const std::string& device : devices) {
      concord::TrainOptions o = options_for(method);
      o.epochs = epochs;
      o.threads = threads;
      o.device = device;
      const auto start = std::chrono::steady_clock::now();
      const concord::TrainResult r = concord::train(data.view, data.domain, o, {}, nullptr,
                                                    std::vector<int>(cells, -1));
      const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const concord::PhaseSeconds& s = r.seconds;
      const double train_s = total - s.embed;
      std::printf("%-8s %-4s threads=%d steps=%lld  s/epoch=%.2f  cells/s=%.0f  embed_s=%.2f  "
                  "[sample %.2f augment %.2f forward %.2f backward %.2f optimizer %.2f]  "
                  "loss=%.4f  nn_type=%.3f\n",
                  method.c_str(), device.c_str(), r.threads, static_cast<long long>(r.steps), train_s / epochs,
                  cells * static_cast<double>(epochs) / train_s, s.embed, s.sample, s.augment, s.forward,
                  s.backward, s.optimizer, r.epoch_loss.back(), nearest_type_agreement(r, data.type));
      std::fflush(stdout);
    }
  }
  return 0;
}
