# Each metric against hand-worked values or an independent formula, then the pipeline
# on real data and its errors.

# Three cell types in two batches. "mixed": batches share the same positions;
# "split": batch y is moved far along another axis.
blobs <- function(n = 90, dims = 4, sd = 0.3, gap = 10, split = FALSE, seed = 1) {
  set.seed(seed)
  type <- factor(rep(c("a", "b", "c"), length.out = n))
  batch <- factor(rep(c("x", "x", "x", "y", "y", "y"), length.out = n))
  centre <- matrix(0, 3, dims)
  centre[cbind(1:3, 1:3)] <- gap
  x <- centre[as.integer(type), ] + matrix(rnorm(n * dims, sd = sd), n)
  if (split) x[batch == "y", dims] <- x[batch == "y", dims] + 3 * gap
  list(x = x, type = type, batch = batch)
}

test_that("NMI and ARI match hand-worked values", {
  a <- c(1, 1, 2, 2)
  b <- c(1, 1, 2, 3)
  # b refines a: MI = H(a) = log 2, H(b) = 1.5 log 2, NMI = 1 / 1.25.
  expect_equal(concordR:::.nmi(a, b), 0.8)
  # Pairs: together in both 1, in a 2, in b 1, all 6: (1 - 2/6) / (1.5 - 2/6) = 4/7.
  expect_equal(concordR:::.ari(a, b), 4 / 7)
  expect_equal(concordR:::.nmi(a, rev(a)), 1)
  expect_equal(concordR:::.ari(c(1, 2, 1, 2), c(1, 1, 2, 2)), -0.5)
})

test_that("silhouette agrees with the cluster package", {
  set.seed(2)
  x <- matrix(rnorm(120 * 3), 120)
  lab <- rep(1:3, 40)
  x[, 1] <- x[, 1] + lab
  ours <- concordR:::.concord_silhouette(x, lab, 3L, 2L)
  ref <- cluster::silhouette(lab, stats::dist(x))[, "sil_width"]
  expect_equal(ours, unname(ref), tolerance = 1e-5)
})

test_that("separated cell types score 1 on conservation, mixed batches near 1 on correction", {
  d <- blobs(sd = 0.05)
  r <- EvaluateEmbedding(d$x, batch = d$batch, label = d$type, resolutions = c(0.1, 0.5, 1))
  expect_equal(r$NMI, 1)
  expect_equal(r$ARI, 1)
  expect_gt(r$ASW_label, 0.99)
  expect_gt(r$cLISI, 0.999)  # far types keep a tiny Gaussian weight
  expect_equal(r$graph_connectivity, 1)
  expect_gt(r$ASW_batch, 0.85)
  expect_gt(r$iLISI, 0.85)
  expect_gt(r$kBET, 0.85)
  expect_gt(r$PCR_batch, 0.95)
  expect_equal(r$kNN_accuracy, 1)
  expect_equal(r$kNN_F1, 1)
  expect_equal(r$Bio, mean(unlist(r[c("NMI", "ARI", "ASW_label", "cLISI")])))
  expect_equal(r$Total, 0.6 * r$Bio + 0.4 * r$Batch)
  expect_true(is.na(r$isolated_labels))  # every type is in both batches
})

test_that("batch-separated embeddings score near 0 on batch correction", {
  d <- blobs(split = TRUE)
  r <- EvaluateEmbedding(d$x, batch = d$batch, label = d$type, families = c("bio", "batch"),
                         resolutions = 1)
  expect_lt(r$ASW_batch, 0.1)
  expect_lt(r$iLISI, 0.05)
  expect_equal(r$kBET, 0)
  expect_lt(r$PCR_batch, 0.5)
  expect_lt(r$Batch, 0.3)
  expect_lt(r$Batch, r$Bio)
})

test_that("graph connectivity counts the largest component of each type", {
  d <- blobs(sd = 0.05)
  # Move half of type "a" far away: its graph breaks into two halves.
  far <- which(d$type == "a")[1:15]
  d$x[far, 4] <- d$x[far, 4] + 100
  ctx <- concordR:::.evaluation_context(d$x, d$batch, d$type, NULL, NULL, NULL, 5, 1, 1000,
                                        1000, 300, 0, 1, FALSE, kni.k = 50, kni.tau = 40,
                                        rbni.radius = 1, rbni.share = 0.8, proxy.resolution = 0.5)
  expect_equal(concordR:::.graph_connectivity(ctx), mean(c(0.5, 1, 1)))
})

test_that("PCR of batch matches variance-weighted R^2 of lm() on prcomp() components", {
  set.seed(3)
  batch <- factor(rep(c("x", "y", "z"), 40))
  x <- matrix(rnorm(120 * 4), 120) + outer(as.integer(batch), c(2, 0, 0, 1))
  pca <- stats::prcomp(x)
  r2 <- apply(pca$x, 2, function(pc) summary(stats::lm(pc ~ batch))$r.squared)
  expect_equal(concordR:::.pcr(x, batch), sum(pca$sdev^2 * r2) / sum(pca$sdev^2))
})

test_that("isolated labels score the labels found in the fewest batches", {
  d <- blobs(sd = 0.05)
  d$batch[d$type == "c"] <- "x"  # type c only in batch x
  r <- EvaluateEmbedding(d$x, batch = d$batch, label = d$type, families = "bio", resolutions = 1)
  s <- concordR:::.concord_silhouette(d$x, as.integer(d$type), 3L, 1L)
  expect_equal(r$isolated_labels, mean((s[d$type == "c"] + 1) / 2))
})

test_that("probes: macro-F1 by hand", {
  expect_equal(concordR:::.macro_f1(c("a", "a", "b"), c("a", "b", "b")), 2 / 3)
})

# KNI / RbNI cases: 3 cell types, each 6 cells of each of 10 batches in a tight group;
# types on the axes, 10 apart, so that after scaling by the interquartile ranges they
# lie ~1.4 apart (outside RbNI's radius 1) and each group is within 0.01. `separate`
# puts each batch on its own axis, 100 away: those axes have an IQR of 0 and keep it.
intersection_cases <- function(separate = FALSE) {
  set.seed(6)
  type <- factor(rep(c("a", "b", "c"), each = 60))
  batch <- factor(rep(rep(1:10, each = 6), 3))
  x <- 10 * diag(3)[as.integer(type), ] + matrix(runif(180 * 3, 0, 0.05), 180)
  if (separate) x <- cbind(x, 100 * diag(10)[as.integer(batch), ])
  list(x = x, type = type, batch = batch)
}

test_that("KNI and RbNI follow BA-scVI's definition on constructed cases", {
  d <- intersection_cases()
  r <- EvaluateEmbedding(d$x, batch = d$batch, label = d$type, families = "probes")
  expect_equal(c(r$KNI, r$RbNI), c(1, 1))
  expect_equal(attr(r, "details")$intersection_outliers, c(KNI = 0, RbNI = 0))
  # Scaling by the interquartile ranges: units do not matter.
  r100 <- EvaluateEmbedding(100 * d$x, batch = d$batch, label = d$type, families = "probes")
  expect_equal(c(r100$KNI, r100$RbNI), c(1, 1))

  # Separated batches: every cell's neighbourhood is its own batch, so all are outliers.
  s <- intersection_cases(separate = TRUE)
  r <- EvaluateEmbedding(s$x, batch = s$batch, label = s$type, families = "probes")
  expect_equal(c(r$KNI, r$RbNI), c(0, 0))
  expect_equal(attr(r, "details")$intersection_outliers, c(KNI = 1, RbNI = 1))

  # 12 mislabelled cells, one per (type, batch) group: each is outvoted by its group's
  # type and no other vote changes, so both scores are 1 - 12 / 180.
  wrong <- seq(1, 180, by = 15)[1:12]
  lab <- d$type
  lab[wrong] <- levels(lab)[as.integer(lab[wrong]) %% 3 + 1]
  r <- EvaluateEmbedding(d$x, batch = d$batch, label = lab, families = "probes")
  expect_equal(c(r$KNI, r$RbNI), rep(1 - 12 / 180, 2))

  # The outlier rules: at least 45 of each cell's 50 neighbours are from other batches
  # (5 share its batch and type), 54 of the 59 within the radius (91.5%).
  r <- EvaluateEmbedding(d$x, batch = d$batch, label = d$type, families = "probes",
                         kni.tau = 45, rbni.share = 0.9)
  expect_equal(c(r$KNI, r$RbNI), c(1, 1))
  r <- EvaluateEmbedding(d$x, batch = d$batch, label = d$type, families = "probes",
                         kni.tau = 50, rbni.share = 0.95)
  expect_equal(c(r$KNI, r$RbNI), c(0, 0))
  expect_error(EvaluateEmbedding(d$x, batch = d$batch, label = d$type, kni.tau = 51),
               "'kni.tau' must be a whole number >= 0 and <= 50")
  expect_error(EvaluateEmbedding(d$x, batch = d$batch, label = d$type, rbni.share = 1.5),
               "'rbni.share' is a probability")
  expect_error(EvaluateEmbedding(d$x, batch = d$batch, label = d$type, rbni.radius = -1),
               "'rbni.radius' must be a number >= 0")
})

test_that("the proxy family scores within-batch clusters without labels", {
  # Before integration the batches are apart; within each, three clear types.
  before <- blobs(split = TRUE, sd = 0.3)
  good <- blobs(sd = 0.3)$x
  r <- EvaluateEmbedding(good, batch = before$batch, reference = before$x, families = "proxy",
                         resolutions = c(0.2, 0.5, 1))
  expect_named(r, c("proxy_NMI", "proxy_ARI"))
  expect_equal(c(r$proxy_NMI, r$proxy_ARI), c(1, 1))
  expect_equal(unname(attr(r, "details")$proxy_pseudo_clusters), c(3L, 3L))
  # Scrambling the cells of the embedding loses the within-batch clusters.
  set.seed(7)
  scrambled <- good[sample(nrow(good)), ]
  s <- EvaluateEmbedding(scrambled, batch = before$batch, reference = before$x, families = "proxy",
                         resolutions = c(0.2, 0.5, 1))
  expect_lt(s$proxy_NMI, 0.3)
  expect_lt(s$proxy_ARI, 0.2)
  # Pseudo-labels: Leiden at proxy.resolution within each batch of the reference.
  fine <- EvaluateEmbedding(good, batch = before$batch, reference = before$x, families = "proxy",
                            resolutions = c(0.2, 0.5, 1), proxy.resolution = 5)
  expect_gt(sum(attr(fine, "details")$proxy_pseudo_clusters), 6)
  # Not computed unless asked for; needs batch and reference.
  r <- EvaluateEmbedding(good, batch = before$batch, label = before$type, reference = before$x,
                         resolutions = 1)
  expect_false("proxy_NMI" %in% names(r))
  expect_error(EvaluateEmbedding(good, batch = before$batch, families = "proxy"), "needs 'reference'")
  expect_error(EvaluateEmbedding(good, reference = before$x, families = "proxy"), "needs 'batch'")
  expect_error(EvaluateEmbedding(good, batch = before$batch, reference = before$x, families = "proxy",
                                 proxy.resolution = 0), "'proxy.resolution' must be a number > 0")
})

test_that("geometry: exact copies score 1, trustworthiness matches its definition", {
  set.seed(4)
  ref <- matrix(rnorm(60 * 6), 60)
  lab <- rep(c("a", "b", "c"), 20)
  r <- EvaluateEmbedding(2 * ref, label = lab, reference = ref, families = "geometry")
  expect_equal(unlist(r[c("trustworthiness", "distance_pearson", "distance_spearman",
                          "distance_kendall", "state_variance_cor")]),
               c(trustworthiness = 1, distance_pearson = 1, distance_spearman = 1,
                 distance_kendall = 1, state_variance_cor = 1))
  f <- factor(lab)
  by.hand <- vapply(levels(f), function(l) sum(apply(ref[f == l, ], 2, stats::var)), numeric(1))
  expect_equal(concordR:::.state_variance(ref, f), by.hand, ignore_attr = TRUE)
  expect_equal(concordR:::.state_variance(Matrix::Matrix(ref, sparse = TRUE), f), by.hand, ignore_attr = TRUE)
  emb <- ref[, 1:2]
  k <- 10
  dr <- as.matrix(stats::dist(ref))
  de <- as.matrix(stats::dist(emb))
  diag(dr) <- diag(de) <- Inf
  rank.ref <- t(apply(dr, 1, rank, ties.method = "first"))
  penalty <- sum(vapply(1:60, function(i) {
    nb <- order(de[i, ])[1:k]
    sum(pmax(rank.ref[i, nb] - k, 0))
  }, numeric(1)))
  expected <- 1 - 2 * penalty / (60 * k * (2 * 60 - 3 * k - 1))
  got <- concordR:::.concord_trustworthiness(ref, emb, c(10L, 20L), 1L)
  expect_equal(got[1], expected)
  d1 <- concordR:::.concord_pairwise_distances(ref, 1L)
  d2 <- concordR:::.concord_pairwise_distances(emb, 1L)
  expect_equal(d1, as.vector(stats::dist(ref)[seq_along(d1)]), tolerance = 1e-6)
  expect_equal(concordR:::.concord_kendall(d1[1:300], d2[1:300]),
               stats::cor(d1[1:300], d2[1:300], method = "kendall"))
})

test_that("topology: a circle has one persistent loop, three blobs three components", {
  t <- seq(0, 2 * pi, length.out = 81)[-81]
  set.seed(5)
  ring <- cbind(cos(t), sin(t), 0) + matrix(rnorm(240, sd = 0.02), 80)
  r <- EvaluateEmbedding(ring, families = "topology", expected.betti = c(1, 1, 0))
  expect_equal(unlist(r[c("betti_0", "betti_1", "betti_2", "betti_match")]),
               c(betti_0 = 1, betti_1 = 1, betti_2 = 0, betti_match = 1))
  d <- blobs(n = 150, sd = 0.3)
  r <- EvaluateEmbedding(d$x, families = "topology", expected.betti = c(3, 0, 0))
  expect_equal(r$betti_0, 3)
  expect_equal(r$betti_1, 0)
  expect_equal(r$betti_match, 1)
  dg <- attr(r, "details")$persistence
  expect_equal(sum(dg$dimension == 0 & is.infinite(dg$death)), 1)
  curves <- attr(r, "details")$betti_curves
  expect_equal(curves$betti[curves$dimension == 0][1], 150)  # every point alone at scale 0
  expect_true(all(c(r$betti_entropy_0, r$betti_entropy_1) >= 0 & c(r$betti_entropy_0, r$betti_entropy_1) <= 1))
  expect_equal(unlist(r[c("betti_mode_0", "betti_mode_1", "betti_mode_match")]),
               c(betti_mode_0 = 3, betti_mode_1 = 0, betti_mode_match = 1))
})

test_that("the benchmark's mode adds up every stretch of a Betti value", {
  # One loop lives over [2, 7), two more over [3, 4) and [5, 6): the H1 curve is 0 on
  # [0, 2) (the longest unbroken stretch, 2 units) but 1 on three stretches (3 units).
  dg <- data.frame(dimension = c(0, 0, 0, 1, 1, 1),
                   birth = c(0, 0, 0, 2, 3, 5),
                   death = c(Inf, 0.5, 7, 7, 4, 6))
  # H0 (finite bars): 2 on [0, 0.5), 1 up to 7, plus the component that never dies.
  expect_equal(concordR:::.betti_mode(dg), c(2, 1, 0))
  expect_equal(concordR:::.most_persistent(dg[dg$dimension == 1, ], 7)[["betti"]], 0)
  expect_equal(concordR:::.most_persistent(dg[dg$dimension == 0, ], 7)[["betti"]], 2)
})

test_that("on kang_ifnb_muscat, PCA conserves biology better than it removes batch", {
  path <- Sys.getenv("CONCORDR_DATA", "/work/shared/data")
  path <- file.path(path, "kang_ifnb_muscat", "kang_ifnb_muscat.rds")
  skip_if_not(file.exists(path), "kang_ifnb_muscat data not available (set CONCORDR_DATA)")
  d <- readRDS(path)
  x <- concordR:::.log_normalize(d$counts)
  x <- x[concordR:::.variable_genes(x, 500L), ]
  pca <- stats::prcomp(Matrix::t(x), rank. = 20)$x
  r <- EvaluateEmbedding(pca, batch = d$meta$batch, label = d$meta$cell_type,
                         resolutions = c(0.2, 0.5, 1), threads = 2)
  expect_lt(r$Batch, r$Bio)
  expect_lt(r$iLISI, 0.5)
  expect_gt(r$kNN_accuracy, 0.8)
  expect_true(all(unlist(r) >= 0 & unlist(r) <= 1, na.rm = TRUE))
})

test_that("bad input stops with a message naming the argument", {
  d <- blobs()
  expect_error(EvaluateEmbedding(d$x, label = d$type[-1]), "'label'.*90 cells")
  expect_error(EvaluateEmbedding(d$x, label = rep("a", 90)), "'label' has a single value")
  lab <- d$type
  lab[3] <- NA
  expect_error(EvaluateEmbedding(d$x, label = lab), "'label' has 1 missing")
  expect_error(EvaluateEmbedding(d$x, batch = "donor"), "'batch' column 'donor' not found")
  expect_error(EvaluateEmbedding(d$x, batch = d$batch, families = "bio"), "needs 'label'")
  expect_error(EvaluateEmbedding(d$x, label = d$type, families = "shape"), "'families' must name")
  expect_error(EvaluateEmbedding(d$x, label = d$type, reference = d$x[-1, ]), "'reference'.*90 rows")
  expect_error(EvaluateEmbedding(d$x), "nothing to compute")
  expect_error(EvaluateEmbedding(d$x, label = d$type, n.neighbours = 5), "unknown argument.*n.neighbours")
  x <- d$x
  x[1, 1] <- NaN
  expect_error(EvaluateEmbedding(x, label = d$type), "non-finite")
  expect_error(EvaluateEmbedding(d$x, families = "topology", expected.betti = c(1, 0)),
               "'expected.betti' must hold 3")
})

test_that("results are reproducible and leave the user's random state alone", {
  d <- blobs(sd = 1, gap = 2)
  set.seed(10)
  before <- .Random.seed
  r1 <- EvaluateEmbedding(d$x, batch = d$batch, label = d$type, max.cells = 50, resolutions = c(0.5, 1))
  expect_identical(.Random.seed, before)
  r2 <- EvaluateEmbedding(d$x, batch = d$batch, label = d$type, max.cells = 50, resolutions = c(0.5, 1))
  expect_equal(unlist(r1), unlist(r2))
})

test_that("Leiden resolutions on parallel workers give the sequential result", {
  skip_if_not_installed("igraph")
  d <- blobs(n = 600, sd = 1.5, gap = 2)
  res <- c(0.2, 0.5, 1, 1.5, 2)
  run <- function(threads) EvaluateEmbedding(d$x, label = d$type, families = "bio", resolutions = res,
                                             threads = threads)
  one <- run(1)
  two <- run(2)
  expect_identical(attr(one, "details")$clustering, attr(two, "details")$clustering)
  expect_equal(unlist(one), unlist(two))
  # The resolutions differ in their clusters, so the comparison above has teeth.
  expect_gt(length(unique(attr(one, "details")$clustering$clusters)), 1)
  # Forked workers leave the user's random state alone, also with parallel's own RNG.
  old <- RNGkind("L'Ecuyer-CMRG")
  on.exit(RNGkind(old[1]))
  set.seed(3)
  before <- .Random.seed
  run(2)
  expect_identical(.Random.seed, before)
})

test_that("the fuzzy kNN graph is the symmetrised sparse matrix's graph", {
  skip_if_not_installed("igraph")
  set.seed(6)
  x <- matrix(rnorm(400 * 3), 400)
  knn <- concordR:::.knn_graph(x, 10L, 1L)
  knn$index[5, 10] <- NA  # a missing neighbour
  g <- concordR:::.fuzzy_graph(knn, 10L)
  # The definition, through a sparse matrix, as igraph builds it from one.
  ok <- !is.na(knn$index)
  w <- concordR:::.concord_fuzzy_weights(knn$distance)
  m <- Matrix::sparseMatrix(i = row(knn$index)[ok], j = knn$index[ok], x = w[ok], dims = c(400, 400))
  sym <- m + Matrix::t(m) - m * Matrix::t(m)
  want <- igraph::graph_from_adjacency_matrix(sym, mode = "undirected", weighted = TRUE, diag = FALSE)
  expect_identical(igraph::as_edgelist(g), igraph::as_edgelist(want))
  expect_identical(igraph::E(g)$weight, igraph::E(want)$weight)
})

test_that("a failing parallel worker stops with the worker's message", {
  skip_on_os("windows")
  expect_error(concordR:::.parallel_lapply(1:3, function(i) if (i == 2) stop("bad resolution") else i, 2),
               "worker failed: bad resolution")
  expect_identical(concordR:::.parallel_lapply(1:3, function(i) i^2, 2), list(1, 4, 9))
})

test_that("the kNN graph's IVF search equals exact search when it probes every cell", {
  set.seed(4)
  n <- 3000
  x <- matrix(rnorm(n * 6), n) + 4 * matrix(rnorm(8 * 6), 8)[sample.int(8, n, replace = TRUE), ]
  x[2, ] <- x[1, ]  # an exact duplicate: each must still leave itself out
  exact <- concordR:::.concord_knn_graph(x, 15L, 1e9, 1L)
  all <- concordR:::.concord_knn_graph(x, 15L, 0, 1L, 40L, 40L)
  # The same neighbours; the order of near-ties may differ, as exact search ranks by
  # BLAS-rounded distances and the IVF search by directly computed ones.
  expect_identical(t(apply(all$index, 1, sort)), t(apply(exact$index, 1, sort)))
  expect_equal(all$distance, exact$distance, tolerance = 1e-5)
  expect_false(any(exact$index == seq_len(n)))
  expect_identical(exact$index[1:2, 1], 2:1)
  # The defaults (sqrt(n) cells, 10 probed) find nearly all of them, on any thread count.
  ivf <- concordR:::.concord_knn_graph(x, 15L, 0, 1L)
  expect_equal(c(ivf$nlist, ivf$nprobe), c(54L, 10L))
  recall <- mean(vapply(seq_len(n), function(i) length(intersect(ivf$index[i, ], exact$index[i, ])), 0)) / 15
  expect_gt(recall, 0.95)
  expect_false(any(ivf$index == seq_len(n), na.rm = TRUE))
  expect_identical(concordR:::.concord_knn_graph(x, 15L, 0, 2L)$index, ivf$index)
})

test_that("Seurat and SingleCellExperiment methods read reductions and metadata", {
  skip_if_not_installed("SingleCellExperiment")
  d <- blobs(sd = 0.05)
  sce <- SingleCellExperiment::SingleCellExperiment(
    assays = list(logcounts = matrix(0, 2, 90, dimnames = list(c("g1", "g2"), paste0("c", 1:90)))),
    colData = data.frame(donor = d$batch, cell_type = d$type, row.names = paste0("c", 1:90)),
    reducedDims = list(CONCORD = d$x, PCA = d$x[, 1:2])
  )
  r <- EvaluateEmbedding(sce, batch = "donor", label = "cell_type", resolutions = 1,
                         reference = "PCA")
  direct <- EvaluateEmbedding(d$x, batch = d$batch, label = d$type, resolutions = 1, reference = d$x[, 1:2])
  expect_equal(unlist(r), unlist(direct))
  expect_error(EvaluateEmbedding(sce, reduction = "UMAP", label = "cell_type"), "reduction 'UMAP' not found")
  skip_if_not_installed("SeuratObject")
  counts <- Matrix::Matrix(matrix(rpois(20 * 90, 1), 20, dimnames = list(paste0("g", 1:20), paste0("c", 1:90))),
                           sparse = TRUE)
  seu <- suppressWarnings(SeuratObject::CreateSeuratObject(counts, meta.data = as.data.frame(SummarizedExperiment::colData(sce))))
  rownames(d$x) <- colnames(seu)
  colnames(d$x) <- paste0("CONCORD_", 1:4)
  seu[["concord"]] <- SeuratObject::CreateDimReducObject(d$x, key = "CONCORD_", assay = "RNA")
  r <- EvaluateEmbedding(seu, batch = "donor", label = "cell_type", families = c("bio", "batch"), resolutions = 1)
  expect_equal(r$NMI, 1)
})

test_that("the default Leiden resolutions are scIB's 20, every other one above 200,000 cells", {
  skip_if_not_installed("igraph")
  full <- seq(0.1, 2, by = 0.1)
  expect_identical(concordR:::.default_resolutions(2e5), full)
  big <- concordR:::.default_resolutions(2e5 + 1)
  # Every other one of the same grid from the coarsest, so that a large data set's curve
  # is a subset of the small one's and keeps 0.1.
  expect_identical(big, full[seq(1, 19, by = 2)])
  expect_equal(big, seq(0.1, 1.9, by = 0.2))
  d <- blobs(n = 120)
  r <- EvaluateEmbedding(d$x, label = d$type, families = "bio")
  expect_identical(attr(r, "details")$clustering$resolution, full)
})
