#' Run BA-scVI (batch-adversarial scVI) or plain scVI on raw counts
#'
#' Trains scVI's variational autoencoder on the cells' raw counts and returns the mean of
#' each cell's latent posterior. The encoder reads log1p(counts) through two layers of
#' 512 units (batch norm, ReLU, dropout 0.1) into a 10-dimensional Gaussian latent; the
#' decoder (two layers of 512) gives the scale (softmax over genes), zero-inflation and
#' per-gene dispersion of a zero-inflated negative binomial whose mean is scaled by the
#' cell's observed library size. The loss is the negative ELBO (ZINB reconstruction plus
#' the KL divergence to a standard normal).
#'
#' With `adversarial = TRUE` (BA-scVI, Ding et al.), no batch code enters the network;
#' instead two batch discriminators, on the latent mean and on the decoder's last hidden
#' layer, are trained to predict each cell's batch, and the autoencoder maximises their
#' cross-entropy with weight `adversary.weight` (beta = 10), in alternating steps
#' (discriminators first, Adam with learning rate 1e-2, weight decay 1e-5, eps 0.01).
#' With `adversarial = FALSE` it is plain scVI: the decoder reads the batch's one-hot
#' code in every layer and nothing else removes batch effects.
#'
#' Defaults follow the BA-scVI paper: learning rate 5e-5, weight decay 1e-5, mini-batches
#' of 64 uniformly drawn cells, 100 epochs. Departures: the library size is the
#' observed total count of the features (scvi-tools' default) rather than a library
#' encoder; no early stopping on a held-out loss (all epochs are trained); the
#' autoencoder's Adam keeps eps 1e-8.
#'
#' The input must be raw counts (Seurat's `counts` slot, an SCE's `counts` assay);
#' log-normalized data are refused. The model is a `ConcordModel`: [SaveConcordModel()],
#' [ProjectConcord()] (raw counts of new cells) and [TransferLabels()] work as for
#' CONCORD.
#'
#' @param group.by Batch of each cell (a metadata column name, or one label per cell).
#' @param adversarial `TRUE` for BA-scVI's batch discriminators, `FALSE` for plain scVI
#'   (batch one-hot code in the decoder).
#' @param latent.dim Dimensions of the latent space (the embedding).
#' @param encoder.dims Widths of the encoder's hidden layers.
#' @param decoder.dims Widths of the decoder's hidden layers.
#' @param adversary.weight Weight (beta) of the discriminators' loss the autoencoder
#'   maximises.
#' @param discriminator.lr Learning rate of the discriminators' Adam.
#' @param discriminator.steps Discriminator updates per autoencoder update.
#' @param kl.weight Weight of the KL divergence in the loss.
#' @param weight.decay L2 penalty of the autoencoder's Adam.
#' @param dropout Dropout probability in the encoder's layers.
#' @param decode Return the decoder's normalized expression, log1p(scale * 10000), of
#'   every cell as a new assay ("corrected"; an altExp for a SingleCellExperiment). For
#'   plain scVI every cell is decoded as if from `decode.batch`.
#' @param decode.batch The batch every cell is decoded as (default: the first level).
#' @param reduction.key Prefix of the embedding's column names.
#' @param object A Seurat object, a SingleCellExperiment, or a features x cells matrix
#'   or `dgCMatrix` (default method). File paths are read by RunConcord() only.
#' @inheritParams RunSSL
#' @inheritParams RunConcord
#' @return As [RunConcord()]: a Seurat object with a DimReduc (default name `"bascvi"`,
#'   or `"scvi"` when `adversarial = FALSE`), a SingleCellExperiment with a reducedDim,
#'   or the cells x `latent.dim` matrix with the model in `attr(, "concord")`.
#' @seealso [RunSCCRAFT()], [RunConcord()], [EvaluateEmbedding()]
#' @export
#' @examples
#' data <- readRDS(system.file("extdata", "kang_ifnb.rds", package = "concordR"))
#' emb <- RunBAscVI(data$counts, group.by = data$meta$batch, epochs = 2,
#'                  threads = 1, verbose = FALSE)
#' dim(emb)
RunBAscVI <- function(object, ...) UseMethod("RunBAscVI")

#' @rdname RunBAscVI
#' @export
RunBAscVI.default <- function(object, group.by = NULL, features = NULL, adversarial = TRUE,
                              latent.dim = 10, encoder.dims = c(512, 512),
                              decoder.dims = c(512, 512), epochs = 100, batch.size = 64,
                              lr = 5e-5, weight.decay = 1e-5, dropout = 0.1,
                              adversary.weight = 10, discriminator.lr = 1e-2,
                              discriminator.steps = 1, kl.weight = 1, min.steps = 0,
                              decode = FALSE, decode.batch = NULL, seed = 0, threads = NULL,
                              device = c("auto", "cpu", "cuda"), verbose = TRUE,
                              reduction.key = NULL, ...) {
  .check_dots(..., fun = "RunBAscVI")
  .check_flag(adversarial, "adversarial")
  .check_flag(verbose, "verbose")
  .check_flag(decode, "decode")
  if (is.null(reduction.key)) reduction.key <- if (adversarial) "BASCVI_" else "SCVI_"
  .check_string(reduction.key, "reduction.key")
  .check_widths(decoder.dims, "decoder.dims", "decoder hidden layer widths)")
  .check_number(weight.decay, "weight.decay", lower = 0)
  .check_number(adversary.weight, "adversary.weight", lower = 0)
  .check_number(discriminator.lr, "discriminator.lr", lower = 0, lower.open = TRUE)
  .check_number(discriminator.steps, "discriminator.steps", lower = 1, upper = 1000, integer = TRUE)
  .check_number(kl.weight, "kl.weight", lower = 0)
  .check_widths(encoder.dims, "encoder.dims", "encoder hidden layer widths)")
  batch <- .batch_labels(group.by, meta = NULL, n.cells = .n_cells(object))
  if (adversarial) .check_adversary_batches(batch, "BA-scVI")
  decode.as <- .decode_batch(decode.batch, batch, decode)
  params <- .vae_params(
    "bascvi", trunk.dims = encoder.dims, latent.dim = latent.dim, epochs = epochs,
    batch.size = batch.size, lr = lr, dropout = dropout, min.steps = min.steps, seed = seed,
    threads = threads, device = device, n.batches = nlevels(batch), sampler = "uniform",
    weight_decay = as.numeric(weight.decay), vae_decoder_dims = as.integer(decoder.dims),
    adversarial = adversarial, adversary_weight = as.numeric(adversary.weight),
    discriminator_lr = as.numeric(discriminator.lr), discriminator_weight_decay = 1e-5,
    discriminator_steps = as.integer(discriminator.steps), kl_weight = as.numeric(kl.weight)
  )
  input <- .counts_input(object, "RunBAscVI")
  x <- input$x[rownames(.prepare_expression(input$lognorm, features, verbose)), , drop = FALSE]
  attr(x, "input") <- .input_log1p_counts
  emb <- .train_embedding(x, batch, NULL, params, verbose, reduction.key, prepare = FALSE)
  if (decode) emb <- .add_decoded(emb, x, decode.as, params$threads)
  emb
}

#' @rdname RunBAscVI
#' @param assay Assay to read (see [RunConcord()]).
#' @param slot Seurat slot to read; raw counts, so `"counts"`.
#' @param reduction.name Name under which the embedding is stored; `NULL` gives
#'   `"bascvi"` (`"scvi"` when `adversarial = FALSE`) for Seurat, in capitals for a
#'   SingleCellExperiment.
#' @export
RunBAscVI.Seurat <- function(object, group.by = NULL, features = NULL, assay = NULL,
                             slot = "counts", adversarial = TRUE, reduction.name = NULL,
                             reduction.key = NULL, verbose = TRUE, ...) {
  .check_flag(adversarial, "adversarial")
  if (is.null(reduction.name)) reduction.name <- if (adversarial) "bascvi" else "scvi"
  assay <- .seurat_assay(object, assay)
  object <- .run_seurat(object, RunBAscVI.default, group.by = group.by, features = features,
                        assay = assay, slot = slot, reduction.name = reduction.name,
                        reduction.key = reduction.key, verbose = verbose,
                        adversarial = adversarial, ...)
  SeuratObject::LogSeuratCommand(object)
}

#' @rdname RunBAscVI
#' @export
RunBAscVI.SingleCellExperiment <- function(object, group.by = NULL, features = NULL,
                                           assay = "counts", adversarial = TRUE,
                                           reduction.name = NULL, reduction.key = NULL,
                                           verbose = TRUE, ...) {
  .check_flag(adversarial, "adversarial")
  if (is.null(reduction.name)) reduction.name <- if (adversarial) "BASCVI" else "SCVI"
  .run_sce(object, RunBAscVI.default, group.by = group.by, features = features, assay = assay,
           reduction.name = reduction.name, reduction.key = reduction.key, verbose = verbose,
           adversarial = adversarial, ...)
}
