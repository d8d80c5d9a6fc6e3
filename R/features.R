# Choosing the features to train on from the one-pass scan of the input (.scan_input()):
# the most variable genes, over all cells or ranked within each batch and combined, as
# the reference CONCORD selects them with a batch key (scanpy's highly variable genes per
# batch). Both read only per-gene moments, so a file is never held in memory for it.

# The batches to rank variable genes within (`hvg.by.batch`): the training batches,
# or NULL (rank over all cells) when asked, or when there is only one batch.
.feature_batch <- function(hvg.by.batch, batch) {
  if (hvg.by.batch && nlevels(batch) > 1L) batch else NULL
}

# The features to train on: `features` where the data has them, by default the most
# variable genes of the scan (ranked within each batch when the scan has per-batch
# moments, .scan_input(batch =)).
.choose_features <- function(features, genes, scan, verbose) {
  if (is.null(features)) {
    by.batch <- !is.null(scan$batch.moments)
    features <- if (by.batch) .top_variable_by_batch(genes, scan) else .top_variable(genes, scan$moments)
    if (verbose) {
      message("Using the ", length(features), " most variable genes as features",
              if (by.batch && length(features) < length(genes))
                paste0(", ranked within each of the ", ncol(scan$batch.moments$mean), " batches"),
              " (set 'features' to choose them).")
    }
    return(features)
  }
  if (!is.character(features) || !length(features) || anyNA(features)) {
    .stop("'features' must be a non-empty character vector of feature (gene) names without NA; ",
          "got ", .show(features), ".")
  }
  present <- unique(features[features %in% genes])
  if (length(present) == 0L) {
    .stop("none of the ", length(features), " requested features is in the data (first: ",
          paste(utils::head(features, 3), collapse = ", "), "). Check the feature names and assay.")
  }
  if (length(present) < length(unique(features))) {
    warning(length(unique(features)) - length(present), " of the ", length(unique(features)),
            " requested features are not in the data and are left out.", call. = FALSE)
  }
  present
}

# How far each gene's variance exceeds that of genes of similar mean: log10 variance less
# a loess fit of it on log10 mean; -Inf for genes without expression or variance (a
# variance within rounding of zero, as sums of squares leave for a constant gene). With
# too few such genes for a local fit (a tiny batch), the log index of dispersion
# (variance / mean) stands in for the residual.
.variance_residuals <- function(mean, var) {
  ok <- mean > 0 & var > 1e-10 * mean^2
  score <- rep(-Inf, length(mean))
  if (sum(ok) < 20L) {
    score[ok] <- log10(var[ok]) - log10(mean[ok])
    return(score)
  }
  fit <- stats::loess(log10(var[ok]) ~ log10(mean[ok]), span = 0.3, degree = 2)
  score[ok] <- log10(var[ok]) - stats::fitted(fit)
  score
}

# The n genes whose variance most exceeds that of genes of similar mean, from per-gene
# moments over all cells (.gene_moments()).
.top_variable <- function(genes, moments, n = 2000L) {
  if (length(genes) <= n) return(genes)
  score <- .variance_residuals(moments$mean, moments$var)
  genes[order(score, decreasing = TRUE)[seq_len(n)]]
}

# The n most variable genes ranked within each batch, from a scan with batches
# (.scan_input(batch =)), as scanpy's highly variable genes with a batch key: genes seen
# (non-zero) in fewer than `min.cells` cells in all are left out first; each batch ranks the
# rest by the same variance model as .top_variable() and keeps its top n; genes are then
# ordered by the number of batches that keep them, ties by their median rank in those
# batches, then by gene order. A gene variable in no batch (constant within every one) is
# never chosen, so fewer than n genes may come back. Where no gene passes `min.cells`
# (a handful of cells), the ranking over all cells is used instead.
.top_variable_by_batch <- function(genes, scan, n = 2000L, min.cells = 10L) {
  if (length(genes) <= n) return(genes)
  keep <- which(scan$expressed >= min.cells)
  if (!length(keep)) return(.top_variable(genes, scan$moments, n))
  mean <- scan$batch.moments$mean[keep, , drop = FALSE]
  var <- scan$batch.moments$var[keep, , drop = FALSE]
  rank <- matrix(NA_real_, length(keep), ncol(mean))
  for (b in seq_len(ncol(mean))) {
    score <- .variance_residuals(mean[, b], var[, b])
    top <- order(score, decreasing = TRUE)[seq_len(min(n, sum(is.finite(score))))]
    rank[top, b] <- seq_along(top)
  }
  n.batches <- rowSums(!is.na(rank))
  median.rank <- apply(rank, 1L, function(r) if (all(is.na(r))) NA_real_ else stats::median(r, na.rm = TRUE))
  o <- order(-n.batches, median.rank, seq_along(keep))
  o <- o[n.batches[o] > 0L]
  genes[keep[o[seq_len(min(n, length(o)))]]]
}

# The n most variable genes of a features x cells matrix's values as given.
.variable_genes <- function(x, n = 2000L) {
  x <- .as_dgc(x)
  .top_variable(rownames(x), .gene_moments(.scan_input(x, verbose = FALSE), log = FALSE), n)
}

# Per-gene mean and variance (n - 1 denominator) over cells, from a scan (.scan_input()):
# of the log-normalized values (`log`) or of the values as given.
.gene_moments <- function(scan, log) {
  if (log) .moments_of(scan$log_sum, scan$log_sum_sq, scan$n_cells) else .moments_of(scan$sum, scan$sum_sq, scan$n_cells)
}

# The same per batch, from a scan with batches: genes x batches matrices of means and
# variances, and the batches' cell counts (n).
.batch_moments <- function(scan, log) {
  m <- if (log) .moments_of(scan$domain_log_sum, scan$domain_log_sum_sq, scan$domain_cells)
       else .moments_of(scan$domain_sum, scan$domain_sum_sq, scan$domain_cells)
  c(m, list(n = scan$domain_cells))
}

# Mean and variance (n - 1 denominator) from sums and sums of squares over n cells: a
# vector with one n, or a genes x batches matrix with one n per batch (column).
.moments_of <- function(s, sq, n) {
  n <- if (is.matrix(s)) rep(pmax(n, 1), each = nrow(s)) else max(n, 1)
  mean <- s / n
  list(mean = mean, var = pmax(sq / n - mean^2, 0) * n / pmax(n - 1, 1))
}
