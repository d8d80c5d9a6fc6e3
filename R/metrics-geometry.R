# Geometry: does the embedding keep the shape of a reference space (the noise-free data
# of a simulation, or the log-normalized input)? Quadratic, so computed on a seeded
# subsample of cells.

# Total variance (sum over features of the within-state variance) of each state.
.state_variance <- function(x, state) {
  g <- Matrix::sparseMatrix(i = as.integer(state), j = seq_along(state), x = 1,
                            dims = c(nlevels(state), length(state)))
  n <- tabulate(as.integer(state), nlevels(state))
  sums <- as.matrix(g %*% x)
  squares <- if (inherits(x, "Matrix")) as.matrix(g %*% (x^2)) else g %*% (x^2)
  total <- rowSums(as.matrix(squares)) - rowSums(sums^2) / n
  ifelse(n > 1, total / (n - 1), NA_real_)
}

.metrics_geometry <- function(ctx) {
  ref <- ctx$reference
  sub <- .subsample(nrow(ctx$x), ctx$geometry.cells, ctx$seed + 1L)
  m <- length(sub)
  r <- as.matrix(ref[sub, , drop = FALSE])
  e <- ctx$x[sub, , drop = FALSE]
  ks <- seq(10L, 100L, by = 10L)
  ks <- ks[ks < m / 2]
  trust <- if (length(ks)) .concord_trustworthiness(r, e, ks, ctx$threads) else numeric(0)
  dr <- .concord_pairwise_distances(r, ctx$threads)
  de <- .concord_pairwise_distances(e, ctx$threads)
  scores <- c(
    trustworthiness = if (length(ks)) mean(trust) else NA_real_,
    distance_pearson = stats::cor(dr, de),
    distance_spearman = stats::cor(rank(dr), rank(de)),
    distance_kendall = .concord_kendall(dr, de),
    state_variance_cor = NA_real_
  )
  if (!is.null(ctx$label) && nlevels(ctx$label) >= 3L) {
    scores[["state_variance_cor"]] <- stats::cor(.state_variance(ref, ctx$label),
                                                 .state_variance(ctx$x, ctx$label),
                                                 use = "complete.obs")
  }
  list(scores = scores,
       details = list(trustworthiness = data.frame(k = ks, trustworthiness = trust)))
}

# A reference space as a cells x features matrix aligned with the embedding: a matrix,
# data.frame or sparse Matrix with one row per cell.
.check_reference <- function(reference, n.cells) {
  if (is.null(reference)) return(NULL)
  if (is.data.frame(reference)) reference <- as.matrix(reference)
  ok <- (is.matrix(reference) && is.numeric(reference)) || inherits(reference, "Matrix")
  if (!ok || nrow(reference) != n.cells) {
    .stop("'reference' must be a numeric cells x features matrix with one row per cell (",
          n.cells, " rows); got ", if (ok) paste(nrow(reference), "rows") else
            paste("an object of class", class(reference)[1]),
          ". Transpose a features x cells matrix with t().")
  }
  if (inherits(reference, "Matrix")) {
    reference <- methods::as(methods::as(reference, "CsparseMatrix"), "dMatrix")
    bad <- sum(!is.finite(reference@x))
  } else {
    storage.mode(reference) <- "double"
    bad <- sum(!is.finite(reference))
  }
  if (bad > 0L) .stop("'reference' holds ", bad, " non-finite value(s); remove or replace them first.")
  reference
}
