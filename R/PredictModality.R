#' Predict a modality the query did not measure (e.g. surface proteins) from a reference
#'
#' For query cells measured in one modality only (RNA), predicts the values of another
#' (surface proteins from CITE-seq, say) from a reference that measured both: each
#' query cell takes the weighted mean of the values of its `k` nearest reference cells
#' in the shared embedding, the kNN smoothing that Concerto and Symphony use for
#' missing-modality prediction. The weights fall with distance, `exp(-(d / d_k)^2)`
#' with `d_k` the distance to the cell's `k`-th neighbour, so that the nearest
#' neighbours count most; on scdcc_cite_cbmc the weighting changed the median
#' correlation by less than 0.002 against a plain mean (bench/README.md).
#'
#' How well a modality can be predicted differs between its features (a protein
#' expressed by one rare cell type is harder). Each prediction therefore comes with the
#' correlation, per feature, that the same prediction reaches on the reference itself,
#' leave-one-out: every reference cell predicted from its `k` nearest other reference
#' cells.
#'
#' The object methods embed the query with the reference's model ([ProjectConcord()])
#' when it does not yet hold `reduction`, so a Seurat query with an RNA assay only
#' needs a single call. When the reference's model was trained on several modalities
#' (`RunConcord(seu, assay = c("RNA", "ADT"))`) and the query has only some of them,
#' neighbours are found in the embeddings of the modalities the query has (for an
#' RNA-only query: the RNA encoder's embedding of query and reference cells, kept in the
#' reductions' `misc$modality.embeddings`).
#'
#' @param query For the default method, the query's cells x dimensions embedding (e.g.
#'   from [ProjectConcord()]); otherwise a Seurat object or SingleCellExperiment.
#' @param reference For the default method, the reference's cells x dimensions
#'   embedding; otherwise a Seurat object (with the `modality` assay) or
#'   SingleCellExperiment (with the `modality` altExp) that holds `reduction` and the
#'   model that made it (from [RunConcord()] or [RunSSL()]).
#' @param values The modality to predict, features x reference cells (numeric matrix or
#'   `dgCMatrix`), default method only.
#' @param modality Name of the reference's assay (Seurat) or altExp (SingleCellExperiment)
#'   to predict.
#' @param k Reference neighbours per query cell.
#' @param reduction Reduction holding the embeddings (default `"concord"` for Seurat,
#'   `"CONCORD"` for SingleCellExperiment).
#' @param slot Slot of the Seurat `modality` assay to predict (`"data"`: normalized, e.g.
#'   CLR).
#' @param assay Assay of the SingleCellExperiment altExp to predict (default: its first).
#' @param new.assay,new.altexp Name under which the prediction is stored in the query.
#' @param threads CPU threads for the neighbour search (and the projection).
#' @param verbose Whether to show progress when the query is projected.
#' @param ... Unused in the default method (unknown names are an error); passed on to
#'   [ProjectConcord()] by the object methods when they project the query.
#' @return The default method: a features x query cells matrix with attribute
#'   `"reference.correlation"`, the leave-one-out Pearson correlation of each feature on
#'   the reference. Seurat: the query with a new assay `new.assay` (the prediction in
#'   its `data` slot; the correlations in the assay's `misc`). SingleCellExperiment: the
#'   query with a new altExp `new.altexp` (the prediction as its assay; the
#'   correlations in its `metadata`).
#' @seealso [TransferLabels()] for labels instead of values.
#' @export
#' @examples
#' set.seed(1)
#' ref <- rbind(matrix(rnorm(100, 3), 50), matrix(rnorm(100, -3), 50))
#' protein <- rbind(CD3 = rep(c(5, 0), each = 50) + rnorm(100, sd = 0.3))
#' query <- rbind(matrix(rnorm(20, 3), 10), matrix(rnorm(20, -3), 10))
#' predicted <- PredictModality(query, ref, values = protein, k = 10)
#' round(predicted[, c(1, 11), drop = FALSE], 1)
#' attr(predicted, "reference.correlation")
PredictModality <- function(query, reference, ...) UseMethod("PredictModality")

#' @rdname PredictModality
#' @export
PredictModality.default <- function(query, reference, values, k = 20, threads = 1, ...) {
  .check_dots(..., fun = "PredictModality")
  # Euclidean neighbours: unlike TransferLabels' cosine votes, a cell at the origin is fine.
  query <- .embedding_matrix(query, "query", direction = FALSE)
  reference <- .embedding_matrix(reference, "reference", direction = FALSE)
  if (ncol(query) != ncol(reference)) {
    .stop("query and reference embeddings differ in dimensions (", ncol(query), " vs ",
          ncol(reference), "); project the query with the reference's model (ProjectConcord()).")
  }
  values <- .modality_values(values, nrow(reference))
  .check_number(k, "k", lower = 1, integer = TRUE)
  .check_number(threads, "threads", lower = 1, upper = .max_threads, integer = TRUE)
  if (nrow(reference) < 2L) .stop("the reference needs at least 2 cells; got ", nrow(reference), ".")
  k <- as.integer(min(k, nrow(reference) - 1L))
  threads <- as.integer(threads)

  nn <- .concord_knn(reference, query, k, "euclidean", 5e4, threads)
  predicted <- .smooth_values(values, nn$index, nn$distance)
  dimnames(predicted) <- list(rownames(values), rownames(query))
  attr(predicted, "reference.correlation") <- .leave_one_out_correlation(reference, values, k, threads)
  predicted
}

#' @rdname PredictModality
#' @export
PredictModality.Seurat <- function(query, reference, modality = "ADT", k = 20,
                                   reduction = "concord", slot = "data",
                                   new.assay = paste0("predicted.", modality), threads = 1,
                                   verbose = TRUE, ...) {
  .require("SeuratObject", "to predict a modality of a Seurat object")
  .check_string(modality, "modality")
  .check_string(reduction, "reduction")
  .check_string(slot, "slot")
  .check_string(new.assay, "new.assay")
  if (!inherits(reference, "Seurat")) .stop("'reference' must be a Seurat object like the query; got ", class(reference)[1], ".")
  if (!modality %in% SeuratObject::Assays(reference)) {
    .stop("the reference has no assay '", modality, "'; available: ",
          paste(SeuratObject::Assays(reference), collapse = ", "), ".")
  }
  if (new.assay %in% SeuratObject::Assays(query)) {
    .stop("the query already has an assay '", new.assay, "'; choose another 'new.assay'.")
  }
  values <- SeuratObject::GetAssayData(reference[[modality]], slot = slot)
  projected <- .project_if_needed(query, reference, reduction, threads, verbose, ...)
  predicted <- .predict_between(projected, reference, reduction, values, k, threads)
  assay <- SeuratObject::CreateAssayObject(data = predicted[, , drop = FALSE])
  SeuratObject::Key(assay) <- paste0(gsub("[^[:alnum:]]", "", tolower(new.assay)), "_")
  assay@misc <- list(reference.correlation = attr(predicted, "reference.correlation"))
  projected[[new.assay]] <- assay
  projected
}

#' @rdname PredictModality
#' @export
PredictModality.SingleCellExperiment <- function(query, reference, modality = "ADT", k = 20,
                                                 reduction = "CONCORD", assay = NULL,
                                                 new.altexp = paste0("predicted.", modality),
                                                 threads = 1, verbose = TRUE, ...) {
  .require("SingleCellExperiment", "to predict a modality of a SingleCellExperiment")
  .check_string(modality, "modality")
  .check_string(reduction, "reduction")
  .check_string(new.altexp, "new.altexp")
  if (!inherits(reference, "SingleCellExperiment")) {
    .stop("'reference' must be a SingleCellExperiment like the query; got ", class(reference)[1], ".")
  }
  if (!modality %in% SingleCellExperiment::altExpNames(reference)) {
    .stop("the reference has no altExp '", modality, "'; available: ",
          paste(SingleCellExperiment::altExpNames(reference), collapse = ", "), ".")
  }
  if (new.altexp %in% SingleCellExperiment::altExpNames(query)) {
    .stop("the query already has an altExp '", new.altexp, "'; choose another 'new.altexp'.")
  }
  alt <- SingleCellExperiment::altExp(reference, modality)
  assay <- if (is.null(assay)) 1L else assay
  if (is.character(assay) && !assay %in% SummarizedExperiment::assayNames(alt)) {
    .stop("the altExp '", modality, "' has no assay '", assay, "'; available: ",
          paste(SummarizedExperiment::assayNames(alt), collapse = ", "), ".")
  }
  values <- SummarizedExperiment::assay(alt, assay)
  projected <- .project_if_needed(query, reference, reduction, threads, verbose, ...)
  predicted <- .predict_between(projected, reference, reduction, values, k, threads)
  name <- if (is.character(assay)) assay else SummarizedExperiment::assayNames(alt)[assay]
  out <- SummarizedExperiment::SummarizedExperiment(
    assays = stats::setNames(list(predicted[, , drop = FALSE]), if (is.na(name) || !nzchar(name)) "predicted" else name),
    metadata = list(reference.correlation = attr(predicted, "reference.correlation")))
  SingleCellExperiment::altExp(projected, new.altexp) <- out
  projected
}

# Neighbours are taken in the joint embedding, or, when the reference's model has
# several modalities and the query lacks some (RNA-only query cells of a CITE-seq
# reference), in the embeddings of the modalities the query has: the joint embedding of
# such a query holds zeros for the missing ones (.fuse_modalities) and is not
# comparable to the reference's.
.predict_between <- function(query, reference, reduction, values, k, threads) {
  q <- .stored_modality_embeddings(query, reduction)
  r <- .stored_modality_embeddings(reference, reduction)
  if (!is.null(q) && !is.null(r) && !setequal(names(q), names(r))) {
    common <- intersect(names(r), names(q))
    if (!length(common)) {
      .stop("the query's and the reference's embeddings share no modality; project the query ",
            "with the reference's model (ProjectConcord()).")
    }
    q <- do.call(cbind, unname(q[common]))
    r <- do.call(cbind, unname(r[common]))
  } else {
    q <- .reduction_of(query, reduction, "query", direction = FALSE)
    r <- .reduction_of(reference, reduction, "reference", direction = FALSE)
  }
  predicted <- PredictModality.default(q, r, values = values, k = k, threads = threads)
  colnames(predicted) <- colnames(query)
  predicted
}

# The query as it is when it holds `reduction`, else projected with the reference's model.
.project_if_needed <- function(query, reference, reduction, threads, verbose, ...) {
  has <- if (inherits(query, "Seurat")) reduction %in% names(query@reductions) else
    reduction %in% SingleCellExperiment::reducedDimNames(query)
  if (has) return(query)
  model <- GetConcordModel(reference, reduction)
  key <- if (inherits(reference, "Seurat")) SeuratObject::Key(reference[[reduction]]) else
    paste0(toupper(reduction), "_")
  ProjectConcord(query, model, reduction.name = reduction, reduction.key = key,
                 threads = threads, verbose = verbose, ...)
}

# The values to predict as a dense features x cells matrix, one column per reference cell.
.modality_values <- function(values, n.reference) {
  if (inherits(values, "Matrix")) values <- as.matrix(values)
  if (!is.matrix(values) || !is.numeric(values)) {
    .stop("'values' must be a numeric features x reference cells matrix; got an object of class ",
          class(values)[1], ".")
  }
  if (ncol(values) != n.reference) {
    .stop("'values' has ", ncol(values), " column(s) but the reference has ", n.reference,
          " cell(s); give one column per reference cell, in the reference's order.")
  }
  if (nrow(values) == 0L) .stop("'values' has no features; the modality to predict must have at least one.")
  bad <- which(!is.finite(values), arr.ind = TRUE)
  if (length(bad)) {
    .stop("'values' has ", nrow(bad), " non-finite value(s) (NA, NaN or Inf; first: feature ",
          bad[1, 1], ", cell ", bad[1, 2], "); remove those cells from the reference or fix the values.")
  }
  if (is.null(rownames(values))) rownames(values) <- paste0("feature", seq_len(nrow(values)))
  values
}

# Weighted mean of each query cell's neighbours' values: features x cells. Neighbours
# an approximate (IVF) search did not find (NA) get no weight.
.smooth_values <- function(values, index, distance) {
  missing <- is.na(index)
  index[missing] <- 1L
  distance[missing] <- Inf
  scale <- pmax(apply(distance, 1, function(d) max(d[is.finite(d)], 0)), .Machine$double.eps)
  weight <- exp(-(distance / scale)^2)
  weight <- weight / rowSums(weight)
  out <- matrix(0, nrow(values), nrow(index))
  for (j in seq_len(ncol(index))) {
    out <- out + values[, index[, j], drop = FALSE] * rep(weight[, j], each = nrow(values))
  }
  out
}

# Pearson correlation per feature between the reference's values and their prediction
# from each cell's k nearest other reference cells; NA for a constant feature.
.leave_one_out_correlation <- function(reference, values, k, threads) {
  nn <- .concord_knn(reference, reference, k + 1L, "euclidean", 5e4, threads)
  n <- nrow(reference)
  own <- !is.na(nn$index) & nn$index == seq_len(n)
  own[rowSums(own) == 0L, k + 1L] <- TRUE  # a duplicate came first: drop the farthest
  keep <- t(!own)
  index <- matrix(t(nn$index)[keep], n, k, byrow = TRUE)
  distance <- matrix(t(nn$distance)[keep], n, k, byrow = TRUE)
  predicted <- .smooth_values(values, index, distance)
  r <- vapply(seq_len(nrow(values)), function(i) {
    if (stats::sd(values[i, ]) == 0 || stats::sd(predicted[i, ]) == 0) return(NA_real_)
    stats::cor(values[i, ], predicted[i, ])
  }, numeric(1))
  stats::setNames(r, rownames(values))
}
