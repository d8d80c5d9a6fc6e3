# Every bad input stops with a message that names the problem, and leaves the user's
# object as it was.

test_that("bad hyperparameters are rejected with the argument named", {
  d <- small_data()
  b <- d$meta$batch
  expect_error(run_fast(d$data, group.by = b, latent.dim = 0), "'latent.dim' must be a whole number >= 1")
  expect_error(run_fast(d$data, group.by = b, latent.dim = 2.5), "latent.dim")
  expect_error(run_fast(d$data, group.by = b, p.intra.knn = 1.5), "'p.intra.knn' is a probability")
  expect_error(run_fast(d$data, group.by = b, p.intra.domain = -0.1), "'p.intra.domain' is a probability")
  expect_error(run_fast(d$data, group.by = b, element.mask = 2), "'element.mask' is a probability")
  expect_error(run_fast(d$data, group.by = b, feature.mask = NA), "'feature.mask' is a probability")
  expect_error(run_fast(d$data, group.by = b, dropout = 1), "'dropout' must be below 1")
  expect_error(run_fast(d$data, group.by = b, temperature = 0), "'temperature'")
  expect_error(run_fast(d$data, group.by = b, batch.size = 2), "'batch.size'")
  expect_error(run_fast(d$data, group.by = b, encoder.dims = c(10, -1)), "'encoder.dims'")
  expect_error(run_fast(d$data, group.by = b, norm = "group"), "'norm' must be one of")
  expect_error(run_fast(d$data, group.by = b, device = "tpu"), "'device' must be one of")
  expect_error(run_fast(d$data, group.by = b, threads = 0), "'threads'")
})

test_that("device = 'cuda' without a CUDA build says how to fix it", {
  skip_if(concordR:::.concord_cuda_available(), "CUDA is available here")
  d <- small_data()
  expect_error(run_fast(d$data, group.by = d$meta$batch, device = "cuda"), "without CUDA")
})

test_that("unknown and misspelt arguments are errors", {
  d <- small_data()
  expect_error(run_fast(d$data, group.by = d$meta$batch, epoch = 3), "unknown argument.*epoch")
  expect_error(run_fast(d$data, group.by = d$meta$batch, learning.rate = 1), "learning.rate")
})

test_that("bad batch labels are rejected", {
  d <- small_data()
  b <- d$meta$batch
  expect_error(run_fast(d$data, group.by = b[-1]), "one value per cell")
  b2 <- b
  b2[c(3, 9)] <- NA
  expect_error(run_fast(d$data, group.by = b2), "2 missing \\(NA\\) batch label")
  b3 <- b
  b3[1:2] <- "tiny"
  expect_error(run_fast(d$data, group.by = b3), "'tiny' \\(2 cells\\).*fewer than 4 cells")
})

test_that("bad expression input is rejected", {
  d <- small_data()
  b <- d$meta$batch
  x <- d$data
  expect_error(run_fast(x, group.by = b, features = c("nope1", "nope2")), "none of the 2 requested features")
  expect_warning(run_fast(x, group.by = b, features = c(rownames(x)[1:50], "nope")), "1 of the 51 requested features")
  neg <- x
  neg@x[1] <- -1
  expect_error(run_fast(neg, group.by = b), "negative values")
  inf <- x
  inf@x[5] <- Inf
  expect_error(run_fast(inf, group.by = b), "non-finite")
  expect_error(run_fast(x[, 0], group.by = character(0)), "0 cells")
  expect_error(run_fast(x[0, ], group.by = b), "0 features")
  expect_error(run_fast("not a matrix"), "expected a .*features x cells matrix")
})

test_that("Seurat errors name the column or assay and leave the object unchanged", {
  skip_if_not_installed("Seurat")
  d <- small_data()
  seu <- SeuratObject::CreateSeuratObject(d$counts, meta.data = d$meta)
  before <- seu
  expect_error(run_fast(seu, group.by = "donor"),
               "'group.by' column 'donor' not found in the cell metadata; available: .*batch.*cell_type")
  expect_error(run_fast(seu, group.by = "batch", assay = "ADT"), "assay 'ADT' not found")
  expect_error(run_fast(seu, group.by = "batch", slot = "scale.data"), "'slot' must be")
  expect_error(run_fast(seu, group.by = "batch", latent.dim = -3), "latent.dim")
  expect_identical(seu, before)
})

test_that("SingleCellExperiment errors name the column or assay", {
  skip_if_not_installed("SingleCellExperiment")
  d <- small_data()
  sce <- SingleCellExperiment::SingleCellExperiment(assays = list(counts = d$counts), colData = d$meta)
  before <- sce
  expect_error(run_fast(sce, group.by = "donor"), "'group.by' column 'donor' not found")
  expect_error(run_fast(sce, group.by = "batch", assay = "logcounts"), "assay 'logcounts' not found")
  expect_identical(sce, before)
})
