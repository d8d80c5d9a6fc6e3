#' Map new cells onto a trained CONCORD model
#'
#' Encodes query cells with a model trained by [RunConcord()], without retraining, so
#' that they land in the reference's embedding: features are matched by name (features
#' the query lacks are set to zero, with a warning), and the input is normalized as for
#' training (raw counts are detected and log-normalized). Optionally the model is first
#' fine-tuned on the query: contrastive training continues from the reference weights
#' for `fine.tune.epochs` epochs, with the query's batches as domains (a model trained
#' in kNN mode samples kNN neighbourhoods from the first fine-tuning epoch: its encoder
#' needs no warm-up, and one would leave short fine-tuning without kNN). The fine-tuned
#' model's batches are the reference's followed by the query batches new to it; with a
#' decoder (`use.decoder` in [RunConcord()]) a query batch of the same name as a
#' reference batch continues that batch's embedding, and a new one starts from the mean
#' of the reference batches' embeddings.
#' A model trained by [RunSSL()] is fine-tuned with its own method and augmentations (its
#' MNN and BBKNN augmentations need `group.by` with at least two batches).
#'
#' @param query A Seurat object, SingleCellExperiment, or features x cells matrix /
#'   `dgCMatrix` of the query cells.
#' @param model A `ConcordModel`, or the reference object (or matrix) that holds one; see
#'   [GetConcordModel()].
#' @param group.by Batches of the query cells, used by fine-tuning only: a metadata
#'   column name (Seurat, SCE) or one label per cell; `NULL` treats them as one batch.
#' @param fine.tune.epochs Epochs of fine-tuning on the query before encoding (0: none,
#'   the default, so the reference embedding is left exactly as it was).
#' @param min.confidence For a model with a classifier: query cells whose highest class
#'   probability is below this are `"unassigned"`. `NULL` (default) uses the model's
#'   own threshold (`min.confidence` of [RunConcerto()]; 0, none, for [RunConcord()]).
#' @param altexps SingleCellExperiment only: altExps holding more of a multimodal
#'   model's modalities (see [RunConcord()]); the main assay is the model's first
#'   modality.
#' @inheritParams RunConcord
#' @details A model trained on several modalities (`RunConcord(list(RNA = , ADT = ))`,
#'   or RunSSL() or RunConcerto() on such input, several Seurat assays, SCE altExps)
#'   projects queries that hold all of them or only
#'   some: a named list of matrices (default method; a single matrix is the model's
#'   first modality, e.g. RNA), several Seurat assays in `assay`, or SCE `altexps`.
#'   Each modality present is embedded by its own encoder; a missing modality counts as
#'   a zero embedding: its block of a concatenated (`"concat"`, `"clip"`) joint
#'   embedding is 0, and it adds nothing to a `"sum"` (a Concerto model: the teacher
#'   without that modality's attention output). The modalities' own embeddings are
#'   kept in `misc$modality.embeddings`; distances between a query missing a modality
#'   and the reference are best taken there (as [PredictModality()] does), not in the
#'   joint embedding. Fine-tuning a multimodal model is not supported yet.
#' @return Like [RunConcord()]: the Seurat object with a DimReduc, the
#'   SingleCellExperiment with a reducedDim, or the cells x latent matrix. Its `misc`
#'   (or `metadata(x)$concord[[reduction.name]]`, or the `"concord"` attribute) holds the
#'   model used (the fine-tuned one if `fine.tune.epochs > 0`) and the features that
#'   were missing from the query. A model with a classifier (`class.by` in
#'   [RunConcord()]) also predicts the query cells' classes, stored as for RunConcord.
#' @export
#' @examples
#' data <- readRDS(system.file("extdata", "kang_ifnb.rds", package = "concordR"))
#' ref <- data$meta$batch != "stim107"
#' emb <- RunConcord(data$counts[, ref], group.by = data$meta$batch[ref], epochs = 2,
#'                   min.steps = 0, latent.dim = 16, threads = 1, verbose = FALSE)
#' query <- ProjectConcord(data$counts[, !ref], emb, threads = 1, verbose = FALSE)
#' dim(query)
ProjectConcord <- function(query, model, ...) UseMethod("ProjectConcord")

#' @rdname ProjectConcord
#' @export
ProjectConcord.default <- function(query, model, group.by = NULL, fine.tune.epochs = 0,
                                   min.confidence = NULL, threads = NULL,
                                   device = c("auto", "cpu", "cuda"), verbose = TRUE,
                                   reduction.key = "CONCORD_", ...) {
  .check_dots(..., fun = "ProjectConcord")
  model <- GetConcordModel(model)
  if (!is.null(min.confidence)) .check_probability(min.confidence, "min.confidence")
  .check_flag(verbose, "verbose")
  .check_string(reduction.key, "reduction.key")
  .check_number(fine.tune.epochs, "fine.tune.epochs", lower = 0, upper = .Machine$integer.max, integer = TRUE)
  threads <- .resolve_threads(threads)
  device <- .resolve_device(device)
  if (.is_multimodal_model(model)) {
    if (fine.tune.epochs > 0) {
      .stop("fine-tuning a multimodal model is not supported yet; project with fine.tune.epochs = 0.")
    }
    return(.project_multimodal(query, model, threads, device, verbose, reduction.key))
  }
  if (.is_modality_list(query)) {
    .stop("expected a features x cells query matrix; got a list, which a model trained on one ",
          "modality does not take (lists of modalities are for multimodal models).")
  }
  n.cells <- ncol(query)
  if (is.null(n.cells)) .stop("expected a features x cells query matrix; got an object of class ", class(query)[1], ".")
  batch <- .batch_labels(group.by, meta = NULL, n.cells = n.cells)
  x <- .align_features(.model_input(query, model$params, verbose), model$features)

  if (fine.tune.epochs > 0 && !is.null(model$params$vae_latent_dim)) {
    .stop("fine-tuning a ", .method_label(model$params), " model is not supported (its batch ",
          "codes and discriminators are fixed to the training batches); project with ",
          "fine.tune.epochs = 0.")
  }
  if (fine.tune.epochs > 0) {
    .ssl_augment_check_batches(model$params$augment, nlevels(batch),
                               "give 'group.by' with the query's batches, or fine.tune.epochs = 0")
    params <- utils::modifyList(model$params, list(epochs = as.integer(fine.tune.epochs),
                                                   min_steps = 0L, warmup_epochs = 0L,
                                                   threads = threads,
                                                   device = device))
    # Query cells have no labels: a classifier head is carried along, not trained.
    unlabelled <- if (is.null(model$classes)) NULL else factor(rep(NA, ncol(x)), levels = model$classes)
    start <- model$weights
    if (isTRUE(params$decoder)) {
      start[["domain_embedding.weight"]] <- .query_domain_rows(model, levels(batch))
      params$n_domains <- nlevels(batch)
    }
    fit <- .train_engine(x, batch, params, verbose, initial.weights = start, classes = unlabelled)
    weights <- fit$weights
    batches <- union(model$batches, levels(batch))
    if (isTRUE(params$decoder)) {
      weights[["domain_embedding.weight"]] <- .merge_domain_rows(model, fit$weights, levels(batch))
      params$n_domains <- length(batches)
    }
    model <- .new_model(weights, features = model$features, params = params,
                        batches = batches, input = model$input, loss = fit$loss,
                        steps = fit$steps, n.cells = ncol(x), classes = model$classes)
    emb <- fit$embedding
  } else {
    emb <- .concord_encode(x, model$weights, model$params, threads, device)
  }
  dimnames(emb) <- list(colnames(x), paste0(reduction.key, seq_len(ncol(emb))))
  attr(emb, "concord") <- list(model = model, projected = TRUE,
                               missing.features = attr(x, "missing.features"),
                               features = model$features,
                               classes = .class_predictions(emb, model, min.confidence))
  emb
}

#' @rdname ProjectConcord
#' @export
ProjectConcord.Seurat <- function(query, model, group.by = NULL, assay = NULL, slot = "data",
                                  reduction.name = "concord", reduction.key = "CONCORD_",
                                  verbose = TRUE, ...) {
  .require("SeuratObject", "to project a Seurat object")
  model <- GetConcordModel(model)
  .check_modality_names(assay, "assay")
  modalities <- assay
  assay <- if (is.null(assay)) SeuratObject::DefaultAssay(query) else assay[1]
  .check_string(assay, "assay")
  .check_string(slot, "slot")
  .check_string(reduction.name, "reduction.name")
  x <- if (length(modalities) > 1L) .seurat_modalities(query, modalities, slot) else
    .seurat_matrix(query, assay = assay, slot = slot)
  batch <- .batch_labels(group.by, meta = query[[]], n.cells = ncol(query))
  emb <- ProjectConcord.default(x, model, group.by = batch, reduction.key = reduction.key,
                                verbose = verbose, ...)
  misc <- attr(emb, "concord")
  attr(emb, "concord") <- NULL
  query[[reduction.name]] <- SeuratObject::CreateDimReducObject(
    embeddings = emb, key = reduction.key, assay = assay, misc = misc
  )
  SeuratObject::LogSeuratCommand(.store_classes(query, misc$classes))
}

#' @rdname ProjectConcord
#' @export
ProjectConcord.SingleCellExperiment <- function(query, model, group.by = NULL, assay = NULL,
                                                reduction.name = "CONCORD",
                                                reduction.key = "CONCORD_", altexps = NULL,
                                                verbose = TRUE, ...) {
  .require("SingleCellExperiment", "to project a SingleCellExperiment")
  model <- GetConcordModel(model)
  .check_modality_names(altexps, "altexps")
  x <- if (length(altexps)) {
    .sce_modalities(query, assay, altexps, if (.is_multimodal_model(model)) names(model$modalities)[1] else "RNA")
  } else .sce_matrix(query, assay)
  .check_string(reduction.name, "reduction.name")
  meta <- as.data.frame(SummarizedExperiment::colData(query))
  batch <- .batch_labels(group.by, meta = meta, n.cells = ncol(query))
  emb <- ProjectConcord.default(x, model, group.by = batch, reduction.key = reduction.key,
                                verbose = verbose, ...)
  .store_classes(.store_sce(query, emb, reduction.name), attr(emb, "concord")$classes)
}

# The decoder's batch embedding: one row per batch of model$batches, stored row-major.
.domain_rows <- function(weights) {
  w <- weights[["domain_embedding.weight"]]
  matrix(as.numeric(w), nrow = attr(w, "shape")[1], byrow = TRUE)
}

.as_weight <- function(m) structure(as.numeric(t(m)), shape = as.numeric(dim(m)))

# Fine-tuning trains on the query's batches: each starts from the reference row of the
# same name, a batch new to the model from the mean of the reference rows.
.query_domain_rows <- function(model, query.batches) {
  ref <- .domain_rows(model$weights)
  at <- match(query.batches, model$batches)
  rows <- matrix(colMeans(ref), length(query.batches), ncol(ref), byrow = TRUE)
  rows[!is.na(at), ] <- ref[at[!is.na(at)], ]
  .as_weight(rows)
}

# The fine-tuned rows back into the reference's table: reference batches keep their
# rows (updated where the query has them), new batches are appended in query order.
.merge_domain_rows <- function(model, tuned, query.batches) {
  ref <- .domain_rows(model$weights)
  tuned <- .domain_rows(tuned)
  at <- match(query.batches, model$batches)
  ref[at[!is.na(at)], ] <- tuned[!is.na(at), ]
  .as_weight(rbind(ref, tuned[is.na(at), , drop = FALSE]))
}
