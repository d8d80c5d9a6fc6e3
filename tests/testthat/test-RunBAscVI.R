# Small settings: BA-scVI's shape shrunk, a higher learning rate so that a few dozen steps
# show learning.
vae_fast <- list(latent.dim = 6, encoder.dims = 32, decoder.dims = 32, epochs = 3, batch.size = 48,
                 lr = 1e-3, min.steps = 30, threads = 1, verbose = FALSE)

run_vae <- function(object, ...) do.call(RunBAscVI, c(list(object), utils::modifyList(vae_fast, list(...))))

test_that("BA-scVI and scVI train on counts, lower their loss and return the latent mean", {
  d <- small_data()
  for (adv in c(TRUE, FALSE)) {
    emb <- run_vae(d$counts, group.by = d$meta$batch, adversarial = adv, epochs = 6, seed = 1)
    info <- attr(emb, "concord")
    expect_equal(dim(emb), c(ncol(d$counts), 6L))
    expect_true(all(is.finite(emb)))
    expect_equal(colnames(emb)[1], if (adv) "BASCVI_1" else "SCVI_1")
    expect_equal(info$model$params$method, "bascvi")
    expect_identical(info$model$params$adversarial, adv)
    expect_true(any(grepl("^method\\.heads", names(info$model$weights))))
    if (adv) {
      expect_true(any(grepl("^method\\.adversary", names(info$model$weights))))
    } else {
      # Without the adversary the ELBO alone is minimised and falls.
      expect_lt(utils::tail(info$loss, 1), info$loss[1])
    }
  }
})

test_that("the same seed gives the same embedding, another seed another one", {
  d <- small_data()
  a <- run_vae(d$counts, group.by = d$meta$batch, seed = 3)
  b <- run_vae(d$counts, group.by = d$meta$batch, seed = 3)
  c <- run_vae(d$counts, group.by = d$meta$batch, seed = 4)
  expect_identical(unclass(a)[, ], unclass(b)[, ])
  expect_false(isTRUE(all.equal(unclass(a)[, ], unclass(c)[, ])))
})

test_that("a model saved and loaded projects cells onto their training embedding", {
  d <- small_data()
  emb <- run_vae(d$counts, group.by = d$meta$batch)
  file <- tempfile(fileext = ".rds")
  SaveConcordModel(emb, file)
  model <- LoadConcordModel(file)
  expect_output(print(model), "BA-scVI")
  again <- ProjectConcord(d$counts, model, threads = 1, verbose = FALSE)
  expect_equal(unclass(again)[, ], unclass(emb)[, ], tolerance = 1e-5, ignore_attr = TRUE)
  labels <- TransferLabels(unclass(again)[1:40, ], unclass(emb)[, ], labels = d$meta$cell_type)
  expect_equal(nrow(labels), 40L)
  expect_error(ProjectConcord(d$data, model, threads = 1, verbose = FALSE), "raw counts")
  expect_error(ProjectConcord(d$counts, model, fine.tune.epochs = 1, threads = 1, verbose = FALSE),
               "not supported")
})

test_that("Seurat and SingleCellExperiment get the embedding and, on request, decoded expression", {
  d <- small_data()
  seu <- small_seurat(d)
  out <- do.call(RunBAscVI, c(list(seu, group.by = "batch", adversarial = FALSE, decode = TRUE), vae_fast))
  expect_true("scvi" %in% SeuratObject::Reductions(out))
  expect_equal(ncol(SeuratObject::Embeddings(out, "scvi")), 6L)
  corrected <- SeuratObject::GetAssayData(out, assay = "corrected", slot = "data")
  expect_equal(dim(corrected), c(300L, ncol(seu)))
  expect_true(all(corrected >= 0))
  sce <- SingleCellExperiment::SingleCellExperiment(assays = list(counts = d$counts), colData = d$meta)
  sce <- do.call(RunBAscVI, c(list(sce, group.by = "batch"), vae_fast))
  expect_equal(dim(SingleCellExperiment::reducedDim(sce, "BASCVI")), c(ncol(d$counts), 6L))
})

test_that("bad inputs get clear errors and leave nothing half done", {
  d <- small_data()
  expect_error(run_vae(d$data, group.by = d$meta$batch), "raw counts")
  expect_error(run_vae(d$counts), "at least two batches")
  expect_error(run_vae(d$counts, group.by = rep("a", ncol(d$counts))), "adversarial = FALSE")
  expect_error(run_vae(d$counts, group.by = d$meta$batch, n.layers = 3), "n.layers")
  expect_error(run_vae(d$counts, group.by = d$meta$batch, kl.weight = -1), "kl.weight")
  seu <- small_seurat(d)
  expect_error(do.call(RunBAscVI, c(list(seu, group.by = "batch", slot = "data"), vae_fast)), "raw counts")
  # One batch is fine for plain scVI.
  emb <- run_vae(d$counts, adversarial = FALSE)
  expect_equal(nrow(emb), ncol(d$counts))
})
