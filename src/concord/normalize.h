// Log-normalization of counts, as Seurat's LogNormalize.
#pragma once

namespace concord {

// The factor that takes a cell of `total` counts to `scale`; 0 for a cell without counts.
inline double normalize_factor(double total, double scale) { return total > 0.0 ? scale / total : 0.0; }

// log1p(x / cell total * scale) for each stored value of a genes x cells CSC matrix
// (p: column offsets, x: values); `out` may be `x`. Cells with no counts stay zero.
void log_normalize(int n_cells, const int* p, const double* x, double scale, double* out,
                   int threads);

}  // namespace concord
