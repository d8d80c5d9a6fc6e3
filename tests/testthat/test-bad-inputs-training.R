# Bad and edge-case inputs to RunConcord (matrix, Seurat, SingleCellExperiment) and
# SimulateCells: each must stop with a clear R error that names the argument, carry no
# C++ or LibTorch text, and leave the user's object unchanged. Cases that could hang or
# crash the session run in a child R process with a time limit (helper-child.R).

# LibTorch's namespace with its colons: a temporary file's random name can hold "c10".
cpp_text <- "c10::|Exception raised|libtorch|\\.cpp|frame #"

# Runs `call` (a function of no arguments) and checks the error it must raise.
expect_clean_error <- function(call, pattern, label) {
  err <- tryCatch({
    call()
    NULL
  }, error = function(e) e)
  expect_false(is.null(err), label = paste(label, "raised an error"))
  if (is.null(err)) return(invisible())
  expect_match(conditionMessage(err), pattern, label = label)
  expect_false(grepl(cpp_text, conditionMessage(err)), label = paste(label, "has no C++ text"))
}

# One case per row: the arguments that make the call bad and a regexp its error must
# match (naming the argument).
hyper <- list(
  list(list(latent.dim = 0), "'latent.dim'"), list(list(latent.dim = 2.5), "'latent.dim'"),
  list(list(latent.dim = 3e9), "'latent.dim'.*<="), list(list(latent.dim = 1e9), "'latent.dim'"),
  list(list(latent.dim = NA), "'latent.dim'"), list(list(latent.dim = "8"), "'latent.dim'"),
  list(list(latent.dim = c(8, 16)), "'latent.dim'"), list(list(latent.dim = Inf), "'latent.dim'"),
  list(list(encoder.dims = 3e9), "'encoder.dims'"), list(list(encoder.dims = c(32, NA)), "'encoder.dims'"),
  list(list(encoder.dims = "32"), "'encoder.dims'"), list(list(encoder.dims = 0), "'encoder.dims'"),
  list(list(epochs = 3e9), "'epochs'.*<="), list(list(epochs = -1), "'epochs'"),
  list(list(epochs = 1.5), "'epochs'"), list(list(epochs = NA), "'epochs'"),
  list(list(batch.size = 3e9), "'batch.size'.*<="), list(list(batch.size = 3), "'batch.size'"),
  list(list(batch.size = "64"), "'batch.size'"), list(list(lr = 0), "'lr'"),
  list(list(lr = -1), "'lr'"), list(list(lr = Inf), "'lr'"), list(list(lr = NaN), "'lr'"),
  list(list(weight.decay = -1e-3), "'weight.decay'"), list(list(weight.decay = NA), "'weight.decay'"),
  list(list(align.weight = -1), "'align.weight'"), list(list(align.weight = Inf), "'align.weight'"),
  list(list(align.clusters = 0), "'align.clusters'"), list(list(align.clusters = 2.5), "'align.clusters'"),
  list(list(align.local.weight = -1), "'align.local.weight'"),
  list(list(align.local.share = 0), "'align.local.share'"), list(list(align.local.share = 1.5), "'align.local.share'"),
  list(list(decay.rate = 0), "'decay.rate'"), list(list(decay.rate = 1.5), "'decay.rate'"),
  list(list(temperature = 0), "'temperature'"), list(list(temperature = -0.1), "'temperature'"),
  list(list(temperature = Inf), "'temperature'"), list(list(beta = -1), "'beta'"),
  list(list(element.mask = 1), "'element.mask'.*\\[0, 1\\)"),
  list(list(element.mask = -0.1), "'element.mask'"),
  list(list(feature.mask = 1), "'feature.mask'.*\\[0, 1\\)"),
  list(list(feature.mask = 1.5), "'feature.mask'"), list(list(p.intra.knn = 1.2), "'p.intra.knn'"),
  list(list(p.intra.knn = -0.5), "'p.intra.knn'"), list(list(p.intra.domain = 2), "'p.intra.domain'"),
  list(list(knn.k = 0), "'knn.k'"), list(list(knn.k = 3e9), "'knn.k'.*<="),
  list(list(knn.k = 2.5), "'knn.k'"), list(list(knn.metric = "manhattan"), "'knn.metric'"),
  list(list(warmup.epochs = 3e9), "'warmup.epochs'.*<="),
  list(list(warmup.epochs = -1), "'warmup.epochs'"),
  list(list(p.intra.knn = 0.5, warmup.epochs = 2, epochs = 2), "'warmup.epochs'.*never"),
  list(list(p.intra.knn = 0.5, warmup.epochs = 5, epochs = 3), "p.intra.knn.*'epochs'"),
  list(list(min.steps = 3e9), "'min.steps'.*<="), list(list(min.steps = -1), "'min.steps'"),
  list(list(min.steps = 1.5), "'min.steps'"), list(list(norm = "group"), "'norm'"),
  list(list(dropout = 1), "'dropout'"), list(list(dropout = -0.1), "'dropout'"),
  list(list(seed = -1), "'seed'"), list(list(seed = 1.5), "'seed'"), list(list(seed = 2^60), "'seed'"),
  list(list(threads = 0), "'threads'"), list(list(threads = 3e9), "'threads'.*<="),
  list(list(threads = 1e4), "'threads'"), list(list(threads = 1.5), "'threads'"),
  list(list(device = "tpu"), "'device'"), list(list(class.weight = -1), "'class.weight'"),
  list(list(use.decoder = NA), "'use.decoder'"), list(list(use.decoder = "yes"), "'use.decoder'"),
  list(list(use.decoder = TRUE, decoder.dims = 0), "'decoder.dims'"),
  list(list(use.decoder = TRUE, decoder.dims = 3e9), "'decoder.dims'"),
  list(list(decoder.weight = -1), "'decoder.weight'"), list(list(verbose = NA), "'verbose'"),
  list(list(reduction.key = ""), "'reduction.key'"), list(list(reduction.key = NA), "'reduction.key'"),
  list(list(epoch = 3), "unknown argument.*epoch"),
  # Shapes whose memory no machine here has: stopped before anything is allocated.
  list(list(latent.dim = 1e5, encoder.dims = 1e5), "needs about .* GB.*latent.dim"),
  # Accepted by the checks, but training diverges or has nothing to train on.
  list(list(lr = 1e30), "diverged.*non-finite.*'lr'.*'temperature'"),
  list(list(temperature = 1e-300), "diverged.*learning rate.*temperature.*input"),
  list(list(p.intra.knn = 1, knn.k = 3, warmup.epochs = 1, epochs = 2),
       "no mini-batch.*'p.intra.knn'.*'knn.k'")
)

with_value <- function(x, at, value) {
  x@x[at] <- value
  x
}

test_that("RunConcord on a matrix: bad hyperparameters are clear R errors", {
  d <- small_data()
  b <- d$meta$batch
  x <- d$data
  before <- x
  for (case in hyper) {
    expect_clean_error(function() do.call(run_fast, c(list(x, group.by = b), case[[1]])), case[[2]],
                       label = paste(deparse(case[[1]]), collapse = ""))
  }
  expect_identical(x, before)
})

test_that("RunConcord on a matrix: bad labels and bad expression values are clear R errors", {
  d <- small_data()
  b <- d$meta$batch
  x <- d$data
  tiny <- replace(as.character(b), 1:2, "tiny")
  inputs <- list(
    list(function() run_fast(x, group.by = b[-1]), "'group.by'.*one value per cell"),
    list(function() run_fast(x, group.by = replace(b, 3, NA)), "group.by.*missing \\(NA\\)"),
    list(function() run_fast(x, group.by = tiny), "'tiny' \\(2 cells\\)"),
    list(function() run_fast(x, group.by = b, features = c("no1", "no2")), "requested features"),
    list(function() run_fast(x, group.by = b, features = NA_character_), "'features'"),
    list(function() run_fast(x, group.by = b, features = 1:10), "'features'"),
    list(function() run_fast(x, group.by = b, class.by = b[-1]), "'class.by'"),
    list(function() run_fast(x, group.by = b, use.decoder = TRUE, decode.batch = "nope"), "decode.batch"),
    list(function() run_fast(with_value(x, 1, 1e39), group.by = b), "float32"),
    list(function() run_fast(with_value(x, 2, 5e38), group.by = b), "above 3.4e38"),
    list(function() run_fast(with_value(x, 1, Inf), group.by = b), "non-finite"),
    list(function() run_fast(with_value(x, 1, NaN), group.by = b), "non-finite"),
    list(function() run_fast(with_value(x, 1, NA), group.by = b), "non-finite"),
    list(function() run_fast(with_value(x, 1, -1), group.by = b), "negative values"),
    list(function() run_fast(x[, 0], group.by = character(0)), "0 cells"),
    list(function() run_fast(x[0, ], group.by = b), "0 features"),
    list(function() run_fast(matrix("a", 3, 3)), "numeric features x cells"),
    list(function() run_fast(list(1, 2)), "features x cells matrix"),
    list(function() run_fast(matrix(TRUE, 5, 8)), "numeric features x cells"),
    list(function() run_fast(as.matrix(x) * 1e39, group.by = b), "float32")
  )
  for (i in seq_along(inputs)) expect_clean_error(inputs[[i]][[1]], inputs[[i]][[2]], label = paste("input case", i))
})

test_that("RunConcord on Seurat and SingleCellExperiment objects: clear errors, objects unchanged", {
  skip_if_not_installed("Seurat")
  skip_if_not_installed("SingleCellExperiment")
  d <- small_data()
  seu <- small_seurat(d)
  sce <- SingleCellExperiment::SingleCellExperiment(assays = list(counts = d$counts), colData = d$meta)
  huge <- seu
  huge <- SeuratObject::SetAssayData(huge, slot = "data",
                                     new.data = with_value(SeuratObject::GetAssayData(huge, slot = "data"), 1, 1e39))
  cases <- list(
    list(seu, list(group.by = "donor"), "'group.by' column 'donor' not found"),
    list(seu, list(group.by = "batch", assay = "ADT"), "assay 'ADT' not found"),
    list(seu, list(group.by = "batch", slot = "scale.data"), "'slot'"),
    list(seu, list(group.by = "batch", latent.dim = 3e9), "'latent.dim'"),
    list(seu, list(group.by = "batch", element.mask = 1), "'element.mask'"),
    list(seu, list(group.by = "batch", lr = 1e30), "diverged.*'lr'"),
    list(seu, list(group.by = "batch", reduction.name = ""), "'reduction.name'"),
    list(seu, list(group.by = "batch", min.steps = 3e9), "'min.steps'"),
    list(seu, list(group.by = "batch", p.intra.knn = 0.5, warmup.epochs = 15), "'warmup.epochs'"),
    list(seu, list(group.by = "batch", class.by = "nope"), "'class.by' column 'nope'"),
    list(huge, list(group.by = "batch"), "float32"),
    list(sce, list(group.by = "donor"), "'group.by' column 'donor' not found"),
    list(sce, list(group.by = "batch", assay = "nope"), "assay 'nope' not found"),
    list(sce, list(group.by = "batch", latent.dim = 3e9), "'latent.dim'"),
    list(sce, list(group.by = "batch", feature.mask = 1), "'feature.mask'"),
    list(sce, list(group.by = "batch", temperature = 1e-300), "diverged.*'temperature'"),
    list(sce, list(group.by = "batch", reduction.name = NA), "'reduction.name'"),
    list(sce, list(group.by = "batch", batch.size = 3e9), "'batch.size'"),
    list(sce, list(group.by = "batch", threads = 3e9), "'threads'"),
    list(sce, list(group.by = "batch", use.decoder = TRUE, decoder.dims = -1), "'decoder.dims'")
  )
  for (case in cases) {
    object <- case[[1]]
    before <- object
    expect_clean_error(function() do.call(run_fast, c(list(object), case[[2]])), case[[3]],
                       label = paste(class(object)[1], paste(deparse(case[[2]]), collapse = "")))
    expect_identical(object, before)
  }
})

test_that("SimulateCells: bad parameters are clear R errors", {
  skip_if_not_installed("SingleCellExperiment")
  sim <- function(...) {
    args <- utils::modifyList(list(n.cells = 100, n.genes = 40, threads = 1), list(...))
    do.call(SimulateCells, args)
  }
  cases <- list(
    list(list(structure = "blob"), "'structure'"), list(list(n.cells = 3e9), "'n.cells'"),
    list(list(n.genes = 3e9), "'n.genes'"), list(list(n.states = 1e9), "'n.states'"),
    list(list(noise = "gamma"), "'noise'"), list(list(n.batches = 0), "'n.batches'"),
    list(list(n.batches = 500), "'n.batches'.*larger than 'n.cells'"),
    list(list(batch.effect = "bogus"), "'batch.effect'"), list(list(seed = -1), "'seed'"),
    list(list(level = 0), "'level'"), list(list(level = 1e300), "'level'.*<="),
    list(list(dispersion = 1e20), "'dispersion'.*<="), list(list(dispersion = -1), "'dispersion'"),
    list(list(noise = "lognormal", dispersion = 100), "'dispersion'"),
    list(list(noise = "normal", dispersion = 1e300), "'dispersion'"),
    list(list(dropout = 1.5), "'dropout'"), list(list(global.genes = 1.2), "'global.genes'"),
    list(list(global.genes = 0.5, shared.genes = 0.5), "'global.genes' \\+ 'shared.genes'"),
    list(list(structure = "multi.loop", n.loops = 1e9), "'n.loops'"),
    list(list(structure = "tree", depth = 1e9), "'depth'"), list(list(decay = 2), "'decay'"),
    list(list(n.batches = 2, batch.proportions = 1), "'batch.proportions'"),
    list(list(batch.overlap = -1), "'batch.overlap'"),
    list(list(n.batches = 2, batch.effect = "scaling", batch.strength = 1e6), "'batch.strength'.*scaling"),
    list(list(batch.strength = -1), "'batch.strength'"),
    list(list(n.batches = 2, batch.effect = "shift", batch.strength = 1e300), "'batch.strength'"),
    list(list(batch.genes = 2), "'batch.genes'"), list(list(threads = 3e9), "'threads'")
  )
  for (case in cases) {
    expect_clean_error(function() do.call(sim, case[[1]]), case[[2]],
                       label = paste(deparse(case[[1]]), collapse = ""))
  }
  # The strongest scaling accepted gives finite data.
  ok <- sim(n.batches = 2, batch.effect = "scaling", batch.strength = 20)
  expect_true(all(is.finite(SummarizedExperiment::assay(ok, "counts")@x)))
})

test_that("the engine's negative-binomial draw ends for huge dispersions (child process)", {
  # Past SimulateCells' checks, straight to the engine: this used to spin forever.
  res <- run_child(c(
    "s <- concordR:::.concord_simulate_cells(c(0L, 1L, 2L), c(0L, 0L), c(1, 1), c(0L, 3L), 0:2,",
    "  c(5, 5, 5), 3L, 'nb', 1e20, 0, TRUE, FALSE, list(), 1, 1L)",
    "stopifnot(all(is.finite(s$noisy$x)))",
    "cat('finished\\n')"
  ), timeout = 60)
  expect_identical(res$status, 0L)
  expect_match(res$output, "finished")
})

test_that("absurd model sizes fail cleanly without exhausting memory (child process)", {
  res <- run_child(c(
    "d <- readRDS(system.file('extdata', 'kang_ifnb.rds', package = 'concordR'))",
    "x <- d$counts[1:200, 1:100]",
    "r <- tryCatch(RunConcord(x, latent.dim = 1e5, encoder.dims = c(1e5, 1e5), epochs = 1,",
    "  threads = 1, verbose = FALSE), error = function(e) conditionMessage(e))",
    "cat(r, '\\n')"
  ), timeout = 120)
  expect_identical(res$status, 0L)
  expect_match(res$output, "needs about .* GB")
  expect_false(grepl(cpp_text, res$output))
})

test_that("a LibTorch error reaches R without its C++ backtrace", {
  # A decoder with fewer batch embeddings than the data's batches: LibTorch's own
  # "index out of range" error, raised deep in the engine.
  d <- small_data()
  x <- concordR:::.prepare_expression(d$data, NULL, verbose = FALSE)
  p <- do.call(concordR:::.concord_params, c(
    formals(concordR:::RunConcord.default)[c("decay.rate", "temperature", "beta", "element.mask",
                                             "feature.mask", "p.intra.knn", "p.intra.domain", "knn.k",
                                             "knn.metric", "warmup.epochs", "dropout", "seed", "lr")],
    list(latent.dim = 8, encoder.dims = 16, epochs = 1, batch.size = 32, min.steps = 0,
         norm = "layer", threads = 1, device = "cpu", use.decoder = TRUE)))
  p$n_domains <- 1L
  err <- tryCatch(concordR:::.concord_train(x, rep(0:1, length.out = ncol(x)), p, NULL),
                  error = function(e) e)
  expect_s3_class(err, "error")
  expect_false(grepl(cpp_text, conditionMessage(err)))
  expect_null(conditionCall(err))
})
