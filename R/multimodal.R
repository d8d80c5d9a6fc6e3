# Multimodal input (RNA and surface proteins of the same cells, say): one features x
# cells matrix per modality, each with its own features and normalization, trained with
# one encoder per modality and fused into one embedding.
#
# The engine keeps one encoder whose first layer is block-diagonal over the modalities'
# features (src/concord/model.h): each modality's features feed only its own hidden
# units and its own layers. RunConcord, RunSSL and RunConcerto all train several
# modalities through .train_multimodal(). The engine returns the modalities' embeddings
# side by side; fusion (concatenation or sum) is applied here, and the same rule serves
# training and projection:
#   - concat and clip: the joint embedding is the modalities' embeddings concatenated
#     (the SSL benchmark concatenates after CLIP training too);
#   - sum: their element-wise sum (Concerto's choice).
# Concerto fuses inside its teacher (before a batch norm and a Dense layer), so its
# engine output leads with the joint embedding, followed by each modality's own
# (.modality_outputs()).
# A query lacking a modality gets a zero embedding for it: its block of the
# concatenation is 0, and it adds nothing to the sum. Distances between such a query and
# the reference are then best taken in the modalities the query has
# (misc$modality.embeddings), which is what PredictModality() does.

.fusions <- c("sum", "concat", "clip")  # the first is RunConcord's default

# The checked fusion of a verb: `choices` in the verb's order (its default first).
# Concerto refuses CLIP, whose cross-modal contrast would replace its teacher-student one.
.check_fusion <- function(fusion, choices, verb) {
  if (identical(fusion, "clip") && !"clip" %in% choices) {
    .stop(verb, "() does not take fusion = \"clip\": its loss contrasts the teacher's and the ",
          "student's embeddings of one cell, and CLIP's contrast between a cell's modalities would ",
          "replace that self-distillation. Use \"sum\" (Concerto's own) or \"concat\".")
  }
  .match_choice(fusion, choices, "fusion")
}

# A verb's default-method input: a single features x cells matrix as given, or a list
# of modalities checked (.check_modalities()).
.verb_input <- function(object) if (.is_modality_list(object)) .check_modalities(object) else object

# The number of cells of a verb's input (a matrix or a list of modalities).
.input_cells <- function(object) .n_cells(if (.is_modality_list(object)) object[[1]] else object)

# Whether the default method's input holds several modalities: a list of matrices.
.is_modality_list <- function(x) {
  is.list(x) && !is.data.frame(x) && !inherits(x, c("Matrix", "concord_matrix"))
}

.is_multimodal_model <- function(model) length(model$modalities) > 1L

# The modalities as dgCMatrix in one cell order, checked: at least two, distinct names,
# features in each, the same cells (matched by name when every modality names them).
.check_modalities <- function(x) {
  nm <- names(x)
  if (is.null(nm) || anyNA(nm) || any(!nzchar(nm)) || anyDuplicated(nm)) {
    .stop("expected a features x cells matrix, or a list of them with distinct, non-empty ",
          "names, one per modality (e.g. list(RNA = rna, ADT = adt)); got a list with names ",
          if (is.null(nm)) "NULL" else paste0("'", nm, "'", collapse = ", "), ".")
  }
  if (length(x) < 2L) {
    .stop("a multimodal input needs at least two modalities (a named list of features x cells ",
          "matrices, e.g. list(RNA = rna, ADT = adt)); got ", length(x), ". Pass a single ",
          "matrix for one modality.")
  }
  x <- lapply(stats::setNames(nm, nm), function(m) .modality_matrix(x[[m]], m))
  .same_cells(x)
}

# One modality as a checked dgCMatrix with feature names.
.modality_matrix <- function(x, name) {
  x <- tryCatch(.as_dgc(x), error = function(e) {
    .stop("modality '", name, "': ", conditionMessage(e))
  })
  if (nrow(x) == 0L) {
    .stop("modality '", name, "' has no features (0 rows); every modality needs at least one. ",
          "Check the assay or drop that modality.")
  }
  if (ncol(x) == 0L) .stop("modality '", name, "' has no cells.")
  if (is.null(rownames(x))) rownames(x) <- paste0(name, "_", seq_len(nrow(x)))
  .check_feature_names(rownames(x))
  if (any(!is.finite(x@x))) {
    .stop("modality '", name, "' holds ", sum(!is.finite(x@x)), " non-finite value(s) (NA, NaN ",
          "or Inf); remove or replace them first.")
  }
  x
}

# The modalities in the first one's cell order, or an error naming the mismatch.
.same_cells <- function(x) {
  first <- x[[1]]
  for (m in names(x)[-1]) {
    if (ncol(x[[m]]) != ncol(first)) {
      .stop("the modalities have different cells: '", names(x)[1], "' has ", ncol(first),
            " and '", m, "' has ", ncol(x[[m]]), "; give every modality the same cells.")
    }
    a <- colnames(first)
    b <- colnames(x[[m]])
    if (!is.null(a) && !is.null(b) && !identical(a, b)) {
      at <- match(a, b)
      if (anyNA(at) || anyDuplicated(at)) {
        .stop("the modalities have different cells: ", sum(is.na(at)), " cell(s) of '", names(x)[1],
              "' (first: ", a[which(is.na(at))[1]], ") are not in '", m, "'; give every ",
              "modality the same cells.")
      }
      x[[m]] <- x[[m]][, at, drop = FALSE]
    }
  }
  if (is.null(colnames(first))) {
    named <- Filter(function(v) !is.null(colnames(v)), x)
    cells <- if (length(named)) colnames(named[[1]]) else paste0("cell_", seq_len(ncol(first)))
    for (m in names(x)) colnames(x[[m]]) <- cells
  }
  x
}

# The engine's input for a multimodal training run: the first modality prepared as a
# single-modality input is (log-normalized if counts, `features` or its variable genes),
# the others as given (e.g. CLR-normalized proteins, negative values allowed), stacked
# with "<modality>:" prefixed feature names. attr(, "modalities") holds each modality's
# features. `feature.batch`: batches to rank the first modality's variable genes within.
.prepare_modalities <- function(x, features, verbose, feature.batch = NULL) {
  x <- .check_modalities(x)
  first <- .prepare_expression(x[[1]], features, verbose, feature.batch)
  input <- paste0(names(x)[1], ": ", attr(first, "input"), "; ",
                  paste0(names(x)[-1], ": values as given", collapse = "; "))
  x[[1]] <- first
  .stack_modalities(x, input)
}

.stack_modalities <- function(x, input) {
  features <- lapply(x, rownames)
  out <- do.call(rbind, unname(lapply(x, function(v) methods::as(v, "CsparseMatrix"))))
  rownames(out) <- unlist(Map(function(m, f) paste0(m, ":", f), names(x), features), use.names = FALSE)
  colnames(out) <- colnames(x[[1]])
  attr(out, "input") <- input
  attr(out, "modalities") <- features
  out
}

# The engine's cells x (modalities * latent) output split per modality, and fused.
.split_modalities <- function(emb, modalities, latent.dim) {
  out <- lapply(seq_along(modalities), function(i) {
    block <- emb[, (i - 1L) * latent.dim + seq_len(latent.dim), drop = FALSE]
    dimnames(block) <- list(rownames(emb), paste0(modalities[i], "_", seq_len(latent.dim)))
    block
  })
  stats::setNames(out, modalities)
}

# The joint embedding of per-modality embeddings (a missing modality: NULL, i.e. a zero
# embedding).
.fuse_modalities <- function(blocks, modalities, fusion, latent.dim, n.cells) {
  zero <- matrix(0, n.cells, latent.dim)
  full <- lapply(modalities, function(m) if (is.null(blocks[[m]])) zero else unname(blocks[[m]]))
  if (fusion == "sum") Reduce(`+`, full) else do.call(cbind, full)
}

# The joint and per-modality embeddings of the engine's output `emb` (cells x columns)
# for a model of `modalities` whose query held `present` of them. Concerto's output is
# the joint embedding, then each modality's; the others' is the modalities' embeddings
# side by side, fused here.
.modality_outputs <- function(emb, modalities, params, reduction.key, present = modalities) {
  latent <- params$latent_dim
  inside <- identical(params$method, "concerto")
  head <- seq_len(latent)
  blocks <- .split_modalities(if (inside) emb[, -head, drop = FALSE] else emb, modalities, latent)
  blocks <- blocks[modalities[modalities %in% present]]
  joint <- if (inside) emb[, head, drop = FALSE] else
    .fuse_modalities(blocks, modalities, params$fusion, latent, nrow(emb))
  dimnames(joint) <- list(rownames(emb), paste0(reduction.key, seq_len(ncol(joint))))
  list(joint = joint, blocks = blocks)
}

# A multimodal training run (RunConcord, RunSSL, RunConcerto) on the modalities `x`: the
# embedding as the default method returns it, with the modalities' embeddings in
# attr(, "concord")$modality.embeddings.
.train_multimodal <- function(x, batch, features, params, fusion, verbose, reduction.key,
                              feature.batch = NULL) {
  if (isTRUE(params$n_classes > 0L) || isTRUE(params$decoder)) {
    .stop("'class.by' and 'use.decoder' are not supported with several modalities yet; train ",
          "on one modality for them.")
  }
  x <- .prepare_modalities(x, features, verbose, feature.batch)
  modalities <- attr(x, "modalities")
  params$modality_features <- unname(lengths(modalities))
  params$fusion <- fusion
  emb <- .train_embedding(x, batch, NULL, params, verbose, reduction.key, prepare = FALSE)
  info <- attr(emb, "concord")
  info$model$modalities <- modalities
  out <- .modality_outputs(unclass(emb)[, , drop = FALSE], names(modalities), params, reduction.key)
  info$modality.embeddings <- out$blocks
  info$fusion <- fusion
  joint <- out$joint
  attr(joint, "concord") <- info
  joint
}

# Projection onto a multimodal model: `query` is a named list holding some of the
# model's modalities (a single matrix is its first modality). Each is prepared as for
# training and aligned to the model's features; missing ones enter as zeros and their
# embeddings are dropped (a zero embedding in the fusion).
.project_multimodal <- function(query, model, threads, device, verbose, reduction.key) {
  modalities <- names(model$modalities)
  if (!.is_modality_list(query)) query <- stats::setNames(list(query), modalities[1])
  nm <- names(query)
  if (is.null(nm) || anyNA(nm) || any(!nzchar(nm)) || anyDuplicated(nm)) {
    .stop("the query's modalities must be a list with distinct names among the model's (",
          paste(modalities, collapse = ", "), ").")
  }
  unknown <- setdiff(nm, modalities)
  if (length(unknown)) {
    .stop("the model has no modality ", paste0("'", unknown, "'", collapse = ", "), "; its ",
          "modalities are ", paste(modalities, collapse = ", "), ".")
  }
  query <- lapply(stats::setNames(nm, nm), function(m) .modality_matrix(query[[m]], m))
  query <- if (length(query) > 1L) .same_cells(query) else query
  n.cells <- ncol(query[[1]])
  cells <- colnames(query[[1]])
  if (is.null(cells)) cells <- paste0("cell_", seq_len(n.cells))
  missing.features <- character(0)
  parts <- lapply(modalities, function(m) {
    f <- model$modalities[[m]]
    if (is.null(query[[m]])) {
      return(Matrix::sparseMatrix(i = integer(0), j = integer(0), x = numeric(0),
                                  dims = c(length(f), n.cells), dimnames = list(f, cells)))
    }
    v <- if (m == modalities[1]) .model_input(query[[m]], model$params, verbose) else query[[m]]
    v <- .align_features(v, f)
    missing.features <<- c(missing.features, if (length(attr(v, "missing.features")))
      paste0(m, ":", attr(v, "missing.features")))
    colnames(v) <- cells
    v
  })
  x <- .stack_modalities(stats::setNames(parts, modalities), model$input)
  emb <- .concord_encode(x, model$weights, model$params, threads, device)
  rownames(emb) <- cells
  out <- .modality_outputs(emb, modalities, model$params, reduction.key, present = nm)
  joint <- out$joint
  attr(joint, "concord") <- list(model = model, projected = TRUE, missing.features = missing.features,
                                 features = model$features, modalities = names(out$blocks),
                                 modality.embeddings = out$blocks, fusion = model$params$fusion)
  joint
}

# A Seurat verb's `assay`: list(assay = the one the DimReduc is stored with, modalities =
# the assays to train on jointly, NULL for one).
.seurat_assays <- function(object, assay) {
  .check_modality_names(assay, "assay")
  list(assay = .seurat_assay(object, assay[1]), modalities = if (length(assay) > 1L) assay)
}

# The named list of modalities of a Seurat object: `assays`, each from `slot`.
.seurat_modalities <- function(object, assays, slot) {
  stats::setNames(lapply(assays, function(a) .seurat_matrix(object, assay = a, slot = slot)), assays)
}

# The named list of modalities of a SingleCellExperiment: its main assay (named by
# `first`) and the altExps `altexps`, each altExp's "logcounts" if it has one, else its
# first assay, as given.
.sce_modalities <- function(object, assay, altexps, first) {
  available <- SingleCellExperiment::altExpNames(object)
  absent <- setdiff(altexps, available)
  if (length(absent)) {
    .stop("altExp ", paste0("'", absent, "'", collapse = ", "), " not found in the ",
          "SingleCellExperiment; available: ", if (length(available)) paste(available, collapse = ", ") else "none", ".")
  }
  alts <- lapply(stats::setNames(altexps, altexps), function(a) {
    alt <- SingleCellExperiment::altExp(object, a)
    if (length(SummarizedExperiment::assayNames(alt)) == 0L) .stop("altExp '", a, "' holds no assay.")
    SummarizedExperiment::assay(alt, if ("logcounts" %in% SummarizedExperiment::assayNames(alt)) "logcounts" else 1L,
                                withDimnames = TRUE)
  })
  c(stats::setNames(list(.sce_matrix(object, assay)), first), alts)
}

# Names of extra modalities must be strings.
.check_modality_names <- function(x, name) {
  if (!is.null(x) && !(is.character(x) && length(x) >= 1L && !anyNA(x) && all(nzchar(x)))) {
    .stop("'", name, "' must be a character vector of names; got ", .show(x), ".")
  }
  invisible(x)
}

# The per-modality embeddings stored with a reduction, or NULL.
.stored_modality_embeddings <- function(object, reduction) {
  if (inherits(object, "Seurat")) {
    if (!reduction %in% names(object@reductions)) return(NULL)
    return(SeuratObject::Misc(object[[reduction]])$modality.embeddings)
  }
  S4Vectors::metadata(object)$concord[[reduction]]$modality.embeddings
}

# The name of a SingleCellExperiment's main modality: its mainExpName, else "RNA".
.sce_main_name <- function(object) {
  name <- SingleCellExperiment::mainExpName(object)
  if (is.null(name) || is.na(name) || !nzchar(name)) "RNA" else name
}
