# scCRAFT's annotation-free proxy of biological conservation (He et al. 2025, on tuning
# without annotations): low-resolution clusters found within each batch before
# integration stand in for cell types; NMI and ARI of the integrated embedding's
# clusters against them, per batch, averaged over batches. High when the embedding keeps
# each batch's major cell groups apart.

# Pseudo-labels: within each batch, the reference's first 50 principal components (as
# scCRAFT's scanpy pipeline; a reference of at most 50 dimensions is used as it is),
# their kNN graph and Leiden at `proxy.resolution`. NA for batches of under 3 cells.
.proxy_labels <- function(ctx) {
  lab <- rep(NA_integer_, nrow(ctx$x))
  for (b in levels(ctx$batch)) {
    cells <- which(ctx$batch == b)
    if (length(cells) < 3L) next
    ref <- ctx$reference[cells, , drop = FALSE]
    space <- if (ncol(ref) > 50L) .principal_components(ref, 50L)$x else as.matrix(ref)
    k <- min(ctx$n.neighbors, length(cells) - 1L)
    g <- .fuzzy_graph(.knn_graph(space, k, ctx$threads), k)
    lab[cells] <- .leiden(g, ctx$proxy.resolution, ctx$seed)
  }
  lab
}

.metrics_proxy <- function(ctx) {
  pseudo <- .proxy_labels(ctx)
  per.batch <- split(seq_along(pseudo), ctx$batch)
  per.batch <- per.batch[vapply(per.batch, function(cells) !anyNA(pseudo[cells]), logical(1))]
  if (!length(per.batch)) {
    return(list(scores = c(proxy_NMI = NA_real_, proxy_ARI = NA_real_)))
  }
  curve <- .clustering_curve(ctx, function(cl) {
    s <- vapply(per.batch, function(cells) c(.nmi(pseudo[cells], cl[cells]), .ari(pseudo[cells], cl[cells])),
                numeric(2))
    c(NMI = mean(s[1, ]), ARI = mean(s[2, ]))
  })
  pseudo.clusters <- vapply(per.batch, function(cells) length(unique(pseudo[cells])), integer(1))
  list(scores = c(proxy_NMI = curve$scores[["NMI"]], proxy_ARI = curve$scores[["ARI"]]),
       details = list(proxy_clustering = curve$clustering, proxy_pseudo_clusters = pseudo.clusters))
}
