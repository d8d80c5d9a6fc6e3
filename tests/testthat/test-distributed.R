# Data-parallel RunConcord across processes on the loopback interface, started by the
# bundled launcher as a user would (inst/scripts/concord-distributed).

# Runs `code` on `n` ranks through the launcher, with a time limit; every rank saves what
# it returns as rank<i>.rds in `out`. Returns the launcher's status and output.
run_ranks <- function(code, out, n = 2L, timeout = 60) {
  launcher <- system.file("scripts", "concord-distributed", package = "concordR")
  script <- tempfile(fileext = ".R")
  on.exit(unlink(script))
  writeLines(c(sprintf(".libPaths(%s)", paste(deparse(.libPaths()), collapse = "")),
               "suppressPackageStartupMessages(library(concordR))",
               "d <- readRDS(system.file('extdata', 'kang_ifnb.rds', package = 'concordR'))",
               "keep <- unlist(lapply(split(seq_len(ncol(d$counts)), d$meta$batch), utils::head, 60))",
               "x <- concordR:::.log_normalize(d$counts[seq_len(300), keep])",
               "batch <- d$meta$batch[keep]",
               sprintf("out <- %s", deparse(out)), code), script)
  port <- 20000L + sample.int(20000L, 1L)
  res <- suppressWarnings(system2("timeout", c(timeout, "sh", launcher, "-n", n, "-p", port, script),
                                  stdout = TRUE, stderr = TRUE,
                                  env = sprintf("RSCRIPT=%s", file.path(R.home("bin"), "Rscript"))))
  list(status = if (is.null(attr(res, "status"))) 0L else attr(res, "status"),
       output = paste(res, collapse = "\n"))
}

test_that("two ranks train one model: identical weights, rank 0 embeds every cell", {
  out <- tempfile()
  dir.create(out)
  on.exit(unlink(out, recursive = TRUE))
  # With the alignments, which cluster a sample gathered from both ranks in the second
  # epoch and find each cell's neighbours in it.
  res <- run_ranks(c(
    "emb <- RunConcord(x, group.by = batch, latent.dim = 8, encoder.dims = 32, epochs = 2,",
    "                  min.steps = 4, batch.size = 32, threads = 1, verbose = FALSE,",
    "                  warmup.epochs = 1, align.weight = 1, align.clusters = 4,",
    "                  align.local.weight = 10)",
    "saveRDS(emb, file.path(out, paste0('rank', Sys.getenv('RANK'), '.rds')))"
  ), out)
  expect_equal(res$status, 0L, info = res$output)
  r0 <- readRDS(file.path(out, "rank0.rds"))
  r1 <- readRDS(file.path(out, "rank1.rds"))
  d <- bundled()
  keep <- unlist(lapply(split(seq_len(ncol(d$counts)), d$meta$batch), utils::head, 60))
  cells <- colnames(d$counts)[keep]
  # Rank 0 holds every cell in the input's order; rank 1 its own share (every other cell).
  expect_identical(rownames(r0), cells)
  expect_identical(rownames(r1), cells[seq(2L, length(cells), by = 2L)])
  expect_equal(attr(r0, "concord")$params$align_weight, 1)
  expect_equal(attr(r0, "concord")$params$align_local_weight, 10)
  expect_equal(attr(r0, "concord")$rank, 0L)
  expect_equal(attr(r1, "concord")$rank, 1L)
  # Averaged gradients from the same start: the same weights, bit for bit, and the same
  # (mean) loss on both ranks.
  expect_identical(attr(r0, "concord")$model$weights, attr(r1, "concord")$model$weights)
  expect_identical(attr(r0, "concord")$loss, attr(r1, "concord")$loss)
  expect_true(all(is.finite(r0)))
  expect_equal(unclass(r0)[rownames(r1), ], unclass(r1)[, ], ignore_attr = TRUE, tolerance = 1e-6)
  # Each rank drew its own mini-batches of 32 from its half of the cells: as many steps
  # as one process with the same total batch size (64) on all of them.
  single <- RunConcord(concordR:::.log_normalize(d$counts[seq_len(300), keep]),
                       group.by = d$meta$batch[keep], latent.dim = 8, encoder.dims = 32, epochs = 2,
                       min.steps = 4, batch.size = 64, threads = 1, verbose = FALSE)
  expect_equal(attr(r0, "concord")$steps, attr(single, "concord")$steps)
})

test_that("kNN mode samples from a global index; rank 0 fills the Seurat object", {
  skip_if_not_installed("SeuratObject")
  out <- tempfile()
  dir.create(out)
  on.exit(unlink(out, recursive = TRUE))
  # With p.intra.knn = 1 every mini-batch comes from one cell's neighbourhood in the
  # index of all ranks' cells, restricted to the rank's own: if none were found, every
  # batch would be empty and training would stop with an error. (The Seurat object holds
  # counts, which RunConcord log-normalizes.)
  res <- run_ranks(c(
    "counts <- d$counts[seq_len(300), keep]",
    "rownames(counts) <- gsub('_', '-', rownames(counts))",
    "seu <- SeuratObject::CreateSeuratObject(counts, meta.data = d$meta[keep, ])",
    "res <- RunConcord(seu, group.by = 'batch', latent.dim = 8, encoder.dims = 32, epochs = 3,",
    "                  warmup.epochs = 1, p.intra.knn = 1, knn.k = 20, min.steps = 0,",
    "                  batch.size = 16, threads = 1, verbose = FALSE)",
    "saveRDS(res, file.path(out, paste0('rank', Sys.getenv('RANK'), '.rds')))"
  ), out)
  expect_equal(res$status, 0L, info = res$output)
  r0 <- readRDS(file.path(out, "rank0.rds"))
  r1 <- readRDS(file.path(out, "rank1.rds"))
  # Rank 0: the Seurat object with the embedding of every cell; rank 1: its own cells'
  # embedding as a matrix, with the same model.
  expect_s4_class(r0, "Seurat")
  emb <- SeuratObject::Embeddings(r0[["concord"]])
  expect_identical(rownames(emb), colnames(r0))
  expect_true(is.matrix(r1))
  expect_identical(rownames(r1), colnames(r0)[seq(2L, ncol(r0), by = 2L)])
  expect_identical(SeuratObject::Misc(r0[["concord"]])$model$weights, attr(r1, "concord")$model$weights)
  expect_true(all(is.finite(SeuratObject::Misc(r0[["concord"]])$loss)))
})

test_that("a rank that dies stops the others with a clear error instead of a hang", {
  out <- tempfile()
  dir.create(out)
  on.exit(unlink(out, recursive = TRUE))
  # Rank 1 is killed (SIGKILL) a few seconds into an endless training run.
  res <- run_ranks(c(
    "if (Sys.getenv('RANK') == '1')",
    "  system(sprintf(\"sh -c 'sleep 3; kill -9 %d' >/dev/null 2>&1 &\", Sys.getpid()))",
    "msg <- tryCatch({",
    "  RunConcord(x, group.by = batch, latent.dim = 8, encoder.dims = 32, epochs = 1e6,",
    "             min.steps = 0, batch.size = 32, threads = 1, verbose = FALSE,",
    "             distributed = list(rank = as.integer(Sys.getenv('RANK')), world.size = 2L,",
    "                                port = as.integer(Sys.getenv('MASTER_PORT')), timeout = 15))",
    "  'finished'",
    "}, error = function(e) conditionMessage(e))",
    "saveRDS(msg, file.path(out, paste0('rank', Sys.getenv('RANK'), '.rds')))"
  ), out)
  # The launcher reports the killed rank; the time limit (124) was not reached.
  expect_false(res$status %in% c(0L, 124L), info = res$output)
  expect_match(res$output, "rank 1 exited with status 137", fixed = TRUE)
  msg <- readRDS(file.path(out, "rank0.rds"))
  expect_match(msg, "distributed training stopped: rank 0 of 2 lost contact with the other ranks", fixed = TRUE)
  expect_match(msg, "No embedding is returned", fixed = TRUE)
  # c10d's and Gloo's source locations and backtraces stay out of the message.
  expect_no_match(msg, "pair\\.cc|Exception raised from|frame #")
  expect_false(file.exists(file.path(out, "rank1.rds")))
})

test_that("every rank chooses the same variable genes, ranked within batches", {
  out <- tempfile()
  dir.create(out)
  on.exit(unlink(out, recursive = TRUE))
  # More genes than the 2,000 kept: the genes twice, the copies thinned.
  wide <- c(
    "w <- d$counts[, keep]",
    "copy <- w",
    "copy@x <- floor(copy@x / 2)",
    "rownames(copy) <- paste0(rownames(w), '-copy')",
    "wide <- Matrix::drop0(rbind(w, copy))"
  )
  res <- run_ranks(c(wide,
    "emb <- RunConcord(wide, group.by = batch, hvg.by.batch = TRUE, latent.dim = 4, encoder.dims = 16,",
    "                  epochs = 1, min.steps = 2, batch.size = 32, threads = 1, verbose = FALSE)",
    "saveRDS(attr(emb, 'concord')$features, file.path(out, paste0('rank', Sys.getenv('RANK'), '.rds')))"
  ), out)
  expect_equal(res$status, 0L, info = res$output)
  d <- bundled()
  keep <- unlist(lapply(split(seq_len(ncol(d$counts)), d$meta$batch), utils::head, 60))
  eval(parse(text = wide))
  scan <- concordR:::.scan_input(wide, FALSE, batch = factor(d$meta$batch[keep]))
  expected <- concordR:::.top_variable_by_batch(rownames(wide), scan)
  expect_lt(length(expected), nrow(wide))
  expect_identical(readRDS(file.path(out, "rank0.rds")), expected)
  expect_identical(readRDS(file.path(out, "rank1.rds")), expected)
})

test_that("ranks given different settings stop with an error saying so", {
  out <- tempfile()
  dir.create(out)
  on.exit(unlink(out, recursive = TRUE))
  res <- run_ranks(c(
    "msg <- tryCatch({",
    "  RunConcord(x, group.by = batch, latent.dim = 8, encoder.dims = 32, min.steps = 0,",
    "             epochs = if (Sys.getenv('RANK') == '0') 2 else 3, batch.size = 32, threads = 1,",
    "             verbose = FALSE)",
    "  'finished'",
    "}, error = function(e) conditionMessage(e))",
    "saveRDS(msg, file.path(out, paste0('rank', Sys.getenv('RANK'), '.rds')))"
  ), out)
  expect_equal(res$status, 0L, info = res$output)
  for (rank in 0:1) {
    expect_match(readRDS(file.path(out, paste0("rank", rank, ".rds"))),
                 "the ranks were not given the same input and settings", fixed = TRUE)
  }
})

test_that("the distributed settings are checked before any rank connects", {
  d <- small_data()
  run <- function(...) run_fast(d$data, group.by = d$meta$batch, ...)
  expect_error(run(distributed = list(rank = 2, world.size = 2)),
               "'distributed$rank' must be a whole number >= 0 and <= 1; got 2.", fixed = TRUE)
  expect_error(run(distributed = list(rank = 0, world.size = 2, host = "a")),
               "unknown field(s) of 'distributed': host", fixed = TRUE)
  expect_error(run(distributed = list(rank = 0)), "'distributed' needs 'rank' and 'world.size'.", fixed = TRUE)
  expect_error(run(distributed = "yes"), "'distributed' must be NULL, FALSE or a named list", fixed = TRUE)
  expect_error(run(distributed = list(rank = 0, world.size = 2, port = 70000)),
               "'distributed$port' must be a whole number >= 1 and <= 65535", fixed = TRUE)
  withr::local_envvar(WORLD_SIZE = "2", RANK = NA)
  expect_error(run(), "WORLD_SIZE is set, so RunConcord trains distributed, but RANK is not", fixed = TRUE)
  withr::local_envvar(RANK = "x")
  expect_error(run(), "the environment variable RANK must be a whole number; got \"x\".", fixed = TRUE)
  # A world of one, or distributed = FALSE, is an ordinary single-process run.
  withr::local_envvar(RANK = "0", WORLD_SIZE = "1")
  expect_null(attr(run(), "concord")$rank)
  withr::local_envvar(RANK = "0", WORLD_SIZE = "2")
  expect_null(attr(run(distributed = FALSE), "concord")$rank)
})

test_that("a list without rank and world.size takes them from the environment", {
  d <- small_data()
  port <- 20000L + sample.int(20000L, 1L)
  withr::local_envvar(RANK = "1", WORLD_SIZE = "2", MASTER_ADDR = "127.0.0.1", MASTER_PORT = as.character(port))
  # Rank 1 of 2 from the environment, the timeout from the list: it gives up on rank 0
  # after 2 s, where the default would wait 120.
  expect_error(run_fast(d$data, group.by = d$meta$batch, distributed = list(timeout = 2)),
               sprintf("rank 1 of 2 could not reach rank 0 at 127.0.0.1:%d", port), fixed = TRUE)
})

test_that("a rank that cannot reach rank 0 says where it looked", {
  d <- small_data()
  port <- 20000L + sample.int(20000L, 1L)
  expect_error(run_fast(d$data, group.by = d$meta$batch,
                        distributed = list(rank = 1, world.size = 2, port = port, timeout = 2)),
               sprintf("distributed training stopped: rank 1 of 2 could not reach rank 0 at 127.0.0.1:%d", port),
               fixed = TRUE)
})
