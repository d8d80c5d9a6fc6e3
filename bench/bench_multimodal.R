# Multimodal RNA + protein on scdcc_cite_cbmc (8,617 cells, 2,000 genes, 10 proteins).
#
# Part 1, joint embeddings: RunConcord on the RNA alone, and on RNA + proteins with each
# fusion (concat, sum, clip), all cells, scored by EvaluateEmbedding against the labels
# (NMI, ARI, ASW of cell types; one batch, so no batch scores). Part "wnn": Seurat's WNN
# (FindMultiModalNeighbors on 30 RNA PCs and 9 PCs of the 10 scaled proteins) where
# Seurat is installed. Its result is a graph, not an embedding, so it is scored by
# NMI / ARI of Leiden clusters of the WNN graph at the resolution (0.1 to 2) of best
# NMI, the search EvaluateEmbedding does on its own kNN graph.
#
# Part 2, missing-modality prediction (PredictModality): the 10 surface proteins of a
# random 20% of cells, treated as measured in RNA only, predicted from the other 80%
# (the SSL benchmark's Table B4 protocol). Prints the Pearson correlation per protein
# and its median for each embedding the neighbours are taken in: PCA (30 components of
# the scaled log-normalized genes: the plain baseline), RunConcord trained on the
# reference cells' RNA with the query projected onto it, RunConcord trained on the
# reference's RNA + proteins (each fusion) with the RNA-only query projected through
# the RNA encoder; and, as the floor, the PCA prediction for shuffled query cells.
#
# The method (4th argument) trains every embedding above: "concord" (RunConcord, the
# default), one of RunSSL()'s methods ("simclr", "vicreg", ...) or "concerto"
# (RunConcerto, which takes the fusions sum and concat), each with its defaults.
#
#   R_LIBS=<library with concordR> Rscript bench/bench_multimodal.R [threads] [seeds] [parts] [method]
#   e.g. Rscript bench/bench_multimodal.R 2 1,2,3 joint,wnn,predict concord
#        Rscript bench/bench_multimodal.R 1 1,2 joint simclr
suppressPackageStartupMessages(library(concordR))
args <- commandArgs(trailingOnly = TRUE)
threads <- if (length(args) >= 1) as.integer(args[1]) else 2L
seeds <- if (length(args) >= 2) as.integer(strsplit(args[2], ",")[[1]]) else 1L
parts <- if (length(args) >= 3) strsplit(args[3], ",")[[1]] else c("joint", "wnn", "predict")
method <- if (length(args) >= 4) args[4] else "concord"
fusions <- if (method == "concerto") c("sum", "concat") else c("concat", "sum", "clip")
# The method's verb on a matrix or a list of modalities.
fit <- function(input, seed, fusion = NULL) {
  extra <- list(threads = threads, seed = seed, verbose = FALSE)
  if (!is.null(fusion)) extra$fusion <- fusion
  switch(method,
    concord = do.call(RunConcord, c(list(input), extra)),
    concerto = do.call(RunConcerto, c(list(input), extra)),
    do.call(RunSSL, c(list(input, method = method), extra)))
}
label <- switch(method, concord = "RunConcord", concerto = "RunConcerto", paste0("RunSSL ", method))
data_dir <- file.path("..", "shared", "data")
if (!dir.exists(data_dir)) data_dir <- "/work/shared/data"

d <- readRDS(file.path(data_dir, "scdcc_cite_cbmc", "scdcc_cite_cbmc.rds"))
adt <- t(as.matrix(d$meta[, paste0("ADT_", 0:9)]))
colnames(adt) <- colnames(d$counts)
x <- concordR:::.log_normalize(d$counts)
pcs <- concordR:::.pca_baseline(x, 30)

timed <- function(expr) {
  started <- proc.time()[["elapsed"]]
  value <- force(expr)
  attr(value, "seconds") <- proc.time()[["elapsed"]] - started
  value
}
scores <- function(emb) {
  s <- EvaluateEmbedding(unclass(emb)[, , drop = FALSE], label = d$meta$cell_type, families = "bio",
                         threads = threads)
  sprintf("%.3f\t%.3f\t%.3f", s$NMI, s$ARI, s$ASW_label)
}

if ("joint" %in% parts) {
  cat("seed\tembedding\tNMI\tARI\tASW_label\tseconds\n")
  cat(sprintf("-\tPCA 30 (RNA)\t%s\t\n", scores(pcs)))
  for (seed in seeds) {
    rna <- timed(fit(x, seed))
    cat(sprintf("%d\t%s RNA\t%s\t%.0f\n", seed, label, scores(rna), attr(rna, "seconds")))
    for (fusion in fusions) {
      joint <- timed(fit(list(RNA = x, ADT = adt), seed, fusion))
      cat(sprintf("%d\t%s RNA+ADT %s\t%s\t%.0f\n", seed, label, fusion, scores(joint),
                  attr(joint, "seconds")))
    }
  }
}
if ("wnn" %in% parts && requireNamespace("Seurat", quietly = TRUE)) {
  suppressWarnings({
    seu <- SeuratObject::CreateSeuratObject(d$counts)
    seu[["ADT"]] <- SeuratObject::CreateAssayObject(data = adt)
    seu <- Seurat::NormalizeData(seu, verbose = FALSE)
    seu <- Seurat::FindVariableFeatures(seu, verbose = FALSE)
    seu <- Seurat::ScaleData(seu, verbose = FALSE)
    seu <- Seurat::RunPCA(seu, npcs = 30, verbose = FALSE)
    SeuratObject::DefaultAssay(seu) <- "ADT"
    SeuratObject::VariableFeatures(seu) <- rownames(adt)
    seu <- Seurat::ScaleData(seu, verbose = FALSE)
    seu <- Seurat::RunPCA(seu, npcs = 9, reduction.name = "apca", verbose = FALSE)
    started <- proc.time()[["elapsed"]]
    seu <- Seurat::FindMultiModalNeighbors(seu, reduction.list = list("pca", "apca"),
                                           dims.list = list(1:30, 1:9), verbose = FALSE)
    seconds <- proc.time()[["elapsed"]] - started
  })
  best <- c(NMI = -1, ARI = NA)
  label <- as.integer(factor(d$meta$cell_type))
  # Leiden on the WNN graph, as EvaluateEmbedding clusters its own kNN graph.
  g <- igraph::graph_from_adjacency_matrix(methods::as(seu@graphs$wsnn, "dgCMatrix"), mode = "undirected",
                                           weighted = TRUE, diag = FALSE)
  for (res in seq(0.1, 2, by = 0.1)) {
    cl <- concordR:::.leiden(g, res, 0)
    nmi <- concordR:::.nmi(label, cl)
    if (nmi > best[["NMI"]]) best <- c(NMI = nmi, ARI = concordR:::.ari(label, cl))
  }
  cat(sprintf("-\tSeurat WNN (30 RNA PCs + 9 ADT PCs), Leiden\t%.3f\t%.3f\t\t%.0f\n", best[["NMI"]],
              best[["ARI"]], seconds))
}
if (!"predict" %in% parts) quit(save = "no")

correlations <- function(predicted, truth) {
  vapply(seq_len(nrow(truth)), function(i) stats::cor(predicted[i, ], truth[i, ]), numeric(1))
}
report <- function(seed, name, r, seconds = NA) {
  cat(sprintf("%d\t%s\t%.3f\t%.1f\t%s\n", seed, name, stats::median(r), seconds,
              paste(sprintf("%.2f", r), collapse = " ")))
}

cat("seed\tembedding\tmedian_r\tseconds\tper_protein_r (ADT_0..ADT_9)\n")
for (seed in seeds) {
  set.seed(seed)
  test <- sample(ncol(x), round(0.2 * ncol(x)))
  train <- setdiff(seq_len(ncol(x)), test)
  truth <- adt[, test]
  report(seed, "PCA 30", correlations(PredictModality(pcs[test, ], pcs[train, ], values = adt[, train],
                                                      threads = threads), truth))
  shuffled <- PredictModality(pcs[test, ][sample(length(test)), ], pcs[train, ], values = adt[, train],
                              threads = threads)
  report(seed, "PCA 30, shuffled query", correlations(shuffled, truth))
  started <- proc.time()[["elapsed"]]
  ref <- fit(x[, train], seed)
  query <- ProjectConcord(x[, test], ref, threads = threads, verbose = FALSE)
  predicted <- PredictModality(unclass(query)[, ], unclass(ref)[, ], values = adt[, train], threads = threads)
  report(seed, paste0(label, " (RNA)"), correlations(predicted, truth), proc.time()[["elapsed"]] - started)
  for (fusion in fusions) {
    started <- proc.time()[["elapsed"]]
    ref <- fit(list(RNA = x[, train], ADT = adt[, train]), seed, fusion)
    query <- ProjectConcord(x[, test], ref, threads = threads, verbose = FALSE)  # RNA only
    predicted <- PredictModality(attr(query, "concord")$modality.embeddings$RNA,
                                 attr(ref, "concord")$modality.embeddings$RNA, values = adt[, train],
                                 threads = threads)
    report(seed, paste0(label, " (RNA+ADT ", fusion, " -> RNA encoder)"), correlations(predicted, truth),
           proc.time()[["elapsed"]] - started)
  }
}
