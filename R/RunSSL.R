#' Run a self-supervised method of the SSL benchmark: SimCLR, MoCo, SimSiam, NNCLR, BYOL,
#' VICReg or Barlow Twins
#'
#' Trains one of the seven self-supervised methods compared by the single-cell SSL
#' benchmark (Richter et al., reference code scAugmentBench) on the cells' expression and
#' returns their representation: the encoder's output, not the projection used in
#' training. Two augmented views of each cell of a mini-batch pass an encoder shared by
#' both (Linear 128 -> BatchNorm -> ReLU -> Linear 64 -> BatchNorm); each method adds
#' its heads and loss:
#' \describe{
#'   \item{`"simclr"`}{projection head, NT-Xent over the batch (temperature 0.5).}
#'   \item{`"moco"`}{momentum target encoder for the second view, a queue of 2048 past
#'     keys as negatives (InfoNCE).}
#'   \item{`"simsiam"`}{projection and predictor heads, negative cosine with
#'     stop-gradient.}
#'   \item{`"nnclr"`}{each view replaced by its nearest neighbour in a support set of
#'     2048 past projections, contrasted with the other view's prediction.}
#'   \item{`"byol"`}{the online prediction of one view matches the momentum target's
#'     projection of the other.}
#'   \item{`"vicreg"`}{invariance, variance and covariance terms (weights 5, 5, 1).}
#'   \item{`"barlowtwins"`}{the two views' cross-correlation pushed to the identity
#'     (off-diagonal weight 0.005).}
#' }
#' The defaults are the benchmark's configuration where it could be kept: encoder 128 ->
#' 64 (the representation), projection sizes per method (`projection.factor`), Adam
#' with weight decay 1e-6, the learning rate divided by 10 every 10 epochs, mini-batches
#' of 256 cells, temperature 0.5, the CLEAR augmentations. Departures, each measured by
#' the EvaluateEmbedding Total (bio + batch) on kang_ifnb_muscat, whose four samples
#' differ strongly (bench/README.md, "RunSSL()"):
#' \itemize{
#'   \item with `group.by`, CONCORD's sampler (`sampler = "concord"`: each mini-batch
#'     from one batch) instead of the benchmark's uniform mini-batches: SimCLR 0.651 ->
#'     0.772 (CLEAR views, learning rate 1e-4), mostly by better batch mixing; without
#'     `group.by` the sampler is uniform;
#'   \item learning rate 1e-3 instead of 1e-4: SimCLR 0.772 -> 0.798, VICReg 0.762 ->
#'     0.799 (CONCORD's sampler); RunConcord scores 0.817 to 0.823, PCA 0.670;
#'   \item `epochs = 30` instead of 200: the learning rate is a thousandth of its start
#'     from epoch 30 on, so later epochs change next to nothing but cost time;
#'   \item `min.steps = 1500`: the schedule decays per epoch, and small data has few
#'     mini-batches per epoch (6 for 1,556 cells), which leaves the encoder barely
#'     trained. Drawing at least 50 per epoch raised the Total of SimCLR from 0.645 to
#'     0.671 and of VICReg from 0.646 to 0.670 (masking-only views, uniform sampler);
#'     data of more than about 13,000 cells already has that many and is unaffected;
#'   \item the benchmark's BYOL never updates its momentum target; here it follows the
#'     online network as in BYOL's paper and as the benchmark's MoCo does.
#' }
#' A wider encoder (512 hidden units) did not help (SimCLR 0.792). With these defaults
#' every method scored above PCA on kang_ifnb_muscat (MoCo 0.712, BYOL 0.728, SimSiam
#' 0.777, Barlow Twins 0.793, NNCLR 0.794, SimCLR 0.798, VICReg 0.799; PCA 0.670) and,
#' where the donor effect is weak (kang_ctrl_5donors), SimCLR 0.875, VICReg 0.868, MoCo
#' 0.842, SimSiam 0.885, NNCLR 0.878, BYOL 0.858 and Barlow Twins 0.879 beside PCA's
#' 0.846 and RunConcord's 0.843. Masked views alone (`augment = "mask"`) did better
#' still on kang_ifnb_muscat (SimCLR 0.816) and train faster than CLEAR's, whose
#' Gaussian noise makes views dense (speeds in bench/README.md).
#'
#' The two views of each cell come from the benchmark's augmentations (`augment`),
#' applied in sequence, each to a cell with its own probability; the default is its
#' CLEAR pipeline: masking (20% of the genes set to zero), Gaussian noise (sigma 0.2 on
#' 80% of the genes), InnerSwap (10% of the genes swapped pairwise) and CrossOver (25%
#' of the genes taken from another cell of the same batch), each at probability 0.5.
#' The neighbourhood augmentations MNN (interpolation towards mutual nearest neighbours
#' in other batches, as in CLAIRE) and BBKNN (genes taken from batch-balanced
#' neighbours) need `group.by`; their neighbour graphs are built once, before training.
#' Gaussian noise fills the zeros of a view, so views holding it are nearly dense and
#' training is slower than with the other augmentations alone.
#'
#' Input handling is RunConcord's: log-normalized expression (Seurat's `data` slot, an
#' SCE's `logcounts`) or raw counts, which are detected and log-normalized; the
#' variable features; a progress bar; Ctrl-C leaves the object unchanged. The trained
#' model is a `ConcordModel` with its method recorded, so [GetConcordModel()],
#' [SaveConcordModel()], [ProjectConcord()] (which embeds with the trained encoder) and
#' [TransferLabels()] work as for CONCORD.
#'
#' @param method One of `"simclr"`, `"moco"`, `"simsiam"`, `"nnclr"`, `"byol"`,
#'   `"vicreg"`, `"barlowtwins"`.
#' @param group.by Batch of each cell (a metadata column name, or one label per cell).
#'   Used by `sampler = "concord"` and the augmentations (CrossOver's partners, MNN,
#'   BBKNN); `NULL` treats all cells as one batch.
#' @param augment The augmentations making the two views: `"clear"` (the CLEAR
#'   pipeline, the benchmark's default), a character vector of augmentation names
#'   applied in that order with the benchmark's settings (e.g. `c("mask", "bbknn")`), or
#'   a named list giving settings, e.g. `list(mask = list(p = 0.5, strength = 0.2),
#'   gaussian = list(sigma = 0.1))`; settings left out take the benchmark's values.
#'   Augmentations and settings: `mask`, `innerswap`, `crossover` (`p`, `strength`: the
#'   share of genes masked, swapped or crossed over); `gaussian` (`p`, `sigma`, `share`:
#'   the share of genes receiving noise); `mnn`, `bbknn` (`p`, `alpha`: the least weight
#'   a cell keeps of itself (mnn) or the probability that a gene keeps its value
#'   (bbknn), `k`: neighbours per batch); `p` is the probability that a cell receives
#'   the augmentation in a view. `mnn` must come first. `NULL` trains on two identical
#'   views, with a warning: the benchmark's no-augmentation baseline, whose embedding
#'   keeps much less of cell identity. Recorded in the model's parameters, so that
#'   fine-tuning with [ProjectConcord()] uses the same augmentations.
#' @param sampler How mini-batches are drawn: `"uniform"` (the benchmark's shuffled
#'   batches) or `"concord"` (CONCORD's sampler: each mini-batch from one batch of
#'   `group.by`, optionally partly from one cell's kNN neighbourhood, see
#'   `p.intra.knn`), which none of the published implementations offers. `NULL` (the
#'   default) takes `"concord"` when `group.by` is given, `"uniform"` otherwise.
#' @param latent.dim Dimensions of the representation (the embedding).
#' @param encoder.dims Widths of the encoder's hidden layers.
#' @param projection.factor Projection size relative to the representation: divided by
#'   it for SimCLR, MoCo, SimSiam and NNCLR, multiplied for BYOL, VICReg and Barlow
#'   Twins. `NULL` takes the benchmark's value per method (1 for SimCLR, MoCo, NNCLR; 2
#'   for SimSiam; 4 for BYOL, VICReg, Barlow Twins).
#' @param weight.decay L2 penalty of Adam.
#' @param decay.rate Learning-rate multiplier applied every `decay.every` epochs.
#' @param decay.every Epochs between learning-rate decays.
#' @param temperature Temperature of the NT-Xent / InfoNCE losses (SimCLR, MoCo, NNCLR).
#' @param queue.size Entries of MoCo's negative queue and NNCLR's support set.
#' @param momentum Momentum of the target encoder (MoCo, BYOL) at the first and last
#'   epoch, raised on a cosine schedule.
#' @param vicreg.weights VICReg's invariance, variance and covariance weights.
#' @param barlow.lambda Barlow Twins' weight of the off-diagonal term.
#' @param min.steps Minimum number of optimizer steps: with fewer mini-batches than that,
#'   each epoch draws more of them (fresh permutations of the cells). 0 trains the
#'   benchmark's schedule.
#' @param reduction.key Prefix of the embedding's column names; `NULL` gives the
#'   method's name in capitals, e.g. `"SIMCLR_"`.
#' @param object A Seurat object, a SingleCellExperiment, a features x cells matrix
#'   or `dgCMatrix` (default method), or a named list of such matrices of the same
#'   cells, one per modality (default method; e.g. `list(RNA = rna, ADT = adt)`, see
#'   `fusion`). File paths are read by RunConcord() only.
#' @param fusion How several modalities (a list of matrices, several Seurat assays in
#'   `assay`, SCE `altexps`) make one representation, the SSL benchmark's three ways.
#'   Each modality has its own encoder (`encoder.dims`, `latent.dim` each) and input, as
#'   in RunConcord(). `"sum"` (default) and `"concat"` add or concatenate the
#'   modalities' representations; the method's heads (sized from that width) and loss
#'   then work on the fused representation, where the benchmark gives each modality its
#'   own projection head and fuses the projections. `"clip"` follows the benchmark's
#'   code: each modality's representation passes its own projection head (the method's
#'   layout), CLIP's symmetric cross-entropy with a learned temperature (started at
#'   0.07) contrasts the modalities of each cell in each of the two views, and the
#'   method's own loss is not used; the representation is then the concatenation. The
#'   benchmark found concatenation best overall (its Table B6); on scdcc_cite_cbmc
#'   (bench/README.md, "Multimodal") sum scored as well for SimCLR (NMI 0.806 both, ARI
#'   0.720 against 0.719, seeds 1-3) and better for VICReg (NMI 0.832 against 0.820,
#'   ARI 0.732 against 0.726, seeds 1-2), all above RNA alone, with CLIP last; sum is
#'   therefore the default, as for RunConcord() and RunConcerto(). CLIP's RNA encoder,
#'   though, predicted the proteins of RNA-only cells best (PredictModality(); SimCLR
#'   median r 0.825 against 0.807 for sum and 0.814 for 30 PCs). The augmentations
#'   act on all modalities' features together (InnerSwap may swap a gene's value with a
#'   protein's). Each modality's own representation is kept in
#'   `misc$modality.embeddings`.
#' @inheritParams RunConcord
#' @return For a Seurat object, the object with a DimReduc named by `reduction.name`
#'   (default: the method, e.g. `"simclr"`, key `"SIMCLR_"`) whose `misc` holds the
#'   model, the parameters and the loss of each epoch. For a SingleCellExperiment, the
#'   object with `reducedDim(x, reduction.name)` (default: the method in capitals, e.g.
#'   `"SIMCLR"`) and the same information in `metadata(x)$concord[[reduction.name]]`.
#'   For a matrix, the cells x `latent.dim` embedding with that information in
#'   `attr(, "concord")`.
#' @seealso [RunConcord()], [ProjectConcord()], [EvaluateEmbedding()]
#' @export
#' @examples
#' data <- readRDS(system.file("extdata", "kang_ifnb.rds", package = "concordR"))
#' emb <- RunSSL(data$counts, method = "vicreg", epochs = 2, min.steps = 0,
#'               latent.dim = 16, threads = 1, verbose = FALSE)
#' dim(emb)
#'
#' # RNA and surface proteins of the same cells, one encoder each, concatenated
#' cite <- readRDS(system.file("extdata", "cbmc_cite.rds", package = "concordR"))
#' joint <- RunSSL(list(RNA = cite$counts, ADT = cite$adt), method = "vicreg",
#'                 fusion = "concat", epochs = 2, min.steps = 0, latent.dim = 8,
#'                 encoder.dims = 32, threads = 1, verbose = FALSE)
#' dim(joint)                                      # 16 = 2 modalities x 8
RunSSL <- function(object, ...) UseMethod("RunSSL")

.ssl_methods <- c("simclr", "moco", "simsiam", "nnclr", "byol", "vicreg", "barlowtwins")
# The benchmark's projection factor per method (projection.factor = NULL).
.ssl_projection_factor <- list(simclr = 1L, moco = 1L, simsiam = 2L, nnclr = 1L, byol = 4L,
                               vicreg = 4L, barlowtwins = 4L)

#' @rdname RunSSL
#' @export
RunSSL.default <- function(object, method = "simclr", group.by = NULL, features = NULL,
                           hvg.by.batch = FALSE,
                           augment = "clear", sampler = NULL,
                           latent.dim = 64, encoder.dims = 128, projection.factor = NULL,
                           epochs = 30, batch.size = 256, lr = 1e-3, weight.decay = 1e-6,
                           decay.rate = 0.1, decay.every = 10, temperature = 0.5,
                           queue.size = 2048, momentum = c(0.996, 1),
                           vicreg.weights = c(5, 5, 1), barlow.lambda = 0.005,
                           p.intra.knn = 0, p.intra.domain = 1, min.steps = 1500,
                           fusion = c("sum", "concat", "clip"), seed = 0,
                           threads = NULL, device = c("auto", "cpu", "cuda"),
                           verbose = TRUE, reduction.key = NULL, ...) {
  .check_dots(..., fun = "RunSSL")
  method <- .match_choice(method, .ssl_methods, "method")
  fusion <- .check_fusion(fusion, .fusions, "RunSSL")
  if (is.null(sampler)) sampler <- if (is.null(group.by)) "uniform" else "concord"
  sampler <- .match_choice(sampler, c("uniform", "concord"), "sampler")
  .check_flag(verbose, "verbose")
  .check_flag(hvg.by.batch, "hvg.by.batch")
  if (is.null(reduction.key)) reduction.key <- paste0(toupper(method), "_")
  .check_string(reduction.key, "reduction.key")
  params <- .ssl_params(
    method = method, sampler = sampler, latent.dim = latent.dim, encoder.dims = encoder.dims,
    projection.factor = projection.factor, epochs = epochs, batch.size = batch.size, lr = lr,
    weight.decay = weight.decay, decay.rate = decay.rate, decay.every = decay.every,
    temperature = temperature, queue.size = queue.size, momentum = momentum,
    vicreg.weights = vicreg.weights, barlow.lambda = barlow.lambda, p.intra.knn = p.intra.knn,
    p.intra.domain = p.intra.domain, min.steps = min.steps, seed = seed, threads = threads,
    device = device
  )
  params$augment <- .ssl_augment(augment, has.groups = !is.null(group.by))
  object <- .verb_input(object)
  batch <- .batch_labels(group.by, meta = NULL, n.cells = .input_cells(object))
  .ssl_augment_check_batches(params$augment, nlevels(batch),
                             "give 'group.by' with at least two batches, or leave them out of 'augment'")
  if (length(params$augment) == 0L) {
    warning("with augment = NULL both views of every cell are identical, so the loss sees no ",
            "augmentation and the embedding keeps much less of cell identity (the SSL benchmark's ",
            "no-augmentation baseline); give augment = \"clear\" (the default) or \"mask\" for ",
            "a useful embedding.", call. = FALSE)
  }
  params$n_domains <- nlevels(batch)
  if (.is_modality_list(object)) {
    return(.train_multimodal(object, batch, features, params, fusion, verbose, reduction.key,
                             feature.batch = .feature_batch(hvg.by.batch, batch)))
  }
  .train_embedding(object, batch, features, params, verbose, reduction.key,
                   feature.batch = .feature_batch(hvg.by.batch, batch))
}

#' @rdname RunSSL
#' @param assay Assay to read, or several assays to train on jointly, one modality
#'   each (see [RunConcord()]).
#' @param altexps SingleCellExperiment only: altExps to train on jointly with the main
#'   assay, one modality each (see [RunConcord()]).
#' @param slot Seurat slot to read: `"data"` (log-normalized, default) or `"counts"`.
#' @param reduction.name Name under which the embedding is stored; `NULL` gives the
#'   method (Seurat) or the method in capitals (SingleCellExperiment).
#' @export
RunSSL.Seurat <- function(object, method = "simclr", group.by = NULL, features = NULL,
                          assay = NULL, slot = "data", reduction.name = NULL,
                          reduction.key = NULL, verbose = TRUE, ...) {
  method <- .match_choice(method, .ssl_methods, "method")
  if (is.null(reduction.name)) reduction.name <- method
  if (is.null(reduction.key)) reduction.key <- paste0(toupper(method), "_")
  assays <- .seurat_assays(object, assay)
  assay <- assays$assay
  object <- .run_seurat(object, RunSSL.default, group.by = group.by, features = features,
                        assay = assay, slot = slot, reduction.name = reduction.name,
                        reduction.key = reduction.key, verbose = verbose, method = method,
                        modalities = assays$modalities, ...)
  SeuratObject::LogSeuratCommand(object)
}

#' @rdname RunSSL
#' @export
RunSSL.SingleCellExperiment <- function(object, method = "simclr", group.by = NULL,
                                        features = NULL, assay = NULL, reduction.name = NULL,
                                        reduction.key = NULL, altexps = NULL, verbose = TRUE, ...) {
  method <- .match_choice(method, .ssl_methods, "method")
  if (is.null(reduction.name)) reduction.name <- toupper(method)
  .check_modality_names(altexps, "altexps")
  .run_sce(object, RunSSL.default, group.by = group.by, features = features, assay = assay,
           reduction.name = reduction.name, reduction.key = reduction.key, verbose = verbose,
           method = method, altexps = altexps, ...)
}

# RunSSL()'s hyperparameters, checked, as the engine's options. Arguments shared with
# RunConcord are checked by .concord_params(); CONCORD's masks are off, the views come
# from the augmentations (params$augment).
.ssl_params <- function(method, sampler, latent.dim, encoder.dims, projection.factor, epochs,
                        batch.size, lr, weight.decay, decay.rate, decay.every, temperature,
                        queue.size, momentum, vicreg.weights, barlow.lambda, p.intra.knn,
                        p.intra.domain, min.steps, seed, threads, device) {
  if (!is.null(projection.factor)) .check_number(projection.factor, "projection.factor", lower = 1, integer = TRUE)
  .check_number(decay.every, "decay.every", lower = 1, integer = TRUE)
  .check_number(queue.size, "queue.size", lower = 1, integer = TRUE)
  if (!(is.numeric(momentum) && length(momentum) == 2L && !anyNA(momentum) &&
        all(momentum >= 0 & momentum <= 1) && momentum[1] <= momentum[2])) {
    .stop("'momentum' must be two numbers in [0, 1], the first no larger than the second ",
          "(the momentum at the first and the last epoch); got ", .show(momentum), ".")
  }
  if (!(is.numeric(vicreg.weights) && length(vicreg.weights) == 3L && !anyNA(vicreg.weights) &&
        all(is.finite(vicreg.weights)) && all(vicreg.weights >= 0))) {
    .stop("'vicreg.weights' must be three non-negative numbers (invariance, variance, ",
          "covariance); got ", .show(vicreg.weights), ".")
  }
  .check_number(barlow.lambda, "barlow.lambda", lower = 0)
  if (sampler == "uniform" && p.intra.knn > 0) {
    .stop("'p.intra.knn' draws mini-batches from kNN neighbourhoods, which only sampler = ",
          "\"concord\" does; set sampler = \"concord\" or p.intra.knn = 0.")
  }
  params <- .concord_params(
    latent.dim = latent.dim, encoder.dims = encoder.dims, epochs = epochs,
    batch.size = batch.size, lr = lr, weight.decay = weight.decay, decay.rate = decay.rate,
    temperature = temperature, beta = 0, element.mask = 0, feature.mask = 0,
    p.intra.knn = p.intra.knn, p.intra.domain = p.intra.domain, knn.k = NULL,
    knn.metric = "euclidean", warmup.epochs = 2, min.steps = min.steps, norm = "batch",
    dropout = 0, seed = seed, threads = threads, device = device
  )
  utils::modifyList(params, list(
    method = method, sampler = sampler, leaky_slope = 0, latent_activation = FALSE,
    lr_step_epochs = as.integer(decay.every),
    projection_factor = if (is.null(projection.factor)) 0L else as.integer(projection.factor),
    queue_size = as.integer(queue.size), momentum_start = as.numeric(momentum[1]),
    momentum_end = as.numeric(momentum[2]),
    vicreg_invariance = as.numeric(vicreg.weights[1]),
    vicreg_variance = as.numeric(vicreg.weights[2]),
    vicreg_covariance = as.numeric(vicreg.weights[3]),
    barlow_lambda = as.numeric(barlow.lambda)
  ))
}

.is_ssl <- function(params) isTRUE(params$method %in% .ssl_methods)

# The hyperparameters an SSL model was trained with, as summary() shows them: the shared
# ones, then those of its method only.
.ssl_summary_parameters <- function(p) {
  own <- switch(p$method,
    simclr = "temperature",
    moco = c("temperature", "queue_size", "momentum_start", "momentum_end"),
    simsiam = character(0),
    nnclr = c("temperature", "queue_size"),
    byol = c("momentum_start", "momentum_end"),
    vicreg = c("vicreg_invariance", "vicreg_variance", "vicreg_covariance"),
    barlowtwins = "barlow_lambda")
  sampler <- if (identical(p$sampler, "concord")) c("p_intra_knn", "p_intra_domain")
  if (p$projection_factor == 0) p$projection_factor <- .ssl_projection_factor[[p$method]]
  c(p[c("epochs", "batch_size", "lr", "lr_decay", "lr_step_epochs", "weight_decay",
        "projection_factor", own, sampler, "min_steps", "seed")],
    list(sampler = p$sampler, augment = .ssl_augment_label(p$augment)))
}

# "mask (p 0.5), gaussian (p 0.5), ...", or "none".
.ssl_augment_label <- function(steps) {
  if (!length(steps)) return("none")
  paste0(vapply(steps, function(s) s$kind, ""), " (p ", vapply(steps, function(s) format(s$p), ""), ")",
         collapse = ", ")
}
