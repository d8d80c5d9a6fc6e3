# The hyperparameters of RunConcord(), checked and turned into the engine's options.

.concord_params <- function(latent.dim, encoder.dims, epochs, batch.size, lr, decay.rate,
                            temperature, beta, element.mask, feature.mask, p.intra.knn,
                            p.intra.domain, knn.k, knn.metric, warmup.epochs, min.steps,
                            norm, dropout, seed, threads, device, class.weight = 1,
                            use.decoder = FALSE, decoder.dims = 1000, decoder.weight = 1,
                            weight.decay = 0, align.weight = 0, align.clusters = 20,
                            align.local.weight = 0, align.local.share = 0.03) {
  .check_number(latent.dim, "latent.dim", lower = 1, upper = .max_width, integer = TRUE)
  .check_widths(encoder.dims, "encoder.dims", "hidden layer widths), or integer(0) for no hidden layer")
  .check_number(epochs, "epochs", lower = 0, upper = .max_count, integer = TRUE)
  .check_number(batch.size, "batch.size", lower = 4, upper = .max_count, integer = TRUE)
  .check_number(lr, "lr", lower = 0, lower.open = TRUE)
  .check_number(weight.decay, "weight.decay", lower = 0)
  .check_number(decay.rate, "decay.rate", lower = 0, upper = 1, lower.open = TRUE)
  .check_number(temperature, "temperature", lower = 0, lower.open = TRUE)
  .check_number(beta, "beta", lower = 0)
  .check_number(align.weight, "align.weight", lower = 0)
  .check_number(align.clusters, "align.clusters", lower = 1, upper = .max_count, integer = TRUE)
  .check_number(align.local.weight, "align.local.weight", lower = 0)
  .check_number(align.local.share, "align.local.share", lower = 0, upper = 1, lower.open = TRUE)
  .check_mask(element.mask, "element.mask")
  .check_mask(feature.mask, "feature.mask")
  .check_probability(p.intra.knn, "p.intra.knn")
  .check_probability(p.intra.domain, "p.intra.domain")
  if (!is.null(knn.k)) .check_number(knn.k, "knn.k", lower = 1, upper = .max_count, integer = TRUE)
  knn.metric <- .match_choice(knn.metric, c("euclidean", "cosine"), "knn.metric")
  .check_number(warmup.epochs, "warmup.epochs", lower = 0, upper = .max_count, integer = TRUE)
  if (p.intra.knn > 0 && warmup.epochs >= epochs) {
    .stop("kNN sampling (p.intra.knn = ", p.intra.knn, ") starts after 'warmup.epochs' = ",
          warmup.epochs, ", but training has only 'epochs' = ", epochs, ", so it would never ",
          "take effect. Raise 'epochs' above 'warmup.epochs', lower 'warmup.epochs', or set ",
          "p.intra.knn = 0.")
  }
  .check_number(min.steps, "min.steps", lower = 0, upper = .max_count, integer = TRUE)
  norm <- .match_choice(norm, c("layer", "batch", "none"), "norm")
  .check_number(dropout, "dropout", lower = 0, upper = 1)
  if (dropout >= 1) .stop("'dropout' must be below 1 (1 would drop every unit); got ", dropout, ".")
  .check_number(seed, "seed", lower = 0, upper = 2^53, integer = TRUE)
  .check_number(class.weight, "class.weight", lower = 0)
  .check_flag(use.decoder, "use.decoder")
  .check_number(decoder.weight, "decoder.weight", lower = 0)
  .check_widths(decoder.dims, "decoder.dims", "decoder hidden layer widths)")
  threads <- .resolve_threads(threads)
  device <- .resolve_device(device)

  list(
    latent_dim = as.integer(latent.dim), encoder_dims = as.integer(encoder.dims),
    norm = norm, dropout = as.numeric(dropout), batch_size = as.integer(batch.size),
    p_intra_knn = as.numeric(p.intra.knn), p_intra_domain = as.numeric(p.intra.domain),
    knn_metric = knn.metric, epochs = as.integer(epochs), lr = as.numeric(lr),
    weight_decay = as.numeric(weight.decay),
    lr_decay = as.numeric(decay.rate), temperature = as.numeric(temperature),
    beta = as.numeric(beta), align_weight = as.numeric(align.weight),
    align_clusters = as.integer(align.clusters), align_local_weight = as.numeric(align.local.weight),
    align_local_share = as.numeric(align.local.share), element_mask = as.numeric(element.mask),
    feature_mask = as.numeric(feature.mask), classifier_weight = as.numeric(class.weight),
    n_classes = 0L, decoder = use.decoder, decoder_dims = as.integer(decoder.dims),
    decoder_weight = as.numeric(decoder.weight), n_domains = 0L,
    knn_k = if (is.null(knn.k)) 0L else as.integer(knn.k),
    warmup_epochs = as.integer(warmup.epochs), min_steps = as.integer(min.steps),
    seed = as.numeric(seed),
    threads = threads,
    device = device
  )
}

# Upper bounds of the whole-number arguments: each fits a C int, and a layer wider than
# .max_width would hold more weights than any single-cell model needs (memory is checked
# separately, once the number of features is known).
.max_count <- .Machine$integer.max
.max_width <- 1e5
.max_threads <- 4096

# A thread count checked and resolved: NULL means every CPU the process may use.
.resolve_threads <- function(threads) {
  if (is.null(threads)) return(.concord_resolve_threads(0L))
  .check_number(threads, "threads", lower = 1, upper = .max_threads, integer = TRUE)
  as.integer(threads)
}

.check_widths <- function(x, name, what) {
  if (!(is.numeric(x) && all(!is.na(x)) && all(x >= 1) && all(x <= .max_width) &&
        all(x == round(x)))) {
    .stop("'", name, "' must be a vector of whole numbers in [1, ", format(.max_width, scientific = FALSE),
          "] (", what, "; got ", if (length(x) == 1L) .show(x) else paste(format(x), collapse = ", "), ".")
  }
  invisible(x)
}

# A mask probability of 1 would empty every augmented view, so nothing could be learnt.
.check_mask <- function(x, name) {
  if (!(is.numeric(x) && length(x) == 1L && !is.na(x) && x >= 0 && x < 1)) {
    .stop("'", name, "' is a probability of masking and must lie in [0, 1) (1 would mask ",
          "everything); got ", .show(x), ".")
  }
  invisible(x)
}

.match_choice <- function(x, choices, name) {
  if (is.character(x) && length(x) == length(choices) && all(x == choices)) return(choices[1])
  if (!(is.character(x) && length(x) == 1L && x %in% choices)) {
    .stop("'", name, "' must be one of ", paste0('"', choices, '"', collapse = ", "),
          "; got ", .show(x), ".")
  }
  x
}

.resolve_device <- function(device) {
  device <- .match_choice(device, c("auto", "cpu", "cuda"), "device")
  cuda <- .concord_cuda_available()
  if (device == "cuda" && !cuda) {
    .stop("device = \"cuda\" was requested, but this concordR was built against a LibTorch ",
          "without CUDA (or no GPU is visible). Use device = \"cpu\", or reinstall concordR with ",
          "LIBTORCH_HOME pointing to a CUDA build of LibTorch.")
  }
  if (device == "auto") device <- if (cuda) "cuda" else "cpu"
  device
}
