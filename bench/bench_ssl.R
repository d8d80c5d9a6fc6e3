# The SSL benchmark's methods (RunSSL) on the shared multi-batch datasets, beside
# RunConcord and PCA: EvaluateEmbedding bio / batch / total scores (cell_type, batch)
# and training speed. Speed is cells per second of training, counting each cell of
# each epoch once (steps x batch size / training seconds).
#
#   R_LIBS=<library with concordR> Rscript bench/bench_ssl.R [threads] [datasets] [methods] [extra]
#   e.g. Rscript bench/bench_ssl.R 2 kang_ifnb_muscat,kang_ctrl_5donors simclr,vicreg
#        Rscript bench/bench_ssl.R 2 kang_ifnb_muscat simclr,vicreg sampler=concord
#
# `extra` is a comma-separated list of name=value RunSSL arguments (numbers or strings).
# PCA is the datasets' peer embedding (Seurat ScaleData + RunPCA, 50 components).
suppressPackageStartupMessages(library(concordR))
args <- commandArgs(trailingOnly = TRUE)
threads <- if (length(args) >= 1) as.integer(args[1]) else 2L
datasets <- if (length(args) >= 2) strsplit(args[2], ",")[[1]] else c("kang_ifnb_muscat", "kang_ctrl_5donors")
methods <- if (length(args) >= 3) strsplit(args[3], ",")[[1]] else
  c("simclr", "moco", "simsiam", "nnclr", "byol", "vicreg", "barlowtwins")
extra <- list()
if (length(args) >= 4) {
  for (kv in strsplit(args[4], ",")[[1]]) {
    kv <- strsplit(kv, "=")[[1]]
    value <- suppressWarnings(as.numeric(kv[2]))
    extra[[kv[1]]] <- if (is.na(value)) kv[2] else value
  }
}
data_dir <- file.path("..", "shared", "data")
if (!dir.exists(data_dir)) data_dir <- "/work/shared/data"

score <- function(emb, meta) {
  s <- EvaluateEmbedding(emb, batch = meta$batch, label = meta$cell_type,
                         families = c("bio", "batch"), threads = threads)
  sprintf("%.3f\t%.3f\t%.3f", s$Bio, s$Batch, s$Total)
}

cat(paste(c("dataset", "method", "cells", "train_s", "steps", "cells_per_s", "Bio", "Batch",
            "Total"), collapse = "\t"), "\n")
for (name in datasets) {
  d <- readRDS(file.path(data_dir, name, paste0(name, ".rds")))
  pca <- utils::read.delim(file.path(data_dir, name, "peers", "pca.tsv.gz"), header = FALSE, row.names = 1)
  pca <- as.matrix(pca[colnames(d$counts), ])
  cat(sprintf("%s\tPCA\t%d\t\t\t\t%s\n", name, ncol(d$counts), score(pca, d$meta)))
  runs <- c(list(concord = function() RunConcord(d$counts, group.by = d$meta$batch, threads = threads,
                                                 verbose = FALSE)),
            lapply(stats::setNames(methods, methods), function(m) function() {
              do.call(RunSSL, c(list(d$counts, method = m, group.by = d$meta$batch,
                                     threads = threads, verbose = FALSE), extra))
            }))
  for (m in names(runs)) {
    emb <- runs[[m]]()
    info <- attr(emb, "concord")
    train <- sum(info$phase.seconds[c("sample", "augment", "forward", "backward", "optimizer")])
    cells <- info$steps * info$params$batch_size / train
    cat(sprintf("%s\t%s\t%d\t%.1f\t%d\t%.0f\t%s\n", name, m, nrow(emb), train, as.integer(info$steps),
                cells, score(unclass(emb)[, ], d$meta)))
  }
}
cat("machine:", system("lscpu | grep 'Model name' | sed 's/.*: *//'", intern = TRUE),
    "|", parallel::detectCores(), "cores |", format(Sys.time(), "%Y-%m-%d"),
    "| threads", threads, "| extra:", if (length(extra)) paste(names(extra), extra, sep = "=", collapse = ", ") else "none", "\n")
