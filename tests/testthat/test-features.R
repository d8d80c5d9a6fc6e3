# Choosing the features to train on from the engine's one scan of the input: variable
# genes ranked over all cells, or within each batch and combined (hvg.by.batch).

# More genes than the 2000 kept: the bundled data's genes twice (the copies thinned, so
# they are not the originals' twins), 160 cells from 4 batches.
wide_data <- function() {
  d <- bundled()
  keep <- unlist(lapply(split(seq_len(ncol(d$counts)), d$meta$batch), utils::head, 40))
  x <- d$counts[, keep]
  copy <- x
  copy@x <- floor(copy@x / 2)
  rownames(copy) <- paste0(rownames(x), "-copy")
  list(counts = Matrix::drop0(rbind(x, copy)), batch = factor(d$meta$batch[keep]))
}

test_that("per-batch moments of the scan are each batch's own, from a matrix or from blocks", {
  d <- small_data()
  batch <- factor(d$meta$batch)
  scan <- concordR:::.scan_input(d$counts, verbose = FALSE, batch = batch)
  expect_identical(scan$batch.moments$n, as.numeric(table(batch)))
  expect_identical(scan$expressed, unname(as.numeric(Matrix::rowSums(d$counts > 0))))
  for (b in seq_len(nlevels(batch))) {
    cells <- as.matrix(d$data[, batch == levels(batch)[b]])  # log-normalized counts
    expect_equal(scan$batch.moments$mean[, b], unname(rowMeans(cells)), tolerance = 1e-12)
    expect_equal(scan$batch.moments$var[, b], unname(apply(cells, 1, stats::var)), tolerance = 1e-12)
  }
  # Log-normalized input: the moments of the values as given.
  given <- concordR:::.scan_input(d$data, verbose = FALSE, batch = batch)
  cells <- as.matrix(d$data[, batch == levels(batch)[2]])
  expect_equal(given$batch.moments$var[, 2], unname(apply(cells, 1, stats::var)), tolerance = 1e-12)
  # The pooled moments do not change with batches, and blocks of cells give the same sums.
  expect_identical(scan$moments, concordR:::.scan_input(d$counts, verbose = FALSE)$moments)
  x <- d$counts
  blocks <- concordR:::.new_source(dim(x), dimnames(x), function(f) {
    for (s in seq(1L, ncol(x), by = 37L)) {
      m <- x[, s:min(ncol(x), s + 36L), drop = FALSE]
      f(m@p, m@i, m@x)
    }
  })
  expect_identical(concordR:::.scan_input(blocks, verbose = FALSE, batch = batch)$batch.moments, scan$batch.moments)
})

test_that("a gene variable in every batch ranks before one variable in one batch, and batch-only genes are left out", {
  set.seed(11)
  n <- 100L  # cells per batch
  batch <- factor(rep(c("A", "B"), each = n))
  lambda <- exp(seq(log(0.2), log(10), length.out = 400))
  background <- t(sapply(lambda, function(l) log1p(stats::rpois(2 * n, l))))
  rownames(background) <- paste0("bg", seq_along(lambda))
  half <- rep(c(0, 1), length.out = n)
  all <- t(sapply(1:5, function(k) rep(half * (1.25 + 0.35 * k), 2)))  # bimodal in both batches
  rownames(all) <- paste0("all", 1:5)
  special <- rbind(
    one = c(half * 3.5, log1p(stats::rpois(n, 2))),  # the most variable, but in batch A only
    split = rep(c(0.5, 3), each = n),              # constant within each batch
    rare = c(rep(8, 5), rep(0, 2 * n - 5))         # 5 cells only
  )
  x <- methods::as(rbind(background, all, special) * 1.01, "CsparseMatrix")  # not counts
  scan <- concordR:::.scan_input(x, verbose = FALSE, batch = batch)
  chosen <- concordR:::.top_variable_by_batch(rownames(x), scan, n = 8L)
  expect_setequal(chosen[1:5], rownames(all))           # kept by both batches
  expect_identical(chosen[6], "one")                    # kept by one batch, ranked first there
  expect_false(any(c("split", "rare") %in% chosen))
  # Over all cells pooled, the batch-only gene and the rare one rank high.
  pooled <- concordR:::.top_variable(rownames(x), scan$moments, n = 8L)
  expect_true(all(c("split", "rare") %in% pooled))
  # Rare genes are left out before ranking (min.cells), so lowering it lets one in.
  expect_true("rare" %in% concordR:::.top_variable_by_batch(rownames(x), scan, n = 30L, min.cells = 5L))
  expect_false("rare" %in% concordR:::.top_variable_by_batch(rownames(x), scan, n = 30L))
})

test_that("RunConcord ranks variable genes over all cells by default, within batches with hvg.by.batch = TRUE", {
  w <- wide_data()
  expect_gt(nrow(w$counts), 2000)
  scan <- concordR:::.scan_input(w$counts, verbose = FALSE, batch = w$batch)
  by.batch <- concordR:::.top_variable_by_batch(rownames(w$counts), scan)
  pooled <- concordR:::.top_variable(rownames(w$counts), scan$moments)
  expect_false(identical(sort(by.batch), sort(pooled)))
  said <- capture_messages(emb <- run_fast(w$counts, group.by = w$batch, hvg.by.batch = TRUE, epochs = 1,
                                           min.steps = 0, verbose = TRUE))
  expect_true(any(grepl("most variable genes as features, ranked within each of the 4 batches", said)))
  expect_identical(attr(emb, "concord")$features, by.batch)
  emb <- run_fast(w$counts, group.by = w$batch, epochs = 1, min.steps = 0)
  expect_identical(attr(emb, "concord")$features, pooled)
  # One batch: the pooled ranking either way.
  emb <- run_fast(w$counts, hvg.by.batch = TRUE, epochs = 1, min.steps = 0)
  expect_identical(attr(emb, "concord")$features, pooled)
  # RunSSL takes the same choice.
  emb <- RunSSL(w$counts, group.by = w$batch, hvg.by.batch = TRUE, epochs = 1, min.steps = 0,
                latent.dim = 8, encoder.dims = 16, threads = 1, verbose = FALSE)
  expect_identical(attr(emb, "concord")$features, by.batch)
})

test_that("an .h5ad file read in blocks chooses the same features as the matrix in memory", {
  skip_if_not_installed("hdf5r")
  name <- "kang_ctrl_5donors"
  d <- shared_dataset(name)
  path <- shared_file(name, paste0(name, ".h5ad"))
  input <- concordR:::.read_h5ad(path, block.values = 2e5)
  batch <- factor(input$meta$batch)
  expect_identical(as.character(batch), as.character(d$meta$batch))
  from.file <- concordR:::.prepare_store(input$x, NULL, FALSE, feature.batch = batch)
  in.memory <- concordR:::.prepare_store(d$counts, NULL, FALSE, feature.batch = batch)
  on.exit({
    concordR:::.release_input(from.file)
    concordR:::.release_input(in.memory)
  })
  expect_length(rownames(in.memory), 2000)
  expect_identical(rownames(from.file), rownames(in.memory))
  pooled <- concordR:::.prepare_store(d$counts, NULL, FALSE)
  expect_false(identical(rownames(pooled), rownames(in.memory)))
  concordR:::.release_input(pooled)
})

test_that("bad hvg.by.batch and batches for the scan give clear errors", {
  d <- small_data()
  for (bad in list(NA, "yes", c(TRUE, FALSE), 1)) {
    expect_error(run_fast(d$counts, group.by = d$meta$batch, hvg.by.batch = bad),
                 "'hvg.by.batch' must be TRUE or FALSE")
    expect_error(RunSSL(d$counts, group.by = d$meta$batch, hvg.by.batch = bad, verbose = FALSE),
                 "'hvg.by.batch' must be TRUE or FALSE")
  }
  expect_error(concordR:::.scan_input(d$counts, FALSE, batch = factor(d$meta$batch)[-1]),
               "one label per cell \\(240 cells\\)")
  scan <- concordR:::.concord_scan_new(nrow(d$counts), 2L)
  x <- d$counts
  expect_error(concordR:::.concord_scan_add(scan, x@p, x@i, x@x, 1e4, rep(2L, ncol(x))), "outside \\[0, 2\\)")
  expect_error(concordR:::.concord_scan_add(scan, x@p, x@i, x@x, 1e4, integer(0)), "came with 0 domains")
})
