test_that("RunConcord's defaults equal the engine's", {
  r <- formals(concordR:::RunConcord.default)
  e <- concordR:::.concord_engine_defaults()
  expect_equal(r$latent.dim, e$latent_dim)
  expect_equal(r$encoder.dims, e$encoder_dims)
  expect_equal(eval(r$norm)[1], e$norm)
  expect_equal(r$dropout, e$dropout)
  expect_equal(eval(r$fusion)[1], e$fusion)
  expect_equal(r$batch.size, e$batch_size)
  expect_equal(r$p.intra.knn, e$p_intra_knn)
  expect_equal(r$p.intra.domain, e$p_intra_domain)
  expect_equal(r$knn.metric, e$knn_metric)
  expect_equal(r$epochs, e$epochs)
  expect_equal(r$lr, e$lr)
  expect_equal(r$weight.decay, e$weight_decay)
  expect_null(r$align.weight)
  expect_equal(e$align_weight, 7)  # NULL in R: 7, or 0 with CLIP fusion
  expect_equal(r$align.clusters, e$align_clusters)
  expect_null(r$align.local.weight)
  expect_equal(e$align_local_weight, 50)  # NULL in R: 50, or 0 with CLIP fusion
  expect_equal(r$align.local.share, e$align_local_share)
  expect_equal(r$decay.rate, e$lr_decay)
  expect_equal(r$temperature, e$temperature)
  expect_equal(r$beta, e$beta)
  expect_equal(r$element.mask, e$element_mask)
  expect_equal(r$class.weight, e$classifier_weight)
  expect_equal(r$decoder.weight, e$decoder_weight)
  expect_equal(r$decoder.dims, e$decoder_dims)
  expect_equal(r$feature.mask, e$feature_mask)
  expect_null(r$knn.k)
  expect_equal(e$knn_k, 0L)  # 0 = automatic, NULL in R
  expect_equal(r$warmup.epochs, e$warmup_epochs)
  expect_equal(r$min.steps, e$min_steps)
  expect_equal(r$seed, e$seed)
  expect_null(r$threads)
  expect_equal(e$threads, 0L)  # 0 = every core, NULL in R
})

test_that("the reference CONCORD defaults are kept, but for the five measured changes", {
  r <- formals(concordR:::RunConcord.default)
  expect_equal(c(r$latent.dim, r$encoder.dims, r$batch.size, r$epochs), c(100, 1000, 256, 15))
  expect_equal(c(r$decay.rate, r$temperature), c(0.97^2, 0.4))
  # Departures, measured in bench/README.md: plain NT-Xent (reference beta = 1), a
  # minimum number of steps (the reference has none, i.e. min.steps = 0), a tenth of
  # the reference's learning rate (1e-2) and the alignments within clusters and
  # neighbourhoods (reference: none, align.weight = align.local.weight = 0; the defaults
  # NULL are 7 and 50, test above).
  expect_equal(c(r$beta, r$min.steps, r$lr), c(0, 400, 1e-3))
  expect_equal(c(r$element.mask, r$feature.mask, r$p.intra.knn, r$p.intra.domain), c(0.4, 0.3, 0, 1))
  expect_equal(r$weight.decay, 0)
  expect_equal(r$warmup.epochs, 2)
})

test_that("no argument name is a prefix of another", {
  for (f in list(concordR:::RunConcord.default, concordR:::RunConcord.Seurat,
                 concordR:::RunConcord.SingleCellExperiment)) {
    a <- setdiff(names(formals(f)), "...")
    for (x in a) expect_false(any(startsWith(setdiff(a, x), x)), info = x)
  }
  all.args <- unique(c(names(formals(concordR:::RunConcord.default)),
                       names(formals(concordR:::RunConcord.Seurat))))
  all.args <- setdiff(all.args, "...")
  for (x in all.args) expect_false(any(startsWith(setdiff(all.args, x), x)), info = x)
})
