test_that("the model is kept with the result and prints", {
  d <- small_data()
  emb <- run_fast(d$data, group.by = d$meta$batch)
  model <- GetConcordModel(emb)
  expect_s3_class(model, "ConcordModel")
  expect_equal(model$features, rownames(d$data))
  expect_equal(model$batches, sort(unique(d$meta$batch)))
  expect_match(model$input, "log-normalized values")
  expect_output(print(model), "300 -> 32 -> 8")
  expect_output(print(summary(model)), "Batches \\(4\\)")
})

test_that("projecting the reference's own cells reproduces its embedding", {
  d <- small_data()
  emb <- run_fast(d$data, group.by = d$meta$batch)
  again <- ProjectConcord(d$data, emb, threads = 1, verbose = FALSE)
  expect_identical(unclass(again)[, ], unclass(emb)[, ])
  # Raw counts are normalized the same way as for training.
  from.counts <- ProjectConcord(d$counts, emb, threads = 1, verbose = FALSE)
  expect_equal(unclass(from.counts)[, ], unclass(emb)[, ], tolerance = 1e-6)
})

test_that("save/load and saveRDS round trips give identical embeddings", {
  skip_if_not_installed("Seurat")
  d <- small_data()
  seu <- small_seurat(d)
  seu <- run_fast(seu, group.by = "batch", features = rownames(seu)[1:200])
  file <- tempfile(fileext = ".rds")
  SaveConcordModel(seu, file)
  loaded <- LoadConcordModel(file)
  expect_equal(unclass(loaded), unclass(GetConcordModel(seu)))
  a <- ProjectConcord(d$data, loaded, threads = 1, verbose = FALSE)
  expect_equal(unclass(a)[, ], SeuratObject::Embeddings(seu, "concord"), ignore_attr = TRUE)

  # A Seurat object saved and read back in a fresh R session still projects.
  obj <- tempfile(fileext = ".rds")
  saveRDS(seu, obj)
  script <- tempfile(fileext = ".R")
  out <- tempfile(fileext = ".rds")
  writeLines(c("suppressPackageStartupMessages(library(concordR))",
               sprintf("seu <- readRDS('%s'); x <- SeuratObject::GetAssayData(seu, slot = 'data')", obj),
               sprintf("saveRDS(ProjectConcord(x, seu, threads = 1, verbose = FALSE), '%s')", out)),
             script)
  expect_equal(system2(file.path(R.home("bin"), "Rscript"), script, stdout = FALSE, stderr = FALSE), 0L)
  expect_equal(unclass(readRDS(out))[, ], SeuratObject::Embeddings(seu, "concord"), ignore_attr = TRUE)
})

test_that("corrupt, foreign and mismatched model files give clear errors", {
  d <- small_data()
  model <- GetConcordModel(run_fast(d$data, group.by = d$meta$batch))
  file <- tempfile(fileext = ".rds")
  SaveConcordModel(model, file)
  bytes <- readBin(file, "raw", file.size(file))
  writeBin(bytes[seq_len(length(bytes) %/% 2)], file)
  expect_error(LoadConcordModel(file), "could not read .* corrupt")
  saveRDS(list(a = 1), file)
  expect_error(LoadConcordModel(file), "is not a concordR model file")
  broken <- unclass(model)
  broken$features <- broken$features[-1]
  saveRDS(list(format = "concordR model", format.version = 1L, model = broken), file)
  expect_error(LoadConcordModel(file), "damaged CONCORD model")
  expect_error(LoadConcordModel(tempfile()), "does not exist")
})

test_that("query features are matched by name; missing ones are zero, none is an error", {
  d <- small_data()
  emb <- run_fast(d$data, group.by = d$meta$batch)
  shuffled <- d$data[rev(seq_len(nrow(d$data))), ]
  expect_identical(unclass(ProjectConcord(shuffled, emb, threads = 1, verbose = FALSE))[, ],
                   unclass(emb)[, ])
  partial <- d$data[-(1:10), ]
  expect_warning(p <- ProjectConcord(partial, emb, threads = 1, verbose = FALSE),
                 "10 of the model's 300 features are missing")
  expect_equal(attr(p, "concord")$missing.features, rownames(d$data)[1:10])
  zeroed <- d$data
  zeroed[1:10, ] <- 0
  expect_equal(unclass(p)[, ], unclass(ProjectConcord(zeroed, emb, threads = 1, verbose = FALSE))[, ],
               tolerance = 1e-6)
  other <- d$data
  rownames(other) <- paste0("x", seq_len(nrow(other)))
  expect_error(ProjectConcord(other, emb, verbose = FALSE), "shares none of the model's 300 features")
  expect_error(ProjectConcord(d$data, list(a = 1), verbose = FALSE), "no CONCORD model found")
  expect_error(ProjectConcord(d$data, emb, verbose = FALSE, epochs = 3), "unknown argument")
})

test_that("fine-tuning continues from the reference weights", {
  d <- small_data()
  emb <- run_fast(d$data, group.by = d$meta$batch)
  tuned <- ProjectConcord(d$data, emb, group.by = d$meta$batch, fine.tune.epochs = 1,
                          threads = 1, verbose = FALSE)
  m <- attr(tuned, "concord")$model
  expect_length(m$training$loss, 1)
  expect_false(identical(unclass(tuned)[, ], unclass(emb)[, ]))
  # Close to the reference: one epoch from its weights, not a fresh start.
  expect_gt(cor(as.vector(unclass(tuned)), as.vector(unclass(emb))), 0.5)
})

test_that("SingleCellExperiment and Seurat queries store the projection", {
  skip_if_not_installed("SingleCellExperiment")
  skip_if_not_installed("Seurat")
  d <- small_data()
  emb <- run_fast(d$data, group.by = d$meta$batch)
  sce <- SingleCellExperiment::SingleCellExperiment(assays = list(logcounts = d$data), colData = d$meta)
  sce <- ProjectConcord(sce, emb, threads = 1, verbose = FALSE)
  expect_equal(SingleCellExperiment::reducedDim(sce, "CONCORD"), unclass(emb)[, ], ignore_attr = TRUE)
  seu <- small_seurat(d)
  seu <- ProjectConcord(seu, emb, threads = 1, verbose = FALSE)
  expect_s4_class(seu[["concord"]], "DimReduc")
  expect_true(SeuratObject::Misc(seu[["concord"]])$projected)
})

test_that("fine-tuning a kNN-mode model samples neighbourhoods from its first epoch", {
  d <- small_data()
  emb <- run_fast(d$data, group.by = d$meta$batch, p.intra.knn = 0.3, knn.k = 10,
                  warmup.epochs = 1, epochs = 2)
  tuned <- ProjectConcord(d$data, emb, group.by = d$meta$batch, fine.tune.epochs = 1,
                          threads = 1, verbose = FALSE)
  params <- attr(tuned, "concord")$model$params
  # With the reference's warm-up kept, one fine-tuning epoch would never reach kNN mode.
  expect_identical(params$warmup_epochs, 0L)
  expect_gt(params$p_intra_knn, 0)
  expect_true(all(is.finite(tuned)))
})
