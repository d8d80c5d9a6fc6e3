#' Run scCRAFT: a variational autoencoder with a batch discriminator and dual-resolution
#' triplets
#'
#' Trains scCRAFT (He et al.) on the cells' log-normalized expression and returns the
#' mean of each cell's latent posterior. The encoder (features -> 1024 -> 512, batch norm
#' and ReLU) gives a 256-dimensional Gaussian latent; the decoder adds a pathway from the
#' batch code alone to one from the latent and batch code, and models the expression with
#' a negative binomial continued to real values, plus a cosine reconstruction loss
#' (weight 20) and a KL term (weight 0.005). A batch discriminator on the latent sample
#' is updated 10 times per step; after `warmup.epochs` the autoencoder maximises its
#' cross-entropy with weight 0.2. The triplet loss (weight 1, margin 5) keeps each
#' batch's own structure: Leiden clusters are found within each batch before training at
#' a low resolution (0.2) and, inside each of those, at a high one (7); an anchor's
#' positive comes from its high-resolution cluster and its negative from another
#' low-resolution cluster of the same batch. Trusted annotations can replace either
#' level (`low.res.labels`, `high.res.labels`), as the paper suggests.
#'
#' The low resolution is the paper's setting for simple annotations (0.2), not its
#' general default (0.5): the margin holds different low-resolution clusters apart, so a
#' cell type split at the low resolution is torn into islands. At 0.5, kang_ctrl_5donors'
#' CD4 T cells fell into two or three clusters per donor and stayed three separate groups
#' in the embedding (ARI 0.65; bench/README.md). Raise `resolution[1]` for data with
#' finely divided cell types, where 0.2 may merge types that should be kept apart.
#'
#' Mini-batches of 512 cells hold about equal numbers from every batch; an epoch draws
#' 512 cells per batch (small batches are drawn with replacement), as the reference;
#' Adam with learning rate 1e-3, 150 epochs. Departures: the embedding is the latent
#' mean (the reference takes one posterior sample and reduces it to 50 principal
#' components); mini-batches of 512 rather than the reference's 1024 (its two-batch
#' shuffles of 512 per batch); the clusters are found within each batch, the high
#' resolution inside each low-resolution cluster, as the paper describes, where the
#' reference code clusters all cells together once per resolution (`cluster.within =
#' "all"`); each triplet's positive is drawn from the anchor's high-resolution cluster,
#' where the reference draws random pairs of a low-resolution cluster and keeps only
#' those that share a high-resolution one; the encoder's layers start Kaiming-normal
#' (the reference: PyTorch's default); the decoder's exponentials are capped at exp(15).
#'
#' @param group.by Batch of each cell (a metadata column name, or one label per cell).
#' @param low.res.labels,high.res.labels Optional labels per cell (metadata column names
#'   or vectors) replacing the low- or high-resolution clusters; `NA` keeps a cell out of
#'   the triplets. Only cells of the same batch are compared.
#' @param resolution Leiden resolutions of the low- and high-resolution clusters (see
#'   Details for the low one).
#' @param cluster.within `"batch"`: cluster each batch on its own graph, the high
#'   resolution inside each low-resolution cluster (the paper); `"all"`: one graph of all
#'   cells clustered once at each resolution (the reference code). Triplets are formed
#'   within batches either way.
#' @param adversarial Train the batch discriminator against the encoder (`FALSE` leaves
#'   only the decoder's batch code and the triplets).
#' @param latent.dim Dimensions of the latent space (the embedding).
#' @param encoder.dims Widths of the encoder's hidden layers.
#' @param warmup.epochs Epochs before the adversarial term enters the loss.
#' @param kl.weight,cosine.weight,triplet.weight,adversary.weight Weights of the KL,
#'   cosine reconstruction, triplet and (maximised) discriminator losses.
#' @param triplet.margin Margin of the triplet loss.
#' @param discriminator.steps Discriminator updates per autoencoder update.
#' @param decode Return the decoder's expression (the negative binomial mean, on the
#'   log-normalized scale) of every cell decoded as if from `decode.batch`, as a new
#'   assay ("corrected"; an altExp for a SingleCellExperiment).
#' @param decode.batch The batch every cell is decoded as (default: the first level).
#' @param reduction.key Prefix of the embedding's column names.
#' @param object A Seurat object, a SingleCellExperiment, or a features x cells matrix
#'   or `dgCMatrix` (default method). File paths are read by RunConcord() only.
#' @inheritParams RunSSL
#' @inheritParams RunConcord
#' @return As [RunConcord()]: a Seurat object with a DimReduc (default name
#'   `"sccraft"`), a SingleCellExperiment with a reducedDim (`"SCCRAFT"`), or the cells x
#'   `latent.dim` matrix with the model in `attr(, "concord")`.
#' @seealso [RunBAscVI()], [RunConcord()], [EvaluateEmbedding()]
#' @export
#' @examples
#' data <- readRDS(system.file("extdata", "kang_ifnb.rds", package = "concordR"))
#' emb <- RunSCCRAFT(data$counts, group.by = data$meta$batch, epochs = 2, warmup.epochs = 1,
#'                   latent.dim = 16, threads = 1, verbose = FALSE)
#' dim(emb)
RunSCCRAFT <- function(object, ...) UseMethod("RunSCCRAFT")

#' @rdname RunSCCRAFT
#' @export
RunSCCRAFT.default <- function(object, group.by = NULL, features = NULL, low.res.labels = NULL,
                               high.res.labels = NULL, resolution = c(0.2, 7),
                               cluster.within = c("batch", "all"),
                               adversarial = TRUE, latent.dim = 256, encoder.dims = c(1024, 512),
                               epochs = 150, warmup.epochs = 50, batch.size = 512, lr = 1e-3,
                               kl.weight = 0.005, cosine.weight = 20, triplet.weight = 1,
                               triplet.margin = 5, adversary.weight = 0.2,
                               discriminator.steps = 10, decode = FALSE, decode.batch = NULL,
                               seed = 0, threads = NULL, device = c("auto", "cpu", "cuda"),
                               verbose = TRUE, reduction.key = "SCCRAFT_", ...) {
  .check_dots(..., fun = "RunSCCRAFT")
  cluster.within <- .match_choice(cluster.within, c("batch", "all"), "cluster.within")
  .check_flag(adversarial, "adversarial")
  .check_flag(verbose, "verbose")
  .check_flag(decode, "decode")
  .check_string(reduction.key, "reduction.key")
  .check_widths(encoder.dims, "encoder.dims", "encoder hidden layer widths)")
  if (!(is.numeric(resolution) && length(resolution) == 2L && all(is.finite(resolution)) && all(resolution > 0))) {
    .stop("'resolution' must be two positive numbers (the low and the high Leiden resolution); got ",
          .show(resolution), ".")
  }
  .check_number(warmup.epochs, "warmup.epochs", lower = 0, upper = .max_count, integer = TRUE)
  for (w in c("kl.weight", "cosine.weight", "triplet.weight", "triplet.margin", "adversary.weight")) {
    .check_number(get(w), w, lower = 0)
  }
  .check_number(discriminator.steps, "discriminator.steps", lower = 1, upper = 1000, integer = TRUE)
  n.cells <- .n_cells(object)
  batch <- .batch_labels(group.by, meta = NULL, n.cells = n.cells)
  if (adversarial) .check_adversary_batches(batch, "scCRAFT")
  low <- .optional_labels(low.res.labels, "low.res.labels", n.cells)
  high <- .optional_labels(high.res.labels, "high.res.labels", n.cells)
  decode.as <- .decode_batch(decode.batch, batch, decode)
  threads <- .resolve_threads(threads)
  x <- .prepare_expression(object, features, verbose)
  if (verbose && (is.null(low) || is.null(high))) message("Clustering each batch for the triplet loss (Leiden).")
  labels <- .sccraft_labels(x, batch, low, high, resolution, seed, threads, cluster.within)
  params <- .vae_params(
    "sccraft", trunk.dims = encoder.dims, latent.dim = latent.dim, epochs = epochs,
    batch.size = batch.size, lr = lr, dropout = 0, min.steps = 0, seed = seed,
    threads = threads, device = device, n.batches = nlevels(batch), sampler = "balanced",
    adversarial = adversarial, adversary_weight = as.numeric(adversary.weight),
    adversary_warmup_epochs = as.integer(warmup.epochs), discriminator_lr = as.numeric(lr),
    discriminator_weight_decay = 0, discriminator_steps = as.integer(discriminator.steps),
    kl_weight = as.numeric(kl.weight), cosine_weight = as.numeric(cosine.weight),
    triplet_weight = as.numeric(triplet.weight), triplet_margin = as.numeric(triplet.margin),
    n_high = attr(labels, "n.high")
  )
  emb <- .train_embedding(x, batch, NULL, params, verbose, reduction.key, prepare = FALSE,
                          labels = as.integer(labels))
  if (decode) emb <- .add_decoded(emb, x, decode.as, params$threads)
  emb
}

#' @rdname RunSCCRAFT
#' @param assay Assay to read (see [RunConcord()]).
#' @param slot Seurat slot to read: `"data"` (log-normalized, default) or `"counts"`
#'   (log-normalized first).
#' @param reduction.name Name under which the embedding is stored.
#' @export
RunSCCRAFT.Seurat <- function(object, group.by = NULL, features = NULL, low.res.labels = NULL,
                              high.res.labels = NULL, assay = NULL, slot = "data",
                              reduction.name = "sccraft", reduction.key = "SCCRAFT_",
                              verbose = TRUE, ...) {
  assay <- .seurat_assay(object, assay)
  meta <- object[[]]
  object <- .run_seurat(object, RunSCCRAFT.default, group.by = group.by, features = features,
                        assay = assay, slot = slot, reduction.name = reduction.name,
                        reduction.key = reduction.key, verbose = verbose,
                        low.res.labels = .optional_labels(low.res.labels, "low.res.labels", ncol(object), meta),
                        high.res.labels = .optional_labels(high.res.labels, "high.res.labels", ncol(object), meta),
                        ...)
  SeuratObject::LogSeuratCommand(object)
}

#' @rdname RunSCCRAFT
#' @export
RunSCCRAFT.SingleCellExperiment <- function(object, group.by = NULL, features = NULL,
                                            low.res.labels = NULL, high.res.labels = NULL,
                                            assay = NULL, reduction.name = "SCCRAFT",
                                            reduction.key = "SCCRAFT_", verbose = TRUE, ...) {
  meta <- as.data.frame(SummarizedExperiment::colData(object))
  .run_sce(object, RunSCCRAFT.default, group.by = group.by, features = features, assay = assay,
           reduction.name = reduction.name, reduction.key = reduction.key, verbose = verbose,
           low.res.labels = .optional_labels(low.res.labels, "low.res.labels", ncol(object), meta),
           high.res.labels = .optional_labels(high.res.labels, "high.res.labels", ncol(object), meta),
           ...)
}

# Optional per-cell labels as a factor (NA allowed), or NULL.
.optional_labels <- function(x, name, n.cells, meta = NULL) {
  if (is.null(x)) return(NULL)
  x <- .cell_values(x, name, meta, n.cells)
  if (all(is.na(x))) .stop("'", name, "' holds no label (all NA); give labels or leave it NULL.")
  droplevels(as.factor(x))
}

# Each cell's triplet label, low * n.high + high (0-based; -1 for none), with n.high in
# attr(, "n.high"). Missing levels come from Leiden on a kNN graph (50 principal
# components, 15 neighbours, scanpy's fuzzy weights). within = "batch": each batch's own
# graph, low-resolution clusters of the batch, then high-resolution clusters inside each
# low-resolution one. within = "all": one graph of all cells, clustered once at each
# resolution (the reference code's multi_resolution_cluster); the engine still forms
# triplets within batches only.
.sccraft_labels <- function(x, batch, low, high, resolution, seed, threads, within = "batch") {
  n <- ncol(x)
  low.code <- if (is.null(low)) rep(NA_integer_, n) else as.integer(low)
  high.code <- if (is.null(high)) rep(NA_integer_, n) else as.integer(high)
  graph_of <- function(cells) {
    k <- min(15L, length(cells) - 1L)
    space <- .principal_components(Matrix::t(x[, cells, drop = FALSE]), 50L)$x
    .fuzzy_graph(.knn_graph(space, k, threads), k)
  }
  if ((is.null(low) || is.null(high)) && within == "all") {
    g <- graph_of(seq_len(n))
    if (is.null(low)) low.code <- .leiden(g, resolution[1], seed)
    if (is.null(high)) high.code <- .leiden(g, resolution[2], seed)
  } else if (is.null(low) || is.null(high)) {
    for (b in levels(batch)) {
      cells <- which(batch == b)
      if (length(cells) < 3L) next
      g <- graph_of(cells)
      if (is.null(low)) low.code[cells] <- .leiden(g, resolution[1], seed)
      if (is.null(high)) {
        groups <- split(seq_along(cells), low.code[cells])
        offset <- max(0L, high.code, na.rm = TRUE)
        for (members in groups) {
          sub <- if (length(members) >= 3L) .leiden(igraph::induced_subgraph(g, members), resolution[2], seed)
                 else rep(1L, length(members))
          high.code[cells[members]] <- offset + sub
          offset <- offset + max(sub)
        }
      }
    }
  }
  high.code <- as.integer(factor(high.code)) - 1L
  low.code <- as.integer(factor(low.code)) - 1L
  n.high <- max(1L, high.code + 1L, na.rm = TRUE)
  out <- ifelse(is.na(low.code) | is.na(high.code), -1L, low.code * n.high + high.code)
  attr(out, "n.high") <- as.integer(n.high)
  out
}
