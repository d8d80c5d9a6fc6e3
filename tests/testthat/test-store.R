# The engine-side training input (R/store.R): built from an R matrix or a file a block of
# cells at a time, it must hold exactly what the R-prepared matrix holds.

store_fast <- list(latent.dim = 8, encoder.dims = 32, epochs = 1, min.steps = 0, batch.size = 64,
                   threads = 1, verbose = FALSE, seed = 5)
run_store <- function(object, ...) do.call(RunConcord, c(list(object), utils::modifyList(store_fast, list(...))))

test_that("training on the store equals training on the matrix prepared in R", {
  d <- small_data()
  prepared <- concordR:::.prepare_expression(d$counts, features = NULL, verbose = FALSE)
  expect_equal(nrow(prepared), 300)
  from.counts <- run_store(d$counts, group.by = d$meta$batch)
  # Log-normalized values are stored as given, in the variable genes' order.
  from.prepared <- run_store(prepared, group.by = d$meta$batch, features = rownames(prepared))
  expect_identical(unclass(from.counts)[, ], unclass(from.prepared)[, ])
  expect_identical(attr(from.counts, "concord")$features, rownames(prepared))
  expect_identical(attr(from.counts, "concord")$model$input, attr(prepared, "input"))
  # Fewer variable genes than features: the store is a subset in score order.
  input <- concordR:::.prepare_store(d$counts, features = rownames(d$counts)[c(40, 3, 17)], verbose = FALSE)
  expect_s3_class(input, "concord_input")
  expect_identical(dim(input), c(3L, ncol(d$counts)))
  expect_identical(dimnames(input), list(rownames(d$counts)[c(40, 3, 17)], colnames(d$counts)))
  # Training frees the store when it is done; a freed store cannot be trained on again.
  concordR:::.release_input(input)
  expect_error(concordR:::.concord_train(input$store, integer(ncol(d$counts)), list(), NULL),
               "no longer available")
})

test_that("the scan finds counts, variable genes and values training cannot use", {
  d <- small_data()
  scan <- concordR:::.scan_input(d$counts, verbose = FALSE)
  expect_true(scan$counts)
  # The moments are those of the log-normalized values.
  expect_equal(scan$moments$mean, unname(Matrix::rowMeans(d$data)))
  expect_equal(scan$moments$var, unname(apply(as.matrix(d$data), 1, stats::var)))
  expect_false(concordR:::.scan_input(d$data, verbose = FALSE)$counts)
  expect_message(concordR:::.scan_input(d$counts, verbose = TRUE), "looks like raw counts")
  bad <- d$counts
  bad@x[7] <- NaN
  expect_error(run_store(bad), "1 non-finite value\\(s\\)")
  bad@x[7] <- -1
  expect_error(run_store(bad), "negative values")
  bad@x[7] <- 1e39
  expect_error(run_store(bad), "above 3.4e38.*the largest is 1e\\+39")
})

test_that("a distributed rank's store holds only its share, with the features of all cells", {
  d <- small_data()
  cells <- seq(2L, ncol(d$counts), by = 3L)
  share <- concordR:::.prepare_store(d$counts, features = NULL, verbose = FALSE, cells = cells)
  whole <- concordR:::.prepare_store(d$counts, features = NULL, verbose = FALSE)
  # The shape and names stay the input's, and the variable genes are those of every cell.
  expect_identical(dim(share), dim(whole))
  expect_identical(dimnames(share), dimnames(whole))
  apart <- concordR:::.prepare_store(d$counts[, cells], features = rownames(whole), verbose = FALSE)
  # Same cells in the store: the same training, bit for bit.
  params <- attr(run_store(d$counts[, cells], group.by = d$meta$batch[cells]), "concord")$params
  train <- function(input) {
    concordR:::.concord_train(input$store, as.integer(factor(d$meta$batch[cells])) - 1L, params, NULL)$embedding
  }
  expect_identical(train(share), train(apart))
  # Blocks that start past 0 (files) and cells split across blocks are cut the same way.
  b <- concordR:::.block_cells(c(5L, 7L, 7L, 10L), c(1L, 2L, 3L, 4L, 5L), c(1, 2, 3, 4, 5), c(1L, 3L))
  expect_identical(b, list(p = c(0L, 2L, 5L), i = 1:5, v = c(1, 2, 3, 4, 5)))
  b <- concordR:::.block_cells(c(5L, 7L, 7L, 10L), 1:5, c(1, 2, 3, 4, 5), 2:3)
  expect_identical(b, list(p = c(0L, 0L, 3L), i = 3:5, v = c(3, 4, 5)))
})
