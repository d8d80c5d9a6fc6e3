test_that("the matrix method returns a named cells x latent embedding", {
  d <- small_data()
  emb <- run_fast(d$data, group.by = d$meta$batch)
  expect_equal(dim(emb), c(240L, 8L))
  expect_equal(rownames(emb), colnames(d$data))
  expect_equal(colnames(emb), paste0("CONCORD_", 1:8))
  expect_true(all(is.finite(emb)))
  info <- attr(emb, "concord")
  expect_length(info$loss, 2)
  expect_equal(info$batches, sort(unique(d$meta$batch)))
  expect_equal(info$params$latent_dim, 8L)
  expect_gte(info$steps, 4)
})

test_that("the same seed and threads give the same embedding", {
  d <- small_data()
  a <- run_fast(d$data, group.by = d$meta$batch, seed = 7)
  b <- run_fast(d$data, group.by = d$meta$batch, seed = 7)
  expect_identical(unclass(a)[, ], unclass(b)[, ])
  c <- run_fast(d$data, group.by = d$meta$batch, seed = 8)
  expect_false(isTRUE(all.equal(unclass(a)[, ], unclass(c)[, ])))
})

test_that("raw counts are detected and log-normalized", {
  d <- small_data()
  expect_message(a <- run_fast(d$counts, group.by = d$meta$batch, verbose = TRUE), "raw counts")
  b <- run_fast(d$data, group.by = d$meta$batch)
  expect_equal(unclass(a)[, ], unclass(b)[, ])
})

test_that("features default to the most variable genes, with a message", {
  d <- small_data()
  x <- d$data
  expect_message(emb <- run_fast(x, verbose = TRUE), "most variable genes")
  d2 <- bundled()
  x2 <- concordR:::.log_normalize(d2$counts)
  hv <- concordR:::.variable_genes(x2, 200)
  expect_length(hv, 200)
  # Variable genes rank above genes of similar mean: their variance is larger on average.
  v <- apply(as.matrix(x2), 1, stats::var)
  expect_gt(mean(v[hv]), mean(v))
})

test_that("Seurat, SingleCellExperiment and matrix inputs give the same embedding", {
  skip_if_not_installed("Seurat")
  skip_if_not_installed("SingleCellExperiment")
  d <- small_data()
  features <- rownames(d$counts)[1:200]
  m <- run_fast(d$data, group.by = d$meta$batch, features = features)

  seu <- small_seurat(d)
  seu <- run_fast(seu, group.by = "batch", features = features)
  expect_s4_class(seu[["concord"]], "DimReduc")
  expect_equal(SeuratObject::Key(seu[["concord"]]), "CONCORD_")
  expect_equal(SeuratObject::Embeddings(seu, "concord"), unclass(m)[, ], ignore_attr = TRUE)
  misc <- SeuratObject::Misc(seu[["concord"]])
  expect_length(misc$loss, 2)
  expect_equal(misc$features, features)
  expect_true(any(grepl("RunConcord", names(seu@commands))))

  sce <- SingleCellExperiment::SingleCellExperiment(
    assays = list(counts = d$counts, logcounts = d$data), colData = d$meta)
  sce <- run_fast(sce, group.by = "batch", features = features)
  emb <- SingleCellExperiment::reducedDim(sce, "CONCORD")
  expect_equal(rownames(emb), colnames(sce))
  expect_equal(emb, unclass(m)[, ], ignore_attr = TRUE)
  expect_length(S4Vectors::metadata(sce)$concord$CONCORD$loss, 2)
})

test_that("group.by accepts a vector for Seurat and NULL for one dataset", {
  skip_if_not_installed("Seurat")
  d <- small_data()
  seu <- small_seurat(d)
  a <- run_fast(seu, group.by = "batch", features = rownames(seu)[1:100])
  b <- run_fast(seu, group.by = seu$batch, features = rownames(seu)[1:100])
  expect_equal(SeuratObject::Embeddings(a, "concord"), SeuratObject::Embeddings(b, "concord"))
  one <- run_fast(seu, features = rownames(seu)[1:100], reduction.name = "c1", reduction.key = "C1_")
  expect_equal(colnames(SeuratObject::Embeddings(one, "c1"))[1], "C1_1")
  expect_equal(SeuratObject::Misc(one[["c1"]])$batches, "all")
})

test_that("the DimReduc feeds Seurat's RunUMAP and FindNeighbors", {
  skip_if_not_installed("Seurat")
  skip_if_not_installed("uwot")
  d <- small_data()
  seu <- small_seurat(d)
  seu <- run_fast(seu, group.by = "batch", features = rownames(seu)[1:200])
  seu <- Seurat::RunUMAP(seu, reduction = "concord", dims = 1:8, verbose = FALSE, n.neighbors = 15)
  expect_equal(dim(SeuratObject::Embeddings(seu, "umap")), c(240L, 2L))
  seu <- Seurat::FindNeighbors(seu, reduction = "concord", dims = 1:8, verbose = FALSE)
  seu <- Seurat::FindClusters(seu, verbose = FALSE)
  expect_gt(length(unique(seu$seurat_clusters)), 1)
})

test_that("kNN sampling, batch norm and no hidden layer run through the R API", {
  d <- small_data()
  emb <- run_fast(d$data, group.by = d$meta$batch, p.intra.knn = 0.3, warmup.epochs = 1,
                  knn.k = 20, norm = "batch", epochs = 3)
  expect_true(all(is.finite(emb)))
  emb <- run_fast(d$data, group.by = d$meta$batch, encoder.dims = integer(0), knn.metric = "cosine")
  expect_equal(ncol(emb), 8L)
})

test_that("weight decay reaches Adam and shrinks the weights", {
  d <- small_data()
  plain <- run_fast(d$data, group.by = d$meta$batch, seed = 3)
  decayed <- run_fast(d$data, group.by = d$meta$batch, seed = 3, weight.decay = 1)
  expect_equal(attr(decayed, "concord")$params$weight_decay, 1)
  norm <- function(e) sum(attr(e, "concord")$model$weights[["weight_in"]]^2)
  expect_lt(norm(decayed), 0.9 * norm(plain))
})

test_that("the R kNN agrees with brute force", {
  set.seed(1)
  x <- matrix(rnorm(300 * 5), 300)
  nn <- concordR:::.concord_knn(x, x[1:20, ], 5L, "euclidean", 1e6, 1L)
  d <- as.matrix(dist(x))[1:20, ]
  brute <- t(apply(d, 1, function(r) order(r)[1:5]))
  expect_equal(nn$index, brute, ignore_attr = TRUE)
  expect_equal(nn$distance[, 2], apply(d, 1, function(r) sort(r)[2]), tolerance = 1e-5, ignore_attr = TRUE)
})
