# Topology: persistent homology (Vietoris-Rips, dimensions 0 to 2) of a seeded
# subsample of the embedding, computed by GUDHI in the engine.

# The most persistent Betti number of one dimension: the value its Betti curve keeps
# over the longest stretch of scales in [0, scale] (exact, from the interval ends). A
# fixed lifetime cut-off would not do: in many dimensions sampling noise alone lives
# long, while the features of the shape hold one Betti number over a wide range.
# Returns the number and the stretch (from, to).
.most_persistent <- function(dg, scale) {
  cuts <- sort(unique(c(0, scale, dg$birth[dg$birth < scale], dg$death[dg$death < scale])))
  mid <- (cuts[-1] + cuts[-length(cuts)]) / 2
  betti <- vapply(mid, function(t) sum(dg$birth <= t & dg$death > t), numeric(1))
  runs <- rle(betti)
  len <- vapply(split(diff(cuts), rep(seq_along(runs$lengths), runs$lengths)), sum, numeric(1))
  best <- which.max(len)
  last <- cumsum(runs$lengths)[best]
  c(betti = runs$values[best], from = cuts[last - runs$lengths[best] + 1L], to = cuts[last + 1L])
}

.betti_curves <- function(diagram, scale, dims = 0:2, n.steps = 100L) {
  grid <- seq(0, scale, length.out = n.steps)
  do.call(rbind, lapply(dims, function(d) {
    dg <- diagram[diagram$dimension == d, , drop = FALSE]
    betti <- vapply(grid, function(t) sum(dg$birth <= t & dg$death > t), numeric(1))
    data.frame(dimension = d, scale = grid, betti = betti)
  }))
}

# Shannon entropy of a Betti curve read as a distribution over scales, divided by its
# maximum (log of the number of scales): 0 when all features sit at one scale, 1 when
# the Betti number is the same at every scale. 0 for a curve that is zero throughout.
.curve_entropy <- function(betti) {
  if (sum(betti) == 0) return(0)
  p <- betti / sum(betti)
  -sum(p[p > 0] * log(p[p > 0])) / log(length(betti))
}

.metrics_topology <- function(ctx) {
  sub <- .subsample(nrow(ctx$x), ctx$topology.cells, ctx$seed + 2L)
  diagram <- .concord_rips_persistence(ctx$x[sub, , drop = FALSE], 2L, 0)
  finite <- diagram$death[is.finite(diagram$death)]
  scale <- if (length(finite)) max(finite) else max(c(diagram$birth, 1))
  persistent <- logical(nrow(diagram))
  betti <- numeric(3)
  for (d in 0:2) {
    at <- diagram$dimension == d
    best <- .most_persistent(diagram[at, , drop = FALSE], scale)
    betti[d + 1L] <- best[["betti"]]
    persistent[at] <- diagram$birth[at] <= best[["from"]] & diagram$death[at] >= best[["to"]]
  }
  curves <- .betti_curves(diagram, scale)
  entropy <- vapply(0:2, function(d) .curve_entropy(curves$betti[curves$dimension == d]), numeric(1))
  match <- if (is.null(ctx$expected.betti)) NA_real_ else mean(betti == ctx$expected.betti)
  scores <- c(betti, match, entropy)
  names(scores) <- c(paste0("betti_", 0:2), "betti_match", paste0("betti_entropy_", 0:2))
  diagram$persistent <- persistent
  list(scores = scores, details = list(persistence = diagram, betti_curves = curves))
}
