#' Transfer labels from reference cells to query cells
#'
#' Each query cell takes the label voted by its `k` nearest reference cells in the
#' embedding, each vote weighted by its cosine similarity to the query cell (as
#' Concerto does). The confidence of a call is the weight of the winning label over the
#' total weight; calls below `min.confidence` become `unassigned`. Cosine similarity
#' needs a direction: embeddings with non-finite values or all-zero cells (in the query
#' or the reference) are an error naming the first such cell, to be removed first.
#'
#' @details
#' Against Concerto's NN-voting classifier (Yang et al. 2022, Methods, equations
#' 14-16): the default `k = 5` is the paper's, the votes are weighted by cosine
#' similarity and the confidence is the winning label's share of the weights, as there.
#' Two differences: a neighbour with a negative cosine similarity gets no vote here
#' (weight 0), where the paper's formula would count it against its label (and a
#' neighbourhood of negative similarities would give shares outside \[0, 1\]); and the
#' `min.confidence` rejection is an addition (the default 0 assigns every cell, as the
#' paper). The neighbours are exact below 50,000 reference cells (an inverted-file
#' index above). For annotation learned from the labels instead, see `class.by` in
#' [RunConcerto()], which reached a higher accuracy than this voting on the same
#' pre-trained embedding in bench/README.md.
#'
#' @param query The query: a cells x dimensions embedding matrix, or a Seurat object /
#'   SingleCellExperiment holding `reduction` (e.g. made by [ProjectConcord()]).
#' @param reference The reference: an embedding matrix with the same dimensions, or an
#'   object holding `reduction`.
#' @param labels The reference labels: one per reference cell, or a metadata column name
#'   of the reference object.
#' @param k Reference neighbours that vote.
#' @param min.confidence Calls whose confidence is below this become `unassigned`.
#' @param unassigned Label of those cells.
#' @param reduction Reduction holding the embedding in Seurat / SingleCellExperiment
#'   objects (default `"concord"` / `"CONCORD"`).
#' @param prefix Metadata column prefix under which object methods store the result:
#'   `<prefix>` (label) and `<prefix>.score` (confidence).
#' @param threads CPU threads for the neighbour search.
#' @param ... Unused; unknown names are an error.
#' @return For matrices, a data.frame with one row per query cell: `label` (a factor)
#'   and `confidence` in (0, 1]. For objects, the query with those two columns added to
#'   its cell metadata.
#' @export
#' @examples
#' set.seed(1)
#' ref <- rbind(matrix(rnorm(100, 3), 50), matrix(rnorm(100, -3), 50))
#' query <- rbind(matrix(rnorm(20, 3), 10), matrix(rnorm(20, -3), 10))
#' TransferLabels(query, ref, labels = rep(c("A", "B"), each = 50))
TransferLabels <- function(query, ...) UseMethod("TransferLabels")

#' @rdname TransferLabels
#' @export
TransferLabels.default <- function(query, reference, labels, k = 5, min.confidence = 0,
                                   unassigned = "unassigned", threads = 1, ...) {
  .check_dots(..., fun = "TransferLabels")
  query <- .embedding_matrix(query, "query")
  reference <- .embedding_matrix(reference, "reference")
  if (ncol(query) != ncol(reference)) {
    .stop("query and reference embeddings differ in dimensions (", ncol(query), " vs ",
          ncol(reference), "); project the query with the reference's model (ProjectConcord()).")
  }
  if (!is.atomic(labels) || length(labels) != nrow(reference)) {
    .stop("'labels' must have one label per reference cell (", nrow(reference), "); got ",
          .show(labels), ".")
  }
  if (anyNA(labels)) .stop("'labels' has ", sum(is.na(labels)), " missing value(s); remove those reference cells first.")
  .check_number(k, "k", lower = 1, integer = TRUE)
  .check_probability(min.confidence, "min.confidence")
  .check_string(unassigned, "unassigned")
  .check_number(threads, "threads", lower = 1, upper = .max_threads, integer = TRUE)
  k <- as.integer(min(k, nrow(reference)))

  nn <- .concord_knn(reference, query, k, "cosine", 5e4, as.integer(threads))
  # Cosine distance is 1 - similarity; opposite vectors get no vote rather than a negative one.
  weight <- pmax(1 - nn$distance, 0)
  weight[is.na(weight)] <- 0
  levels <- sort(unique(as.character(labels)))
  votes <- matrix(0, nrow(query), length(levels))
  code <- matrix(match(as.character(labels), levels)[nn$index], nrow(query))
  for (j in seq_len(k)) {
    ok <- !is.na(code[, j])
    votes[cbind(which(ok), code[ok, j])] <- votes[cbind(which(ok), code[ok, j])] + weight[ok, j]
  }
  total <- rowSums(votes)
  best <- max.col(votes, ties.method = "first")
  confidence <- ifelse(total > 0, votes[cbind(seq_len(nrow(votes)), best)] / total, 0)
  label <- .reject(levels[best], confidence >= min.confidence & total > 0, levels, unassigned)
  data.frame(label = label, confidence = confidence, row.names = rownames(query))
}

#' @rdname TransferLabels
#' @export
TransferLabels.Seurat <- function(query, reference, labels, reduction = "concord",
                                  prefix = "predicted", ...) {
  .require("SeuratObject", "to transfer labels between Seurat objects")
  .check_string(prefix, "prefix")
  calls <- TransferLabels.default(
    .reduction_of(query, reduction, "query"), .reduction_of(reference, reduction, "reference"),
    labels = .reference_labels(reference, labels), ...)
  query[[prefix]] <- calls$label
  query[[paste0(prefix, ".score")]] <- calls$confidence
  query
}

#' @rdname TransferLabels
#' @export
TransferLabels.SingleCellExperiment <- function(query, reference, labels, reduction = "CONCORD",
                                                prefix = "predicted", ...) {
  .require("SingleCellExperiment", "to transfer labels between SingleCellExperiments")
  .check_string(prefix, "prefix")
  calls <- TransferLabels.default(
    .reduction_of(query, reduction, "query"), .reduction_of(reference, reduction, "reference"),
    labels = .reference_labels(reference, labels), ...)
  SummarizedExperiment::colData(query)[[prefix]] <- calls$label
  SummarizedExperiment::colData(query)[[paste0(prefix, ".score")]] <- calls$confidence
  query
}

# A cells x dimensions embedding whose cosine similarities are all defined: finite,
# and no cell at the origin (a zero vector has no direction).
.embedding_matrix <- function(x, what, direction = TRUE) {
  if (inherits(x, c("Seurat", "SingleCellExperiment"))) return(.reduction_of(x, NULL, what))
  if (!is.matrix(x) || !is.numeric(x) || nrow(x) == 0L || ncol(x) == 0L) {
    .stop("the ", what, " must be a numeric cells x dimensions embedding matrix, or an ",
          "object holding one; got ", if (is.matrix(x)) paste0("a ", nrow(x), " x ", ncol(x), " ",
          typeof(x), " matrix") else paste("an object of class", class(x)[1]), ".")
  }
  bad <- which(rowSums(!is.finite(x)) > 0)
  if (length(bad)) {
    .stop("the ", what, " embedding has ", length(bad), " cell(s) with non-finite values (NA, ",
          "NaN or Inf; first: row ", bad[1], "); remove those cells or fix the embedding.")
  }
  zero <- if (direction) which(rowSums(x != 0) == 0) else integer(0)
  if (length(zero)) {
    .stop("the ", what, " embedding has ", length(zero), " all-zero cell(s) (first: row ", zero[1],
          "), whose cosine similarity to other cells is undefined; remove those cells.")
  }
  x
}

.reduction_of <- function(object, reduction, what, direction = TRUE) {
  if (is.matrix(object)) return(.embedding_matrix(object, what, direction))
  if (inherits(object, "Seurat")) {
    reduction <- if (is.null(reduction)) "concord" else reduction
    if (!reduction %in% names(object@reductions)) {
      .stop("the ", what, " has no reduction '", reduction, "'; available: ",
            paste(names(object@reductions), collapse = ", "), ".")
    }
    return(.embedding_matrix(SeuratObject::Embeddings(object, reduction), what, direction))
  }
  reduction <- if (is.null(reduction)) "CONCORD" else reduction
  if (!reduction %in% SingleCellExperiment::reducedDimNames(object)) {
    .stop("the ", what, " has no reducedDim '", reduction, "'; available: ",
          paste(SingleCellExperiment::reducedDimNames(object), collapse = ", "), ".")
  }
  .embedding_matrix(as.matrix(SingleCellExperiment::reducedDim(object, reduction)), what, direction)
}

.reference_labels <- function(reference, labels) {
  if (!(is.character(labels) && length(labels) == 1L)) return(labels)
  meta <- if (inherits(reference, "Seurat")) reference[[]] else
    as.data.frame(SummarizedExperiment::colData(reference))
  if (!labels %in% colnames(meta)) {
    .stop("labels column '", labels, "' not found in the reference's cell metadata; available: ",
          paste(colnames(meta), collapse = ", "), ".")
  }
  meta[[labels]]
}
