# Multimodal RunSSL (RNA + proteins): the SSL benchmark's three fusions, per-modality
# encoders, projection with the proteins missing, Seurat and SCE input, bad inputs.
# mm_data() and half_purity() are in helper-data.R.

ssl_fast <- list(method = "simclr", latent.dim = 8, encoder.dims = 32, epochs = 2, min.steps = 60,
                 batch.size = 64, augment = "mask", threads = 1, verbose = FALSE)
run_ssl_mm <- function(object, ...) do.call(RunSSL, c(list(object), utils::modifyList(ssl_fast, list(...))))

test_that("each fusion trains per-modality encoders into the joint representation", {
  d <- mm_data()
  input <- list(RNA = d$data, ADT = d$adt)
  concat <- run_ssl_mm(input, fusion = "concat")
  expect_fusion(concat, "concat")
  expect_equal(dim(concat), c(ncol(d$data), 16L))
  expect_equal(attr(concat, "concord")$model$params$method, "simclr")

  summed <- run_ssl_mm(input, method = "vicreg")
  expect_fusion(summed, "sum")  # measured best on CITE-seq, the default
  expect_equal(dim(summed), c(ncol(d$data), 8L))
  expect_true(all(is.finite(attr(summed, "concord")$loss)))

  clip <- run_ssl_mm(input, fusion = "clip")
  expect_fusion(clip, "clip")
  expect_true(all(is.finite(attr(clip, "concord")$loss)))
  # CLIP's heads, one per modality, and its learned temperature are saved with the model.
  w <- names(attr(clip, "concord")$model$weights)
  expect_true(all(c("method.clip.log_scale") %in% w))
  expect_true(any(startsWith(w, "method.projection_2.")))
  expect_gt(max(abs(unclass(clip)[, ] - unclass(concat)[, ])), 1e-3)

  # Momentum methods train on the fused representation too.
  byol <- run_ssl_mm(input, method = "byol", fusion = "sum", min.steps = 10)
  expect_equal(dim(byol), c(ncol(d$data), 8L))
})

test_that("the proteins shape the joint representation", {
  d <- mm_data()
  rna <- run_ssl_mm(d$data, min.steps = 200)
  joint <- run_ssl_mm(list(RNA = d$data, ADT = d$adt), fusion = "concat", min.steps = 200)
  # Random halves of one cell type: only the Psplit protein tells them apart.
  expect_lt(half_purity(unclass(rna)[, ], d$half), 0.65)
  expect_gt(half_purity(unclass(joint)[, ], d$half), 0.75)
  # Proteins shuffled across cells, same seed: the RNA encoder learns differently.
  shuffled <- d$adt[, sample(ncol(d$adt))]
  colnames(shuffled) <- colnames(d$adt)
  other <- run_ssl_mm(list(RNA = d$data, ADT = shuffled), fusion = "concat", min.steps = 200)
  expect_gt(max(abs(attr(other, "concord")$modality.embeddings$RNA -
                    attr(joint, "concord")$modality.embeddings$RNA)), 1e-3)
})

test_that("SSL multimodal models save, load and project RNA-only queries", {
  d <- mm_data()
  emb <- run_ssl_mm(list(RNA = d$counts, ADT = d$adt), method = "vicreg", fusion = "concat")
  file <- tempfile(fileext = ".rds")
  SaveConcordModel(emb, file)
  model <- LoadConcordModel(file)
  both <- ProjectConcord(list(ADT = d$adt, RNA = d$counts), model, threads = 1, verbose = FALSE)
  expect_equal(unclass(both)[, ], unclass(emb)[, ], tolerance = 1e-4, ignore_attr = TRUE)
  rna <- ProjectConcord(d$counts, model, threads = 1, verbose = FALSE)
  expect_equal(attr(rna, "concord")$modalities, "RNA")
  expect_equal(unname(attr(rna, "concord")$modality.embeddings$RNA),
               unname(attr(emb, "concord")$modality.embeddings$RNA), tolerance = 1e-4)
  expect_true(all(unclass(rna)[, 9:16] == 0))
})

test_that("RunSSL trains Seurat assays and SCE altExps jointly; PredictModality uses the model", {
  skip_if_not_installed("Seurat")
  d <- mm_data()
  ref.cells <- d$meta$batch != "stim107"
  seu <- small_seurat(list(counts = d$counts[, ref.cells], meta = d$meta[ref.cells, ]))
  seu[["ADT"]] <- SeuratObject::CreateAssayObject(data = d$adt[, ref.cells])
  seu <- do.call(RunSSL, c(list(seu, assay = c("RNA", "ADT"), fusion = "clip"), ssl_fast[-1]))
  red <- seu[["simclr"]]
  expect_equal(ncol(SeuratObject::Embeddings(red)), 16L)
  expect_named(SeuratObject::Misc(red)$modality.embeddings, c("RNA", "ADT"))
  query <- small_seurat(list(counts = d$counts[, !ref.cells], meta = d$meta[!ref.cells, ]))
  out <- PredictModality(query, seu, modality = "ADT", reduction = "simclr", k = 10, verbose = FALSE)
  predicted <- SeuratObject::GetAssayData(out[["predicted.ADT"]], slot = "data")
  expect_equal(dim(predicted), c(3L, ncol(query)))
  expect_gt(cor(predicted["Pmono", ], d$adt["Pmono", !ref.cells]), 0.5)

  skip_if_not_installed("SingleCellExperiment")
  sce <- SingleCellExperiment::SingleCellExperiment(list(logcounts = d$data))
  SingleCellExperiment::altExp(sce, "ADT") <- SingleCellExperiment::SingleCellExperiment(list(clr = d$adt))
  sce <- do.call(RunSSL, c(list(sce, altexps = "ADT", fusion = "sum"), ssl_fast[-1]))
  expect_equal(dim(SingleCellExperiment::reducedDim(sce, "SIMCLR")), c(ncol(d$data), 8L))
  expect_named(S4Vectors::metadata(sce)$concord$SIMCLR$modality.embeddings, c("RNA", "ADT"))
})

test_that("bad multimodal RunSSL inputs get clear errors", {
  d <- mm_data()
  expect_error(run_ssl_mm(list(RNA = d$data, ADT = d$adt), fusion = "mean"), "'fusion' must be one of")
  expect_error(run_ssl_mm(list(RNA = d$data, ADT = d$adt[, -1])),
               "the modalities have different cells: 'RNA' has 240 and 'ADT' has 239")
  expect_error(run_ssl_mm(list(RNA = d$data, ADT = d$adt[0, ])), "modality 'ADT' has no features")
  expect_error(run_ssl_mm(list(RNA = d$data)), "at least two modalities")
  skip_if_not_installed("Seurat")
  seu <- small_seurat(d)
  expect_error(RunSSL(seu, assay = c("RNA", "ADT"), verbose = FALSE), "assay 'ADT' not found")
  skip_if_not_installed("SingleCellExperiment")
  sce <- SingleCellExperiment::SingleCellExperiment(list(logcounts = d$data))
  expect_error(RunSSL(sce, altexps = "ADT", verbose = FALSE), "altExp 'ADT' not found")
})
