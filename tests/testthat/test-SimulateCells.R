skip_if_not_installed("SingleCellExperiment")

assay <- function(x, name) SummarizedExperiment::assay(x, name)
meta <- function(x) S4Vectors::metadata(x)
sim <- function(...) SimulateCells(..., threads = 1)

# Mean noise-free value of each program's genes in each group of cells.
program_means <- function(x, groups) {
  truth <- as.matrix(assay(x, "truth"))
  prog <- SummarizedExperiment::rowData(x)$program
  by.gene <- t(apply(truth, 1, function(v) tapply(v, groups, mean)))
  apply(by.gene, 2, function(v) tapply(v, prog, mean))
}

test_that("the result holds every piece of truth the issue asks for", {
  x <- sim("trajectory", n.cells = 300, n.genes = 80, n.batches = 2, batch.effect = "scaling")
  expect_s4_class(x, "SingleCellExperiment")
  expect_equal(dim(x), c(80, 300))
  expect_setequal(SummarizedExperiment::assayNames(x), c("truth", "noisy", "counts", "logcounts"))
  for (a in SummarizedExperiment::assayNames(x)) expect_s4_class(assay(x, a), "dgCMatrix")
  expect_named(SummarizedExperiment::colData(x), c("state", "pseudotime", "branch", "batch"))
  expect_true(all(x$pseudotime >= 0 & x$pseudotime <= 1))
  expect_setequal(levels(x$batch), c("B1", "B2"))
  expect_equal(meta(x)$betti, c(b0 = 1L, b1 = 0L))
  counts <- assay(x, "counts")
  expected <- log1p(t(t(as.matrix(counts)) / Matrix::colSums(counts)) * 1e4)
  expect_equal(as.matrix(assay(x, "logcounts")), expected)
})

test_that("cluster programs are specific to their states", {
  x <- sim("clusters", n.cells = 400, n.genes = 120, n.states = 4, shared.genes = 0.2)
  m <- program_means(x, x$state)
  states <- paste0("S", 1:4)
  # A state's own program is expressed in its cells only.
  own <- m[states, states]
  expect_true(all(diag(own) > 2))
  expect_true(all(own[row(own) != col(own)] == 0))
  # Shared programs join neighbouring states; global genes are everywhere.
  expect_true(all(m["S1+S2", c("S1", "S2")] > 2) && all(m["S1+S2", c("S3", "S4")] == 0))
  expect_true(all(m["global", ] > 2))
  expect_equal(as.vector(table(x$state)), rep(100, 4))
  # The noisy counts keep it: a state's own genes are far higher in its cells.
  counts <- as.matrix(assay(x, "counts"))
  genes <- SummarizedExperiment::rowData(x)$program == "S2"
  expect_gt(mean(counts[genes, x$state == "S2"]), 5 * mean(counts[genes, x$state != "S2"]) + 1)
  expect_equal(meta(x)$betti, c(b0 = 4L, b1 = 0L))
})

test_that("trajectory programs turn on in the order of pseudotime", {
  x <- sim("trajectory", n.cells = 1000, n.genes = 100, n.states = 6)
  truth <- as.matrix(assay(x, "truth"))
  prog <- SummarizedExperiment::rowData(x)$program
  onset <- offset <- peak <- numeric(6)
  for (k in 1:6) {
    on <- colSums(truth[prog == paste0("S", k), , drop = FALSE])
    onset[k] <- min(x$pseudotime[on > 0])
    offset[k] <- max(x$pseudotime[on > 0])
    peak[k] <- x$pseudotime[which.max(on / sum(prog == paste0("S", k)))]
  }
  # The first two programs are both on at the start (the second rising), the last two
  # both at the end; otherwise each switches on and off after its predecessor.
  expect_equal(onset[1], onset[2])
  expect_true(all(diff(onset[-1]) > 0.1))
  expect_true(all(diff(offset[-6]) > 0.1))
  expect_equal(offset[5], offset[6])
  expect_true(all(diff(peak) > 0.1))
  # The state label is the dominant program, so it follows pseudotime too.
  expect_true(all(diff(tapply(x$pseudotime, x$state, median)) > 0))
})

test_that("a loop's noise-free data returns to its start", {
  x <- sim("loop", n.cells = 2000, n.genes = 100, n.states = 5)
  truth <- as.matrix(assay(x, "truth"))
  t <- x$pseudotime
  start <- truth[, which.min(t)]
  end <- truth[, which.max(t)]
  middle <- truth[, which.min(abs(t - 0.5))]
  expect_lt(sqrt(sum((start - end)^2)), 0.05 * sqrt(sum((start - middle)^2)))
  expect_equal(meta(x)$betti, c(b0 = 1L, b1 = 1L))
  # A trajectory, by contrast, ends far from where it started.
  y <- sim("trajectory", n.cells = 2000, n.genes = 100, n.states = 5)
  ty <- as.matrix(assay(y, "truth"))
  expect_gt(sqrt(sum((ty[, which.min(y$pseudotime)] - ty[, which.max(y$pseudotime)])^2)), 10)
})

test_that("multi-loops share a hub and intersecting paths share a crossing", {
  x <- sim("multi.loop", n.cells = 900, n.genes = 120, n.states = 4, n.loops = 3)
  expect_equal(meta(x)$betti, c(b0 = 1L, b1 = 3L))
  expect_setequal(levels(x$branch), c("L1", "L2", "L3"))
  m <- program_means(x, x$branch)
  expect_true(all(m["hub", ] > 0.5))
  expect_true(m["L2.S3", "L2"] > 0.5 && all(m["L2.S3", c("L1", "L3")] == 0))

  y <- sim("intersecting", n.cells = 600, n.genes = 100, n.states = 5, n.paths = 2)
  expect_equal(meta(y)$betti, c(b0 = 1L, b1 = 0L))
  m <- program_means(y, y$branch)
  expect_true(all(m["cross", ] > 0.5))
  expect_true(m["P1.S1", "P1"] > 0.5 && m["P1.S1", "P2"] == 0)
})

test_that("a tree has the requested leaves, and daughters inherit decayed programs", {
  for (shape in list(c(2, 2), c(3, 2), c(2, 3))) {
    x <- sim("tree", n.cells = 600, n.genes = 300, n.states = 2, branching = shape[1],
             depth = shape[2])
    seg <- meta(x)$simulation$segments
    expect_equal(sum(seg$leaf), shape[1]^shape[2])
    expect_equal(sum(levels(x$branch) %in% seg$segment[seg$leaf]), shape[1]^shape[2])
    expect_true(all(seg$segment[seg$leaf] %in% x$branch))
    expect_equal(meta(x)$betti, c(b0 = 1L, b1 = 0L))
  }
  x <- sim("tree", n.cells = 1200, n.genes = 200, n.states = 3, branching = 2, depth = 2,
           decay = 0.5)
  # Past the hand-over from its parent (local time > 1/3), a cell of leaf 1.2 keeps its
  # parent's last program at weight decay and root's at decay^2; the sibling lineage's
  # programs stay off.
  truth <- as.matrix(assay(x, "truth"))
  rd <- SummarizedExperiment::rowData(x)
  cells <- x$branch == "1.2" & x$pseudotime > (2 + 1 / 3) / 3
  expect_gt(sum(cells), 50)
  weight <- function(p) unique(as.vector(round(truth[rd$program == p, cells] / rd$level[rd$program == p], 10)))
  expect_equal(weight("root:S3"), 0.25)
  expect_equal(weight("1:S3"), 0.5)
  expect_equal(weight("2:S3"), 0)
  seg <- meta(x)$simulation$segments
  expect_true(all(diff(tapply(x$pseudotime, seg$level[match(x$branch, seg$segment)], max)) > 0))
})

test_that("each noise model gives the mean and dispersion asked for", {
  # Deviations of the noisy values from their noise-free means, over expressed entries.
  check <- function(noise, dispersion, variance) {
    x <- sim("clusters", n.cells = 1500, n.genes = 60, n.states = 2, noise = noise,
             dispersion = dispersion, non.negative = FALSE, level = 8)
    mu <- as.matrix(assay(x, "truth"))
    v <- as.matrix(assay(x, "noisy"))
    on <- mu > 0
    expect_lt(abs(mean(v[on] - mu[on])), 0.03 * mean(mu[on]))
    expect_equal(mean((v[on] - mu[on])^2) / mean(variance(mu[on])), 1, tolerance = 0.04)
    list(mu = mu, v = v, on = on)
  }
  check("poisson", 0, function(m) m)
  nb <- check("nb", 0.3, function(m) m + 0.3 * m^2)
  expect_true(all(nb$v == round(nb$v)))
  expect_true(all(nb$v[!nb$on] == 0))
  ln <- check("lognormal", 0.25, function(m) m^2 * (exp(0.25^2) - 1))
  expect_true(all(ln$v[!ln$on] == 0))
  nm <- check("normal", 1.2, function(m) rep(1.2^2, length(m)))
  # Normal noise is additive: zero means get it too.
  expect_equal(stats::sd(nm$v[!nm$on]), 1.2, tolerance = 0.04)
})

test_that("dropout, non-negativity and rounding do what they say", {
  base <- sim("clusters", n.cells = 500, n.genes = 50, noise = "normal", dispersion = 2,
              non.negative = FALSE)
  expect_lt(min(assay(base, "noisy")@x), 0)
  x <- sim("clusters", n.cells = 500, n.genes = 50, noise = "normal", dispersion = 2,
           dropout = 0.4, non.negative = TRUE, round.values = TRUE)
  v <- as.matrix(assay(x, "noisy"))
  expect_true(all(v >= 0) && all(v == round(v)))
  # A value is zero if dropped (0.4) or else if the noise drew a zero.
  dropped <- sim("clusters", n.cells = 500, n.genes = 50, dropout = 0.4)
  kept <- sim("clusters", n.cells = 500, n.genes = 50, dropout = 0)
  on <- as.matrix(assay(kept, "truth")) > 0
  p <- as.matrix(assay(dropped, "noisy"))[on]
  q <- as.matrix(assay(kept, "noisy"))[on]
  expect_equal(mean(p == 0), 0.4 + 0.6 * mean(q == 0), tolerance = 0.03)
})

test_that("each batch effect type changes what it should and nothing else", {
  args <- list("clusters", n.cells = 800, n.genes = 100, n.states = 4, n.batches = 2,
               batch.strength = 1.5)
  run <- function(effect) do.call(sim, c(args, batch.effect = effect))
  none <- run("none")
  t0 <- as.matrix(assay(none, "truth"))
  n0 <- as.matrix(assay(none, "noisy"))
  expect_identical(assay(none, "counts"), assay(none, "noisy"))
  b <- none$batch
  for (effect in .batch_types <- c("specific.genes", "shift", "scaling", "variance", "depth",
                                   "dropout")) {
    x <- run(effect)
    # Batch effects never touch the truth, the noise or the labels.
    expect_identical(as.matrix(assay(x, "truth")), t0)
    expect_identical(as.matrix(assay(x, "noisy")), n0)
    expect_identical(x$batch, b)
    counts <- as.matrix(assay(x, "counts"))
    p <- meta(x)$simulation$batch.effects[[effect]]
    changed <- counts != n0
    if (effect %in% c("specific.genes", "shift")) {
      affected <- (p != 0)[, as.integer(b)]  # genes x cells: the batch's chosen genes
      expect_false(any(changed & !affected))
      expect_gt(mean(changed[affected]), 0.5)
      if (effect == "specific.genes") {
        extra <- (counts - n0)[affected]
        expect_equal(mean(extra), mean(p[p > 0]), tolerance = 0.15)
      }
    } else if (effect == "scaling") {
      ratio <- counts / p[, as.integer(b)]
      expect_true(all(abs(ratio - n0) <= 0.5 / p[, as.integer(b)] + 1e-9))
      expect_true(all(counts[n0 == 0] == 0))
    } else if (effect == "variance") {
      # Deviations from the truth grow by the batch's factor (then clipped and rounded,
      # as counts), and more in the batch with the larger factor.
      f <- p[as.integer(b)][col(t0)]
      expect_equal(counts, pmax(round(t0 + (n0 - t0) * f), 0))
      expect_true(all(counts[t0 == 0] == 0))
      spread <- function(m, batch) stats::sd((m - t0)[t0 > 0 & col(t0) %in% which(b == batch)])
      big <- names(which.max(p))
      expect_gt(spread(counts, big) / spread(n0, big), 0.8 * max(p))
    } else if (effect == "depth") {
      expect_true(all(counts <= n0))
      kept <- tapply(colSums(counts), b, sum) / tapply(colSums(n0), b, sum)
      expect_equal(as.vector(kept), as.vector(p), tolerance = 0.02)
    } else if (effect == "dropout") {
      expect_true(all(counts == n0 | counts == 0))
      # Low values drop more often than high ones.
      lost <- counts == 0 & n0 > 0
      expect_gt(mean(lost[n0 > 0 & n0 <= 2]), mean(lost[n0 >= 8]))
    }
  }
})

test_that("partial overlap leaves states out of batches", {
  x <- sim("clusters", n.cells = 600, n.genes = 60, n.states = 6, n.batches = 3,
           batch.overlap = 0)
  tab <- table(x$state, x$batch)
  expect_true(all(rowSums(tab > 0) == 1))  # no overlap: every state in one batch
  expect_true(all(colSums(tab > 0) == 2))
  y <- sim("clusters", n.cells = 600, n.genes = 60, n.states = 6, n.batches = 2,
           batch.overlap = 0.5, batch.proportions = c(1, 3))
  tab <- table(y$state, y$batch)
  shared <- rowSums(tab > 0) == 2
  expect_equal(sum(shared), 3)
  expect_equal(sum(tab[shared, "B2"]) / sum(tab[shared, ]), 0.75, tolerance = 0.01)
  covered <- meta(y)$simulation$batch.states
  for (bt in c("B1", "B2")) expect_setequal(covered[[bt]], rownames(tab)[tab[, bt] > 0])
  # Continuous structures are split by their states too.
  z <- sim("trajectory", n.cells = 600, n.genes = 60, n.states = 4, n.batches = 2,
           batch.overlap = 0)
  expect_true(all(rowSums(table(z$state, z$batch) > 0) == 1))
})

test_that("the same seed reproduces the data exactly, for any number of threads", {
  args <- list("tree", n.cells = 1500, n.genes = 100, n.states = 2, n.batches = 2,
               batch.effect = c("depth", "specific.genes"))
  set.seed(99)
  before <- stats::runif(1)
  set.seed(99)
  a <- do.call(SimulateCells, c(args, seed = 7, threads = 1))
  expect_identical(stats::runif(1), before)  # the caller's random stream is untouched
  b <- do.call(SimulateCells, c(args, seed = 7, threads = 2))
  c <- do.call(SimulateCells, c(args, seed = 8, threads = 1))
  for (name in SummarizedExperiment::assayNames(a)) expect_identical(assay(a, name), assay(b, name))
  expect_identical(SummarizedExperiment::colData(a), SummarizedExperiment::colData(b))
  expect_false(identical(assay(a, "counts"), assay(c, "counts")))
})

test_that("bad parameters get clear errors", {
  expect_error(sim(n.cells = -5), "'n.cells' must be a whole number >= 1")
  expect_error(sim(n.genes = 10.5), "'n.genes' must be a whole number")
  expect_error(sim(dropout = 1.5), "'dropout' is a probability and must lie in \\[0, 1\\]")
  expect_error(sim(batch.overlap = -0.1), "'batch.overlap' is a probability")
  expect_error(sim(n.cells = 5, n.batches = 6), "'n.batches' \\(6\\) is larger than 'n.cells'")
  expect_error(sim("loops"), "'structure' must be one of")
  expect_error(sim(noise = "gaussian"), "'noise' must be one of")
  expect_error(sim(batch.effect = "drift"), "'batch.effect' must be \"none\" or any of")
  expect_error(sim(batch.effect = c("none", "depth")), "combines \"none\"")
  expect_error(sim("loop", n.states = 2), "'n.states' must be a whole number >= 3")
  expect_error(sim(n.genes = 3, n.states = 5), "'n.genes' is too small")
  expect_error(sim(n.batches = 2, batch.proportions = c(1, -1)), "'batch.proportions' must be")
  expect_error(sim(n.batches = 4, n.states = 2, batch.overlap = 0), "received no cells")
  expect_error(sim(global.genes = 0.6, shared.genes = 0.5), "must be below 1")
  expect_error(sim(level = 0), "'level' must be a number > 0")
  expect_error(sim(seed = "a"), "'seed' must be a whole number")
  expect_error(SimulatedToSeurat(matrix(1)), "returned by SimulateCells")
})

test_that("no argument name is a prefix of another (partial matching stays safe)", {
  for (f in list(SimulateCells, SimulatedToSeurat)) {
    a <- names(formals(f))
    clash <- outer(a, a, function(x, y) x != y & startsWith(y, x))
    expect_false(any(clash), info = paste(a[row(clash)[clash]], collapse = ", "))
  }
})

test_that("SimulatedToSeurat() keeps counts, labels and the truth", {
  skip_if_not_installed("SeuratObject")
  x <- sim("loop", n.cells = 200, n.genes = 60, n.batches = 2, batch.effect = "depth")
  seu <- SimulatedToSeurat(x)
  expect_s4_class(seu, "Seurat")
  expect_equal(unname(as.matrix(SeuratObject::GetAssayData(seu, slot = "counts"))),
               unname(as.matrix(assay(x, "counts"))))
  expect_equal(unname(as.matrix(SeuratObject::GetAssayData(seu, slot = "data"))),
               unname(as.matrix(assay(x, "logcounts"))))
  expect_equal(as.character(seu$state), as.character(x$state))
  expect_equal(as.character(seu$batch), as.character(x$batch))
  expect_true(all(c("truth", "noisy") %in% SeuratObject::Assays(seu)))
  expect_equal(SeuratObject::Misc(seu, "simulation")$betti, meta(x)$betti)
  expect_equal(SeuratObject::Assays(SimulatedToSeurat(x, keep.truth = FALSE)), "RNA")
})
