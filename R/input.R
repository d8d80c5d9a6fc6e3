# Reading expression and batch labels out of the user's object, and preparing the
# genes x cells matrix the engine trains on.

# The one place that reads a Seurat assay. SeuratObject 4 takes `slot =`; SeuratObject 5
# stores it as layers, possibly split by batch, which are joined first. Named arguments
# only: SeuratObject 4 silently ignores unknown ones such as `layer =`.
.seurat_matrix <- function(object, assay, slot) {
  if (!assay %in% names(object@assays)) {
    .stop("assay '", assay, "' not found in the Seurat object; available: ",
          paste(names(object@assays), collapse = ", "), ".")
  }
  if (!slot %in% c("counts", "data")) {
    .stop("'slot' must be \"data\" (log-normalized, the default) or \"counts\"; got ", .show(slot), ".")
  }
  a <- object[[assay]]
  if (utils::packageVersion("SeuratObject") >= "5.0.0" && inherits(a, "Assay5")) {
    layers <- getExportedValue("SeuratObject", "Layers")(a, search = slot)
    if (length(layers) > 1L) a <- getExportedValue("SeuratObject", "JoinLayers")(a, layers = slot)
    return(getExportedValue("SeuratObject", "LayerData")(a, layer = slot))
  }
  SeuratObject::GetAssayData(object, assay = assay, slot = slot)
}

# The one place that reads a SingleCellExperiment assay: "logcounts" if present, else
# "counts", unless the user names one.
.sce_matrix <- function(object, assay) {
  available <- SummarizedExperiment::assayNames(object)
  if (is.null(assay)) assay <- if ("logcounts" %in% available) "logcounts" else "counts"
  .check_string(assay, "assay")
  if (!assay %in% available) {
    .stop("assay '", assay, "' not found in the SingleCellExperiment; available: ",
          if (length(available)) paste(available, collapse = ", ") else "none", ".")
  }
  SummarizedExperiment::assay(object, assay, withDimnames = TRUE)
}

# An embedding and its "concord" information into a SingleCellExperiment.
.store_sce <- function(object, emb, reduction.name) {
  misc <- attr(emb, "concord")
  attr(emb, "concord") <- NULL
  SingleCellExperiment::reducedDim(object, reduction.name) <- emb
  info <- S4Vectors::metadata(object)
  info$concord[[reduction.name]] <- misc
  S4Vectors::metadata(object) <- info
  object
}

# One value per cell from `x`: a metadata column name, or a vector with one value per
# cell. `name` is the argument, for messages. Where there is metadata (an object), a
# single string is always a column name, even for a one-cell object.
.cell_values <- function(x, name, meta, n.cells) {
  if (is.character(x) && length(x) == 1L && (!is.null(meta) || n.cells != 1L)) {
    if (is.null(meta) || !x %in% colnames(meta)) {
      .stop("'", name, "' column '", x, "' not found in the cell metadata",
            if (!is.null(meta) && ncol(meta) > 0L)
              paste0("; available: ", paste(colnames(meta), collapse = ", ")),
            ". Give a column name or a vector with one value per cell.")
    }
    x <- meta[[x]]
  }
  if (!is.atomic(x) || length(x) != n.cells) {
    .stop("'", name, "' must be a metadata column name or a vector with one value per cell (",
          n.cells, " cells); got ", .show(x), ".")
  }
  x
}

# Batch labels as a factor; NULL means one dataset.
.batch_labels <- function(group.by, meta, n.cells) {
  if (is.null(group.by)) return(factor(rep("all", n.cells)))
  labels <- .cell_values(group.by, "group.by", meta, n.cells)
  if (anyNA(labels)) {
    .stop("group.by has ", sum(is.na(labels)), " missing (NA) batch label(s); give every cell a ",
          "batch, or subset the object to labelled cells first.")
  }
  droplevels(as.factor(labels))
}

# Each batch must fill at least one mini-batch of the minimum size.
.check_batch_sizes <- function(batch, min.cells = 4L) {
  sizes <- table(batch)
  small <- sizes[sizes < min.cells]
  if (length(small)) {
    .stop("batch(es) ", paste0("'", names(small), "' (", small, " cells)", collapse = ", "),
          " have fewer than ", min.cells, " cells, too few for a training batch. Merge them ",
          "with another batch or remove those cells.")
  }
}

.as_dgc <- function(x) {
  if (inherits(x, "dgCMatrix")) return(x)
  if (inherits(x, "DelayedMatrix")) return(.delayed_as_dgc(x))
  if (!(is.matrix(x) || inherits(x, "Matrix")) || !(is.numeric(x) || inherits(x, "Matrix"))) {
    .stop("expected a numeric features x cells matrix or dgCMatrix; got an object of class ",
          class(x)[1], ".")
  }
  methods::as(methods::as(methods::as(x, "CsparseMatrix"), "generalMatrix"), "dMatrix")
}

# A DelayedMatrix (e.g. an HDF5-backed assay, HDF5Array or TENxMatrix) as a source
# (.new_source()) read a block of cells at a time, each block about `block.bytes` were it
# dense: training reads it twice (scan, store) and never holds more than one block in R.
.delayed_source <- function(x, block.bytes = 1e8) {
  if (!DelayedArray::type(x) %in% c("double", "integer", "logical")) {
    .stop("expected a numeric features x cells matrix; the DelayedMatrix holds ", DelayedArray::type(x), " values.")
  }
  per.block <- max(1L, as.integer(floor(block.bytes / 8 / max(1L, nrow(x)))))
  blocks <- function(f) {
    for (s in seq(1L, ncol(x), by = per.block)) {
      cells <- seq.int(s, min(ncol(x), s + per.block - 1L))
      m <- methods::as(methods::as(x[, cells, drop = FALSE], "dgCMatrix"), "dMatrix")
      f(m@p, m@i, m@x)
    }
  }
  .new_source(dim(x), dimnames(x), if (ncol(x) && nrow(x)) blocks else function(f) NULL)
}

# A DelayedMatrix as one dgCMatrix, joined from its blocks of cells (.delayed_source()).
.delayed_as_dgc <- function(x, block.bytes = 1e8) {
  parts <- list()
  .delayed_source(x, block.bytes)$blocks(function(p, i, v) {
    parts[[length(parts) + 1L]] <<- methods::new("dgCMatrix", p = p, i = i, x = v, Dim = c(nrow(x), length(p) - 1L))
  })
  out <- if (length(parts) == 0L) {
    Matrix::sparseMatrix(i = integer(0), j = integer(0), x = numeric(0), dims = dim(x))
  } else if (length(parts) == 1L) parts[[1]] else do.call(cbind, parts)
  dimnames(out) <- dimnames(x)
  out
}

# A features x cells input with both dimensions and every name, named by default.
.checked_shape <- function(x) {
  if (ncol(x) == 0L || nrow(x) == 0L) {
    .stop("the input has ", nrow(x), " features and ", ncol(x), " cells; RunConcord needs ",
          "both. Check the object or the subset you passed.")
  }
  if (is.null(rownames(x))) rownames(x) <- paste0("gene_", seq_len(nrow(x)))
  if (is.null(colnames(x))) colnames(x) <- paste0("cell_", seq_len(ncol(x)))
  .check_feature_names(rownames(x))
  x
}

# Calls f(p, i, x) on the compressed slots of each block of cells of `x`: a dgCMatrix
# is one block (its slots, not copied), a file source (R/h5-sources.R) reads its
# blocks in turn.
.each_block <- function(x, f) {
  if (inherits(x, "concord_source")) x$blocks(f) else f(x@p, x@i, x@x)
  invisible(NULL)
}

# One pass over the input in the engine: per-gene sums of the values as given and
# log-normalized, and the checks of values the engine cannot use. `counts`: every value
# a whole number (log-normalized data never is), so the input is log-normalized.
# `batch` (a factor, one label per cell): the sums per batch too, for ranking variable
# genes within each batch ($batch.moments, .batch_moments(); $expressed counts each
# gene's non-zero cells).
.scan_input <- function(x, verbose, batch = NULL) {
  if (!is.null(batch) && (!is.factor(batch) || length(batch) != ncol(x) || anyNA(batch))) {
    .stop("the batches for choosing features must be a factor with one label per cell (",
          ncol(x), " cells); got ", .show(batch), ".")
  }
  scan <- .concord_scan_new(nrow(x), if (is.null(batch)) 0L else nlevels(batch))
  domain <- if (is.null(batch)) integer(0) else as.integer(batch) - 1L
  done <- 0L  # cells scanned: blocks come in the order of the cells
  .each_block(x, function(p, i, v) {
    n <- length(p) - 1L
    .concord_scan_add(scan, p, i, v, .scale_factor, if (is.null(batch)) integer(0) else domain[done + seq_len(n)])
    done <<- done + n
  })
  if (!is.null(batch) && done != ncol(x)) .stop("the input's blocks held ", done, " cells, not ", ncol(x), ".")
  s <- .concord_scan_result(scan)
  if (s$non_finite > 0) {
    .stop("the expression matrix holds ", s$non_finite, " non-finite value(s) (NA, NaN ",
          "or Inf); remove or replace them first.")
  }
  if (s$too_large > 0) {
    .stop("the expression matrix holds ", s$too_large, " value(s) above 3.4e38, the ",
          "largest single-precision (float32) number, which the engine computes in; the ",
          "largest is ", format(s$largest), ". Check the input (log-normalized data or raw ",
          "counts are expected).")
  }
  if (s$negative > 0) {
    .stop("the expression matrix holds negative values (e.g. scaled data); give raw counts or ",
          "log-normalized data instead.")
  }
  s$counts <- s$fractional == 0 && s$largest > 0
  if (s$counts && verbose) {
    message("The input looks like raw counts; log-normalizing it ",
            "(counts / cell total * 10000, then log1p).")
  }
  s$input <- if (s$counts) .input_counts else .input_lognorm
  s$moments <- .gene_moments(s, log = s$counts)
  if (!is.null(batch)) {
    s$batch.moments <- .batch_moments(s, log = s$counts)
    s[c("domain_sum", "domain_sum_sq", "domain_log_sum", "domain_log_sum_sq")] <- NULL
  }
  s
}

# Seurat's LogNormalize: log1p(count / cell total * scale.factor).
.log_normalize <- function(x, scale.factor = .scale_factor, threads = 1L) {
  x@x <- .concord_log_normalize(x@p, x@x, scale.factor, as.integer(threads))
  x
}

.scale_factor <- 1e4

# The features x cells dgCMatrix as the engine reads it: checked for values it cannot
# use, log-normalized if it holds raw counts (recorded in attr(, "input")), with the
# per-gene moments of its values in attr(, "scan") (per batch too with `batch`,
# .scan_input()).
.normalized_input <- function(x, verbose, batch = NULL) {
  x <- .checked_shape(.as_dgc(x))
  scan <- .scan_input(x, verbose, batch)
  if (scan$counts) x <- .log_normalize(x)
  attr(x, "input") <- scan$input
  attr(x, "scan") <- scan[c("moments", "batch.moments", "expressed")]
  x
}

.input_counts <- "raw counts, log-normalized (log1p(count / cell total * 10000))"
.input_lognorm <- "log-normalized values, used as given"

# Features are matched by name (selection, projection onto a model), so a name held by
# two rows would silently stand for the first of them only.
.check_feature_names <- function(names) {
  if (anyNA(names) || any(!nzchar(names))) {
    .stop("the expression matrix has ", sum(is.na(names) | !nzchar(names)), " feature(s) ",
          "without a name (NA or \"\"); name every row (e.g. rownames(x) <- ...) first.")
  }
  dup <- unique(names[duplicated(names)])
  if (length(dup)) {
    .stop("the expression matrix has ", length(dup), " duplicated feature name(s) (",
          paste(utils::head(dup, 5), collapse = ", "), if (length(dup) > 5) ", ...",
          "); each name must be one row. Make them unique (rownames(x) <- make.unique(rownames(x))) ",
          "or sum the duplicated rows (rowsum(x, rownames(x))) first.")
  }
}

# The matrix to train on: normalized input restricted to `features` (default: the most
# variable genes, ranked within each batch of `feature.batch` when it is given).
.prepare_expression <- function(x, features, verbose, feature.batch = NULL) {
  x <- .normalized_input(x, verbose, feature.batch)
  input <- attr(x, "input")
  x <- x[.choose_features(features, rownames(x), attr(x, "scan"), verbose), , drop = FALSE]
  attr(x, "input") <- input
  x
}

# Rows of `x` in the order of `features`; features the data lacks become rows of zeros.
.align_features <- function(x, features) {
  at <- match(features, rownames(x))
  found <- !is.na(at)
  if (!any(found)) {
    .stop("the query shares none of the model's ", length(features), " features (first: ",
          paste(utils::head(features, 3), collapse = ", "), "); check the feature names and assay.")
  }
  if (!all(found)) {
    warning(sum(!found), " of the model's ", length(features), " features are missing from ",
            "the query and are set to zero.", call. = FALSE)
  }
  # A 0/1 selection matrix places the rows in one sparse product.
  pick <- Matrix::sparseMatrix(i = which(found), j = at[found], x = 1,
                               dims = c(length(features), nrow(x)))
  out <- methods::as(pick %*% x, "CsparseMatrix")
  dimnames(out) <- list(features, colnames(x))
  attr(out, "input") <- attr(x, "input")
  attr(out, "missing.features") <- features[!found]
  out
}
