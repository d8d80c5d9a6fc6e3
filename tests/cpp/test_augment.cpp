#include <catch2/catch.hpp>

#include <numeric>

#include "augment.h"

using concord::CsrView;
using concord::Rng;
using concord::SparseBatch;

namespace {

// A cells x genes CSR matrix with every entry stored, value = 1 + gene.
struct Dense {
  std::vector<int> indptr, indices;
  std::vector<float> values;
  CsrView view;
  Dense(int rows, int cols) {
    indptr.push_back(0);
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < cols; ++c) {
        indices.push_back(c);
        values.push_back(1.0 + c);
      }
      indptr.push_back(static_cast<int>(indices.size()));
    }
    view = CsrView{rows, cols, indptr.data(), indices.data(), values.data()};
  }
};

}  // namespace

TEST_CASE("gather_rows copies the chosen rows", "[augment]") {
  Dense d(10, 7);
  std::vector<int> cells = {3, 0, 9};
  SparseBatch b;
  concord::gather_rows(d.view, cells.data(), 3, b);
  REQUIRE(b.n_rows == 3);
  REQUIRE(b.nnz() == 21);
  for (int r = 0; r < 3; ++r) {
    for (int k = b.indptr[r]; k < b.indptr[r + 1]; ++k) CHECK(b.values[k] == 1.0f + b.indices[k]);
  }
}

TEST_CASE("element masking drops stored values at its rate, unscaled", "[augment]") {
  Dense d(400, 500);
  std::vector<int> cells(400);
  std::iota(cells.begin(), cells.end(), 0);
  Rng rng(7);
  std::vector<uint8_t> keep;
  SparseBatch b;
  concord::masked_view(d.view, cells.data(), 400, 0.4, 0.0, rng, keep, b);
  const double kept = static_cast<double>(b.nnz()) / (400.0 * 500.0);
  CHECK(kept == Approx(0.6).margin(0.01));  // sd is about 0.001
  for (int64_t k = 0; k < b.nnz(); ++k) REQUIRE(b.values[k] == 1.0f + b.indices[k]);
}

TEST_CASE("feature masking drops the same genes for the whole batch", "[augment]") {
  Dense d(50, 1000);
  std::vector<int> cells(50);
  std::iota(cells.begin(), cells.end(), 0);
  Rng rng(8);
  std::vector<uint8_t> keep;
  SparseBatch b;
  double kept_total = 0;
  const int trials = 20;
  for (int t = 0; t < trials; ++t) {
    concord::masked_view(d.view, cells.data(), 50, 0.0, 0.3, rng, keep, b);
    std::vector<int> per_gene(1000, 0);
    for (int64_t k = 0; k < b.nnz(); ++k) ++per_gene[b.indices[k]];
    int genes_kept = 0;
    for (int g = 0; g < 1000; ++g) {
      REQUIRE((per_gene[g] == 0 || per_gene[g] == 50));  // all cells or none
      genes_kept += per_gene[g] == 50;
    }
    kept_total += genes_kept / 1000.0;
  }
  CHECK(kept_total / trials == Approx(0.7).margin(0.01));  // sd is about 0.003
}

TEST_CASE("both masks together keep (1 - p_e)(1 - p_f) of the values", "[augment]") {
  Dense d(300, 600);
  std::vector<int> cells(300);
  std::iota(cells.begin(), cells.end(), 0);
  Rng rng(9);
  std::vector<uint8_t> keep;
  SparseBatch b;
  double kept = 0;
  for (int t = 0; t < 20; ++t) {
    concord::masked_view(d.view, cells.data(), 300, 0.4, 0.3, rng, keep, b);
    kept += static_cast<double>(b.nnz()) / (300.0 * 600.0);
  }
  CHECK(kept / 20 == Approx(0.6 * 0.7).margin(0.01));
}
