// NT-Xent with hard-negative weighting, as in the reference CONCORD.
#pragma once

#include <torch/torch.h>

namespace concord {

// z1, z2: B x d embeddings of the two views of the same B cells. Rows are
// L2-normalised; logits are cosine similarities / temperature over all 2B rows, the
// positive of a row is the other view of its cell and a row never meets itself. With
// beta > 0 each negative logit s becomes (beta + 1) s - (logsumexp(beta s over the
// row's negatives) - log(2B - 2)), i.e. negatives are weighted by
// exp(beta s) / mean(exp(beta s)). Returns the mean cross-entropy over the 2B rows.
torch::Tensor nt_xent(const torch::Tensor& z1, const torch::Tensor& z2, double temperature,
                      double beta);

}  // namespace concord
