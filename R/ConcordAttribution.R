#' Which genes drive each CONCORD dimension
#'
#' For each latent dimension d and gene g, the contribution of g to d is the mean, over
#' the chosen cells, of the gene's input value times the gradient of d with respect to
#' it (input x gradient, computed by the engine's autograd with the model in evaluation
#' mode). Positive values push the dimension up. Averaging over a group of cells (e.g. one
#' cluster) tells what drives the dimensions there.
#'
#' @param object A Seurat object or SingleCellExperiment holding a CONCORD reduction, or a
#'   features x cells expression matrix (with `model`).
#' @param model For the matrix method: a `ConcordModel` or an object holding one.
#' @param cells Cells to average over: names, indices or a logical vector; `NULL` for all.
#' @param max.cells At most this many of them, sampled with `seed` (the cost is one
#'   backward pass per latent dimension per 256 cells).
#' @param seed Seed of that sample.
#' @param threads CPU threads; `NULL` uses every CPU this process may use (its CPU
#'   affinity, capped by a cgroup CPU quota).
#' @param verbose Show messages.
#' @param reduction Name of the CONCORD reduction in the object.
#' @param assay,slot Where the object's expression is read, as in [RunConcord()].
#' @param ... Passed on to the default method; unknown names are an error.
#' @return A genes x dimensions matrix (the model's features by `CONCORD_1`, ...).
#' @seealso [TopAttributedGenes()], [PlotAttribution()]
#' @export
#' @examples
#' data <- readRDS(system.file("extdata", "kang_ifnb.rds", package = "concordR"))
#' emb <- RunConcord(data$counts, group.by = data$meta$batch, epochs = 2, min.steps = 0,
#'                   latent.dim = 8, threads = 1, verbose = FALSE)
#' a <- ConcordAttribution(data$counts, emb, max.cells = 200, threads = 1, verbose = FALSE)
#' TopAttributedGenes(a, n = 3)
ConcordAttribution <- function(object, ...) UseMethod("ConcordAttribution")

#' @rdname ConcordAttribution
#' @export
ConcordAttribution.default <- function(object, model, cells = NULL, max.cells = 2000, seed = 0,
                                       threads = NULL, verbose = TRUE, ...) {
  .check_dots(..., fun = "ConcordAttribution")
  model <- GetConcordModel(model)
  if (.is_multimodal_model(model)) {
    .stop("ConcordAttribution() does not take a multimodal model (", paste(names(model$modalities), collapse = " + "),
          ") yet; attribute a model trained on one modality.")
  }
  .check_number(max.cells, "max.cells", lower = 1, integer = TRUE)
  .check_number(seed, "seed", lower = 0, upper = .Machine$integer.max, integer = TRUE)
  threads <- .resolve_threads(threads)
  .check_flag(verbose, "verbose")
  x <- .align_features(.normalized_input(object, verbose), model$features)
  chosen <- .cell_indices(cells, colnames(x))
  if (length(chosen) > max.cells) {
    chosen <- sort(.with_seed(seed, sample(chosen, max.cells)))
    if (verbose) message("Averaging over ", max.cells, " sampled cells (set 'max.cells').")
  }
  out <- .concord_attribution(x, model$weights, model$params, chosen - 1L, threads)
  dimnames(out) <- list(model$features, paste0("CONCORD_", seq_len(ncol(out))))
  out
}

#' @rdname ConcordAttribution
#' @export
ConcordAttribution.Seurat <- function(object, reduction = "concord", cells = NULL, assay = NULL,
                                      slot = "data", ...) {
  .require("SeuratObject", "to read a Seurat object")
  model <- GetConcordModel(object, reduction)
  assay <- if (is.null(assay)) SeuratObject::DefaultAssay(object) else assay
  ConcordAttribution.default(.seurat_matrix(object, assay = assay, slot = slot), model,
                             cells = cells, ...)
}

#' @rdname ConcordAttribution
#' @export
ConcordAttribution.SingleCellExperiment <- function(object, reduction = "CONCORD", cells = NULL,
                                                    assay = NULL, ...) {
  .require("SingleCellExperiment", "to read a SingleCellExperiment")
  model <- GetConcordModel(object, reduction)
  ConcordAttribution.default(.sce_matrix(object, assay), model, cells = cells, ...)
}

#' Top genes per CONCORD dimension
#'
#' @param attribution The matrix from [ConcordAttribution()].
#' @param n Genes per dimension.
#' @param dims Dimensions to report (names or indices); `NULL` for all.
#' @return A data.frame with columns `dimension`, `rank`, `gene` and `attribution`: the
#'   `n` genes with the largest positive contribution to each dimension.
#' @export
#' @examples
#' a <- matrix(c(3, 1, 2, -1, 5, 0), 3, dimnames = list(c("g1", "g2", "g3"), c("D1", "D2")))
#' TopAttributedGenes(a, n = 2)
TopAttributedGenes <- function(attribution, n = 10, dims = NULL) {
  attribution <- .check_attribution(attribution)
  .check_number(n, "n", lower = 1, integer = TRUE)
  dims <- .attribution_dims(dims, colnames(attribution))
  n <- min(n, nrow(attribution))
  do.call(rbind, lapply(dims, function(d) {
    top <- order(attribution[, d], decreasing = TRUE)[seq_len(n)]
    data.frame(dimension = d, rank = seq_len(n), gene = rownames(attribution)[top],
               attribution = unname(attribution[top, d]))
  }))
}

#' Heatmap of gene attribution
#'
#' @inheritParams TopAttributedGenes
#' @param n Top genes taken from each shown dimension.
#' @param dims Dimensions to show (names or indices); default the first 10.
#' @return A ggplot: the union of the top genes (rows) by dimensions (columns), coloured
#'   by attribution.
#' @export
#' @examples
#' a <- matrix(rnorm(60), 20, dimnames = list(paste0("g", 1:20), paste0("D", 1:3)))
#' PlotAttribution(a, n = 3)
PlotAttribution <- function(attribution, n = 5, dims = NULL) {
  .require("ggplot2", "to plot attribution")
  attribution <- .check_attribution(attribution)
  if (is.null(dims)) dims <- seq_len(min(10L, ncol(attribution)))
  top <- TopAttributedGenes(attribution, n = n, dims = dims)
  genes <- unique(top$gene)
  shown <- attribution[genes, unique(top$dimension), drop = FALSE]
  df <- data.frame(gene = factor(rep(genes, ncol(shown)), levels = rev(genes)),
                   dimension = factor(rep(colnames(shown), each = length(genes)), levels = colnames(shown)),
                   attribution = as.vector(shown))
  ggplot2::ggplot(df, ggplot2::aes(x = .data$dimension, y = .data$gene, fill = .data$attribution)) +
    ggplot2::geom_tile() +
    ggplot2::scale_fill_gradient2(low = "#2166ac", mid = "white", high = "#b2182b") +
    ggplot2::labs(x = NULL, y = NULL, fill = "attribution") +
    ggplot2::theme_minimal() +
    ggplot2::theme(axis.text.x = ggplot2::element_text(angle = 45, hjust = 1))
}

# Dimension names from names or indices (NULL: all).
.attribution_dims <- function(dims, available) {
  if (is.null(dims)) return(available)
  ok <- is.atomic(dims) && length(dims) && !anyNA(dims) &&
    (if (is.character(dims)) all(dims %in% available)
     else is.numeric(dims) && all(dims == round(dims) & dims >= 1 & dims <= length(available)))
  if (!ok) {
    .stop("'dims' must name dimensions of the attribution (", paste(utils::head(available, 3), collapse = ", "),
          ", ...) or give indices in 1..", length(available), "; got ", .show(dims), ".")
  }
  if (is.character(dims)) dims else available[dims]
}

.check_attribution <- function(a) {
  if (!is.matrix(a) || !is.numeric(a) || is.null(rownames(a)) || is.null(colnames(a)) || any(!is.finite(a))) {
    .stop("'attribution' must be the genes x dimensions matrix from ConcordAttribution().")
  }
  a
}

# Cells as 1-based indices from names, indices or a logical vector (NULL: all), each
# cell at most once.
.cell_indices <- function(cells, names) {
  if (is.null(cells)) return(seq_along(names))
  n <- length(names)
  if (!is.atomic(cells) || !length(cells) || anyNA(cells)) {
    .stop("'cells' must be cell names, indices in 1..", n, " or a logical vector without NA; got ",
          .show(cells), ".")
  }
  idx <- if (is.logical(cells)) {
    if (length(cells) != n) .stop("a logical 'cells' needs one value per cell (", n, "); got ", length(cells), ".")
    which(cells)
  } else if (is.character(cells)) {
    m <- match(cells, names)
    if (anyNA(m)) .stop(sum(is.na(m)), " of the 'cells' are not in the data (first: ", cells[is.na(m)][1], ").")
    m
  } else if (is.numeric(cells) && all(is.finite(cells)) && all(cells == round(cells)) &&
             all(cells >= 1 & cells <= n)) {
    as.integer(cells)
  } else {
    .stop("'cells' must be cell names, indices in 1..", n, " or a logical vector; got ", .show(cells), ".")
  }
  if (length(idx) == 0L) .stop("'cells' selects no cell.")
  if (anyDuplicated(idx)) {
    .stop("'cells' names ", sum(duplicated(idx)), " cell(s) more than once (first: ",
          cells[duplicated(idx)][1], "); give each cell once.")
  }
  idx
}
