# Defects of issue 8 on the model side: each test failed before its fix.

test_that("duplicated feature names are an error naming them, for matrices and SCE", {
  d <- small_data()
  x <- d$counts
  rownames(x)[2] <- rownames(x)[1]
  expect_error(run_fast(x, group.by = d$meta$batch), paste0("duplicated feature name.*", rownames(x)[1], ".*make.unique"))
  sce <- SingleCellExperiment::SingleCellExperiment(assays = list(counts = x), colData = d$meta)
  expect_error(run_fast(sce, group.by = "batch"), "duplicated feature name")
  emb <- run_fast(d$counts, group.by = d$meta$batch)
  expect_error(ProjectConcord(x, emb, verbose = FALSE), "duplicated feature name")
  expect_error(run_fast(d$counts, group.by = d$meta$batch, features = character(0)), "'features' must be a non-empty")
})

test_that("damaged models are refused at load and at use", {
  d <- small_data()
  emb <- run_fast(d$counts, group.by = d$meta$batch)
  model <- GetConcordModel(emb)
  file <- tempfile(fileext = ".rds")
  on.exit(unlink(file))
  save_raw <- function(m) saveRDS(list(format = "concordR model", format.version = 1L, model = unclass(m)), file)

  # A weight whose recorded shape fits its values but not the architecture.
  bad <- model
  layer <- names(model$weights)[lengths(lapply(model$weights, attr, "shape")) == 2L][2]
  bad$weights[[layer]] <- structure(numeric(7), shape = c(7, 1))
  save_raw(bad)
  expect_error(LoadConcordModel(file), paste0("damaged CONCORD model.*weights for '", layer, "'"))
  expect_error(ProjectConcord(d$counts, bad, verbose = FALSE), "damaged CONCORD model")

  bad <- model
  bad$weights[["bias_in"]][3] <- NaN
  save_raw(bad)
  expect_error(LoadConcordModel(file), "bias_in hold non-finite")
  emb2 <- emb
  attr(emb2, "concord")$model <- bad
  expect_error(GetConcordModel(emb2), "damaged CONCORD model")

  bad <- model
  bad$params$latent_dim <- 4L
  save_raw(bad)
  expect_error(LoadConcordModel(file), "do not have the shape")
  expect_equal(LoadConcordModel(SaveConcordModel(model, file)), model)
})

test_that("SaveConcordModel says why a path cannot be written", {
  d <- small_data()
  model <- GetConcordModel(run_fast(d$counts, group.by = d$meta$batch))
  expect_error(SaveConcordModel(model, file.path(tempfile(), "m.rds")), "directory .* does not exist")
  expect_error(SaveConcordModel(model, tempdir()), "is a directory")
})

test_that("TransferLabels refuses non-finite and all-zero embeddings", {
  set.seed(1)
  ref <- matrix(rnorm(200), 50)
  query <- matrix(rnorm(40), 10)
  labels <- rep(c("A", "B"), 25)
  q <- query
  q[2, 1] <- Inf
  expect_error(TransferLabels(q, ref, labels), "query embedding has 1 cell\\(s\\) with non-finite")
  r <- ref
  r[5, ] <- 0
  expect_error(TransferLabels(query, r, labels), "reference embedding has 1 all-zero cell.*row 5")
  q <- query
  q[3, ] <- 0
  expect_error(TransferLabels(q, ref, labels), "query embedding has 1 all-zero cell")
})

test_that("a constant embedding gets NA scores and a warning, not a perfect batch score", {
  emb <- matrix(1, 60, 4)
  batch <- rep(c("x", "y"), 30)
  label <- rep(c("a", "b", "c"), each = 20)
  expect_warning(s <- EvaluateEmbedding(emb, batch = batch, label = label, resolutions = 1),
                 "every cell of the embedding is at the same point")
  expect_true(all(is.na(unlist(s))))
  expect_true(all(c("ASW_batch", "PCR_batch", "kNN_accuracy", "NMI") %in% names(s)))
  # Each cell type collapsed to a point: batch silhouettes are undefined, not perfect.
  emb <- diag(4)[as.integer(factor(label)), ]
  s <- EvaluateEmbedding(emb, batch = batch, label = label, families = "batch")
  expect_true(is.na(s$ASW_batch))
  emb[label == "a", ] <- emb[label == "a", ] + seq_len(20) / 100
  expect_true(is.finite(EvaluateEmbedding(emb, batch = batch, label = label, families = "batch")$ASW_batch))
})

test_that("kNN probes read labels within the reference when one batch outnumbers the rest", {
  # 895 / 274 / 225 cells, as the real dataset of the report; three well-separated types.
  set.seed(3)
  batch <- rep(c("big", "mid", "small"), c(895, 274, 225))
  label <- sample(c("a", "b", "c"), length(batch), replace = TRUE)
  emb <- matrix(rnorm(length(batch) * 3, sd = 0.1), ncol = 3) + 5 * diag(3)[match(label, c("a", "b", "c")), ]
  s <- EvaluateEmbedding(emb, batch = batch, label = label, families = "probes")
  expect_equal(s$kNN_accuracy, 1)
  # KNI / RbNI: with the paper's thresholds the big batch's cells are outliers (under
  # 40 of 50 neighbours from other batches); without them, every vote reads the labels
  # of the other batches' cells right.
  expect_lt(s$KNI, 0.5)
  s <- EvaluateEmbedding(emb, batch = batch, label = label, families = "probes", kni.tau = 0,
                         rbni.share = 0)
  expect_equal(c(s$KNI, s$RbNI), c(1, 1))
})

test_that("fine-tuning a model with a decoder keeps each batch's embedding row", {
  d <- small_data()
  b <- d$meta$batch
  ref <- b %in% c("ctrl101", "stim101")
  emb <- run_fast(d$data[, ref], group.by = b[ref], features = rownames(d$data), use.decoder = TRUE,
                  decoder.dims = 16)
  model <- GetConcordModel(emb)
  rows <- function(m) concordR:::.domain_rows(m$weights)

  # More query batches than reference batches: one shared by name, two new.
  q <- !ref | b == "stim101"
  qb <- ifelse(b[q] == "stim101", "stim101", paste0("new_", b[q]))
  out <- ProjectConcord(d$data[, q], model, group.by = qb, fine.tune.epochs = 1, threads = 1, verbose = FALSE)
  tuned <- GetConcordModel(out)
  expect_equal(tuned$batches, c("ctrl101", "stim101", "new_ctrl107", "new_stim107"))
  expect_equal(dim(rows(tuned)), c(4, ncol(rows(model))))
  expect_equal(rows(tuned)[1, ], rows(model)[1, ])  # ctrl101 is not in the query
  expect_false(isTRUE(all.equal(rows(tuned)[2, ], rows(model)[2, ])))
  expect_identical(LoadConcordModel(SaveConcordModel(tuned, tempfile())), tuned)
  corrected <- concordR:::.decode_expression(out, tuned, "new_stim107", 1L)
  expect_equal(dim(corrected), c(nrow(d$data), sum(q)))

  # Fewer: the one query batch continues its own reference row, the names stay.
  q <- b == "stim101"
  out <- ProjectConcord(d$data[, q], model, group.by = b[q], fine.tune.epochs = 1, threads = 1, verbose = FALSE)
  tuned <- GetConcordModel(out)
  expect_equal(tuned$batches, c("ctrl101", "stim101"))
  expect_equal(rows(tuned)[1, ], rows(model)[1, ])
})

test_that("decoded expression is clamped at zero", {
  d <- small_data()
  emb <- run_fast(d$data, group.by = d$meta$batch, features = rownames(d$data), use.decoder = TRUE,
                  decoder.dims = 16)
  corrected <- attr(emb, "concord")$corrected
  expect_equal(dimnames(corrected), list(rownames(d$data), rownames(emb)))
  expect_true(all(corrected >= 0))
})

test_that("a single string is a metadata column even in a one-cell object", {
  seu <- small_seurat()
  one <- seu[, 1]
  model <- GetConcordModel(run_fast(seu, group.by = "batch"))
  expect_error(ProjectConcord(one, model, group.by = "nope", fine.tune.epochs = 1, verbose = FALSE),
               "'group.by' column 'nope' not found")
  expect_error(run_fast(one, group.by = "batch"), "'ctrl101' \\(1 cells\\)")
})

test_that("ConcordAttribution refuses bad cell selections and TopAttributedGenes bad dims", {
  d <- small_data()
  emb <- run_fast(d$counts, group.by = d$meta$batch)
  expect_error(ConcordAttribution(d$counts, emb, cells = c(1, NA), verbose = FALSE), "'cells' .*without NA")
  expect_error(ConcordAttribution(d$counts, emb, cells = c(2, 2), verbose = FALSE), "more than once")
  a <- ConcordAttribution(d$counts, emb, cells = 1:20, threads = 1, verbose = FALSE)
  expect_error(TopAttributedGenes(a, dims = "nope"), "'dims' must name")
  expect_equal(unique(TopAttributedGenes(a, n = 2, dims = 2)$dimension), "CONCORD_2")
})
