// Concerto's attention weights for the front ends (free of LibTorch, like trainer.h).
#pragma once

#include <vector>

#include "csr.h"
#include "interrupt.h"
#include "options.h"
#include "trainer.h"

namespace concord {

// The teacher's attention weight of every stored value of `x` (cells x genes, in the
// model's gene order), in x's storage order: a cell's weights over its expressed genes
// sum to 1. `options` and `weights` are those of a model trained with method "concerto".
std::vector<float> concerto_attention(const CsrView& x, const TrainOptions& options, const Weights& weights,
                                      const InterruptFn& interrupted = {});

}  // namespace concord
