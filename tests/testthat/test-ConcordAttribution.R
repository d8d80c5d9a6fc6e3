test_that("attribution is a genes x dimensions matrix that finds a planted marker", {
  # A hand-built model with no hidden layer and no norm: z = LeakyReLU(x W + b) with
  # positive weights and bias, so attribution = mean(x_g) * W[g, d] exactly.
  d <- small_data()
  x <- d$data
  genes <- rownames(x)
  w <- matrix(0.01, length(genes), 3)
  w[42, 2] <- 5
  model <- structure(list(
    weights = list(weight_in = structure(as.vector(t(w)), shape = c(length(genes), 3)),
                   bias_in = structure(rep(0.1, 3), shape = 3)),
    features = genes, batches = "all", input = "log-normalized values, used as given",
    params = list(latent_dim = 3L, encoder_dims = integer(0), norm = "none", dropout = 0),
    training = list(loss = 0, steps = 0, n.cells = 0), versions = list()
  ), class = "ConcordModel")
  a <- ConcordAttribution(x, model, threads = 1, verbose = FALSE)
  expect_equal(dim(a), c(length(genes), 3L))
  expect_equal(rownames(a), genes)
  expect_equal(a, Matrix::rowMeans(x) * w, tolerance = 1e-5, ignore_attr = TRUE)
  top <- TopAttributedGenes(a, n = 3, dims = 2)
  expect_equal(top$gene[1], genes[42])
  expect_equal(top$rank, 1:3)
  # Averaging over a group of cells uses those cells only.
  group <- d$meta$batch == "ctrl101"
  expect_equal(ConcordAttribution(x, model, cells = group, threads = 1, verbose = FALSE)[42, 2],
               5 * mean(x[42, group]), tolerance = 1e-5)
  expect_s3_class(PlotAttribution(a, n = 2), "ggplot")
})

test_that("attribution of a trained model works on objects and checks its input", {
  skip_if_not_installed("Seurat")
  d <- small_data()
  seu <- small_seurat(d)
  seu <- run_fast(seu, group.by = "batch", features = rownames(seu)[1:200])
  a <- ConcordAttribution(seu, max.cells = 50, threads = 1, verbose = FALSE)
  expect_equal(dim(a), c(200L, 8L))
  expect_true(all(is.finite(a)))
  expect_error(ConcordAttribution(seu, cells = "nope", verbose = FALSE), "not in the data")
  expect_error(ConcordAttribution(seu, reduction = "pca", verbose = FALSE), "reduction 'pca' not found")
  expect_error(TopAttributedGenes(matrix(1:4, 2)), "from ConcordAttribution")
})
