# The augment argument of RunSSL: its checks, and the engine's views on real data.

test_that("the default is the CLEAR pipeline of the SSL benchmark", {
  steps <- concordR:::.ssl_augment(concordR:::.ssl_augment_default(), has.groups = FALSE)
  expect_equal(vapply(steps, `[[`, "", "kind"), c("mask", "gaussian", "innerswap", "crossover"))
  expect_equal(vapply(steps, `[[`, 0, "p"), rep(0.5, 4))
  expect_equal(vapply(steps, `[[`, 0, "strength"), c(0.2, 0.2, 0.1, 0.25))
  expect_equal(steps[[2]]$share, 0.8)
  expect_equal(concordR:::.ssl_augment("clear", has.groups = FALSE), steps)
})

test_that("settings left out take the benchmark's values; names alone are accepted", {
  steps <- concordR:::.ssl_augment(list(mnn = list(k = 3), mask = list(strength = 0.4)), has.groups = TRUE)
  expect_equal(steps[[1]][c("kind", "p", "strength", "k")], list(kind = "mnn", p = 0.5, strength = 0.5, k = 3L))
  expect_equal(steps[[2]][c("kind", "p", "strength")], list(kind = "mask", p = 0.5, strength = 0.4))
  expect_equal(concordR:::.ssl_augment(c("mask", "crossover"), FALSE),
               concordR:::.ssl_augment(list(mask = list(), crossover = list()), FALSE))
  expect_equal(concordR:::.ssl_augment(NULL, FALSE), list())
  expect_equal(concordR:::.ssl_augment(list(), FALSE), list())
})

test_that("bad augment settings give clear errors", {
  a <- concordR:::.ssl_augment
  expect_error(a(list(blur = list()), FALSE), 'unknown augmentation\\(s\\) in \'augment\': "blur"; known: mask')
  expect_error(a(c("mask", "swap"), FALSE), '"swap"')
  expect_error(a(list(list(p = 0.5)), FALSE), "'augment' must be \"clear\", a named list")
  expect_error(a(42, FALSE), "'augment' must be \"clear\", a named list")
  expect_error(a(list(mask = list(p = 1.5)), FALSE), "'augment\\$mask\\$p' is a probability and must lie in \\[0, 1\\]")
  expect_error(a(list(mask = list(p = -0.1)), FALSE), "augment\\$mask\\$p")
  expect_error(a(list(mask = list(strength = 2)), FALSE), "'augment\\$mask\\$strength' must be a number >= 0 and <= 1")
  expect_error(a(list(gaussian = list(sigma = -1)), FALSE), "'augment\\$gaussian\\$sigma' must be a number >= 0")
  expect_error(a(list(gaussian = list(share = 1.2)), FALSE), "augment\\$gaussian\\$share")
  expect_error(a(list(bbknn = list(k = 0)), TRUE), "'augment\\$bbknn\\$k' must be a whole number >= 1")
  expect_error(a(list(mnn = list(alpha = 2)), TRUE), "augment\\$mnn\\$alpha")
  expect_error(a(list(mask = list(sigma = 0.2)), FALSE), "unknown setting\\(s\\) for the mask augmentation: sigma")
  expect_error(a(list(mask = 0.2), FALSE), "augment\\$mask must be a named list of settings")
  expect_error(a(list(mask = list(), mask = list()), FALSE), "at most once; repeated: mask")
  expect_error(a(list(mnn = list()), FALSE), "the mnn augmentation needs batches: give 'group.by'")
  expect_error(a(c("bbknn", "mnn"), FALSE), "the bbknn and mnn augmentations need batches")
  expect_error(a(c("mask", "mnn"), TRUE), "the mnn augmentation must come first")
})

test_that("the engine's views: p = 0 changes nothing, views follow the seed", {
  d <- small_data()
  domains <- as.integer(factor(d$meta$batch)) - 1L
  cells <- seq_len(ncol(d$data))
  view <- function(augment, seed = 1, which = 0L, has.groups = TRUE) {
    v <- concordR:::.concord_augment_view(d$data, domains, concordR:::.ssl_augment(augment, has.groups),
                                          cells, seed, which, 1L)
    expect_named(attr(v, "seconds"), c("prepare", "view"))
    attr(v, "seconds") <- NULL
    v
  }
  all_off <- lapply(concordR:::.ssl_augment_settings, function(s) utils::modifyList(s, list(p = 0)))
  all_off <- all_off[c("mnn", setdiff(names(all_off), "mnn"))]
  # Views are single precision, as the model reads them.
  expect_equal(as.matrix(view(all_off)), as.matrix(d$data), ignore_attr = TRUE, tolerance = 1e-6)
  clear <- concordR:::.ssl_augment_default()
  expect_identical(view(clear, seed = 3), view(clear, seed = 3))
  expect_false(identical(view(clear, seed = 3), view(clear, seed = 4)))
  # Masking at p = 1 zeroes 20% of all genes, so a cell keeps about 80% of its values.
  masked <- view(list(mask = list(p = 1)))
  expect_lt(abs(sum(masked != 0) / sum(d$data != 0) - 0.8), 0.02)
  # The engine's own check reaches R as a plain error.
  expect_error(concordR:::.concord_augment_view(d$data, integer(0), concordR:::.ssl_augment("mnn", TRUE),
                                                cells, 1, 0L, 1L),
               "^the mnn and bbknn augmentations need at least two batches$")
})

test_that("BBKNN views on real data take each gene from the cell or one other cell", {
  d <- small_data()
  domains <- as.integer(factor(d$meta$batch)) - 1L
  steps <- concordR:::.ssl_augment(list(bbknn = list(p = 1, alpha = 0.5, k = 3)), has.groups = TRUE)
  x <- as.matrix(d$data)
  v <- as.matrix(concordR:::.concord_augment_view(d$data, domains, steps, seq_len(ncol(x)), 5, 0L, 1L))
  changed <- which(colSums(abs(v - x)) > 0)
  expect_gt(length(changed), 0.9 * ncol(x))
  for (c in changed) {
    moved <- abs(v[, c] - x[, c]) > 1e-6
    # Some other cell holds exactly the view's values on every gene that moved.
    fits <- colSums(abs(x[moved, -c, drop = FALSE] - v[moved, c]) < 1e-5) == sum(moved)
    expect_true(any(fits))
  }
})
