# Label-transfer probes: can a cell's type be read off its neighbours in the embedding,
# within and across batches? Scores lie in [0, 1], higher is better.

# Majority label of each query row's k nearest rows of `train`.
.knn_vote <- function(train, query, labels, k, threads) {
  nn <- .concord_knn(train, query, k, "euclidean", 20000, threads)
  .concord_majority_label(nn$index, as.integer(labels), nlevels(labels))
}

# Macro-F1: the F1 of each label found in the truth or the prediction, averaged.
.macro_f1 <- function(truth, pred) {
  present <- union(unique(truth), unique(pred[!is.na(pred)]))
  f1 <- vapply(present, function(l) {
    tp <- sum(truth == l & pred == l, na.rm = TRUE)
    fp <- sum(truth != l & pred == l, na.rm = TRUE)
    fn <- sum(truth == l & (is.na(pred) | pred != l))
    2 * tp / (2 * tp + fp + fn)
  }, numeric(1))
  mean(f1)
}

# A kNN classifier trained on a seeded 80% of the cells, scored on the other 20%.
.knn_classifier <- function(ctx, test.share = 0.2) {
  n <- nrow(ctx$x)
  test <- .subsample(n, max(1L, round(test.share * n)), ctx$seed)
  train <- setdiff(seq_len(n), test)
  k <- min(ctx$n.neighbors, length(train))
  pred <- .knn_vote(ctx$x[train, , drop = FALSE], ctx$x[test, , drop = FALSE],
                    droplevels(ctx$label[train]), k, ctx$threads)
  pred <- levels(droplevels(ctx$label[train]))[pred]
  truth <- as.character(ctx$label[test])
  c(kNN_accuracy = mean(!is.na(pred) & pred == truth), kNN_F1 = .macro_f1(truth, pred))
}

# KNI and RbNI: the share of cells whose nearest neighbours from the other batches
# carry, by majority, the cell's own label. KNI takes the k nearest cross-batch
# neighbours; RbNI only those of them within a radius, the median distance of a cell to
# its k-th neighbour in any batch (a cell with none inside the radius counts as a miss).
.neighbour_intersection <- function(ctx) {
  k <- min(ctx$n.neighbors, ncol(ctx$knn$index))
  radius <- stats::median(ctx$knn$distance[, k], na.rm = TRUE)
  lab <- as.integer(ctx$label)
  hit.k <- hit.r <- logical(nrow(ctx$x))
  for (b in levels(ctx$batch)) {
    own <- which(ctx$batch == b)
    other <- which(ctx$batch != b)
    nn <- .concord_knn(ctx$x[other, , drop = FALSE], ctx$x[own, , drop = FALSE],
                       min(k, length(other)), "euclidean", 20000, ctx$threads)
    maj <- .concord_majority_label(nn$index, lab[other], nlevels(ctx$label))
    hit.k[own] <- !is.na(maj) & maj == lab[own]
    near <- nn$index
    near[is.na(nn$distance) | nn$distance > radius] <- NA_integer_
    maj <- .concord_majority_label(near, lab[other], nlevels(ctx$label))
    hit.r[own] <- !is.na(maj) & maj == lab[own]
  }
  c(KNI = mean(hit.k), RbNI = mean(hit.r))
}

.metrics_probes <- function(ctx) {
  scores <- .knn_classifier(ctx)
  cross <- if (is.null(ctx$batch)) c(KNI = NA_real_, RbNI = NA_real_) else .neighbour_intersection(ctx)
  list(scores = c(scores, cross))
}
