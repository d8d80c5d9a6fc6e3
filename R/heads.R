# The optional heads on the embedding: the classifier (labels in, predictions out) and
# the decoder (batch-corrected expression out).

# Class labels as a factor with NA for unlabelled cells.
.class_labels <- function(class.by, meta, n.cells) {
  if (is.null(class.by)) return(NULL)
  labels <- droplevels(as.factor(.cell_values(class.by, "class.by", meta, n.cells)))
  if (nlevels(labels) < 2L) {
    .stop("class.by has ", nlevels(labels), " class(es) among its labelled cells; the classifier needs at least 2.")
  }
  labels
}

# Class probabilities of embedded cells from the model's head, a Linear layer on the
# embedding: softmax(z W^T + b). A cell whose highest probability is below
# `min.confidence` (default: the model's, stored by RunConcerto; else 0) is "unassigned".
.class_predictions <- function(emb, model, min.confidence = NULL) {
  if (is.null(model$classes)) return(NULL)
  if (is.null(min.confidence)) min.confidence <- model$params$class_min_confidence
  if (is.null(min.confidence)) min.confidence <- 0
  w <- model$weights[["classifier.weight"]]
  b <- model$weights[["classifier.bias"]]
  logits <- unclass(emb)[, , drop = FALSE] %*% t(matrix(w, nrow = attr(w, "shape")[1], byrow = TRUE))
  logits <- sweep(logits, 2, as.numeric(b), "+")
  logits <- logits - apply(logits, 1, max)
  prob <- exp(logits) / rowSums(exp(logits))
  dimnames(prob) <- list(rownames(emb), model$classes)
  best <- max.col(prob, ties.method = "first")
  score <- prob[cbind(seq_len(nrow(prob)), best)]
  list(predicted = .reject(model$classes[best], score >= min.confidence, model$classes),
       score = score, probabilities = prob)
}

# Calls as a factor over the classes `levels`, those not kept replaced by `unassigned`
# (a level added after the classes only when some call is rejected): the rejection
# option of the classifier heads and of TransferLabels().
.reject <- function(calls, keep, levels, unassigned = "unassigned") {
  label <- ifelse(keep, calls, unassigned)
  factor(label, levels = unique(c(levels, if (!all(keep)) unassigned)))
}

# Predicted classes as cell metadata columns of a Seurat object or SCE.
.store_classes <- function(object, classes) {
  if (is.null(classes)) return(object)
  if (inherits(object, "Seurat")) {
    object[["concord.class"]] <- classes$predicted
    object[["concord.class.score"]] <- classes$score
  } else {
    SummarizedExperiment::colData(object)[["concord.class"]] <- classes$predicted
    SummarizedExperiment::colData(object)[["concord.class.score"]] <- classes$score
  }
  object
}

# The batch that corrected expression is decoded as, checked against the batch levels.
.decode_batch <- function(decode.batch, batch, use.decoder) {
  if (is.null(decode.batch)) return(if (use.decoder) levels(batch)[1] else NULL)
  if (!use.decoder) .stop("'decode.batch' needs use.decoder = TRUE.")
  if (!(length(decode.batch) == 1L && as.character(decode.batch) %in% levels(batch))) {
    .stop("decode.batch ", .show(decode.batch), " is not one of the batches: ",
          paste(levels(batch), collapse = ", "), ".")
  }
  as.character(decode.batch)
}

# Features x cells expression decoded from the embedding as if every cell came from
# batch `as`.
.decode_expression <- function(emb, model, as, threads) {
  out <- .concord_decode(unclass(emb)[, , drop = FALSE], model$weights, model$params,
                         match(as, model$batches) - 1L, length(model$features), threads)
  dimnames(out) <- list(model$features, rownames(emb))
  out
}
