# Small settings: scCRAFT's shape shrunk.
craft_fast <- list(latent.dim = 8, encoder.dims = c(32, 16), epochs = 6, warmup.epochs = 2,
                   batch.size = 64, threads = 1, verbose = FALSE)

run_craft <- function(object, ...) do.call(RunSCCRAFT, c(list(object), utils::modifyList(craft_fast, list(...))))

test_that("scCRAFT trains, lowers its loss before the adversary and returns the latent mean", {
  d <- small_data()
  emb <- run_craft(d$data, group.by = d$meta$batch, adversarial = FALSE, seed = 1)
  info <- attr(emb, "concord")
  expect_equal(dim(emb), c(ncol(d$data), 8L))
  expect_true(all(is.finite(emb)))
  expect_equal(colnames(emb)[1], "SCCRAFT_1")
  expect_equal(info$model$params$method, "sccraft")
  expect_lt(utils::tail(info$loss, 1), info$loss[1])
  again <- ProjectConcord(d$data, info$model, threads = 1, verbose = FALSE)
  expect_equal(unclass(again)[, ], unclass(emb)[, ], tolerance = 1e-5, ignore_attr = TRUE)
})

test_that("within-batch clusters nest high-resolution clusters in low-resolution ones", {
  d <- small_data()
  x <- concordR:::.prepare_expression(d$data, NULL, FALSE)
  batch <- factor(d$meta$batch)
  labels <- concordR:::.sccraft_labels(x, batch, NULL, NULL, c(0.5, 7), seed = 0, threads = 1)
  n.high <- attr(labels, "n.high")
  low <- labels %/% n.high
  high <- labels %% n.high
  expect_true(all(labels >= 0))
  # Each high-resolution cluster lies in one batch and one low-resolution cluster.
  expect_true(all(tapply(paste(batch, low), high, function(v) length(unique(v))) == 1L))
  expect_gt(length(unique(high)), length(unique(paste(batch, low))))
  # Given labels are used as they are; NA keeps a cell out.
  given <- rep(c("a", "b"), length.out = ncol(x))
  given[1] <- NA
  lab <- concordR:::.sccraft_labels(x, batch, factor(given), NULL, c(0.5, 7), seed = 0, threads = 1)
  expect_equal(lab[1], -1L)
  expect_equal(length(unique((lab[-1] %/% attr(lab, "n.high")))), 2L)
})

test_that("clusters of all cells together are shared by the batches (the reference code's)", {
  d <- small_data()
  x <- concordR:::.prepare_expression(d$data, NULL, FALSE)
  batch <- factor(d$meta$batch)
  labels <- concordR:::.sccraft_labels(x, batch, NULL, NULL, c(0.5, 7), seed = 0, threads = 1, within = "all")
  n.high <- attr(labels, "n.high")
  low <- labels %/% n.high
  expect_true(all(labels >= 0))
  # A low-resolution cluster holds cells of several batches.
  expect_true(any(tapply(as.character(batch), low, function(v) length(unique(v))) > 1L))
  expect_gt(n.high, length(unique(low)))
})

test_that("Seurat and SingleCellExperiment get the embedding and decoded expression", {
  d <- small_data()
  seu <- small_seurat(d)
  seu$low <- d$meta$cell_type
  out <- do.call(RunSCCRAFT, c(list(seu, group.by = "batch", low.res.labels = "low", decode = TRUE), craft_fast))
  expect_true("sccraft" %in% SeuratObject::Reductions(out))
  corrected <- SeuratObject::GetAssayData(out, assay = "corrected", slot = "data")
  expect_equal(dim(corrected), c(300L, ncol(seu)))
  sce <- SingleCellExperiment::SingleCellExperiment(assays = list(logcounts = d$data), colData = d$meta)
  sce <- do.call(RunSCCRAFT, c(list(sce, group.by = "batch"), craft_fast))
  expect_equal(dim(SingleCellExperiment::reducedDim(sce, "SCCRAFT")), c(ncol(d$data), 8L))
})

test_that("bad inputs get clear errors", {
  d <- small_data()
  expect_error(run_craft(d$data), "at least two batches")
  expect_error(run_craft(d$data, group.by = d$meta$batch, resolution = 1), "resolution")
  expect_error(run_craft(d$data, group.by = d$meta$batch, low.res.labels = rep(NA, ncol(d$data))), "no label")
  expect_error(run_craft(d$data, group.by = d$meta$batch, triplets = 1), "triplets")
  expect_error(run_craft(d$data, group.by = d$meta$batch, cluster.within = "donor"), "cluster.within")
})

test_that("the triplet loss keeps a batch-specific state apart that the adversary pulls in", {
  # Three weak states; S1 exists in batch B1 only, so a strong adversary (weight 3) gains
  # by moving S1 onto the states B2 shares. Measured over seeds 1-3 at this size: S1's
  # silhouette 0.60 with the adversary alone, 0.85 with triplets (bench/README.md).
  sim <- SimulateCells("clusters", n.cells = 900, n.genes = 300, n.states = 3, n.batches = 2,
                       batch.effect = c("specific.genes", "shift"), batch.overlap = 0.67,
                       batch.strength = 3, level = 0.5, shared.genes = 0.8, seed = 7, threads = 1)
  state <- as.character(sim$state)
  only <- names(which(rowSums(table(state, sim$batch) > 0) == 1))
  expect_length(only, 1L)
  silhouette_of_only <- function(triplet.weight) {
    emb <- RunSCCRAFT(SummarizedExperiment::assay(sim, "counts"), group.by = sim$batch,
                      latent.dim = 32, encoder.dims = c(256, 128), epochs = 60, warmup.epochs = 20,
                      batch.size = 256, adversary.weight = 3, triplet.weight = triplet.weight,
                      seed = 1, threads = 1, verbose = FALSE)
    width <- cluster::silhouette(as.integer(factor(state)), stats::dist(emb))[, "sil_width"]
    mean(width[state == only])
  }
  expect_gt(silhouette_of_only(1) - silhouette_of_only(0), 0.1)
})
