#' Concerto's attention weights: each cell's weights over its expressed genes
#'
#' The teacher of a [RunConcerto()] model pools each cell's expressed genes by attention;
#' the weights say how much each gene contributes to the cell's embedding, and serve as
#' clustering-free signatures at single-cell resolution (the paper's Figure 3d). A cell's
#' weights over its expressed genes sum to 1.
#'
#' @param object A Seurat object or SingleCellExperiment holding a Concerto model, or a
#'   features x cells expression matrix (default method, with `model`).
#' @param cells Cells to return (names or indices); `NULL` for all.
#' @param model For the default method: a `ConcordModel` from [RunConcerto()], or the
#'   object holding one (see [GetConcordModel()]).
#' @param reduction Name of the Concerto reduction holding the model.
#' @param assay,slot Expression to read, as for [RunConcerto()].
#' @param ... Passed between methods.
#' @return A sparse genes (the model's features) x cells `dgCMatrix` of attention
#'   weights, non-zero where a cell expresses a gene.
#' @seealso [TopAttentionGenes()], [PlotTopAttention()]
#' @export
#' @examples
#' data <- readRDS(system.file("extdata", "kang_ifnb.rds", package = "concordR"))
#' emb <- RunConcerto(data$counts, epochs = 1, min.steps = 20, threads = 1, verbose = FALSE)
#' att <- ConcertoAttention(data$counts, cells = 1:5, model = emb)
#' Matrix::colSums(att)
ConcertoAttention <- function(object, ...) UseMethod("ConcertoAttention")

#' @rdname ConcertoAttention
#' @export
ConcertoAttention.default <- function(object, cells = NULL, model, ...) {
  .check_dots(..., fun = "ConcertoAttention")
  if (missing(model)) .stop("'model' is missing: give the Concerto model (or the object RunConcerto() returned).")
  model <- .concerto_model(model)
  x <- .as_dgc(object)
  if (!is.null(cells)) x <- x[, .pick_cells(cells, colnames(x)), drop = FALSE]
  x <- Matrix::drop0(.align_features(.normalized_input(x, verbose = FALSE), model$features))
  weights <- .concerto_attention(x, model$weights, model$params)
  out <- methods::new("dgCMatrix", i = x@i, p = x@p, x = weights, Dim = dim(x), Dimnames = dimnames(x))
  out
}

#' @rdname ConcertoAttention
#' @export
ConcertoAttention.Seurat <- function(object, cells = NULL, reduction = "concerto", assay = NULL,
                                     slot = "data", ...) {
  assay <- .seurat_assay(object, assay)
  ConcertoAttention.default(.seurat_matrix(object, assay = assay, slot = slot), cells = cells,
                            model = GetConcordModel(object, reduction), ...)
}

#' @rdname ConcertoAttention
#' @export
ConcertoAttention.SingleCellExperiment <- function(object, cells = NULL, reduction = "CONCERTO",
                                                   assay = NULL, ...) {
  ConcertoAttention.default(.sce_matrix(object, assay), cells = cells,
                            model = GetConcordModel(object, reduction), ...)
}

#' Genes with the highest attention per group: Concerto's signatures
#'
#' Averages each gene's attention weight ([ConcertoAttention()]) over the cells of each
#' group (a cell that does not express a gene counts as weight 0) and returns the `n`
#' top genes per group: signatures read from the model itself, with no clustering or
#' differential expression test.
#'
#' Housekeeping genes expressed highly everywhere (ribosomal proteins, EIF1, TMSB4X)
#' draw much attention in every cell, so the highest mean weights of a group are mostly
#' the same genes in every group. By default genes are therefore ranked by their
#' specificity: the group's mean weight less the average of the other groups' means.
#' On kang_ctrl_5donors this puts CD79A and MS4A1 (B cells); S100A8, S100A9, CD14 and
#' LYZ (monocytes); GZMB, NKG7, GNLY and PRF1 (NK cells) in the top 20, where the
#' highest mean weights hold one or none of them. `rank.by = "weight"` ranks by the mean
#' weight itself.
#'
#' @param object As for [ConcertoAttention()].
#' @param group.by Group of each cell: a metadata column name (Seurat, SCE) or one label
#'   per cell.
#' @param n Genes per group.
#' @param rank.by `"specificity"` (default) or `"weight"`, see Details.
#' @param ... Passed to [ConcertoAttention()] (e.g. `model`, `reduction`, `assay`).
#' @return A data.frame with columns `group`, `gene`, `weight` (mean attention in the
#'   group), `rank` (1 = top) and `specificity` (`weight` less the other groups' mean),
#'   `n` rows per group; attribute `"weights"` holds the mean weights of the listed genes
#'   in every group (genes x groups), for [PlotTopAttention()].
#' @export
#' @examples
#' data <- readRDS(system.file("extdata", "kang_ifnb.rds", package = "concordR"))
#' emb <- RunConcerto(data$counts, epochs = 1, min.steps = 20, threads = 1, verbose = FALSE)
#' top <- TopAttentionGenes(data$counts, group.by = data$meta$cell_type, n = 5, model = emb)
#' head(top)
TopAttentionGenes <- function(object, group.by, n = 20, rank.by = c("specificity", "weight"), ...) {
  .check_number(n, "n", lower = 1, integer = TRUE)
  rank.by <- .match_choice(rank.by, c("specificity", "weight"), "rank.by")
  meta <- if (inherits(object, "Seurat")) object[[]] else if (inherits(object, "SingleCellExperiment")) {
    as.data.frame(SummarizedExperiment::colData(object))
  }
  groups <- .cell_values(group.by, "group.by", meta, ncol(object))
  if (anyNA(groups)) .stop("'group.by' has NA for ", sum(is.na(groups)), " cell(s); give every cell a group.")
  groups <- factor(groups)
  att <- ConcertoAttention(object, ...)
  # Mean per group as one sparse product: genes x cells times cells x groups.
  member <- Matrix::sparseMatrix(i = seq_along(groups), j = as.integer(groups),
                                 x = 1 / tabulate(groups)[as.integer(groups)],
                                 dims = c(length(groups), nlevels(groups)))
  means <- as.matrix(att %*% member)
  dimnames(means) <- list(rownames(att), levels(groups))
  n <- min(as.integer(n), nrow(means))
  top <- do.call(rbind, lapply(levels(groups), function(g) {
    w <- means[, g]
    others <- if (ncol(means) > 1L) rowMeans(means[, colnames(means) != g, drop = FALSE]) else 0
    specificity <- w - others
    score <- if (rank.by == "specificity") specificity else w
    pick <- order(-score, rownames(means))[seq_len(n)]
    data.frame(group = g, gene = rownames(means)[pick], weight = unname(w[pick]), rank = seq_len(n),
               specificity = unname(specificity[pick]), stringsAsFactors = FALSE)
  }))
  top$group <- factor(top$group, levels = levels(groups))
  rownames(top) <- NULL
  attr(top, "weights") <- means[unique(top$gene), , drop = FALSE]
  top
}

#' Heatmap of the top attention genes per group
#'
#' Shows the genes of [TopAttentionGenes()] (rows, grouped by the group they top) against
#' every group (columns), each gene's mean attention scaled to its maximum over the
#' groups, as the paper's Figure 3d.
#'
#' @param top The data.frame returned by [TopAttentionGenes()].
#' @return A ggplot object.
#' @export
#' @examples
#' data <- readRDS(system.file("extdata", "kang_ifnb.rds", package = "concordR"))
#' emb <- RunConcerto(data$counts, epochs = 1, min.steps = 20, threads = 1, verbose = FALSE)
#' top <- TopAttentionGenes(data$counts, group.by = data$meta$cell_type, n = 5, model = emb)
#' if (requireNamespace("ggplot2", quietly = TRUE)) PlotTopAttention(top)
PlotTopAttention <- function(top) {
  .require("ggplot2", "to plot attention")
  w <- attr(top, "weights")
  if (!is.data.frame(top) || is.null(w)) .stop("'top' must be the data.frame TopAttentionGenes() returned.")
  scaled <- w / pmax(apply(w, 1, max), .Machine$double.eps)
  genes <- unique(top$gene)
  table <- data.frame(gene = factor(rep(rownames(w), ncol(w)), levels = rev(genes)),
                      group = factor(rep(colnames(w), each = nrow(w)), levels = colnames(w)),
                      weight = as.vector(scaled))
  ggplot2::ggplot(table, ggplot2::aes(x = .data$group, y = .data$gene, fill = .data$weight)) +
    ggplot2::geom_tile() +
    ggplot2::scale_fill_viridis_c(name = "attention\n(scaled)", limits = c(0, 1)) +
    ggplot2::labs(x = NULL, y = NULL) +
    ggplot2::theme_minimal() +
    ggplot2::theme(axis.text.x = ggplot2::element_text(angle = 45, hjust = 1))
}

# The model of a Concerto result, with a clear error for any other model.
.concerto_model <- function(model) {
  model <- GetConcordModel(model)
  if (!identical(model$params$method, "concerto")) {
    .stop("attention weights need a model trained by RunConcerto(); this one was trained by ",
          .method_label(model$params), ".")
  }
  if (.is_multimodal_model(model)) {
    .stop("attention weights of a multimodal Concerto model (", paste(names(model$modalities), collapse = " + "),
          ") are not available yet; use a model trained on one modality.")
  }
  model
}

# Column indices of the chosen cells (names or indices), with a clear error.
.pick_cells <- function(cells, names) {
  at <- if (is.character(cells)) match(cells, names) else cells
  if (!is.numeric(at) || anyNA(at) || any(at < 1 | at > length(names) | at != round(at))) {
    .stop("'cells' must name cells of the object or give their indices (1 to ", length(names), ").")
  }
  as.integer(at)
}
