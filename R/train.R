# The path every training verb (RunConcord, RunSSL) shares: read the user's object,
# prepare the expression, train in the engine with a progress bar and Ctrl-C, and write
# the embedding back.

# The assay a verb reads from a Seurat object: the default assay unless one is named.
# Verbs resolve it in their own frame, where LogSeuratCommand() looks for it.
.seurat_assay <- function(object, assay) {
  .require("SeuratObject", "to run on a Seurat object")
  assay <- if (is.null(assay)) SeuratObject::DefaultAssay(object) else assay
  .check_string(assay, "assay")
  assay
}

# Reads a Seurat object's expression and metadata, runs a verb's default method
# (`run`) on them, and stores the embedding as a DimReduc (with predicted classes and
# corrected expression when the verb made them). The verb's own Seurat method logs the
# command, so that the log names it.
# `modalities`: several assays to train on jointly (the first is `assay`).
.run_seurat <- function(object, run, group.by, features, assay, slot, reduction.name,
                        reduction.key, verbose, class.by = NULL, modalities = NULL, ...) {
  .check_string(slot, "slot")
  .check_string(reduction.name, "reduction.name")
  x <- if (length(modalities) > 1L) .seurat_modalities(object, modalities, slot) else
    .seurat_matrix(object, assay = assay, slot = slot)
  if (is.null(features)) {
    features <- SeuratObject::VariableFeatures(object, assay = assay)
    if (length(features) == 0L) features <- NULL
  }
  meta <- object[[]]
  batch <- .batch_labels(group.by, meta = meta, n.cells = ncol(object))
  args <- list(x, group.by = batch, features = features, reduction.key = reduction.key,
               verbose = verbose, ...)
  if (!is.null(class.by)) args$class.by <- .class_labels(class.by, meta = meta, n.cells = ncol(object))
  emb <- do.call(run, args)
  if (.other_rank(emb)) return(emb)
  misc <- attr(emb, "concord")
  attr(emb, "concord") <- NULL
  corrected <- misc$corrected
  misc$corrected <- NULL
  object[[reduction.name]] <- SeuratObject::CreateDimReducObject(
    embeddings = emb, key = .dimreduc_key(emb, reduction.key), assay = assay, misc = misc
  )
  if (!is.null(corrected)) object[["corrected"]] <- SeuratObject::CreateAssayObject(data = corrected)
  .store_classes(object, misc$classes)
}

# The same for a SingleCellExperiment: a reducedDim, with the information in
# metadata(x)$concord[[reduction.name]]. `altexps`: altExps trained on jointly with the
# main assay, one modality each.
.run_sce <- function(object, run, group.by, features, assay, reduction.name, reduction.key,
                     verbose, class.by = NULL, altexps = NULL, ...) {
  .require("SingleCellExperiment", "to run on a SingleCellExperiment")
  x <- if (length(altexps)) .sce_modalities(object, assay, altexps, .sce_main_name(object)) else
    .sce_matrix(object, assay)
  .check_string(reduction.name, "reduction.name")
  meta <- as.data.frame(SummarizedExperiment::colData(object))
  batch <- .batch_labels(group.by, meta = meta, n.cells = ncol(object))
  args <- list(x, group.by = batch, features = features, reduction.key = reduction.key,
               verbose = verbose, ...)
  if (!is.null(class.by)) args$class.by <- .class_labels(class.by, meta = meta, n.cells = ncol(object))
  emb <- do.call(run, args)
  if (.other_rank(emb)) return(invisible(emb))
  corrected <- attr(emb, "concord")$corrected
  attr(emb, "concord")$corrected <- NULL
  object <- .store_classes(.store_sce(object, emb, reduction.name), attr(emb, "concord")$classes)
  if (!is.null(corrected)) {
    SingleCellExperiment::altExp(object, "corrected") <-
      SingleCellExperiment::SingleCellExperiment(assays = list(logcounts = corrected))
  }
  object
}

# The key of a DimReduc: the prefix its column names were given.
.dimreduc_key <- function(emb, reduction.key) {
  if (is.null(reduction.key)) sub("[0-9]+$", "", colnames(emb)[1]) else reduction.key
}

.n_cells <- function(object) {
  n <- ncol(object)
  if (is.null(n)) .stop("expected a features x cells matrix; got an object of class ", class(object)[1], ".")
  n
}

# Trains on the features x cells input `object` with one batch label per cell and wraps
# the embedding (cells x latent, columns named by `reduction.key`) with the model and
# training record in attr(, "concord"). `prepare = FALSE` takes `object` as the engine's
# input as it is (a verb that prepared it itself); `labels` are per-cell integer labels
# for the method (-1: none).
# `distributed` (.resolve_distributed()) trains on this rank's share of the cells; rank
# 0's embedding then holds every cell, the other ranks' their own (attr(, "concord")$rank).
# Every rank scans all cells, so all choose the same features, and stores only its share.
# `feature.batch`: batches to rank variable genes within (.feature_batch()), NULL to rank
# them over all cells.
.train_embedding <- function(object, batch, features, params, verbose, reduction.key,
                             classes = NULL, prepare = TRUE, labels = NULL, distributed = NULL,
                             feature.batch = NULL) {
  x <- if (prepare) {
    .prepare_store(object, features, verbose, feature.batch, cells = .rank_cells(ncol(object), distributed))
  } else {
    object
  }
  fit <- .train_engine(x, batch, params, verbose, classes = classes, labels = labels,
                       distributed = distributed)
  .release_input(x)
  emb <- fit$embedding
  fit$embedding <- NULL  # one reference left, so naming it does not copy it
  dimnames(emb) <- list(colnames(x)[fit$cells], paste0(reduction.key, seq_len(ncol(emb))))
  model <- .new_model(fit$weights, features = rownames(x), params = params,
                      batches = levels(batch), input = attr(x, "input"), loss = fit$loss,
                      steps = fit$steps, n.cells = ncol(x), classes = levels(classes))
  attr(emb, "concord") <- list(
    model = model, params = params, loss = fit$loss, steps = fit$steps,
    seconds = fit$seconds, phase.seconds = fit$phases, features = rownames(x),
    batches = levels(batch)
  )
  if (!is.null(distributed)) {
    attr(emb, "concord")$rank <- distributed$rank
    attr(emb, "concord")$world.size <- distributed$world_size
  }
  emb
}


.train_engine <- function(x, batch, params, verbose, initial.weights = NULL, classes = NULL,
                          labels = NULL, distributed = NULL) {
  .check_batch_sizes(batch)
  .check_training_memory(params, n.genes = nrow(x), n.cells = ncol(x))
  loss <- NA_real_
  on.epoch <- NULL
  frame <- environment()
  if (verbose) {
    cli::cli_progress_bar(
      name = .method_label(params), total = params$epochs, clear = FALSE,
      .envir = frame,
      format = "{cli::pb_name} {cli::pb_bar} epoch {cli::pb_current}/{cli::pb_total} | loss {format(loss, digits = 4)} | {cli::pb_elapsed}"
    )
    on.epoch <- function(epoch, epochs, value) {
      loss <<- value
      cli::cli_progress_update(set = epoch, .envir = frame)
    }
  }
  started <- proc.time()[["elapsed"]]
  if (!is.null(classes)) labels <- ifelse(is.na(classes), -1L, as.integer(classes) - 1L)
  # One batch has nothing to align (RunConcord's `align.weight`, `align.local.weight`):
  # spare the alignments' passes (the model keeps the weights asked for).
  engine.params <- params
  if (nlevels(batch) < 2L) engine.params$align_weight <- engine.params$align_local_weight <- 0
  fit <- .concord_train(.engine_input(x), as.integer(batch) - 1L, engine.params, on.epoch, initial.weights,
                        labels, distributed)
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
  # Several modalities: one encoder each, the first layer F x (modalities * width).
  m <- max(1L, length(params$modality_features))
  encoder <- m * widths(c(n.genes, params$encoder_dims, params$latent_dim))
  decoder <- if (isTRUE(params$decoder)) {
    widths(c(params$latent_dim + 8, params$decoder_dims, n.genes)) + 8 * params$n_domains
  } else 0
  classifier <- params$latent_dim * (params$n_classes + 1)
  batch <- min(params$batch_size, n.cells)
  activations <- batch * (n.genes + m * (sum(params$encoder_dims) + params$latent_dim) +
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

# The method's name for messages: "CONCORD", "SimCLR", ...
.method_label <- function(params) {
  labels <- c(concord = "CONCORD", simclr = "SimCLR", moco = "MoCo", simsiam = "SimSiam",
              nnclr = "NNCLR", byol = "BYOL", vicreg = "VICReg", barlowtwins = "Barlow Twins",
              bascvi = "BA-scVI", sccraft = "scCRAFT", concerto = "Concerto",
              concerto_finetune = "Concerto fine-tuning")
  method <- if (is.null(params$method)) "concord" else params$method
  if (method == "bascvi" && isFALSE(params$adversarial)) return("scVI")
  unname(labels[method])
}
