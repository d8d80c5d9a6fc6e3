// NT-Xent with hard-negative weighting, as in the reference CONCORD, and the
// cross-entropy of a classification head on a batch's labelled cells.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace concord {

// z1, z2: B x d embeddings of the two views of the same B cells. Rows are
// L2-normalised; logits are cosine similarities / temperature over all 2B rows, the
// positive of a row is the other view of its cell and a row never meets itself. With
// beta > 0 each negative logit s becomes (beta + 1) s - (logsumexp(beta s over the
// row's negatives) - log(2B - 2)), i.e. negatives are weighted by
// exp(beta s) / mean(exp(beta s)). Returns the mean cross-entropy over the 2B rows.
torch::Tensor nt_xent(const torch::Tensor& z1, const torch::Tensor& z2, double temperature,
                      double beta);

// CLIP's symmetric InfoNCE between two modalities' B x d embeddings of the same B
// cells: rows L2-normalised, a = modality one, b = modality two, logits a b^T /
// temperature; the mean of the cross-entropies of rows (a against every b) and of
// columns (b against every a), the positive being the same cell.
torch::Tensor clip_loss(const torch::Tensor& a, const torch::Tensor& b, double temperature);

// Mean cross-entropy of class logits (one row per cell of a batch) over the batch's
// labelled cells: row r's class is labels[cells[r]], -1 for an unlabelled cell, which is
// left out. Zero, without gradient, when no cell of the batch is labelled. CONCORD's
// joint classifier and Concerto's supervised fine-tuning both train their head with it.
torch::Tensor labelled_cross_entropy(const torch::Tensor& logits, const std::vector<int>& cells,
                                     const std::vector<int>& labels);

}  // namespace concord
