test_that("each query cell takes the distance-weighted mean of its nearest reference cells", {
  ref <- rbind(c(0, 0), c(1, 0), c(10, 0), c(11, 0))
  values <- rbind(P1 = c(1, 3, 100, 200), P2 = c(5, 5, 5, 6))
  predicted <- PredictModality(rbind(c(0.2, 0), c(10.5, 0)), ref, values = values, k = 2)
  # Query 1: distances 0.2 and 0.8, weights exp(-(d / 0.8)^2).
  w <- exp(-(c(0.2, 0.8) / 0.8)^2)
  expect_equal(unname(predicted["P1", 1]), sum(w * c(1, 3)) / sum(w))
  # Query 2 is equidistant from its two neighbours: the plain mean.
  expect_equal(unname(predicted[, 2]), c(150, 5.5))
  expect_equal(rownames(predicted), c("P1", "P2"))
  # Leave-one-out on the reference: each cell from its nearest other cell.
  loo <- attr(PredictModality(ref, ref, values = values, k = 1), "reference.correlation")
  expect_equal(unname(loo["P1"]), cor(values[1, ], c(3, 1, 200, 100)))
})

test_that("proteins of held-out CITE-seq cells are predicted from the RNA embedding", {
  d <- shared_dataset("scdcc_cite_cbmc")
  set.seed(2)
  cells <- sample(ncol(d$counts), 2000)
  x <- concordR:::.log_normalize(d$counts[, cells])
  adt <- t(as.matrix(d$meta[cells, paste0("ADT_", 0:9)]))
  pcs <- concordR:::.pca_baseline(x, 30)
  test <- 1:400
  predicted <- PredictModality(pcs[test, ], pcs[-test, ], values = adt[, -test], k = 20)
  r <- vapply(1:10, function(i) cor(predicted[i, ], adt[i, test]), numeric(1))
  expect_gt(median(r), 0.7)
  # The reference's own leave-one-out correlation tells the held-out one in advance.
  expect_lt(abs(median(attr(predicted, "reference.correlation")) - median(r)), 0.1)
  # Neighbours of the wrong cells carry nothing.
  shuffled <- PredictModality(pcs[test, ][sample(length(test)), ], pcs[-test, ], values = adt[, -test])
  expect_lt(abs(median(vapply(1:10, function(i) cor(shuffled[i, ], adt[i, test]), numeric(1)))), 0.2)
})

test_that("a Seurat query with RNA only is projected and gets the reference's proteins", {
  skip_if_not_installed("SeuratObject")
  d <- small_data()
  ref.cells <- d$meta$batch != "stim107"
  ref <- small_seurat(list(counts = d$counts[, ref.cells], meta = d$meta[ref.cells, ]))
  # A protein that is high on monocytes.
  mono <- as.numeric(grepl("Mono", d$meta$cell_type[ref.cells]))
  protein <- rbind(CD14 = 3 * mono + stats::rnorm(sum(ref.cells), sd = 0.2),
                   CD3 = stats::rnorm(sum(ref.cells)))
  colnames(protein) <- colnames(ref)
  ref[["ADT"]] <- SeuratObject::CreateAssayObject(data = protein)
  ref <- run_fast(ref, epochs = 4, min.steps = 40)
  query <- small_seurat(list(counts = d$counts[, !ref.cells], meta = d$meta[!ref.cells, ]))
  out <- PredictModality(query, ref, modality = "ADT", k = 10, verbose = FALSE)
  expect_true("concord" %in% names(out@reductions))
  expect_setequal(SeuratObject::Assays(out), c("RNA", "predicted.ADT"))
  predicted <- SeuratObject::GetAssayData(out[["predicted.ADT"]], slot = "data")
  expect_equal(dim(predicted), c(2L, ncol(query)))
  truth <- as.numeric(grepl("Mono", d$meta$cell_type[!ref.cells]))
  expect_gt(cor(predicted["CD14", ], truth), 0.5)
  expect_named(out[["predicted.ADT"]]@misc$reference.correlation, c("CD14", "CD3"))
  expect_error(PredictModality(out, ref, verbose = FALSE), "already has an assay 'predicted.ADT'")
  expect_error(PredictModality(query, ref, modality = "HTO", verbose = FALSE),
               "the reference has no assay 'HTO'; available: RNA, ADT")
})

test_that("a SingleCellExperiment query gets the prediction as an altExp", {
  skip_if_not_installed("SingleCellExperiment")
  d <- small_data()
  ref.cells <- d$meta$batch != "stim107"
  make <- function(cols) SingleCellExperiment::SingleCellExperiment(list(logcounts = d$data[, cols]))
  ref <- make(ref.cells)
  protein <- rbind(CD14 = as.numeric(grepl("Mono", d$meta$cell_type[ref.cells])))
  colnames(protein) <- colnames(ref)
  SingleCellExperiment::altExp(ref, "ADT") <- SummarizedExperiment::SummarizedExperiment(list(clr = protein))
  ref <- run_fast(ref)
  out <- PredictModality(make(!ref.cells), ref, k = 10, verbose = FALSE)
  alt <- SingleCellExperiment::altExp(out, "predicted.ADT")
  expect_equal(SummarizedExperiment::assayNames(alt), "clr")
  expect_equal(dim(alt), c(1L, sum(!ref.cells)))
  expect_true("CONCORD" %in% SingleCellExperiment::reducedDimNames(out))
  expect_named(S4Vectors::metadata(alt)$reference.correlation, "CD14")
  expect_error(PredictModality(make(!ref.cells), ref, assay = "counts", verbose = FALSE),
               "the altExp 'ADT' has no assay 'counts'; available: clr")
})

test_that("bad inputs to PredictModality give clear errors", {
  ref <- matrix(stats::rnorm(40), 20)
  values <- matrix(stats::rnorm(60), 3)
  expect_error(PredictModality(ref, ref, values = values[, -1]),
               "'values' has 19 column\\(s\\) but the reference has 20 cell\\(s\\)")
  bad <- values
  bad[2, 5] <- NA
  expect_error(PredictModality(ref, ref, values = bad), "non-finite value\\(s\\).*first: feature 2, cell 5")
  expect_error(PredictModality(ref, ref, values = values[0, , drop = FALSE]), "'values' has no features")
  expect_error(PredictModality(ref, ref, values = "x"), "'values' must be a numeric features x reference cells matrix")
  expect_error(PredictModality(cbind(ref, 1), ref, values = values), "differ in dimensions \\(3 vs 2\\)")
  expect_error(PredictModality(ref, ref, values = values, k = 0), "'k'")
  expect_error(PredictModality(ref, ref, values = values, kk = 3), "kk")
  expect_error(PredictModality(ref[1, , drop = FALSE], ref[1, , drop = FALSE], values = values[, 1, drop = FALSE]),
               "at least 2 cells")
})
