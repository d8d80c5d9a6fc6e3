// The hot loops of training, on plain arrays: the sparse first layer (forward and
// weight gradient) and the Adam update. Kept free of LibTorch so that they are tested
// against dense arithmetic directly and compile in seconds.
//
// Every output element is written by exactly one thread in a fixed order, so results
// do not depend on the number of threads.
#pragma once

#include <cstdint>
#include <vector>

#include "augment.h"

namespace concord {

// out (rows x h) = bias + x (rows x genes) * w (genes x h); bias may be null.
void sparse_forward(const SparseBatch& x, const float* w, const float* bias, int h, float* out,
                    int threads);

// Column-compressed copy of a batch, reused between steps to avoid allocation.
struct Transposed {
  std::vector<int> col_ptr;
  std::vector<int> rows;
  std::vector<float> values;
};

// grad_w (genes x h) = x^T * grad_out (rows x h). Every row of grad_w is written,
// zero for genes absent from the batch.
void sparse_weight_grad(const SparseBatch& x, const float* grad_out, int h, float* grad_w,
                        Transposed& scratch, int threads);

// A batch's rows split by how full they are. Rows storing at least a quarter of the
// genes (views with Gaussian noise, about 80% filled) go through a dense matrix product,
// which costs about a quarter as much per stored value as the sparse kernel; the rest
// stay sparse. The break-even share (about 0.2) was measured on 128 hidden units
// (bench/README.md); most rows are far from it on either side.
struct RowSplit {
  std::vector<int64_t> dense_rows;   // batch rows of the dense block, increasing
  std::vector<float> dense;          // dense_rows.size() x n_cols, row-major
  std::vector<int64_t> sparse_rows;  // the other batch rows, increasing
  SparseBatch sparse;                // their entries
};

// Fills `out` and returns true when `x` has at least one dense row; returns false,
// leaving `out` unspecified, when every row stays sparse.
bool split_dense_rows(const SparseBatch& x, RowSplit& out);

struct AdamSettings {
  double lr = 1e-2;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  int64_t step = 1;  // 1-based, for bias correction
};

// One Adam update (PyTorch's formulation, no weight decay) in a single pass over
// parameter, gradient and both moments.
void adam_update(float* param, const float* grad, float* m, float* v, int64_t n,
                 const AdamSettings& s, int threads);

}  // namespace concord
