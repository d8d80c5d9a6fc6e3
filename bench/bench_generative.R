# The variational autoencoders (RunBAscVI, plain scVI, RunSCCRAFT) on the shared
# multi-batch datasets, beside RunConcord and PCA: EvaluateEmbedding bio / batch / total
# (cell_type, batch), BA-scVI's KNI and RbNI, training time and peak memory.
#
#   R_LIBS=<library with concordR> Rscript bench/bench_generative.R [threads] [datasets] [methods] [extra]
#   e.g. Rscript bench/bench_generative.R 2 kang_ifnb_muscat bascvi,scvi,sccraft,concord
#        Rscript bench/bench_generative.R 2 kang_ifnb_muscat sccraft epochs=60
#
# `extra` is a comma-separated list of name=value arguments for the VAE verbs. Peak memory
# is the R process's resident high-water mark during the run above its size before it
# (VmHWM, reset by writing 5 to /proc/self/clear_refs; Linux only). PCA is the
# datasets' peer embedding (Seurat ScaleData + RunPCA, 50 components).
suppressPackageStartupMessages(library(concordR))
args <- commandArgs(trailingOnly = TRUE)
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))), "common.R"))
threads <- if (length(args) >= 1) as.integer(args[1]) else 2L
datasets <- if (length(args) >= 2) strsplit(args[2], ",")[[1]] else c("kang_ifnb_muscat", "kang_ctrl_5donors")
methods <- if (length(args) >= 3) strsplit(args[3], ",")[[1]] else c("bascvi", "scvi", "sccraft", "concord")
extra <- if (length(args) >= 4) parse_extra(args[4]) else list()
data_dir <- bench_data_dir()

status_kb <- function(field) {
  line <- grep(paste0("^", field, ":"), readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", line))
}

score <- function(emb, meta) {
  s <- EvaluateEmbedding(emb, batch = meta$batch, label = meta$cell_type,
                         families = c("bio", "batch", "probes"), threads = threads)
  sprintf("%.3f\t%.3f\t%.3f\t%.3f\t%.3f", s$Bio, s$Batch, s$Total, s$KNI, s$RbNI)
}

cat(paste(c("dataset", "method", "cells", "seconds", "peak_MB", "Bio", "Batch", "Total", "KNI", "RbNI"),
          collapse = "\t"), "\n")
for (name in datasets) {
  d <- readRDS(file.path(data_dir, name, paste0(name, ".rds")))
  pca <- utils::read.delim(file.path(data_dir, name, "peers", "pca.tsv.gz"), row.names = 1)
  pca <- as.matrix(pca[colnames(d$counts), ])
  cat(sprintf("%s\tPCA\t%d\t\t\t%s\n", name, ncol(d$counts), score(pca, d$meta)))
  vae <- function(f, ...) function() do.call(f, c(list(d$counts, group.by = d$meta$batch, threads = threads,
                                                       verbose = FALSE, ...), extra))
  runs <- list(
    bascvi = vae(RunBAscVI),
    scvi = vae(RunBAscVI, adversarial = FALSE),
    sccraft = vae(RunSCCRAFT),
    concord = function() RunConcord(d$counts, group.by = d$meta$batch, threads = threads, verbose = FALSE)
  )
  for (m in methods) {
    gc()
    base <- status_kb("VmRSS")
    writeLines("5", "/proc/self/clear_refs")
    time <- system.time(emb <- runs[[m]]())[["elapsed"]]
    peak <- (status_kb("VmHWM") - base) / 1024
    cat(sprintf("%s\t%s\t%d\t%.1f\t%.0f\t%s\n", name, m, nrow(emb), time, peak, score(unclass(emb)[, ], d$meta)))
  }
}
cat("machine:", system("lscpu | grep 'Model name' | sed 's/.*: *//'", intern = TRUE),
    "|", parallel::detectCores(), "cores |", format(Sys.time(), "%Y-%m-%d"),
    "| threads", threads, "| extra:", if (length(extra)) paste(names(extra), extra, sep = "=", collapse = ", ") else "none", "\n")
