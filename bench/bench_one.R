# One benchmark case in a fresh R process, so that its peak memory is its own.
# Usage: Rscript bench/bench_one.R CASE THREADS  (CASE: a ../shared/data name, or
# "resampled_100k"). Prints one tab-separated line of figures.
suppressPackageStartupMessages(library(concordR))
args <- commandArgs(TRUE)
case <- args[1]
threads <- as.integer(args[2])
data.dir <- file.path("..", "shared", "data")

load_case <- function(case) {
  if (case == "resampled_100k") return(resampled(100000L))
  d <- readRDS(file.path(data.dir, case, paste0(case, ".rds")))
  list(counts = d$counts, batch = d$meta$batch, labels = d$meta$cell_type)
}

# 100,000 cells drawn with replacement from kang_ctrl_5donors's 2,000 most variable
# genes, each count redrawn as Poisson(count x a per-cell depth factor in [0.7, 1.3])
# so that no two cells are identical; donors stay the batches.
resampled <- function(n) {
  d <- readRDS(file.path(data.dir, "kang_ctrl_5donors", "kang_ctrl_5donors.rds"))
  x <- concordR:::.log_normalize(d$counts)
  counts <- d$counts[concordR:::.variable_genes(x, 2000L), ]
  set.seed(1)
  pick <- sample.int(ncol(counts), n, replace = TRUE)
  m <- counts[, pick]
  depth <- stats::runif(n, 0.7, 1.3)
  m@x <- as.numeric(stats::rpois(length(m@x), m@x * rep(depth, diff(m@p))))
  m <- Matrix::drop0(m)
  colnames(m) <- paste0("cell", seq_len(n))
  list(counts = m, batch = d$meta$batch[pick], labels = d$meta$cell_type[pick])
}

peak_mb <- function() {
  status <- readLines("/proc/self/status")
  as.numeric(gsub("[^0-9]", "", grep("^VmHWM", status, value = TRUE))) / 1024
}

d <- load_case(case)
mem.before <- peak_mb()
started <- proc.time()[["elapsed"]]
emb <- RunConcord(d$counts, group.by = d$batch, threads = threads, verbose = FALSE)
total <- proc.time()[["elapsed"]] - started
peak <- peak_mb()
info <- attr(emb, "concord")
epochs <- info$params$epochs
scores <- concordR:::.neighbour_scores(emb, d$labels, d$batch, threads = threads)
pca <- if (nrow(emb) <= 20000L) {
  x <- concordR:::.prepare_expression(d$counts, info$features, verbose = FALSE)
  concordR:::.neighbour_scores(concordR:::.pca_baseline(x), d$labels, d$batch, threads = threads)
} else c(NA, NA, NA)
phases <- info$phase.seconds
cat(sprintf("%s\t%d\t%d\t%d\t%.1f\t%.1f\t%.2f\t%d\t%.0f\t%.0f\t%.0f\t%.3f\t%.3f\t%.3f\t%.3f\t%s\n",
            case, ncol(d$counts), length(info$features), threads, total, info$seconds,
            info$seconds / epochs, as.integer(info$steps), ncol(d$counts) / total,
            peak, mem.before, scores[["label_share"]], pca[[1]],
            scores[["batch_mixing"]], pca[[3]],
            paste(sprintf("%s=%.1f", names(phases), 1000 * phases / info$steps), collapse = ",")))
