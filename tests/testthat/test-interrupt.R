test_that("Ctrl-C stops training with an R interrupt and the session carries on", {
  skip_on_os("windows")
  d <- small_data()
  x <- concordR:::.prepare_expression(d$data, NULL, verbose = FALSE)
  batch <- factor(d$meta$batch)
  params <- do.call(concordR:::.concord_params, c(
    formals(concordR:::RunConcord.default)[c("lr", "decay.rate", "temperature", "beta", "element.mask",
                                             "feature.mask", "p.intra.knn", "p.intra.domain", "knn.k",
                                             "knn.metric", "warmup.epochs", "dropout", "seed")],
    list(latent.dim = 8, encoder.dims = 32, epochs = 50, batch.size = 64, min.steps = 0,
         norm = "layer", threads = 1, device = "cpu")))
  epochs.seen <- 0
  # The first epoch's progress callback sends SIGINT to this process, as Ctrl-C does.
  ctrl_c <- function(epoch, epochs, loss) {
    epochs.seen <<- epoch
    tools::pskill(Sys.getpid(), tools::SIGINT)
    Sys.sleep(0.2)
  }
  result <- tryCatch(concordR:::.concord_train(x, as.integer(batch) - 1L, params, ctrl_c),
                     interrupt = function(e) "interrupted")
  expect_identical(result, "interrupted")
  expect_lt(epochs.seen, 50)
  emb <- run_fast(d$data, group.by = d$meta$batch)
  expect_true(all(is.finite(emb)))
})
