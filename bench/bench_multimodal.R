# Missing-modality prediction (PredictModality) on scdcc_cite_cbmc: the 10 surface
# proteins of a random 20% of cells, treated as measured in RNA only, predicted from
# the other 80% (the SSL benchmark's Table B4 protocol). Prints the Pearson
# correlation per protein and its median for each embedding the neighbours are taken
# in: PCA (30 components of the scaled log-normalized genes: the plain baseline) and
# RunConcord trained on the reference cells' RNA with the query projected onto it;
# and, as the floor, the PCA prediction for shuffled query cells.
#
#   R_LIBS=<library with concordR> Rscript bench/bench_multimodal.R [threads] [seeds]
#   e.g. Rscript bench/bench_multimodal.R 2 1,2,3
suppressPackageStartupMessages(library(concordR))
args <- commandArgs(trailingOnly = TRUE)
threads <- if (length(args) >= 1) as.integer(args[1]) else 2L
seeds <- if (length(args) >= 2) as.integer(strsplit(args[2], ",")[[1]]) else 1L
data_dir <- file.path("..", "shared", "data")
if (!dir.exists(data_dir)) data_dir <- "/work/shared/data"

d <- readRDS(file.path(data_dir, "scdcc_cite_cbmc", "scdcc_cite_cbmc.rds"))
adt <- t(as.matrix(d$meta[, paste0("ADT_", 0:9)]))
x <- concordR:::.log_normalize(d$counts)
pcs <- concordR:::.pca_baseline(x, 30)

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
  ref <- RunConcord(x[, train], threads = threads, seed = seed, verbose = FALSE)
  query <- ProjectConcord(x[, test], ref, threads = threads, verbose = FALSE)
  predicted <- PredictModality(unclass(query)[, ], unclass(ref)[, ], values = adt[, train], threads = threads)
  report(seed, "RunConcord (RNA)", correlations(predicted, truth), proc.time()[["elapsed"]] - started)
}
