// Toy single-cell data for the engine tests, and how well an embedding keeps its labels.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "csr.h"
#include "knn.h"
#include "rng.h"
#include "trainer.h"

namespace {

// Cells of `types` kinds, each expressing its own block of marker genes, split over two
// domains; domain 1 also expresses a batch-only block of genes.
struct Toy {
  std::vector<int> indptr{0}, indices, type, domain;
  std::vector<float> values;
  concord::CsrView view;
  Toy(int cells, int types, int genes, uint64_t seed) {
    concord::Rng rng(seed);
    const int block = genes / (types + 1);
    for (int c = 0; c < cells; ++c) {
      const int t = c % types, d = (c / types) % 2;
      type.push_back(t);
      domain.push_back(d);
      for (int g = 0; g < genes; ++g) {
        const bool marker = g / block == t;
        const bool batch_gene = d == 1 && g / block == types;
        const double p = marker ? 0.8 : batch_gene ? 0.6 : 0.05;
        if (rng.uniform() < p) {
          indices.push_back(g);
          values.push_back(1.0 + 2.0 * rng.uniform());
        }
      }
      indptr.push_back(static_cast<int>(indices.size()));
    }
    view = concord::CsrView{cells, genes, indptr.data(), indices.data(), values.data()};
  }
};

// Share of cells whose nearest other cell has the same label.
double neighbour_agreement(const concord::TrainResult& r, const std::vector<int>& label) {
  concord::KnnIndex index(r.embedding.data(), r.n_cells, r.latent_dim, concord::KnnOptions());
  std::vector<int64_t> idx;
  std::vector<float> dist;
  index.search(r.embedding.data(), r.n_cells, 2, idx, dist);
  int same = 0;
  for (int c = 0; c < r.n_cells; ++c) same += label[idx[2 * c + 1]] == label[c];
  return same / static_cast<double>(r.n_cells);
}

// Largest absolute difference between two embeddings of the same shape.
double max_abs_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  return worst;
}

// Small models that train in a few dozen steps on Toy data.
concord::TrainOptions small_options() {
  concord::TrainOptions o;
  o.model.latent_dim = 8;
  o.model.encoder_dims = {32};
  o.sampler.batch_size = 64;
  o.epochs = 4;
  o.min_steps = 40;
  // Forty steps on toy data: the reference's rate, which moves that far in so few (the
  // default 1e-3 was chosen on real data, with hundreds of steps).
  o.lr = 1e-2;
  o.threads = 1;
  return o;
}

}  // namespace
