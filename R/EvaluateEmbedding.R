#' Score an embedding for integration, geometry and topology
#'
#' Scores any embedding of single cells (CONCORD's, PCA's, Harmony's, ...) with the
#' metrics of the scIB benchmark (Luecken et al. 2022) and more, fast enough for atlas-
#' sized data: nearest neighbours come from Faiss, clustering from igraph's Leiden, and
#' the quadratic loops run in the compiled engine on an explicit, seeded subsample.
#'
#' Metric families (`families`), each a set of columns of the result:
#' \describe{
#'   \item{`"bio"`}{(needs `label`) `NMI`, `ARI`: labels against Leiden clusters of the
#'     kNN graph (UMAP fuzzy weights), at the resolution of best NMI among
#'     `resolutions`; `ASW_label`: cell-type silhouette rescaled to \[0, 1\];
#'     `cLISI`: 1 - scaled median cell-type LISI; `isolated_labels`: rescaled silhouette
#'     of the labels present in the fewest batches (NA if every label is in every batch).}
#'   \item{`"batch"`}{(needs `batch`; per cell type when `label` is given)
#'     `ASW_batch`: mean of 1 - |batch silhouette| within cell types; `iLISI`: scaled
#'     median batch LISI; `kBET`: acceptance rate of kBET's chi-squared test per cell
#'     type; `graph_connectivity`: share of each cell type in its largest connected kNN
#'     component; `PCR_batch`: reduction of the variance explained by batch relative to
#'     `reference` (scIB's pcr_comparison), or without `reference` 1 - the variance
#'     share of batch in the embedding's principal components.}
#'   \item{`"probes"`}{(needs `label`) `kNN_accuracy`, `kNN_F1` (macro): a kNN
#'     classifier trained on a seeded 80\% of cells, scored on the rest; with `batch`,
#'     `KNI` and `RbNI` as BA-scVI defines them (Diaz-Mejia et al., Methods), on the
#'     embedding centred and scaled per dimension by its interquartile range (25\% to
#'     75\%). `KNI`: of each cell's `kni.k` nearest cells, those from other batches vote
#'     its label (the most common; a tie goes to the nearest); a cell with fewer than
#'     `kni.tau` of them is an outlier. `RbNI`: the same with the cells within
#'     `rbni.radius`, a cell being an outlier when there are none or when under
#'     `rbni.share` of them are from other batches. Each is the share of all cells that
#'     are not outliers and whose vote is their own label (outliers count as wrong, so
#'     separated batches score 0); the shares of outliers are in the details. The
#'     paper's thresholds assume many batches and a small embedding: with b batches of
#'     equal size even perfect mixing gives a cell only about (b - 1) / b of its
#'     neighbours from other batches, under 40 of 50 and under 80\% for b < 5 (lower
#'     `kni.tau` and `rbni.share` there), and the radius, in interquartile ranges, was
#'     set on 10-dimensional latent spaces (on 50 principal components of the Kang data
#'     every cell is an RbNI outlier).}
#'   \item{`"geometry"`}{(needs `reference`) `trustworthiness`: mean over k = 10, 20,
#'     ..., 100; `distance_pearson`, `distance_spearman`, `distance_kendall`:
#'     correlations of pairwise distances with the reference; `state_variance_cor`:
#'     correlation over cell types (needs 3 or more) of their variance in the reference
#'     and in the embedding.}
#'   \item{`"topology"`}{`betti_0`, `betti_1`, `betti_2`: the most persistent Betti
#'     numbers of the Vietoris-Rips persistent homology, i.e. the value each Betti
#'     curve keeps over the longest range of scales (up to the largest finite death);
#'     `betti_match`: share of them equal to `expected.betti`; `betti_entropy_0` to
#'     `_2`: normalized entropy of each Betti curve over the scales; `betti_mode_0` to
#'     `_2` and `betti_mode_match`: the Betti numbers as the CONCORD benchmark reads
#'     them, the mode of each Betti curve on a common 100-point grid of scales from
#'     the smallest to the largest finite filtration value (each curve 0 outside its
#'     own dimension's range), the component that lives forever counted in
#'     `betti_mode_0` (the benchmark's reduced homology leaves it out). The two readings
#'     differ when a curve holds one value over the longest unbroken range but another
#'     over more scales in all (see bench/README.md).}
#'   \item{`"proxy"`}{(needs `batch` and `reference`, no labels; computed only when
#'     named in `families`) scCRAFT's annotation-free proxy of biological conservation
#'     (He et al. 2025), for tuning without annotations: within each batch, Leiden
#'     clusters at `proxy.resolution` of the unintegrated `reference` (its first 50
#'     principal components, `n.neighbors` neighbours) serve as pseudo-labels;
#'     `proxy_NMI`, `proxy_ARI`: NMI and ARI of the embedding's Leiden clusters against
#'     them within each batch, averaged over batches, at the resolution among
#'     `resolutions` of best `proxy_NMI`. Not part of `Bio`, `Batch` or `Total`.}
#' }
#' Aggregates as in scIB: `Bio` = mean of the bio metrics, `Batch` = mean of the batch
#' metrics, `Total` = 0.6 `Bio` + 0.4 `Batch` (NA metrics are left out of the means).
#'
#' Neighbours: one search serves the families (90 per cell, for LISI; the first
#' `n.neighbors` make the kNN graph). It is exact up to 20,000 cells; above, it takes
#' the candidates of Faiss's IVF-Flat index with sqrt(n) k-means cells and 10 probed
#' per cell (as CONCORD's own kNN), compared by matrix products a cell at a time, and
#' reports exact distances (bench/README.md has its recall against exact search).
#'
#' Degenerate input never scores well: an embedding with every cell at one point gives a
#' warning and NA for every metric; a cell type whose cells all coincide, or an
#' embedding without variance, leaves `ASW_batch` and `PCR_batch` NA rather than
#' perfect. Non-finite values in the embedding, and `batch` or `label` with a single
#' value or with NA, are errors.
#'
#' @param object A cells x dimensions matrix (default method), or a Seurat object or
#'   SingleCellExperiment holding the embedding as a reduction.
#' @param batch Batch of each cell: a metadata column name (objects) or a vector with
#'   one value per cell; `NULL` skips the metrics that need it.
#' @param label Cell type (or state) of each cell, given like `batch`.
#' @param families Metric families to compute, among `"bio"`, `"batch"`, `"probes"`,
#'   `"geometry"`, `"topology"`, `"proxy"`. `NULL`: every family whose inputs are given
#'   (`"topology"` when `expected.betti` is given), except `"proxy"`.
#' @param reference A reference space, cells x features with one row per cell (matrix
#'   or sparse Matrix; for objects also the name of a reduction, or of an assay whose
#'   log-normalized values are used), for `"geometry"` and `PCR_batch`.
#' @param expected.betti Expected Betti numbers of dimensions 0, 1, 2 (e.g. `c(1, 1, 0)`
#'   for a loop), compared with the persistent ones.
#' @param n.neighbors Neighbours of the kNN graph (clustering, graph connectivity,
#'   probes). LISI uses 90 neighbours (perplexity 30) as scIB.
#' @param resolutions Leiden resolutions tried for `NMI` and `ARI`. `NULL` (the default):
#'   scIB's 20, 0.1 to 2 by 0.1, up to 200,000 cells; above that every other one, 0.1 to
#'   1.9 by 0.2, because Leiden's cost per resolution grows faster than the cells (about 69
#'   CPU seconds a resolution at a million cells).
#' @param max.cells Cells subsampled for the silhouettes (`ASW_label`, `ASW_batch`,
#'   `isolated_labels`), whose cost is quadratic.
#' @param geometry.cells Cells subsampled for the geometry metrics.
#' @param topology.cells Cells subsampled for persistent homology.
#' @param kni.k,kni.tau `KNI`'s neighbours and the fewest of them from other batches
#'   below which a cell is an outlier (the paper's 50 and 40; `kni.tau` at most `kni.k`).
#'   With fewer than `kni.k + 1` cells, all other cells are the neighbours.
#' @param rbni.radius,rbni.share `RbNI`'s radius, in units of the interquartile ranges,
#'   and the smallest share of neighbours from other batches for a cell not to be an
#'   outlier (the paper's 1 and 0.8).
#' @param proxy.resolution Leiden resolution of the within-batch pseudo-labels of the
#'   `"proxy"` family (scCRAFT's low resolution, 0.5).
#' @param seed Seed of every subsample and of Leiden; the user's random state is kept.
#' @param threads CPU threads of the compiled loops and the neighbour search, and
#'   the number of Leiden resolutions clustered at once (in forked processes on Linux
#'   and macOS; one at a time on Windows). The scores do not depend on it.
#' @param verbose Report each family and its run time.
#' @param ... Arguments passed to the default method; unknown names are an error.
#'
#' @return A one-row data.frame of scores (columns named as above, all in \[0, 1\]
#'   except the Betti numbers), with attribute `"details"`: a list holding the NMI/ARI
#'   of every resolution (`clustering`), the trustworthiness curve, the persistence
#'   diagram and the Betti curves, and the run time of each family (`seconds`; the
#'   CPU time of this process and its workers in `cpu.seconds`).
#' @export
#' @examples
#' set.seed(1)
#' type <- rep(c("a", "b", "c"), each = 60)
#' batch <- rep(c("x", "y"), 90)
#' emb <- matrix(rnorm(180 * 5), 180) + 4 * outer(as.integer(factor(type)), rep(1, 5))
#' EvaluateEmbedding(emb, batch = batch, label = type, resolutions = c(0.5, 1))
#' # Without labels: scCRAFT's proxy, against the data before batch correction
#' before <- emb + 3 * (batch == "y")
#' EvaluateEmbedding(emb, batch = batch, reference = before, families = "proxy",
#'                   resolutions = c(0.5, 1))
EvaluateEmbedding <- function(object, ...) UseMethod("EvaluateEmbedding")

#' @rdname EvaluateEmbedding
#' @export
EvaluateEmbedding.default <- function(object, batch = NULL, label = NULL, families = NULL,
                                      reference = NULL, expected.betti = NULL,
                                      n.neighbors = 15, resolutions = NULL,
                                      max.cells = 10000, geometry.cells = 1000,
                                      topology.cells = 300, kni.k = 50, kni.tau = 40,
                                      rbni.radius = 1, rbni.share = 0.8, proxy.resolution = 0.5,
                                      seed = 0, threads = 1, verbose = FALSE, ...) {
  .check_dots(..., fun = "EvaluateEmbedding")
  ctx <- .evaluation_context(
    object, batch = batch, label = label, families = families, reference = reference,
    expected.betti = expected.betti, n.neighbors = n.neighbors, resolutions = resolutions,
    max.cells = max.cells, geometry.cells = geometry.cells, topology.cells = topology.cells,
    seed = seed, threads = threads, verbose = verbose, kni.k = kni.k, kni.tau = kni.tau,
    rbni.radius = rbni.radius, rbni.share = rbni.share, proxy.resolution = proxy.resolution
  )
  .evaluate(ctx)
}

.family_runners <- list(
  bio = function(ctx) .metrics_bio(ctx),
  batch = function(ctx) .metrics_batch(ctx),
  probes = function(ctx) .metrics_probes(ctx),
  geometry = function(ctx) .metrics_geometry(ctx),
  topology = function(ctx) .metrics_topology(ctx),
  proxy = function(ctx) .metrics_proxy(ctx)
)

# The score columns of each family, in order.
.family_metrics <- list(
  bio = c("NMI", "ARI", "ASW_label", "cLISI", "isolated_labels"),
  batch = c("ASW_batch", "iLISI", "kBET", "graph_connectivity", "PCR_batch"),
  probes = c("kNN_accuracy", "kNN_F1", "KNI", "RbNI"),
  geometry = c("trustworthiness", "distance_pearson", "distance_spearman", "distance_kendall",
               "state_variance_cor"),
  topology = c(paste0("betti_", 0:2), "betti_match", paste0("betti_entropy_", 0:2),
               paste0("betti_mode_", 0:2), "betti_mode_match"),
  proxy = c("proxy_NMI", "proxy_ARI")
)

.evaluate <- function(ctx) {
  scores <- numeric(0)
  details <- list(seconds = c(knn = ctx$knn.seconds), cpu.seconds = c(knn = ctx$knn.cpu))
  if (ctx$constant) {
    warning("every cell of the embedding is at the same point, so no metric is defined and ",
            "all scores are NA; check how the embedding was made (e.g. a collapsed training).",
            call. = FALSE)
  }
  for (f in ctx$families) {
    t0 <- proc.time()[["elapsed"]]
    c0 <- .cpu_seconds()
    out <- if (ctx$constant) list(scores = stats::setNames(rep(NA_real_, length(.family_metrics[[f]])),
                                                           .family_metrics[[f]]))
      else .family_runners[[f]](ctx)
    secs <- proc.time()[["elapsed"]] - t0
    if (ctx$verbose) message(sprintf("%-9s %6.1f s", f, secs))
    scores <- c(scores, out$scores)
    details <- c(details, out$details)
    details$seconds[[f]] <- secs
    details$cpu.seconds[[f]] <- .cpu_seconds() - c0
  }
  scores <- c(scores, .aggregate_scores(scores, ctx$families))
  res <- as.data.frame(as.list(scores), check.names = FALSE)
  attr(res, "details") <- details
  res
}

# CPU time used so far by this process and its finished child processes (the forked
# Leiden workers), which on a shared machine says more than the elapsed time.
.cpu_seconds <- function() sum(proc.time()[c("user.self", "sys.self", "user.child", "sys.child")], na.rm = TRUE)

# scIB's aggregates over whichever of its metrics could be computed.
.aggregate_scores <- function(scores, families) {
  out <- c()
  if ("bio" %in% families) out["Bio"] <- .mean_or_na(scores[.family_metrics$bio])
  if ("batch" %in% families) out["Batch"] <- .mean_or_na(scores[.family_metrics$batch])
  if (all(c("bio", "batch") %in% families)) out["Total"] <- 0.6 * out[["Bio"]] + 0.4 * out[["Batch"]]
  out
}

#' @rdname EvaluateEmbedding
#' @param reduction Name of the reduction holding the embedding (Seurat: a DimReduc,
#'   default `"concord"`; SingleCellExperiment: a `reducedDim`, default `"CONCORD"`).
#' @export
EvaluateEmbedding.Seurat <- function(object, reduction = "concord", batch = NULL, label = NULL,
                                     reference = NULL, ...) {
  .require("SeuratObject", "to evaluate a Seurat object")
  emb <- .object_embedding(object, reduction)
  meta <- object[[]]
  EvaluateEmbedding.default(emb, batch = .cell_factor(batch, "batch", meta, nrow(emb)),
                            label = .cell_factor(label, "label", meta, nrow(emb)),
                            reference = .object_reference(object, reference), ...)
}

#' @rdname EvaluateEmbedding
#' @export
EvaluateEmbedding.SingleCellExperiment <- function(object, reduction = "CONCORD", batch = NULL,
                                                   label = NULL, reference = NULL, ...) {
  .require("SingleCellExperiment", "to evaluate a SingleCellExperiment")
  emb <- .object_embedding(object, reduction)
  meta <- as.data.frame(SummarizedExperiment::colData(object))
  EvaluateEmbedding.default(emb, batch = .cell_factor(batch, "batch", meta, nrow(emb)),
                            label = .cell_factor(label, "label", meta, nrow(emb)),
                            reference = .object_reference(object, reference), ...)
}

.reduction_names <- function(object) {
  if (inherits(object, "Seurat")) SeuratObject::Reductions(object)
  else SingleCellExperiment::reducedDimNames(object)
}

.object_embedding <- function(object, reduction) {
  .check_string(reduction, "reduction")
  available <- .reduction_names(object)
  if (!reduction %in% available) {
    .stop("reduction '", reduction, "' not found in the ", class(object)[1], "; available: ",
          if (length(available)) paste(available, collapse = ", ") else "none",
          ". Run e.g. RunConcord() first or name an existing reduction.")
  }
  if (inherits(object, "Seurat")) SeuratObject::Embeddings(object, reduction = reduction)
  else as.matrix(SingleCellExperiment::reducedDim(object, reduction))
}

# A reference given by name: a reduction, else an assay (log-normalized values),
# returned as cells x features.
.object_reference <- function(object, reference) {
  if (!(is.character(reference) && length(reference) == 1L)) return(reference)
  if (reference %in% .reduction_names(object)) return(.object_embedding(object, reference))
  if (inherits(object, "Seurat")) {
    if (reference %in% names(object@assays)) return(Matrix::t(.seurat_matrix(object, reference, "data")))
    available <- c(SeuratObject::Reductions(object), names(object@assays))
  } else {
    if (reference %in% SummarizedExperiment::assayNames(object)) {
      return(Matrix::t(SummarizedExperiment::assay(object, reference)))
    }
    available <- c(SingleCellExperiment::reducedDimNames(object), SummarizedExperiment::assayNames(object))
  }
  .stop("reference '", reference, "' is neither a reduction nor an assay of the object; ",
        "available: ", paste(available, collapse = ", "), ".")
}
