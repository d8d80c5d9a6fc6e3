# Hands a prepared matrix to the compiled trainer, with a progress bar and Ctrl-C.

.train_engine <- function(x, batch, params, verbose, initial.weights = NULL, classes = NULL) {
  .check_batch_sizes(batch)
  loss <- NA_real_
  on.epoch <- NULL
  frame <- environment()
  if (verbose) {
    cli::cli_progress_bar(
      name = "CONCORD", total = params$epochs, clear = FALSE,
      .envir = frame,
      format = "{cli::pb_name} {cli::pb_bar} epoch {cli::pb_current}/{cli::pb_total} | loss {format(loss, digits = 4)} | {cli::pb_elapsed}"
    )
    on.epoch <- function(epoch, epochs, value) {
      loss <<- value
      cli::cli_progress_update(set = epoch, .envir = frame)
    }
  }
  started <- proc.time()[["elapsed"]]
  labels <- if (is.null(classes)) NULL else ifelse(is.na(classes), -1L, as.integer(classes) - 1L)
  fit <- .concord_train(x, as.integer(batch) - 1L, params, on.epoch, initial.weights, labels)
  if (verbose) cli::cli_progress_done(.envir = frame)
  fit$seconds <- proc.time()[["elapsed"]] - started
  fit
}
