# Cost of the SSL augmentations: augmented views per second of 256-cell batches on
# kang_ctrl_5donors (log-normalized, 2,000 most variable genes, donors as batches),
# one augmentation at a time at p = 1 with the benchmark's strength, then the CLEAR
# pipeline at its defaults; "none" copies the rows unchanged. Also prints the seconds
# prepare() takes (PCA and Faiss neighbour graphs for mnn / bbknn) and the stored
# values per cell of a view (the input has the "none" figure), which the sparse first
# layer's cost follows.
# Usage: Rscript bench/bench_augment.R [batches]
suppressPackageStartupMessages(library(concordR))
args <- commandArgs(TRUE)
batches <- if (length(args)) as.integer(args[1]) else 40L
d <- readRDS(file.path("..", "shared", "data", "kang_ctrl_5donors", "kang_ctrl_5donors.rds"))
x <- concordR:::.log_normalize(d$counts)
x <- x[concordR:::.variable_genes(x, 2000L), ]
domains <- as.integer(factor(d$meta$batch)) - 1L
set.seed(1)
cells <- sample.int(ncol(x), 256L * batches, replace = TRUE)
always <- function(kind) stats::setNames(list(list(p = 1)), kind)
cases <- c(list(none = list()), lapply(stats::setNames(nm = names(concordR:::.ssl_augment_settings)), always),
           list(clear = concordR:::.ssl_augment_default()))
cat(paste(c("augment", "views_per_s", "cells_per_s", "prepare_s", "values_per_cell"), collapse = "\t"), "\n")
for (name in names(cases)) {
  steps <- concordR:::.ssl_augment(cases[[name]], has.groups = TRUE)
  v <- concordR:::.concord_augment_view(x, domains, steps, cells, 1, 0L, 1L)
  s <- attr(v, "seconds")
  cat(sprintf("%s\t%.0f\t%.0f\t%.2f\t%.0f\n", name, batches / s[["view"]], length(cells) / s[["view"]],
              s[["prepare"]], length(v@x) / length(cells)))
}
cat("machine:", system("lscpu | grep 'Model name' | sed 's/.*: *//'", intern = TRUE),
    "|", parallel::detectCores(), "cores |", format(Sys.time(), "%Y-%m-%d"), "\n")
