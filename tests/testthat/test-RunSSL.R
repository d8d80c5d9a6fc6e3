# Small settings: the benchmark's architecture shrunk, a higher learning rate without
# decay so that a few dozen steps show learning.
ssl_fast <- list(latent.dim = 16, encoder.dims = 32, epochs = 4, batch.size = 60, lr = 1e-3,
                 decay.every = 100, queue.size = 120, min.steps = 0, threads = 1, verbose = FALSE)

run_ssl <- function(object, ...) do.call(RunSSL, c(list(object), utils::modifyList(ssl_fast, list(...))))

test_that("every method lowers its loss on real cells and returns the representation", {
  d <- small_data()
  for (m in concordR:::.ssl_methods) {
    emb <- run_ssl(d$data, method = m, epochs = 8, min.steps = 64, seed = 1)
    info <- attr(emb, "concord")
    expect_equal(dim(emb), c(ncol(d$data), 16L), info = m)
    expect_true(all(is.finite(emb)), info = m)
    expect_equal(colnames(emb)[1], paste0(toupper(m), "_1"), info = m)
    # MoCo's first epoch meets random unit vectors in its queue, easier negatives than
    # the real keys that replace them: its loss is compared from the second epoch on.
    start <- if (m == "moco") 2L else 1L
    expect_lt(utils::tail(info$loss, 1), info$loss[start], label = paste(m, "final loss"))
    expect_equal(info$model$params$method, m)
  }
})

test_that("the same seed gives the same embedding, another seed another one", {
  d <- small_data()
  for (m in c("moco", "nnclr", "byol")) {
    a <- run_ssl(d$data, method = m, epochs = 2, seed = 3)
    b <- run_ssl(d$data, method = m, epochs = 2, seed = 3)
    expect_identical(unclass(a)[, ], unclass(b)[, ], info = m)
  }
  c <- run_ssl(d$data, method = "byol", epochs = 2, seed = 4)
  expect_false(isTRUE(all.equal(unclass(a)[, ], unclass(c)[, ])))
})

test_that("Seurat and SingleCellExperiment results are named after the method", {
  d <- small_data()
  seu <- RunSSL(small_seurat(d), method = "vicreg", latent.dim = 8, encoder.dims = 16,
                epochs = 1, batch.size = 60, min.steps = 0, threads = 1, verbose = FALSE)
  expect_true("vicreg" %in% names(seu@reductions))
  expect_equal(SeuratObject::Key(seu[["vicreg"]]), "VICREG_")
  expect_equal(GetConcordModel(seu, reduction = "vicreg")$params$method, "vicreg")
  sce <- SingleCellExperiment::SingleCellExperiment(assays = list(counts = d$counts), colData = d$meta)
  sce <- RunSSL(sce, method = "barlowtwins", group.by = "batch", latent.dim = 8,
                encoder.dims = 16, epochs = 1, batch.size = 60, min.steps = 0, threads = 1,
                verbose = FALSE)
  expect_equal(dim(SingleCellExperiment::reducedDim(sce, "BARLOWTWINS")), c(ncol(d$counts), 8L))
  expect_equal(GetConcordModel(sce, reduction = "BARLOWTWINS")$batches, levels(factor(d$meta$batch)))
})

test_that("CONCORD's sampler trains any method, batch by batch", {
  d <- small_data()
  emb <- run_ssl(d$data, method = "simclr", group.by = d$meta$batch, sampler = "concord", epochs = 2)
  expect_equal(attr(emb, "concord")$params$sampler, "concord")
  expect_equal(nrow(emb), ncol(d$data))
  # By default: CONCORD's sampler with batches, the benchmark's uniform one without.
  by.batch <- run_ssl(d$data, method = "simclr", group.by = d$meta$batch, epochs = 2)
  expect_identical(unclass(by.batch)[, ], unclass(emb)[, ])
  expect_equal(attr(run_ssl(d$data, epochs = 1), "concord")$params$sampler, "uniform")
  uniform <- run_ssl(d$data, group.by = d$meta$batch, sampler = "uniform", epochs = 1)
  expect_equal(attr(uniform, "concord")$params$sampler, "uniform")
})

test_that("a saved SSL model reloads and projects cells onto the same embedding", {
  d <- small_data()
  emb <- run_ssl(d$counts, method = "moco", epochs = 2)
  file <- tempfile(fileext = ".rds")
  on.exit(unlink(file))
  SaveConcordModel(GetConcordModel(emb), file)
  model <- LoadConcordModel(file)
  expect_output(print(model), "MoCo model")
  expect_output(print(model), "views: +mask \\(p 0.5\\), gaussian \\(p 0.5\\), innerswap")
  projected <- ProjectConcord(d$counts, model, threads = 1, verbose = FALSE, reduction.key = "MOCO_")
  expect_equal(unclass(projected)[, ], unclass(emb)[, ], tolerance = 1e-6)
  labels <- TransferLabels(projected, emb, labels = d$meta$cell_type, threads = 1)
  expect_gt(mean(as.character(labels$label) == d$meta$cell_type), 0.5)
})

test_that("bad arguments give clear errors", {
  d <- small_data()
  expect_error(run_ssl(d$data, method = "dino"), "'method' must be one of .*simclr")
  expect_error(run_ssl(d$data, sampler = "knn"), "'sampler' must be one of")
  expect_error(run_ssl(d$data, p.intra.domain = 1.5, sampler = "concord"), "probability")
  expect_error(run_ssl(d$data, p.intra.knn = 0.3), "only sampler = \"concord\"")
  expect_error(run_ssl(d$data, momentum = c(1, 0.9)), "'momentum'")
  expect_error(run_ssl(d$data, vicreg.weights = c(1, -1, 1)), "'vicreg.weights'")
  expect_error(run_ssl(d$data, element.mask = 0.2), "unknown argument\\(s\\) to RunSSL\\(\\): element.mask")
})

test_that("RunSSL's defaults are the benchmark's and equal the engine's", {
  r <- formals(concordR:::RunSSL.default)
  e <- concordR:::.concord_engine_defaults()
  expect_equal(r$queue.size, e$queue_size)
  expect_equal(eval(r$momentum), c(e$momentum_start, e$momentum_end))
  expect_equal(eval(r$vicreg.weights), c(e$vicreg_invariance, e$vicreg_variance, e$vicreg_covariance))
  expect_equal(r$barlow.lambda, e$barlow_lambda)
  expect_equal(c(r$latent.dim, r$encoder.dims, r$batch.size), c(64, 128, 256))
  # Measured departures (?RunSSL): epochs, min.steps, lr, the sampler with batches.
  expect_equal(c(r$epochs, r$min.steps, r$lr), c(30, 1500, 1e-3))
  expect_null(r$sampler)
  expect_equal(r$augment, "clear")
  expect_equal(c(r$weight.decay, r$decay.rate, r$decay.every, r$temperature), c(1e-6, 0.1, 10, 0.5))
})

test_that("the views come from the augmentations, recorded in the model", {
  d <- small_data()
  clear <- run_ssl(d$data, method = "simclr", epochs = 2, seed = 5)
  again <- run_ssl(d$data, method = "simclr", epochs = 2, seed = 5)
  expect_identical(unclass(clear)[, ], unclass(again)[, ])
  params <- attr(clear, "concord")$model$params
  expect_equal(vapply(params$augment, `[[`, "", "kind"), c("mask", "gaussian", "innerswap", "crossover"))
  expect_equal(c(params$element_mask, params$feature_mask), c(0, 0))
  masked <- run_ssl(d$data, method = "simclr", epochs = 2, seed = 5, augment = c("mask"))
  expect_true(all(is.finite(masked)))
  expect_equal(vapply(attr(masked, "concord")$model$params$augment, `[[`, "", "kind"), "mask")
  expect_false(isTRUE(all.equal(unclass(masked)[, ], unclass(clear)[, ])))
  expect_warning(
    plain <- RunSSL(d$data, augment = NULL, latent.dim = 16, encoder.dims = 32, epochs = 1,
                    batch.size = 60, min.steps = 0, threads = 1, verbose = FALSE),
    "with augment = NULL both views of every cell are identical")
  expect_equal(attr(plain, "concord")$model$params$augment, list())
  expect_true(all(is.finite(plain)))
  # Across batches, BBKNN's graph is built once before training; fine-tuning on a query
  # reuses the augmentations, so it needs the query's batches too.
  bb <- run_ssl(d$data, method = "vicreg", group.by = d$meta$batch, augment = "bbknn", epochs = 1)
  expect_equal(attr(bb, "concord")$model$params$augment[[1]]$kind, "bbknn")
  expect_error(ProjectConcord(d$data, bb, fine.tune.epochs = 1, threads = 1, verbose = FALSE),
               "bbknn augmentation needs cells from at least two batches; got 1: give 'group.by'")
  tuned <- ProjectConcord(d$data, bb, group.by = d$meta$batch, fine.tune.epochs = 1, threads = 1,
                          verbose = FALSE)
  expect_true(all(is.finite(tuned)))
})

test_that("bad augmentations give clear errors", {
  d <- small_data()
  expect_error(run_ssl(d$data, augment = "blur"), 'unknown augmentation\\(s\\) in \'augment\': "blur"')
  expect_error(run_ssl(d$data, augment = list(mask = list(p = 1.5))),
               "'augment\\$mask\\$p' is a probability and must lie in \\[0, 1\\]")
  expect_error(run_ssl(d$data, augment = "mnn"), "the mnn augmentation needs batches: give 'group.by'")
  expect_error(run_ssl(d$data, augment = c("mask", "bbknn")), "bbknn augmentation needs batches")
  expect_error(run_ssl(d$data, augment = "bbknn", group.by = rep("a", ncol(d$data))),
               "needs cells from at least two batches; got 1")
})

test_that("summary() shows the method's own hyperparameters, not CONCORD's", {
  d <- small_data()
  moco <- summary(GetConcordModel(run_ssl(d$data, method = "moco", epochs = 1, queue.size = 60)))
  expect_equal(moco$method, "MoCo")
  expect_equal(moco$parameters$queue_size, 60L)
  expect_equal(moco$parameters$projection_factor, 1L)
  expect_true(all(c("momentum_start", "temperature", "weight_decay") %in% names(moco$parameters)))
  expect_false(any(c("element_mask", "feature_mask", "beta", "p_intra_knn") %in% names(moco$parameters)))
  vicreg <- summary(GetConcordModel(run_ssl(d$data, method = "vicreg", epochs = 1, augment = "mask")))
  expect_equal(vicreg$parameters$projection_factor, 4L)
  expect_equal(vicreg$parameters$vicreg_variance, 5)
  expect_false(any(c("temperature", "queue_size", "momentum_start") %in% names(vicreg$parameters)))
  expect_output(print(vicreg), "augment: mask \\(p 0.5\\)")
  expect_output(print(vicreg), "vicreg_invariance")
  concord <- summary(GetConcordModel(RunConcord(d$data, latent.dim = 8, encoder.dims = 16, epochs = 1,
                                                min.steps = 0, threads = 1, verbose = FALSE)))
  expect_true(all(c("element_mask", "beta") %in% names(concord$parameters)))
})
