test_that("corrected expression removes the stimulation effect but keeps cell types", {
  d <- bundled()
  x <- concordR:::.log_normalize(d$counts)
  emb <- RunConcord(x, group.by = d$meta$batch, features = rownames(x), use.decoder = TRUE,
                    decoder.dims = 256, decode.batch = "ctrl101", threads = 2, verbose = FALSE)
  corrected <- attr(emb, "concord")$corrected
  expect_equal(dim(corrected), dim(x))
  expect_equal(dimnames(corrected), dimnames(x))
  expect_equal(attr(emb, "concord")$decode.batch, "ctrl101")
  type <- d$meta$cell_type
  stim <- d$meta$condition == "stim"
  # Stimulated vs control mean of an interferon-induced gene, within each cell type.
  gap <- function(m, gene) {
    mean(sapply(unique(type), function(t) abs(mean(m[gene, stim & type == t]) - mean(m[gene, !stim & type == t]))))
  }
  # A cell-type marker: monocytes vs CD4 T cells.
  marker <- function(m, gene) mean(m[gene, type == "CD14+ Monocytes"]) - mean(m[gene, type == "CD4 T cells"])
  for (gene in c("ISG15", "IFI6", "IFIT3")) expect_lt(gap(corrected, gene), 0.5 * gap(x, gene))
  expect_gt(marker(corrected, "LYZ"), 0.5 * marker(x, "LYZ"))
  expect_gt(marker(corrected, "CD14"), 0.5 * marker(x, "CD14"))
})

test_that("objects store corrected expression; bad decoder settings are rejected", {
  skip_if_not_installed("Seurat")
  skip_if_not_installed("SingleCellExperiment")
  d <- small_data()
  seu <- small_seurat(d)
  features <- rownames(seu)[1:100]
  out <- run_fast(seu, group.by = "batch", features = features, use.decoder = TRUE, decoder.dims = 16)
  expect_true("corrected" %in% SeuratObject::Assays(out))
  expect_equal(rownames(SeuratObject::GetAssayData(out, assay = "corrected", slot = "data")), features)
  expect_null(SeuratObject::Misc(out[["concord"]])$corrected)
  sce <- SingleCellExperiment::SingleCellExperiment(assays = list(logcounts = d$data), colData = d$meta)
  sce <- run_fast(sce, group.by = "batch", features = rownames(d$data)[1:100], use.decoder = TRUE,
                  decoder.dims = 16, decode.batch = "stim101")
  expect_equal(dim(SingleCellExperiment::altExp(sce, "corrected")), c(100L, ncol(sce)))
  expect_error(run_fast(seu, group.by = "batch", use.decoder = TRUE, decode.batch = "nope"),
               "decode.batch \"nope\" is not one of the batches")
  expect_error(run_fast(seu, group.by = "batch", decode.batch = "ctrl101"), "needs use.decoder = TRUE")
  expect_error(run_fast(seu, group.by = "batch", use.decoder = TRUE, decoder.dims = 0), "'decoder.dims'")
})
