# RunConcord(align.weight, align.local.weight): batches aligned within clusters and within
# neighbourhoods of the embedding.

# Two cell types in two batches; batch "b2" shifts genes 41-60 up in type A only, a batch
# effect that differs by cell type (what domain-pure mini-batches leave in place).
typed_batch_effect <- function(n = 400, genes = 100) {
  set.seed(11)
  type <- rep(c("A", "B"), length.out = n)
  batch <- rep(c("b1", "b1", "b2", "b2"), length.out = n)
  rate <- matrix(1, genes, n)
  rate[1:20, type == "A"] <- 6
  rate[21:40, type == "B"] <- 6
  rate[41:60, type == "A" & batch == "b2"] <- 6
  counts <- matrix(rpois(genes * n, rate), genes,
                   dimnames = list(paste0("g", seq_len(genes)), paste0("c", seq_len(n))))
  list(data = concordR:::.log_normalize(Matrix::Matrix(counts, sparse = TRUE)), type = type, batch = batch)
}

# Distance between the batches' centroids within type A, over the type's spread.
batch_offset <- function(emb, d) {
  a <- unclass(emb)[d$type == "A", , drop = FALSE]
  b <- d$batch[d$type == "A"]
  gap <- colMeans(a[b == "b1", , drop = FALSE]) - colMeans(a[b == "b2", , drop = FALSE])
  sqrt(sum(gap^2)) / sqrt(sum(apply(a, 2, stats::var)))
}

# Trains without alignments and with `...`; the alignment must shrink type A's batch offset
# by half and keep type B, which the batch does not touch, apart from type A.
expect_type_effect_removed <- function(...) {
  d <- typed_batch_effect()
  run <- function(...) run_fast(d$data, group.by = d$batch, features = rownames(d$data), epochs = 6,
                                warmup.epochs = 1, min.steps = 120, seed = 2, ...)
  plain <- run(align.weight = 0, align.local.weight = 0)
  aligned <- run(...)
  expect_true(all(is.finite(aligned)))
  expect_lt(batch_offset(aligned, d), 0.5 * batch_offset(plain, d))
  centre <- function(e, t) colMeans(unclass(e)[d$type == t, , drop = FALSE])
  expect_gt(sqrt(sum((centre(aligned, "A") - centre(aligned, "B"))^2)),
            sqrt(sum(apply(unclass(aligned)[d$type == "A", ], 2, stats::var))))
  attr(aligned, "concord")$params
}

test_that("alignment within clusters removes a batch effect of one cell type", {
  params <- expect_type_effect_removed(align.weight = 20, align.clusters = 2, align.local.weight = 0)
  expect_equal(params$align_weight, 20)
})

test_that("alignment within neighbourhoods removes a batch effect of one cell type", {
  # Without the clusters' alignment, which with one cluster could not tell the types apart.
  params <- expect_type_effect_removed(align.weight = 0, align.local.weight = 50, align.local.share = 0.1)
  expect_equal(params$align_local_weight, 50)
})

test_that("alignment is refused with CLIP fusion, which trains no joint embedding", {
  m <- mm_data()
  clip <- function(...) run_fast(list(RNA = m$data, ADT = m$adt), group.by = m$meta$batch, fusion = "clip", ...)
  expect_error(clip(align.weight = 1), "'align.weight' aligns the joint embedding", fixed = TRUE)
  expect_error(clip(align.local.weight = 1), "'align.local.weight' aligns the joint embedding", fixed = TRUE)
})

test_that("batches are aligned within clusters and neighbourhoods by default, not with CLIP fusion, and one batch is left as it is", {
  m <- mm_data()
  weights <- function(e) unlist(attr(e, "concord")$params[c("align_weight", "align_local_weight")])
  emb <- run_fast(m$data, group.by = m$meta$batch, epochs = 3, warmup.epochs = 1)
  expect_true(all(is.finite(emb)))
  expect_equal(weights(emb), c(align_weight = 7, align_local_weight = 50))
  clip <- run_fast(list(RNA = m$data, ADT = m$adt), group.by = m$meta$batch, fusion = "clip")
  expect_equal(weights(clip), c(align_weight = 0, align_local_weight = 0))
  one <- run_fast(m$data, epochs = 3, warmup.epochs = 1, seed = 3)
  off <- run_fast(m$data, epochs = 3, warmup.epochs = 1, seed = 3, align.weight = 0, align.local.weight = 0)
  expect_equal(weights(one), c(align_weight = 7, align_local_weight = 50))
  expect_equal(unclass(one)[, ], unclass(off)[, ])
})

test_that("a model saved before the alignments existed fine-tunes without them", {
  d <- small_data()
  model <- GetConcordModel(run_fast(d$data, group.by = d$meta$batch, align.weight = 0, align.local.weight = 0))
  old <- model
  old$params$align_weight <- old$params$align_local_weight <- old$params$align_local_share <- NULL
  tune <- function(m) unclass(ProjectConcord(d$data, m, group.by = d$meta$batch, fine.tune.epochs = 1,
                                             threads = 1, verbose = FALSE))[, ]
  expect_equal(tune(old), tune(model))
})
