# Biological conservation (scIB, Luecken et al. 2022): how well the embedding keeps
# cell types apart. Every score lies in [0, 1], higher is better.

.contingency <- function(a, b) {
  a <- as.integer(a)
  b <- as.integer(b)
  na <- max(a)
  matrix(tabulate(a + (b - 1L) * na, na * max(b)), nrow = na)
}

# Normalized mutual information with the arithmetic mean of the entropies in the
# denominator (sklearn's default, used by scIB).
.nmi <- function(a, b) {
  p <- .contingency(a, b)
  p <- p / sum(p)
  pa <- rowSums(p)
  pb <- colSums(p)
  nz <- p > 0
  mi <- sum(p[nz] * log(p[nz] / outer(pa, pb)[nz]))
  entropy <- function(q) -sum(q[q > 0] * log(q[q > 0]))
  h <- (entropy(pa) + entropy(pb)) / 2
  if (h == 0) return(1)
  max(0, min(1, mi / h))
}

# Adjusted Rand index (Hubert and Arabie 1985).
.ari <- function(a, b) {
  tab <- .contingency(a, b)
  pairs <- function(x) sum(x * (x - 1) / 2)
  both <- pairs(tab)
  ra <- pairs(rowSums(tab))
  rb <- pairs(colSums(tab))
  expected <- ra * rb / pairs(sum(tab))
  top <- (ra + rb) / 2
  if (top == expected) return(1)
  (both - expected) / (top - expected)
}

# The kNN graph with UMAP's fuzzy edge weights, symmetrised as a fuzzy union
# (w + w' - w w'), the graph scanpy builds and scIB clusters. The edges come from the
# engine in the order graph_from_adjacency_matrix() would add them from the symmetric
# sparse matrix, without building that matrix (several copies at a million cells).
.fuzzy_graph <- function(knn, n.neighbors) {
  .require("igraph", "for Leiden clustering of the kNN graph")
  k <- min(n.neighbors, ncol(knn$index))
  index <- knn$index[, seq_len(k), drop = FALSE]
  w <- .concord_fuzzy_weights(knn$distance[, seq_len(k), drop = FALSE])
  e <- .concord_fuzzy_union(index, w)
  g <- igraph::make_empty_graph(n = nrow(index), directed = FALSE)
  igraph::add_edges(g, e$ends, attr = list(weight = e$weight))
}

# Leiden clusters (modularity) of a weighted graph, seeded.
.leiden <- function(g, resolution, seed) {
  .with_seed(seed, igraph::cluster_leiden(
    g, objective_function = "modularity", weights = igraph::E(g)$weight,
    resolution_parameter = resolution, n_iterations = 2L
  ))$membership
}

# lapply() over X in up to `workers` forked processes (Unix; elsewhere, or with one
# worker, sequential). For the Leiden resolutions, which are independent: each call
# sets its own seed, so the results equal the sequential ones. Children inherit the
# parent's random state untouched (mc.set.seed = FALSE) and hand back only what FUN
# returns; an error in one is raised here.
.parallel_lapply <- function(X, FUN, workers) {
  workers <- min(as.integer(workers), length(X))
  if (workers < 2L || .Platform$OS.type != "unix") return(lapply(X, FUN))
  # mclapply's own warning about failed calls is replaced by the error below.
  out <- suppressWarnings(parallel::mclapply(X, FUN, mc.cores = workers, mc.preschedule = FALSE,
                                             mc.set.seed = FALSE))
  failed <- vapply(out, function(o) inherits(o, "try-error") || is.null(o), logical(1))
  if (any(failed)) {
    first <- out[[which(failed)[1L]]]
    .stop("a parallel worker failed",
          if (inherits(first, "try-error")) paste0(": ", conditionMessage(attr(first, "condition")))
          else " (killed, perhaps out of memory)",
          "; run again with threads = 1 to work sequentially.")
  }
  out
}

# Clusters of the embedding's kNN graph at each resolution, each scored by `score`
# (clusters -> c(NMI, ARI)); the scores of the clustering of best NMI, as scIB reports.
# The resolutions run in parallel on up to `threads` forked workers.
.clustering_curve <- function(ctx, score) {
  g <- .fuzzy_graph(ctx$knn, ctx$n.neighbors)
  rows <- .parallel_lapply(ctx$resolutions, function(r) {
    cl <- .leiden(g, r, ctx$seed)
    s <- score(cl)
    data.frame(resolution = r, clusters = max(cl), NMI = s[["NMI"]], ARI = s[["ARI"]])
  }, ctx$threads)
  curve <- do.call(rbind, rows)
  best <- which.max(curve$NMI)
  list(scores = c(NMI = curve$NMI[best], ARI = curve$ARI[best]), clustering = curve)
}

.metric_nmi_ari <- function(ctx) {
  .clustering_curve(ctx, function(cl) c(NMI = .nmi(ctx$label, cl), ARI = .ari(ctx$label, cl)))
}

# Silhouette of the subsampled cells by cell type, shared by ASW_label and
# isolated_labels.
.label_silhouette <- function(ctx) {
  sub <- ctx$sub
  lab <- droplevels(ctx$label[sub])
  s <- .concord_silhouette(ctx$x[sub, , drop = FALSE], as.integer(lab), nlevels(lab), ctx$threads)
  list(s = s, label = lab)
}

# scib-metrics' isolated label score: the rescaled silhouette of the cells of each label
# found in the fewest batches. NA when every label is in every batch.
.isolated_labels <- function(sil, ctx) {
  if (is.null(ctx$batch)) return(NA_real_)
  per.label <- rowSums(table(ctx$label, ctx$batch) > 0)
  if (min(per.label) == nlevels(ctx$batch)) return(NA_real_)
  isolated <- names(per.label)[per.label == min(per.label)]
  isolated <- intersect(isolated, levels(sil$label))
  if (!length(isolated)) return(NA_real_)
  mean(vapply(isolated, function(l) mean((sil$s[sil$label == l] + 1) / 2), numeric(1)))
}

.lisi_scaled <- function(ctx, f, clisi) {
  l <- .concord_lisi(ctx$knn$index, ctx$knn$distance, as.integer(f), nlevels(f), ctx$perplexity, ctx$threads)
  m <- stats::median(l)
  if (clisi) (nlevels(f) - m) / (nlevels(f) - 1) else (m - 1) / (nlevels(f) - 1)
}

.metrics_bio <- function(ctx) {
  clus <- .metric_nmi_ari(ctx)
  sil <- .label_silhouette(ctx)
  list(
    scores = c(clus$scores, ASW_label = (mean(sil$s) + 1) / 2,
               cLISI = .lisi_scaled(ctx, ctx$label, clisi = TRUE),
               isolated_labels = .isolated_labels(sil, ctx)),
    details = list(clustering = clus$clustering)
  )
}
