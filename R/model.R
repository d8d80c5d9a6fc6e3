# The trained model as an R object: plain R data (weights as numeric vectors), so that
# saveRDS() / readRDS() of the model, or of the object holding it, keep it working.

.model_format <- "concordR model"
.model_format_version <- 1L

.new_model <- function(weights, features, params, batches, input, loss, steps, n.cells,
                       classes = NULL) {
  structure(list(
    weights = weights, features = features, params = params, batches = batches,
    classes = classes,
    input = input, training = list(loss = loss, steps = steps, n.cells = n.cells),
    versions = list(concordR = as.character(utils::packageVersion("concordR")),
                    R = paste(R.version$major, R.version$minor, sep = "."),
                    format = .model_format_version)
  ), class = "ConcordModel")
}

#' The trained CONCORD model of an object
#'
#' [RunConcord()] keeps the trained model with its result: in the DimReduc's `misc`
#' (Seurat), in `metadata(x)$concord` (SingleCellExperiment) or in the `"concord"`
#' attribute (matrix). The model holds the encoder's weights, the features in their
#' order, how the input was normalized, the batch levels, the hyperparameters and the
#' versions it was made with. It is plain R data: `saveRDS()` of the model or of the
#' object that holds it keeps it working in a new R session.
#'
#' @param object A Seurat object, SingleCellExperiment, the matrix returned by
#'   [RunConcord()], or a `ConcordModel`.
#' @param reduction Name of the reduction made by [RunConcord()] (default `"concord"` for
#'   Seurat, `"CONCORD"` for SingleCellExperiment).
#' @return A `ConcordModel`.
#' @seealso [SaveConcordModel()], [ProjectConcord()]
#' @export
#' @examples
#' data <- readRDS(system.file("extdata", "kang_ifnb.rds", package = "concordR"))
#' emb <- RunConcord(data$counts, group.by = data$meta$batch, epochs = 2, min.steps = 0,
#'                   latent.dim = 16, threads = 1, verbose = FALSE)
#' model <- GetConcordModel(emb)
#' model
GetConcordModel <- function(object, reduction = NULL) {
  if (inherits(object, "ConcordModel")) return(.validate_model(object, "the ConcordModel"))
  model <- if (inherits(object, "Seurat")) {
    reduction <- if (is.null(reduction)) "concord" else reduction
    if (!reduction %in% names(object@reductions)) {
      .stop("reduction '", reduction, "' not found; available: ",
            paste(names(object@reductions), collapse = ", "), ". Run RunConcord() first.")
    }
    SeuratObject::Misc(object[[reduction]])$model
  } else if (inherits(object, "SingleCellExperiment")) {
    reduction <- if (is.null(reduction)) "CONCORD" else reduction
    S4Vectors::metadata(object)$concord[[reduction]]$model
  } else {
    attr(object, "concord")$model
  }
  if (!inherits(model, "ConcordModel")) {
    .stop("no CONCORD model found in this ", class(object)[1], " object",
          if (!is.null(reduction)) paste0(" (reduction '", reduction, "')"),
          "; run RunConcord() on it first, or pass a ConcordModel.")
  }
  .validate_model(model, paste("this", class(object)[1], "object"))
}

#' @export
print.ConcordModel <- function(x, ...) {
  p <- x$params
  cat(.method_label(p), " model (concordR ", x$versions$concordR, ")\n", sep = "")
  cat("  encoder:  ", paste(c(length(x$features), p$encoder_dims, p$latent_dim), collapse = " -> "),
      " (", p$norm, " norm)\n", sep = "")
  cat("  trained:  ", x$training$n.cells, " cells in ", length(x$batches), " batch(es), ",
      x$training$steps, " steps, final loss ", format(utils::tail(x$training$loss, 1), digits = 4),
      "\n", sep = "")
  cat("  input:    ", x$input, "\n", sep = "")
  if (.is_multimodal_model(x)) {
    cat("  modalities: ", paste0(names(x$modalities), " (", lengths(x$modalities), " features)", collapse = ", "),
        "; one encoder each, fused by ", p$fusion, "\n", sep = "")
  }
  if (.is_ssl(p)) cat("  views:    ", .ssl_augment_label(p$augment), "; ", p$sampler, " sampler\n", sep = "")
  if (!is.null(x$classes)) cat("  classes:  ", paste(x$classes, collapse = ", "), "\n", sep = "")
  invisible(x)
}

#' @export
summary.ConcordModel <- function(object, ...) {
  p <- object$params
  structure(list(
    method = .method_label(p), features = length(object$features),
    layers = c(p$encoder_dims, p$latent_dim),
    batches = object$batches,
    parameters = if (.is_ssl(p)) .ssl_summary_parameters(p)
                 else p[c("epochs", "batch_size", "lr", "lr_decay", "temperature", "beta",
                          "element_mask", "feature_mask", "p_intra_knn", "p_intra_domain",
                          "min_steps", "seed")],
    training = object$training, input = object$input, versions = object$versions,
    n.weights = sum(lengths(object$weights))
  ), class = "summary.ConcordModel")
}

#' @export
print.summary.ConcordModel <- function(x, ...) {
  cat(x$method, " model: ", x$features, " features -> ", paste(x$layers, collapse = " -> "),
      " (", format(x$n.weights, big.mark = ","), " weights)\n", sep = "")
  cat("Batches (", length(x$batches), "): ", paste(utils::head(x$batches, 10), collapse = ", "),
      if (length(x$batches) > 10) ", ...", "\n", sep = "")
  cat("Input: ", x$input, "\n", sep = "")
  cat("Training: ", x$training$n.cells, " cells, ", x$training$steps, " steps; loss by epoch: ",
      paste(format(x$training$loss, digits = 3), collapse = " "), "\n", sep = "")
  cat("Parameters:\n")
  numbers <- vapply(x$parameters, is.numeric, logical(1))
  print(unlist(x$parameters[numbers]))
  for (n in names(x$parameters)[!numbers]) cat(n, ": ", x$parameters[[n]], "\n", sep = "")
  cat("Versions: concordR ", x$versions$concordR, ", R ", x$versions$R, "\n", sep = "")
  invisible(x)
}

#' Save and load a CONCORD model
#'
#' `SaveConcordModel()` writes a model to a file that `LoadConcordModel()` reads back on
#' any platform, in a new session or with a later concordR. The file is an RDS file of
#' plain R data with a format tag; a file that is corrupt, is not a concordR model, or
#' does not fit together (weights that do not match the architecture) gives an error.
#'
#' @param model A `ConcordModel`, or an object holding one (see [GetConcordModel()]).
#' @param file Path of the file.
#' @return `SaveConcordModel()`: `file`, invisibly. `LoadConcordModel()`: the `ConcordModel`.
#' @export
#' @examples
#' data <- readRDS(system.file("extdata", "kang_ifnb.rds", package = "concordR"))
#' emb <- RunConcord(data$counts, group.by = data$meta$batch, epochs = 2, min.steps = 0,
#'                   latent.dim = 16, threads = 1, verbose = FALSE)
#' file <- tempfile(fileext = ".rds")
#' SaveConcordModel(GetConcordModel(emb), file)
#' LoadConcordModel(file)
SaveConcordModel <- function(model, file) {
  model <- GetConcordModel(model)
  .check_string(file, "file")
  dir <- dirname(path.expand(file))
  if (!dir.exists(dir)) {
    .stop("cannot save the model to '", file, "': the directory '", dir, "' does not exist; ",
          "create it first (dir.create()) or choose another path.")
  }
  if (dir.exists(file)) .stop("cannot save the model to '", file, "': it is a directory; give a file name.")
  if (file.access(dir, 2L) != 0L || (file.exists(file) && file.access(file, 2L) != 0L)) {
    .stop("cannot save the model to '", file, "': no permission to write there; choose a ",
          "writable path.")
  }
  tryCatch(saveRDS(list(format = .model_format, format.version = .model_format_version,
                        model = unclass(model)), file),
           error = function(e) .stop("could not write the model to '", file, "' (",
                                     conditionMessage(e), "); check the path and free disk space."))
  invisible(file)
}

#' @rdname SaveConcordModel
#' @export
LoadConcordModel <- function(file) {
  .check_string(file, "file")
  if (!file.exists(file)) .stop("model file '", file, "' does not exist.")
  content <- tryCatch(readRDS(file), error = function(e) {
    .stop("could not read '", file, "' as a concordR model file (", conditionMessage(e),
          "); the file may be corrupt or of another kind.")
  })
  if (!is.list(content) || !identical(content$format, .model_format)) {
    .stop("'", file, "' is not a concordR model file (written by SaveConcordModel()).")
  }
  if (!is.numeric(content$format.version) || content$format.version > .model_format_version) {
    .stop("'", file, "' was written by a newer concordR (model format ", content$format.version,
          "); update concordR to read it.")
  }
  .validate_model(structure(content$model, class = "ConcordModel"), paste0("'", file, "'"))
}

# A model whose parts do not fit together is refused here rather than deep in the engine.
.validate_model <- function(model, what) {
  problem <- .model_problem(model)
  if (!is.null(problem)) {
    .stop(what, " holds a damaged CONCORD model: ", problem, ". Save the model again from the ",
          "object RunConcord() returned, or retrain it.")
  }
  model
}

# What is wrong with a model, or NULL.
.model_problem <- function(model) {
  missing <- setdiff(c("weights", "features", "params", "batches", "input", "training", "versions"),
                     names(model))
  if (length(missing)) return(paste0("missing part(s): ", paste(missing, collapse = ", ")))
  f <- model$features
  if (!is.character(f) || !length(f) || anyNA(f) || anyDuplicated(f)) {
    return("its features are not a set of distinct names")
  }
  if (!is.character(model$batches) || !length(model$batches) || anyNA(model$batches)) {
    return("its batches are not a set of names")
  }
  p <- model$params
  arch <- c("latent_dim", "encoder_dims", "norm", "dropout")
  if (!is.list(p) || !all(arch %in% names(p))) {
    return(paste0("its parameters lack the architecture (", paste(arch, collapse = ", "), ")"))
  }
  if (length(model$modalities) > 1L) {
    mf <- unlist(Map(function(m, v) paste0(m, ":", v), names(model$modalities), model$modalities), use.names = FALSE)
    if (!identical(mf, f) || !identical(as.numeric(p$modality_features), as.numeric(lengths(model$modalities))) ||
        !isTRUE(p$fusion %in% .fusions)) {
      return("its modalities do not match its features and parameters")
    }
  }
  if (isTRUE(p$decoder) && !identical(as.numeric(p$n_domains), as.numeric(length(model$batches)))) {
    return("its decoder's batch embedding does not match its batches")
  }
  if (!is.null(model$classes) && !identical(as.numeric(p$n_classes), as.numeric(length(model$classes)))) {
    return("its classifier does not match its classes")
  }
  w <- model$weights
  ok <- is.list(w) && length(w) && !is.null(names(w)) &&
    all(vapply(w, function(v) is.numeric(v) && is.numeric(attr(v, "shape")) &&
                 length(v) == prod(attr(v, "shape")), logical(1)))
  if (!ok) return("its weights are not arrays of the shape they record")
  bad <- names(w)[!vapply(w, function(v) all(is.finite(v)), logical(1))]
  if (length(bad)) {
    return(paste0("weight(s) ", paste(utils::head(bad, 3), collapse = ", "),
                  " hold non-finite values (NaN or Inf)"))
  }
  # The engine builds the network the parameters describe and checks every weight
  # against it, by encoding one empty cell.
  empty <- Matrix::sparseMatrix(i = integer(0), j = integer(0), x = numeric(0),
                                dims = c(length(f), 1L))
  tryCatch({
    .concord_encode(empty, w, p, 1L, "cpu")
    NULL
  }, error = function(e) {
    shape <- regmatches(conditionMessage(e), regexpr("weights for '[^']*'", conditionMessage(e)))
    if (length(shape)) paste0("the ", shape, " do not have the shape its features and layers need")
    else "its weights do not fit its features and layers"
  })
}
