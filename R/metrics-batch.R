# Batch correction (scIB, Luecken et al. 2022): how well cells of the same type mix
# across batches. Every score lies in [0, 1], higher is better. Without cell-type
# labels, all cells count as one type.

.labels_or_one <- function(ctx) {
  if (is.null(ctx$label)) factor(rep("all", nrow(ctx$x))) else ctx$label
}

# scIB's silhouette_batch: within each cell type seen in several batches, 1 - |batch
# silhouette| per cell, averaged per type and then over types.
.asw_batch <- function(ctx) {
  sub <- ctx$sub
  lab <- droplevels(.labels_or_one(ctx)[sub])
  bat <- ctx$batch[sub]
  per.type <- vapply(levels(lab), function(l) {
    cells <- which(lab == l)
    b <- droplevels(bat[cells])
    if (nlevels(b) < 2L || nlevels(b) == length(cells)) return(NA_real_)
    x <- ctx$x[sub[cells], , drop = FALSE]
    # Cells all at one point have no silhouette (0 / 0), not a perfect mix.
    if (all(x == rep(x[1L, ], each = nrow(x)))) return(NA_real_)
    s <- .concord_silhouette(x, as.integer(b), nlevels(b), ctx$threads)
    mean(1 - abs(s))
  }, numeric(1))
  .mean_or_na(per.type)
}

# kBET acceptance rate (Buttner et al. 2019) as scIB runs it: per cell type, each cell's
# k0 neighbours (k0 a quarter of the mean batch size, within [10, 70]) are tested
# against the type's batch frequencies by a chi-squared test at level 0.05; the score is
# 1 - the mean rejection rate over types.
.kbet <- function(ctx, alpha = 0.05) {
  lab <- .labels_or_one(ctx)
  per.type <- vapply(levels(lab), function(l) {
    cells <- which(lab == l)
    b <- droplevels(ctx$batch[cells])
    if (length(cells) < 10L || nlevels(b) < 2L) return(NA_real_)
    k0 <- min(70L, max(10L, floor(mean(table(b)) / 4)), length(cells) - 1L)
    knn <- .knn_graph(ctx$x[cells, , drop = FALSE], k0, ctx$threads)
    freq <- as.numeric(table(b)) / length(b)
    stat <- .concord_kbet_statistics(knn$index, as.integer(b), freq)
    p <- stats::pchisq(stat, df = nlevels(b) - 1L, lower.tail = FALSE)
    mean(p < alpha)
  }, numeric(1))
  if (all(is.na(per.type))) return(NA_real_)
  1 - mean(per.type, na.rm = TRUE)
}

# scIB's graph connectivity: per cell type, the share of its cells in the largest
# connected component of the kNN graph restricted to that type; mean over types.
.graph_connectivity <- function(ctx) {
  lab <- .labels_or_one(ctx)
  k <- min(ctx$n.neighbors, ncol(ctx$knn$index))
  conn <- .concord_label_connectivity(ctx$knn$index[, seq_len(k), drop = FALSE], as.integer(lab), nlevels(lab))
  mean(conn, na.rm = TRUE)
}

# Variance of the data explained by batch: R^2 of a one-way regression of each
# principal component on batch, weighted by the component's variance (scIB's pcr).
# The first n.comps principal components of x (dense or sparse, cells x features):
# scores `x` and variances `var`.
.principal_components <- function(x, n.comps = 50L) {
  n <- nrow(x)
  k <- min(n.comps, ncol(x), n - 1L)
  mu <- Matrix::colMeans(x)
  if (ncol(x) > 2000L) {
    .require("irlba", "for principal components of a reference with more than 2000 features")
    pca <- irlba::prcomp_irlba(x, n = k, center = mu, scale. = FALSE)
    return(list(x = pca$x, var = pca$sdev^2))
  }
  cov <- as.matrix(Matrix::crossprod(x) - n * tcrossprod(mu)) / (n - 1)
  e <- eigen(cov, symmetric = TRUE)
  v <- e$vectors[, seq_len(k), drop = FALSE]
  list(x = as.matrix(x %*% v) - matrix(drop(mu %*% v), n, k, byrow = TRUE),
       var = pmax(e$values[seq_len(k)], 0))
}

.pcr <- function(x, batch, n.comps = 50L) {
  pca <- .principal_components(x, n.comps)
  pcs <- pca$x
  var <- pca$var
  counts <- as.numeric(table(batch))
  group.means <- rowsum(pcs, batch) / counts
  between <- colSums(group.means^2 * counts)
  total <- colSums(pcs^2)
  r2 <- ifelse(total > 0, between / total, 0)
  # No variance: no share of it is explained by batch.
  if (sum(var) <= 0) return(NA_real_)
  sum(var * r2) / sum(var)
}

# scIB's pcr_comparison when a reference (pre-integration) space is given:
# (before - after) / before, floored at 0. Without one: 1 - the batch share of the
# embedding's variance.
.pcr_batch <- function(ctx) {
  after <- .pcr(ctx$x, ctx$batch)
  if (is.null(ctx$reference) || is.na(after)) return(1 - after)
  before <- .pcr(ctx$reference, ctx$batch)
  if (is.na(before) || before <= 0) return(NA_real_)
  max(0, (before - after) / before)
}

.metrics_batch <- function(ctx) {
  list(scores = c(
    ASW_batch = .asw_batch(ctx),
    iLISI = .lisi_scaled(ctx, ctx$batch, clisi = FALSE),
    kBET = .kbet(ctx),
    graph_connectivity = .graph_connectivity(ctx),
    PCR_batch = .pcr_batch(ctx)
  ))
}
