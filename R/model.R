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
  if (inherits(object, "ConcordModel")) return(object)
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
  model
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
  if (!is.null(x$classes)) cat("  classes:  ", paste(x$classes, collapse = ", "), "\n", sep = "")
  invisible(x)
}

#' @export
summary.ConcordModel <- function(object, ...) {
  p <- object$params
  structure(list(
    method = .method_label(p), features = length(object$features),
    layers = c(p$encoder_dims, p$latent_dim),
    batches = object$batches, parameters = p[c("epochs", "batch_size", "lr", "lr_decay",
                                              "temperature", "beta", "element_mask",
                                              "feature_mask", "p_intra_knn", "p_intra_domain",
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
  print(unlist(x$parameters))
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
  saveRDS(list(format = .model_format, format.version = .model_format_version,
               model = unclass(model)), file)
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
  .validate_model(structure(content$model, class = "ConcordModel"), file)
}

# A model whose parts do not fit together is refused here rather than deep in the engine.
.validate_model <- function(model, what) {
  parts <- c("weights", "features", "params", "batches", "input", "training", "versions")
  missing <- setdiff(parts, names(model))
  bad <- length(missing) > 0L || !is.character(model$features) || !is.list(model$weights)
  if (!bad) {
    first <- model$weights[["weight_in"]]
    bad <- is.null(first) || !identical(as.numeric(attr(first, "shape"))[1], as.numeric(length(model$features))) ||
      any(vapply(model$weights, function(w) length(w) != prod(attr(w, "shape")), logical(1)))
  }
  if (bad) {
    .stop(what, " holds a damaged CONCORD model",
          if (length(missing)) paste0(" (missing: ", paste(missing, collapse = ", "), ")"),
          "; its weights do not fit its features and layers.")
  }
  model
}
