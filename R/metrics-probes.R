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

# KNI and RbNI as the BA-scVI paper defines them (Diaz-Mejia et al., Methods), computed
# in the engine on the embedding scaled by its interquartile ranges: the share of cells
# that are not outliers (too few neighbours from other batches) and whose neighbours
# from other batches carry, by majority, their own label. Details: the share of outliers.
.neighbour_intersection <- function(ctx) {
  s <- .concord_neighbour_intersection(ctx$x, as.integer(ctx$batch), as.integer(ctx$label),
                                       nlevels(ctx$label), ctx$kni.k, ctx$kni.tau, ctx$rbni.radius,
                                       ctx$rbni.share, 20000, ctx$threads)
  n <- nrow(ctx$x)
  list(scores = c(KNI = s$KNI, RbNI = s$RbNI),
       outliers = c(KNI = s$KNI_outliers / n, RbNI = s$RbNI_outliers / n))
}

.metrics_probes <- function(ctx) {
  scores <- .knn_classifier(ctx)
  if (is.null(ctx$batch)) return(list(scores = c(scores, KNI = NA_real_, RbNI = NA_real_)))
  cross <- .neighbour_intersection(ctx)
  list(scores = c(scores, cross$scores), details = list(intersection_outliers = cross$outliers))
}
