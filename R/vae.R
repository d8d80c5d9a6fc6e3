# What the variational autoencoders (RunBAscVI, RunSCCRAFT) share on the R side: the
# raw-count input of the count likelihood, their engine options, and the decoded
# (batch-corrected) expression.

.input_log1p_counts <- "raw counts; the encoder reads log1p(counts), the likelihood the counts"

# Raw counts for a count likelihood: checked as any input, refused when they are not
# whole numbers (log-normalized data), and returned as log1p(counts) (what the encoder
# reads; the engine recovers the counts exactly). `lognorm` is the log-normalized copy,
# for choosing variable features.
.counts_input <- function(x, what) {
  lognorm <- .normalized_input(x, verbose = FALSE)
  if (!identical(attr(lognorm, "input"), .input_counts)) {
    .stop(what, " models raw counts (a zero-inflated negative binomial likelihood), but the ",
          "input holds non-integer values (log-normalized or scaled data?). Give the raw counts: ",
          "slot = \"counts\" (Seurat), assay = \"counts\" (SingleCellExperiment), or the count matrix.")
  }
  counts <- .as_dgc(x)
  dimnames(counts) <- dimnames(lognorm)
  counts@x <- log1p(counts@x)
  attr(counts, "input") <- .input_log1p_counts
  list(x = counts, lognorm = lognorm)
}

# The features x cells matrix a model of `method` embeds: log1p(counts) for scVI /
# BA-scVI, the usual log-normalized input otherwise.
.model_input <- function(x, params, verbose) {
  if (identical(params$method, "bascvi")) return(.counts_input(x, "a RunBAscVI model")$x)
  .normalized_input(x, verbose)
}

# The engine options of a VAE verb: the trunk (encoder_dims, latent_dim = trunk width,
# norm, dropout) and training as .concord_params checks them, plus the VAE's own.
.vae_params <- function(method, trunk.dims, latent.dim, epochs, batch.size, lr, dropout,
                        min.steps, seed, threads, device, n.batches, ...) {
  .check_number(latent.dim, "latent.dim", lower = 1, upper = .max_width, integer = TRUE)
  if (length(trunk.dims) < 1L) .stop("'encoder.dims' needs at least one hidden layer width.")
  params <- .concord_params(
    latent.dim = utils::tail(trunk.dims, 1), encoder.dims = utils::head(trunk.dims, -1),
    epochs = epochs, batch.size = batch.size, lr = lr, decay.rate = 1, temperature = 1,
    beta = 0, element.mask = 0, feature.mask = 0, p.intra.knn = 0, p.intra.domain = 1,
    knn.k = NULL, knn.metric = "euclidean", warmup.epochs = 0, min.steps = min.steps,
    norm = "batch", dropout = dropout, seed = seed, threads = threads, device = device
  )
  utils::modifyList(params, list(
    method = method, leaky_slope = 0, latent_activation = TRUE,
    vae_latent_dim = as.integer(latent.dim), vae_n_domains = as.integer(n.batches),
    n_domains = as.integer(n.batches), ...
  ))
}

# A single batch leaves a batch discriminator nothing to learn.
.check_adversary_batches <- function(batch, what) {
  if (nlevels(batch) < 2L) {
    .stop(what, "'s batch discriminator needs at least two batches, but 'group.by' gives ",
          if (nlevels(batch) == 1L) paste0("one ('", levels(batch), "')") else "none",
          ". Give 'group.by' with at least two batches, or set adversarial = FALSE.")
  }
}

# Features x cells expression decoded by a VAE model from the cells of `x` (its input,
# in the model's features) as if every cell came from batch `as`.
.decode_cells <- function(x, model, as, threads) {
  out <- .concord_decode_cells(x, model$weights, model$params, match(as, model$batches) - 1L, threads)
  dimnames(out) <- dimnames(x)
  out
}

# The decoder's expression of the training cells, decoded as batch `decode.as`, kept
# with the embedding for the object methods to store as the "corrected" assay.
.add_decoded <- function(emb, x, decode.as, threads) {
  info <- attr(emb, "concord")
  info$corrected <- .decode_cells(x, info$model, decode.as, threads)
  info$decode.batch <- decode.as
  attr(emb, "concord") <- info
  emb
}
