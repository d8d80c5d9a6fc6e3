# Neighbourhood scores of an embedding, for the demo, the tests and the benchmarks:
# how often a cell's nearest neighbours share its label, and how often they come from
# another batch (1 - that share within one batch would be perfect separation).

.neighbour_scores <- function(embedding, labels, batch, k = 15L, threads = 1L) {
  nn <- .concord_knn(embedding, embedding, k + 1L, "euclidean", 5e4, as.integer(threads))$index
  nn <- nn[, -1L, drop = FALSE]  # each cell is its own nearest neighbour
  label.share <- mean(matrix(labels[nn], nrow(nn)) == labels)
  other.batch <- mean(matrix(batch[nn], nrow(nn)) != batch)
  # What a perfectly mixed embedding would give: the chance that a random other cell
  # is from another batch.
  expected <- 1 - sum(table(batch) * (table(batch) - 1)) / (length(batch) * (length(batch) - 1))
  c(label_share = label.share, other_batch_share = other.batch,
    batch_mixing = other.batch / expected)
}

# The usual baseline: PCA of the scaled features (z-scores clipped at 10, as Seurat's
# ScaleData does), `n` components.
.pca_baseline <- function(x, n = 50L) {
  x <- as.matrix(x)
  mu <- rowMeans(x)
  sd <- sqrt(pmax(rowMeans(x^2) - mu^2, 1e-12) * ncol(x) / (ncol(x) - 1))
  z <- pmin((x - mu) / sd, 10)
  irlba::prcomp_irlba(t(z), n = n, center = FALSE, scale. = FALSE)$x
}
