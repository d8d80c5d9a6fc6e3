# Small settings: the paper's architecture, narrower, with a higher learning rate so that
# a few dozen steps show learning.
concerto_fast <- list(latent.dim = 16, gene.dim = 16, epochs = 3, batch.size = 32, lr = 1e-3, min.steps = 0,
                      threads = 1, verbose = FALSE)

run_concerto <- function(object, ...) {
  do.call(RunConcerto, c(list(object), utils::modifyList(concerto_fast, list(...))))
}

test_that("Concerto lowers its loss on real cells and returns the teacher's embedding", {
  d <- small_data()
  emb <- run_concerto(d$data, group.by = d$meta$batch, epochs = 6, seed = 1)
  info <- attr(emb, "concord")
  expect_equal(dim(emb), c(ncol(d$data), 16L))
  expect_true(all(is.finite(emb)))
  expect_equal(colnames(emb)[1], "CONCERTO_1")
  expect_lt(utils::tail(info$loss, 1), info$loss[1] - 0.3)
  model <- info$model
  expect_equal(model$params$method, "concerto")
  expect_output(print(model), "Concerto model")
  # The teacher is saved with the model: gene embeddings, attention, both heads.
  expect_equal(attr(model$weights[["method.teacher.attention.embedding"]], "shape"), c(nrow(d$data), 16))
  expect_true(all(c("method.teacher.head.norm.running_mean", "method.student.dense.weight") %in%
                    names(model$weights)))
})

test_that("the same seed gives the same embedding, another seed another one", {
  d <- small_data()
  a <- run_concerto(d$data, epochs = 1, seed = 3)
  b <- run_concerto(d$data, epochs = 1, seed = 3)
  expect_identical(unclass(a)[, ], unclass(b)[, ])
  c <- run_concerto(d$data, epochs = 1, seed = 4)
  expect_false(isTRUE(all.equal(unclass(a)[, ], unclass(c)[, ])))
})

test_that("a saved model reloads, projects cells with the teacher and fine-tunes", {
  d <- small_data()
  # Evaluation normalizes with the sources' average statistics, for training and query
  # cells alike, so projecting the training cells gives their embedding back.
  emb <- run_concerto(d$counts, group.by = d$meta$batch, epochs = 3)
  file <- tempfile(fileext = ".rds")
  on.exit(unlink(file))
  SaveConcordModel(GetConcordModel(emb), file)
  model <- LoadConcordModel(file)
  projected <- ProjectConcord(d$counts, model, threads = 1, verbose = FALSE, reduction.key = "CONCERTO_")
  expect_equal(unclass(projected)[, ], unclass(emb)[, ], tolerance = 1e-5)
  labels <- TransferLabels(projected, emb, labels = d$meta$cell_type, threads = 1)
  expect_gt(mean(as.character(labels$label) == d$meta$cell_type), 0.6)
  tuned <- ProjectConcord(d$counts[, 1:120], model, fine.tune.epochs = 1, threads = 1, verbose = FALSE)
  expect_equal(dim(tuned), c(120L, 16L))
  expect_true(all(is.finite(tuned)))
  expect_false(isTRUE(all.equal(unclass(tuned)[, ], unclass(emb)[1:120, ])))
})

test_that("Seurat and SingleCellExperiment results are named concerto; features = \"all\"", {
  d <- small_data()
  seu <- RunConcerto(small_seurat(d), group.by = "batch", latent.dim = 8, gene.dim = 8, epochs = 1,
                     min.steps = 0, threads = 1, verbose = FALSE)
  expect_equal(SeuratObject::Key(seu[["concerto"]]), "CONCERTO_")
  expect_equal(GetConcordModel(seu, reduction = "concerto")$params$method, "concerto")
  sce <- SingleCellExperiment::SingleCellExperiment(assays = list(counts = d$counts), colData = d$meta)
  sce <- RunConcerto(sce, features = "all", latent.dim = 8, gene.dim = 8, epochs = 1, min.steps = 0,
                     threads = 1, verbose = FALSE)
  expect_equal(dim(SingleCellExperiment::reducedDim(sce, "CONCERTO")), c(ncol(d$counts), 8L))
  expect_equal(GetConcordModel(sce, reduction = "CONCERTO")$features, rownames(d$counts))
})

test_that("attention weights are sparse, sum to 1 per cell and rank genes per group", {
  d <- small_data()
  emb <- run_concerto(d$counts, epochs = 1)
  att <- ConcertoAttention(d$counts, cells = 1:10, model = emb)
  expect_s4_class(att, "dgCMatrix")
  expect_equal(dim(att), c(nrow(d$counts), 10L))
  expect_equal(unname(Matrix::colSums(att)), rep(1, 10), tolerance = 1e-5)
  expect_identical(att != 0, d$counts[, 1:10] != 0, ignore_attr = TRUE)
  top <- TopAttentionGenes(d$counts, group.by = d$meta$cell_type, n = 3, model = emb)
  expect_named(top, c("group", "gene", "weight", "rank", "specificity"))
  expect_equal(nrow(top), 3 * length(unique(d$meta$cell_type)))
  expect_true(all(diff(top$specificity[top$group == top$group[1]]) <= 0))
  by.weight <- TopAttentionGenes(d$counts, group.by = d$meta$cell_type, n = 3, rank.by = "weight", model = emb)
  expect_true(all(diff(by.weight$weight[by.weight$group == top$group[1]]) <= 0))
  skip_if_not_installed("ggplot2")
  expect_s3_class(PlotTopAttention(top), "ggplot")
})

test_that("bad inputs give clear errors", {
  d <- small_data()
  x <- d$data
  x[, 5] <- 0
  expect_error(run_concerto(Matrix::drop0(x)), "cell 5 expresses none of the 300 features")
  expect_error(run_concerto(d$data, element.mask = 0.2),
               "unknown argument\\(s\\) to RunConcerto\\(\\): element.mask")
  expect_error(run_concerto(d$data, dropout = 1), "'dropout' must be below 1")
  expect_error(run_concerto(d$data, sampler = "knn"), "'sampler' must be one of")
  concord <- run_fast(d$data)
  expect_error(ConcertoAttention(d$data, model = concord), "need a model trained by RunConcerto\\(\\)")
  emb <- run_concerto(d$data, epochs = 1)
  expect_error(ConcertoAttention(d$data, cells = 1000, model = emb), "'cells' must name cells")
})

test_that("known markers top each PBMC type's attention (kang_ctrl_5donors)", {
  k <- shared_dataset("kang_ctrl_5donors")
  # A subsample keeps the test fast: 300 cells per type.
  set.seed(1)
  keep <- unlist(lapply(split(seq_len(ncol(k$counts)), k$meta$cell_type),
                        function(i) i[sample.int(length(i), min(300L, length(i)))]))
  counts <- k$counts[, keep]
  emb <- RunConcerto(counts, group.by = k$meta$batch[keep], lr = 1e-3, min.steps = 300, threads = 1, verbose = FALSE)
  top <- TopAttentionGenes(counts, group.by = k$meta$cell_type[keep], n = 20, model = emb)
  markers <- list(`CD14+ Monocytes` = c("LYZ", "S100A8", "S100A9", "CD14", "FCN1"),
                  `B cells` = c("CD79A", "CD79B", "MS4A1"), `NK cells` = c("GNLY", "NKG7", "GZMB", "PRF1"))
  for (type in names(markers)) {
    found <- intersect(markers[[type]], top$gene[top$group == type])
    expect_gte(length(found), 2, label = paste(type, "markers in the top 20:", paste(found, collapse = ", ")))
  }
})
