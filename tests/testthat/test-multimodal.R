# Multimodal RunConcord (RNA + proteins): fusion, per-modality encoders, models that save,
# load and project with some modalities missing, and bad inputs.

mm_fast <- list(latent.dim = 8, encoder.dims = 32, epochs = 2, min.steps = 100, batch.size = 64,
                threads = 1, verbose = FALSE)
run_mm <- function(object, ...) do.call(RunConcord, c(list(object), utils::modifyList(mm_fast, list(...))))

test_that("each fusion gives the joint embedding of per-modality encoders", {
  d <- mm_data()
  input <- list(RNA = d$data, ADT = d$adt)
  concat <- run_mm(input, fusion = "concat")
  expect_fusion(concat, "concat")
  expect_equal(dim(concat), c(ncol(d$data), 16L))
  expect_equal(rownames(concat), colnames(d$data))
  expect_equal(attr(concat, "concord")$model$modalities$ADT, rownames(d$adt))

  summed <- run_mm(input, fusion = "sum")
  expect_fusion(summed, "sum")
  expect_equal(dim(summed), c(ncol(d$data), 8L))

  clip <- run_mm(input, fusion = "clip")
  expect_fusion(clip, "clip")
  # Fusion changes training, so the embeddings differ.
  expect_gt(max(abs(unclass(clip)[, ] - unclass(concat)[, ])), 1e-3)

  # The first layer stays block-diagonal: a modality's features never reach another
  # modality's hidden units.
  w <- attr(concat, "concord")$model$weights$weight_in
  w <- matrix(as.numeric(w), nrow = attr(w, "shape")[1], byrow = TRUE)
  rna <- seq_len(nrow(d$data))
  expect_equal(dim(w), c(nrow(d$data) + 3L, 64L))
  expect_true(all(w[rna, 33:64] == 0))
  expect_true(all(w[-rna, 1:32] == 0))
  expect_gt(sum(abs(w[-rna, 33:64])), 0)
})

test_that("a joint embedding separates cells that only proteins tell apart", {
  d <- mm_data()
  rna <- run_mm(d$data, min.steps = 200)
  joint <- run_mm(list(RNA = d$data, ADT = d$adt), fusion = "concat", min.steps = 200)
  clip <- run_mm(list(RNA = d$data, ADT = d$adt), fusion = "clip", min.steps = 200)
  # Random halves: RNA alone cannot tell them apart (purity near 0.5).
  expect_lt(half_purity(unclass(rna)[, ], d$half), 0.65)
  expect_gt(half_purity(unclass(joint)[, ], d$half), 0.7)
  expect_gt(half_purity(unclass(clip)[, ], d$half), 0.9)
})

test_that("multimodal models save, load and project, also with modalities missing", {
  d <- mm_data()
  emb <- run_mm(list(RNA = d$counts, ADT = d$adt), fusion = "concat")
  file <- tempfile(fileext = ".rds")
  SaveConcordModel(emb, file)
  model <- LoadConcordModel(file)
  expect_output(print(model), "modalities: RNA \\(300 features\\), ADT \\(3 features\\)")

  # Both modalities (proteins in another order, cells named): the training embedding.
  both <- ProjectConcord(list(ADT = d$adt[3:1, ], RNA = d$counts), model, threads = 1, verbose = FALSE)
  expect_equal(unclass(both)[, ], unclass(emb)[, ], tolerance = 1e-4, ignore_attr = TRUE)

  # RNA only: the RNA encoder's embedding, a zero protein block.
  rna <- ProjectConcord(d$counts, model, threads = 1, verbose = FALSE)
  info <- attr(rna, "concord")
  expect_equal(info$modalities, "RNA")
  expect_equal(unname(info$modality.embeddings$RNA), unname(attr(emb, "concord")$modality.embeddings$RNA),
               tolerance = 1e-4)
  expect_true(all(unclass(rna)[, 9:16] == 0))
  # Proteins only work as well.
  adt <- ProjectConcord(list(ADT = d$adt), model, threads = 1, verbose = FALSE)
  expect_equal(unname(attr(adt, "concord")$modality.embeddings$ADT),
               unname(attr(emb, "concord")$modality.embeddings$ADT), tolerance = 1e-4)

  # Sum fusion: a missing modality adds nothing.
  summed <- run_mm(list(RNA = d$counts, ADT = d$adt), fusion = "sum")
  q <- ProjectConcord(d$counts, summed, threads = 1, verbose = FALSE)
  expect_equal(unname(unclass(q)[, ]), unname(attr(summed, "concord")$modality.embeddings$RNA),
               tolerance = 1e-4)
})

test_that("Seurat assays and SCE altExps train jointly; RNA-only queries get proteins", {
  skip_if_not_installed("Seurat")
  d <- mm_data()
  ref.cells <- d$meta$batch != "stim107"
  seu <- small_seurat(list(counts = d$counts[, ref.cells], meta = d$meta[ref.cells, ]))
  seu[["ADT"]] <- SeuratObject::CreateAssayObject(data = d$adt[, ref.cells])
  seu <- do.call(RunConcord, c(list(seu, assay = c("RNA", "ADT"), fusion = "clip"), mm_fast))
  red <- seu[["concord"]]
  expect_equal(ncol(SeuratObject::Embeddings(red)), 16L)
  expect_named(SeuratObject::Misc(red)$modality.embeddings, c("RNA", "ADT"))
  expect_equal(names(GetConcordModel(seu)$modalities), c("RNA", "ADT"))

  query <- small_seurat(list(counts = d$counts[, !ref.cells], meta = d$meta[!ref.cells, ]))
  out <- PredictModality(query, seu, modality = "ADT", k = 10, verbose = FALSE)
  predicted <- SeuratObject::GetAssayData(out[["predicted.ADT"]], slot = "data")
  expect_equal(dim(predicted), c(3L, ncol(query)))
  # The monocyte protein follows from RNA alone (through the RNA encoder).
  expect_gt(cor(predicted["Pmono", ], d$adt["Pmono", !ref.cells]), 0.7)

  skip_if_not_installed("SingleCellExperiment")
  sce <- SingleCellExperiment::SingleCellExperiment(list(logcounts = d$data))
  SingleCellExperiment::altExp(sce, "ADT") <- SingleCellExperiment::SingleCellExperiment(list(clr = d$adt))
  sce <- do.call(RunConcord, c(list(sce, altexps = "ADT", fusion = "sum"), mm_fast))
  expect_equal(dim(SingleCellExperiment::reducedDim(sce, "CONCORD")), c(ncol(d$data), 8L))
  expect_named(S4Vectors::metadata(sce)$concord$CONCORD$modality.embeddings, c("RNA", "ADT"))
  projected <- ProjectConcord(sce, sce, altexps = "ADT", reduction.name = "Q", threads = 1, verbose = FALSE)
  expect_equal(SingleCellExperiment::reducedDim(projected, "Q"), SingleCellExperiment::reducedDim(sce, "CONCORD"),
               tolerance = 1e-4, ignore_attr = TRUE)
})

test_that("bad multimodal inputs get clear errors", {
  d <- mm_data()
  expect_error(run_mm(list(RNA = d$data, ADT = d$adt), fusion = "mean"),
               "'fusion' must be one of")
  expect_error(run_mm(list(RNA = d$data, ADT = d$adt[, -1])),
               "the modalities have different cells: 'RNA' has 240 and 'ADT' has 239")
  other <- d$adt
  colnames(other)[5] <- "somewhere_else"
  expect_error(run_mm(list(RNA = d$data, ADT = other)), "different cells: 1 cell\\(s\\) of 'RNA'")
  expect_error(run_mm(list(RNA = d$data, ADT = d$adt[0, ])), "modality 'ADT' has no features")
  expect_error(run_mm(list(d$data, d$adt)), "or a list of them with distinct, non-empty names")
  expect_error(run_mm(list(RNA = d$data)), "at least two modalities")
  expect_error(run_mm(list(RNA = d$data, ADT = d$adt), class.by = d$meta$cell_type),
               "not supported with several modalities")
  emb <- run_mm(list(RNA = d$data, ADT = d$adt))
  expect_equal(attr(emb, "concord")$fusion, "sum")  # the default, measured best
  expect_equal(ncol(emb), 8L)
  expect_error(ProjectConcord(list(HTO = d$adt), emb, verbose = FALSE), "the model has no modality 'HTO'")
  expect_error(ProjectConcord(d$data, emb, fine.tune.epochs = 1, verbose = FALSE), "fine-tuning a multimodal")
  rna.model <- run_mm(d$data)
  expect_error(ProjectConcord(list(RNA = d$data, ADT = d$adt), rna.model, verbose = FALSE),
               "a model trained on one modality does not take")
  skip_if_not_installed("Seurat")
  seu <- small_seurat(d)
  expect_error(RunConcord(seu, assay = c("RNA", "ADT"), verbose = FALSE), "assay 'ADT' not found")
  skip_if_not_installed("SingleCellExperiment")
  sce <- SingleCellExperiment::SingleCellExperiment(list(logcounts = d$data))
  expect_error(RunConcord(sce, altexps = "ADT", verbose = FALSE), "altExp 'ADT' not found")
})

test_that("a joint model's RNA encoder predicts held-out cells' proteins from RNA alone", {
  d <- shared_dataset("scdcc_cite_cbmc")
  set.seed(3)
  cells <- sample(ncol(d$counts), 1500)
  x <- concordR:::.log_normalize(d$counts[, cells])
  adt <- t(as.matrix(d$meta[cells, paste0("ADT_", 0:9)]))
  colnames(adt) <- colnames(x)
  test <- 1:300
  ref <- run_mm(list(RNA = x[, -test], ADT = adt[, -test]), fusion = "clip", latent.dim = 16,
                encoder.dims = 64, min.steps = 200)
  query <- ProjectConcord(x[, test], ref, threads = 1, verbose = FALSE)  # RNA only
  expect_equal(attr(query, "concord")$modalities, "RNA")
  rna <- function(e) attr(e, "concord")$modality.embeddings$RNA
  predicted <- PredictModality(rna(query), rna(ref), values = adt[, -test], k = 20)
  r <- vapply(1:10, function(i) cor(predicted[i, ], adt[i, test]), numeric(1))
  # PCA's 30 components reach about 0.8 on such splits (bench/README.md).
  expect_gt(median(r), 0.7)
  shuffled <- PredictModality(rna(query)[sample(length(test)), ], rna(ref), values = adt[, -test])
  expect_lt(abs(median(vapply(1:10, function(i) cor(shuffled[i, ], adt[i, test]), numeric(1)))), 0.2)
})

test_that("verbs that do not take multimodal models yet say so", {
  d <- mm_data()
  emb <- run_mm(list(RNA = d$data, ADT = d$adt))
  expect_error(ConcordAttribution(d$data, emb, verbose = FALSE), "does not take a multimodal model \\(RNA \\+ ADT\\)")
})
