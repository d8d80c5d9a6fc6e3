# Hands a prepared matrix to the compiled trainer, with a progress bar and Ctrl-C.

.train_engine <- function(x, batch, params, verbose, initial.weights = NULL, classes = NULL) {
  .check_batch_sizes(batch)
  .check_training_memory(params, n.genes = nrow(x), n.cells = ncol(x))
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

# Bytes training is expected to hold at its peak, from the model's shape: every parameter
# with its gradient and Adam's two moments (and the sparse path's weight gradient), the
# activations of both views of a mini-batch with their gradients, the 2B x 2B logits, and
# the embedding returned to R. An estimate, to stop absurd sizes with a clear message
# instead of an allocation failure deep in LibTorch.
.training_bytes <- function(params, n.genes, n.cells) {
  widths <- function(dims) {
    dims <- as.numeric(dims)  # products of widths overflow integers
    sum(dims[-1] + dims[-length(dims)] * dims[-1] + 2 * dims[-1])
  }
  encoder <- widths(c(n.genes, params$encoder_dims, params$latent_dim))
  decoder <- if (isTRUE(params$decoder)) {
    widths(c(params$latent_dim + 8, params$decoder_dims, n.genes)) + 8 * params$n_domains
  } else 0
  classifier <- params$latent_dim * (params$n_classes + 1)
  batch <- min(params$batch_size, n.cells)
  activations <- batch * (n.genes + sum(params$encoder_dims) + params$latent_dim +
                            if (isTRUE(params$decoder)) sum(params$decoder_dims) + n.genes else 0)
  4 * (5 * (encoder + decoder + classifier) + 8 * activations + 3 * (2 * batch)^2) +
    12 * n.cells * params$latent_dim
}

# Memory this process may still take: MemAvailable, capped by a cgroup v2 limit; NA
# where neither can be read (not Linux).
.available_memory <- function() {
  read <- function(path) tryCatch(readLines(path, warn = FALSE), error = function(e) character(0))
  info <- read("/proc/meminfo")
  line <- grep("^MemAvailable:", info, value = TRUE)
  free <- if (length(line)) as.numeric(gsub("[^0-9]", "", line)) * 1024 else NA_real_
  limit <- suppressWarnings(as.numeric(read("/sys/fs/cgroup/memory.max")))
  used <- suppressWarnings(as.numeric(read("/sys/fs/cgroup/memory.current")))
  if (length(limit) == 1L && !is.na(limit) && length(used) == 1L && !is.na(used)) {
    free <- min(free, limit - used, na.rm = TRUE)
  }
  free
}

.check_training_memory <- function(params, n.genes, n.cells) {
  need <- .training_bytes(params, n.genes, n.cells)
  free <- .available_memory()
  if (!is.na(free) && need > free) {
    gb <- function(b) format(signif(b / 2^30, 3), scientific = FALSE)
    .stop("training this model needs about ", gb(need), " GB of memory (latent.dim = ",
          params$latent_dim, ", encoder.dims = ", paste(params$encoder_dims, collapse = ", "),
          if (isTRUE(params$decoder)) paste0(", decoder.dims = ", paste(params$decoder_dims, collapse = ", ")),
          ", batch.size = ", params$batch_size, ", ", n.genes, " features, ", n.cells,
          " cells), more than the ", gb(free), " GB available. Use a smaller latent.dim, ",
          "encoder.dims, decoder.dims or batch.size, or fewer features.")
  }
  invisible(need)
}
