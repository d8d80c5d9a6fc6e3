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

# Betti numbers as the CONCORD benchmark reads them (its compute_betti_statistics, on
# Giotto-TDA's BettiCurve with 100 bins): each dimension's curve is sampled at n.bins
# points over that dimension's own range of finite filtration values, carried onto one
# grid of n.bins points from the smallest to the largest of those values (the last own
# sample at or before each grid point; 0 outside the own range), and the Betti number is
# the curve's mode on that grid. The mode adds up every stretch where a value holds, and
# counts a value over the scales where no other dimension has features yet; the most
# persistent number takes one unbroken stretch. Giotto's reduced homology leaves out
# the infinite H0 bar, so its dimension-0 mode misses the last component (0 for a
# connected shape whose loops outlive its merges); it is added back here, as in
# `betti_0` and `expected.betti`.
.betti_mode <- function(diagram, dims = 0:2, n.bins = 100L) {
  finite <- diagram[is.finite(diagram$death), , drop = FALSE]
  own <- lapply(dims, function(d) {
    dg <- finite[finite$dimension == d, , drop = FALSE]
    if (nrow(dg) == 0L) return(NULL)
    at <- seq(min(dg$birth), max(dg$death), length.out = n.bins)
    list(at = at, betti = vapply(at, function(t) sum(dg$birth <= t & dg$death > t), numeric(1)))
  })
  present <- !vapply(own, is.null, logical(1))
  if (!any(present)) return(as.numeric(dims == 0))
  lo <- max(0, min(vapply(own[present], function(o) o$at[1], numeric(1))))
  hi <- max(vapply(own[present], function(o) o$at[n.bins], numeric(1)))
  grid <- seq(lo, hi, length.out = n.bins)
  mode <- vapply(own, function(o) {
    if (is.null(o)) return(0)
    i <- findInterval(grid, o$at)
    curve <- ifelse(i == 0L | grid > o$at[n.bins], 0, o$betti[pmax(i, 1L)])
    counts <- table(curve)
    as.numeric(names(counts)[which.max(counts)])
  }, numeric(1))
  mode + (dims == 0 & any(diagram$dimension == 0 & is.infinite(diagram$death)))
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
  mode <- .betti_mode(diagram)
  agree <- function(b) if (is.null(ctx$expected.betti)) NA_real_ else mean(b == ctx$expected.betti)
  scores <- c(betti, agree(betti), entropy, mode, agree(mode))
  names(scores) <- .family_metrics$topology
  diagram$persistent <- persistent
  list(scores = scores, details = list(persistence = diagram, betti_curves = curves))
}
