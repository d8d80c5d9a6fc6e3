test_that("BenchmarkEmbeddings ranks a good embedding above noise in a tidy table", {
  set.seed(1)
  type <- rep(c("a", "b", "c"), each = 40)
  batch <- rep(c("x", "y"), 60)
  good <- matrix(rnorm(120 * 4, sd = 0.2), 120) + 5 * outer(as.integer(factor(type)), rep(1, 4))
  noise <- matrix(rnorm(120 * 4), 120)
  tab <- BenchmarkEmbeddings(list(good = good, noise = noise), batch = batch, label = type,
                             resolutions = c(0.5, 1))
  expect_named(tab, c("embedding", "family", "metric", "score"))
  expect_setequal(unique(tab$family), c("bio", "batch", "probes", "aggregate"))
  total <- tab$score[tab$metric == "Total"]
  expect_gt(total[1], total[2])
  expect_equal(tab$score[tab$embedding == "good" & tab$metric == "NMI"],
               EvaluateEmbedding(good, batch = batch, label = type, resolutions = c(0.5, 1))$NMI)
  expect_named(attr(tab, "details"), c("good", "noise"))
  skip_if_not_installed("ggplot2")
  p <- PlotBenchmark(tab)
  expect_s3_class(p, "ggplot")
  expect_equal(levels(p$data$embedding), c("noise", "good"))
  expect_error(BenchmarkEmbeddings(list(good, noise)), "unique, non-empty names")
  expect_error(BenchmarkEmbeddings(list(a = good, b = noise[-1, ])), "differ in their number of cells")
  expect_error(PlotBenchmark(data.frame(x = 1)), "'table' must be")
})

test_that("PlotPersistence draws the diagram and Betti curves", {
  skip_if_not_installed("ggplot2")
  t <- seq(0, 2 * pi, length.out = 41)[-41]
  res <- EvaluateEmbedding(cbind(cos(t), sin(t)), families = "topology")
  expect_s3_class(PlotPersistence(res), "ggplot")
  expect_s3_class(PlotPersistence(res, type = "betti"), "ggplot")
  expect_error(PlotPersistence(data.frame(NMI = 1)), "no persistent homology")
})

test_that("BenchmarkEmbeddings compares the reductions of a SingleCellExperiment", {
  skip_if_not_installed("SingleCellExperiment")
  set.seed(2)
  type <- rep(c("a", "b", "c"), each = 30)
  good <- matrix(rnorm(90 * 3, sd = 0.1), 90) + 5 * outer(as.integer(factor(type)), rep(1, 3))
  sce <- SingleCellExperiment::SingleCellExperiment(
    assays = list(logcounts = matrix(0, 1, 90)),
    colData = data.frame(cell_type = type, donor = rep(c("x", "y"), 45)),
    reducedDims = list(GOOD = good, NOISE = matrix(rnorm(90 * 3), 90))
  )
  tab <- BenchmarkEmbeddings(sce, batch = "donor", label = "cell_type", families = "bio",
                             resolutions = 1)
  expect_equal(unique(tab$embedding), c("GOOD", "NOISE"))
  nmi <- tab$score[tab$metric == "NMI"]
  expect_equal(nmi[1], 1)
  expect_lt(nmi[2], 0.5)
  expect_error(BenchmarkEmbeddings(sce, reductions = "UMAP", label = "cell_type"), "'UMAP' not found")
})
