// LibTorch's headers bring glog's CHECK, which aborts; Catch's, included after them,
// replaces it.
#include <torch/torch.h>

#include "kernels.h"
#include "rng.h"

#include <catch2/catch.hpp>

using concord::SparseBatch;

namespace {

// A random rows x cols sparse batch with about `density` of its entries stored.
SparseBatch random_batch(int rows, int cols, double density, concord::Rng& rng) {
  SparseBatch b;
  b.n_rows = rows;
  b.n_cols = cols;
  b.indptr.push_back(0);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      if (rng.uniform() < density) {
        b.indices.push_back(c);
        b.values.push_back(static_cast<float>(rng.uniform() * 3));
      }
    }
    b.indptr.push_back(static_cast<int>(b.values.size()));
  }
  return b;
}

torch::Tensor dense_of(const SparseBatch& b) {
  torch::Tensor d = torch::zeros({b.n_rows, b.n_cols});
  for (int r = 0; r < b.n_rows; ++r) {
    for (int k = b.indptr[r]; k < b.indptr[r + 1]; ++k) d[r][b.indices[k]] = b.values[k];
  }
  return d;
}

}  // namespace

TEST_CASE("sparse forward equals the dense product, for any width", "[kernels]") {
  concord::Rng rng(11);
  for (int h : {1, 7, 8, 64, 100, 131}) {
    SparseBatch x = random_batch(37, 53, 0.2, rng);
    torch::Tensor w = torch::randn({53, h});
    torch::Tensor bias = torch::randn({h});
    torch::Tensor out = torch::empty({37, h});
    concord::sparse_forward(x, w.data_ptr<float>(), bias.data_ptr<float>(), h, out.data_ptr<float>(), 1);
    torch::Tensor expected = torch::addmm(bias, dense_of(x), w);
    CHECK(torch::allclose(out, expected, 1e-4, 1e-4));
  }
}

TEST_CASE("sparse weight gradient equals x^T grad and zeroes absent genes", "[kernels]") {
  concord::Rng rng(12);
  SparseBatch x = random_batch(40, 300, 0.05, rng);  // many genes absent
  const int h = 72;
  torch::Tensor grad_out = torch::randn({40, h});
  torch::Tensor grad_w = torch::full({300, h}, 99.0f);  // stale values must be overwritten
  concord::Transposed scratch;
  concord::sparse_weight_grad(x, grad_out.data_ptr<float>(), h, grad_w.data_ptr<float>(), scratch, 1);
  CHECK(torch::allclose(grad_w, torch::mm(dense_of(x).t(), grad_out), 1e-4, 1e-4));
}

TEST_CASE("kernels give bitwise identical results on 1 and 2 threads", "[kernels]") {
  concord::Rng rng(13);
  SparseBatch x = random_batch(64, 500, 0.1, rng);
  const int h = 1000;
  torch::Tensor w = torch::randn({500, h});
  torch::Tensor a = torch::empty({64, h}), b = torch::empty({64, h});
  concord::sparse_forward(x, w.data_ptr<float>(), nullptr, h, a.data_ptr<float>(), 1);
  concord::sparse_forward(x, w.data_ptr<float>(), nullptr, h, b.data_ptr<float>(), 2);
  CHECK(torch::equal(a, b));
  torch::Tensor ga = torch::empty({500, h}), gb = torch::empty({500, h});
  concord::Transposed s;
  concord::sparse_weight_grad(x, a.data_ptr<float>(), h, ga.data_ptr<float>(), s, 1);
  concord::sparse_weight_grad(x, a.data_ptr<float>(), h, gb.data_ptr<float>(), s, 2);
  CHECK(torch::equal(ga, gb));
}

TEST_CASE("rows at least a quarter full are split off into a dense block", "[kernels]") {
  concord::Rng rng(14);
  // 40 genes: a row is dense from 10 stored values. Rows alternate between about 10%
  // and about 80% filled, and two rows sit just below and at the threshold.
  SparseBatch x;
  x.n_cols = 40;
  x.indptr.push_back(0);
  for (int r = 0; r < 12; ++r) {
    const int stored = r == 10 ? 9 : r == 11 ? 10 : r % 2 == 0 ? 4 : 32;
    for (int g = 0; g < stored; ++g) {
      x.indices.push_back(g * 40 / stored);
      x.values.push_back(static_cast<float>(1 + rng.uniform()));
    }
    x.indptr.push_back(static_cast<int>(x.values.size()));
  }
  x.n_rows = 12;
  concord::RowSplit split;
  REQUIRE(concord::split_dense_rows(x, split));
  // REQUIRE: this file includes Catch before LibTorch, whose glog CHECK then wins.
  REQUIRE((split.dense_rows == std::vector<int64_t>{1, 3, 5, 7, 9, 11}));
  REQUIRE((split.sparse_rows == std::vector<int64_t>{0, 2, 4, 6, 8, 10}));
  const torch::Tensor all = dense_of(x);
  const torch::Tensor block = torch::from_blob(split.dense.data(), {6, 40});
  REQUIRE(torch::equal(block, all.index_select(0, torch::tensor(split.dense_rows))));
  REQUIRE(torch::equal(dense_of(split.sparse), all.index_select(0, torch::tensor(split.sparse_rows))));
  // A batch of sparse rows only is left to the sparse kernel.
  REQUIRE_FALSE(concord::split_dense_rows(random_batch(20, 40, 0.1, rng), split));
}

TEST_CASE("fused Adam matches LibTorch's Adam over several steps", "[kernels]") {
  torch::manual_seed(3);
  torch::Tensor p_ref = torch::randn({100000}).set_requires_grad(true);
  torch::Tensor p = p_ref.detach().clone();
  torch::Tensor m = torch::zeros_like(p), v = torch::zeros_like(p);
  torch::optim::Adam reference({p_ref}, torch::optim::AdamOptions(0.01));
  for (int step = 1; step <= 5; ++step) {
    torch::Tensor g = torch::randn({100000});
    p_ref.mutable_grad() = g.clone();
    reference.step();
    concord::AdamSettings s;
    s.lr = 0.01;
    s.step = step;
    concord::adam_update(p.data_ptr<float>(), g.data_ptr<float>(), m.data_ptr<float>(),
                         v.data_ptr<float>(), p.numel(), s, 2);
  }
  CHECK(torch::allclose(p, p_ref.detach(), 1e-5, 1e-6));
}
