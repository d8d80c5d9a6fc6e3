#' Score several embeddings of the same cells side by side
#'
#' Runs [EvaluateEmbedding()] on each embedding with the same annotations, subsamples
#' and seed, and gathers the scores into one tidy table, ready for [PlotBenchmark()].
#'
#' @param object A named list of cells x dimensions matrices (default method), or a
#'   Seurat object or SingleCellExperiment holding the embeddings as reductions.
#' @param reductions Names of the reductions to compare (objects only). Default: every
#'   reduction of the object.
#' @param batch,label Batch and cell type of each cell, as in [EvaluateEmbedding()].
#' @param ... Further arguments of [EvaluateEmbedding()] (`families`, `reference`,
#'   `n.neighbors`, `seed`, `threads`, ...).
#'
#' @return A data.frame with one row per embedding and metric: `embedding`, `family`
#'   (`"bio"`, `"batch"`, `"probes"`, `"geometry"`, `"topology"` or `"aggregate"` for
#'   `Bio`, `Batch`, `Total`), `metric` (the column names of [EvaluateEmbedding()]) and
#'   `score`. Attribute `"details"` holds each embedding's details.
#' @export
#' @examples
#' set.seed(1)
#' type <- rep(c("a", "b", "c"), each = 60)
#' batch <- rep(c("x", "y"), 90)
#' good <- matrix(rnorm(180 * 5), 180) + 4 * outer(as.integer(factor(type)), rep(1, 5))
#' noise <- matrix(rnorm(180 * 5), 180)
#' tab <- BenchmarkEmbeddings(list(good = good, noise = noise), batch = batch, label = type,
#'                            resolutions = c(0.5, 1))
#' head(tab)
BenchmarkEmbeddings <- function(object, ...) UseMethod("BenchmarkEmbeddings")

#' @rdname BenchmarkEmbeddings
#' @export
BenchmarkEmbeddings.default <- function(object, batch = NULL, label = NULL, ...) {
  if (!is.list(object) || is.data.frame(object) || !length(object) ||
      is.null(names(object)) || any(!nzchar(names(object))) || anyDuplicated(names(object))) {
    .stop("'object' must be a list of embeddings (cells x dimensions matrices) with unique, ",
          "non-empty names, e.g. list(pca = pca, concord = emb); got ", .show(object), ".")
  }
  n <- vapply(object, NROW, integer(1))
  if (any(n != n[1])) {
    .stop("the embeddings in 'object' differ in their number of cells (",
          paste0(names(object), ": ", n, collapse = ", "), "); they must hold the same cells.")
  }
  runs <- lapply(names(object), function(nm) {
    tryCatch(EvaluateEmbedding.default(object[[nm]], batch = batch, label = label, ...),
             error = function(e) .stop("embedding '", nm, "': ", conditionMessage(e)))
  })
  names(runs) <- names(object)
  .tidy_scores(runs)
}

#' @rdname BenchmarkEmbeddings
#' @export
BenchmarkEmbeddings.Seurat <- function(object, reductions = NULL, batch = NULL, label = NULL, ...) {
  .require("SeuratObject", "to benchmark a Seurat object")
  .benchmark_object(object, reductions, batch, label, object[[]], ...)
}

#' @rdname BenchmarkEmbeddings
#' @export
BenchmarkEmbeddings.SingleCellExperiment <- function(object, reductions = NULL, batch = NULL,
                                                     label = NULL, ...) {
  .require("SingleCellExperiment", "to benchmark a SingleCellExperiment")
  .benchmark_object(object, reductions, batch, label,
                    as.data.frame(SummarizedExperiment::colData(object)), ...)
}

.benchmark_object <- function(object, reductions, batch, label, meta, ..., reference = NULL) {
  if (is.null(reductions)) reductions <- .reduction_names(object)
  if (!is.character(reductions) || !length(reductions)) {
    .stop("'reductions' must name one or more reductions of the object; got ", .show(reductions), ".")
  }
  embeddings <- lapply(reductions, function(r) .object_embedding(object, r))
  names(embeddings) <- reductions
  n <- ncol(object)
  BenchmarkEmbeddings.default(embeddings, batch = .cell_factor(batch, "batch", meta, n),
                              label = .cell_factor(label, "label", meta, n),
                              reference = .object_reference(object, reference), ...)
}

.metric_family <- function(metric) {
  fam <- c(stats::setNames(rep(names(.family_metrics), lengths(.family_metrics)), unlist(.family_metrics)),
           Bio = "aggregate", Batch = "aggregate", Total = "aggregate")
  unname(fam[metric])
}

.tidy_scores <- function(runs) {
  rows <- lapply(names(runs), function(nm) {
    s <- unlist(runs[[nm]][1, , drop = TRUE])
    data.frame(embedding = nm, family = .metric_family(names(s)), metric = names(s),
               score = unname(s), stringsAsFactors = FALSE)
  })
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  attr(out, "details") <- lapply(runs, attr, "details")
  out
}
