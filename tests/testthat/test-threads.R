# Every exported function that reaches the engine leaves the session's OpenMP and
# OpenBLAS thread counts as it found them, on success and on error.

counts <- function() concordR:::.concord_thread_counts()

# Sets both counts away from their defaults, runs `expr`, and expects them unchanged.
expect_threads_kept <- function(expr) {
  concordR:::.concord_set_thread_counts(3L, 3L)
  before <- counts()
  try(force(expr), silent = TRUE)
  expect_identical(counts(), before)
}

test_that("exported functions leave OpenMP and BLAS thread counts as they found them", {
  skip_if_not_installed("Seurat")
  skip_if_not_installed("SingleCellExperiment")
  original <- counts()
  on.exit(concordR:::.concord_set_thread_counts(original[["omp"]], max(1L, original[["blas"]])))
  d <- small_data()
  b <- d$meta$batch
  emb <- NULL
  expect_threads_kept(emb <- run_fast(d$data, group.by = b, threads = 2))
  expect_threads_kept(run_fast(d$data, group.by = b, threads = NULL, p.intra.knn = 0.3,
                               warmup.epochs = 1, epochs = 2))
  expect_threads_kept(run_fast(d$data, group.by = b, threads = 2, use.decoder = TRUE))
  expect_threads_kept(run_fast(d$data, group.by = b, lr = 1e30))  # fails in training
  expect_threads_kept(run_fast(small_seurat(d), group.by = "batch", threads = 2))
  sce <- SingleCellExperiment::SingleCellExperiment(assays = list(counts = d$counts), colData = d$meta)
  expect_threads_kept(run_fast(sce, group.by = "batch", threads = 2))
  model <- attr(emb, "concord")$model
  expect_threads_kept(ProjectConcord(d$data, model, threads = 2, verbose = FALSE))
  expect_threads_kept(ProjectConcord(d$data, model, group.by = b, fine.tune.epochs = 1,
                                     threads = 2, verbose = FALSE))
  expect_threads_kept(ConcordAttribution(d$data, model, max.cells = 20, threads = 2, verbose = FALSE))
  expect_threads_kept(TransferLabels(emb[1:40, ], emb[41:240, ], labels = d$meta$cell_type[41:240],
                                     threads = 2))
  expect_threads_kept(EvaluateEmbedding(emb, batch = b, label = d$meta$cell_type,
                                        resolutions = 0.5, threads = 2))
  expect_threads_kept(BenchmarkEmbeddings(list(a = emb, b = emb[, 8:1]), batch = b,
                                          label = d$meta$cell_type, resolutions = 0.5, threads = 2))
  expect_threads_kept(SimulateCells("clusters", n.cells = 200, n.genes = 50, threads = 2))
  expect_threads_kept(SimulateCells("loop", n.cells = 3, n.genes = 50, dispersion = -1))
})

test_that("threads = NULL uses the CPUs this process may use", {
  n <- concordR:::.concord_resolve_threads(0L)
  expect_gte(n, 1L)
  expect_lte(n, parallel::detectCores())
  affinity <- tryCatch(length(parallel::mcaffinity()), error = function(e) NA)
  if (!is.na(affinity) && affinity > 0) expect_lte(n, affinity)
})

test_that("thread counts are kept when Ctrl-C stops training", {
  skip_on_os("windows")
  original <- counts()
  on.exit(concordR:::.concord_set_thread_counts(original[["omp"]], max(1L, original[["blas"]])))
  d <- small_data()
  x <- concordR:::.prepare_expression(d$data, NULL, verbose = FALSE)
  params <- do.call(concordR:::.concord_params, c(
    formals(concordR:::RunConcord.default)[c("lr", "decay.rate", "temperature", "beta", "element.mask",
                                             "feature.mask", "p.intra.knn", "p.intra.domain", "knn.k",
                                             "knn.metric", "warmup.epochs", "dropout", "seed")],
    list(latent.dim = 8, encoder.dims = 32, epochs = 50, batch.size = 64, min.steps = 0,
         norm = "layer", threads = 2, device = "cpu")))
  ctrl_c <- function(epoch, epochs, loss) {
    tools::pskill(Sys.getpid(), tools::SIGINT)
    Sys.sleep(0.2)
  }
  concordR:::.concord_set_thread_counts(3L, 3L)
  before <- counts()
  result <- tryCatch(concordR:::.concord_train(x, as.integer(factor(d$meta$batch)) - 1L, params, ctrl_c),
                     interrupt = function(e) "interrupted")
  expect_identical(result, "interrupted")
  expect_identical(counts(), before)
})
