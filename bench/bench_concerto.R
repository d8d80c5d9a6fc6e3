# RunConcerto on the shared multi-batch datasets, beside RunConcord and PCA:
# EvaluateEmbedding bio / batch / total scores (cell_type, batch), training speed and
# peak memory, with the variable genes and with all genes. Speed is cells per second of
# training (steps x batch size / training seconds); peak memory is the resident peak
# (VmHWM) of a fresh R process that reads the data and trains one model.
#
#   R_LIBS=<library with concordR> Rscript bench/bench_concerto.R [threads] [datasets] [runs] [extra]
#   e.g. Rscript bench/bench_concerto.R 2 kang_ifnb_muscat,kang_ctrl_5donors concerto_hvg,concerto_all,concord
#        Rscript bench/bench_concerto.R 2 kang_ifnb_muscat concerto_hvg lr=1e-4,epochs=10
#
# Runs: concerto_hvg (group.by = batch, variable genes), concerto_all (all genes),
# concerto_nogroup (variable genes, no group.by), concord (RunConcord, group.by).
# `extra` is a comma-separated list of name=value RunConcerto arguments.
args <- commandArgs(trailingOnly = TRUE)
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))), "common.R"))
data_dir <- bench_data_dir()
peak_mb <- function() {
  line <- grep("^VmHWM:", readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", line)) / 1024
}

# One run in this process: prints one result line.
if (length(args) >= 1 && args[1] == "--one") {
  suppressPackageStartupMessages(library(concordR))
  name <- args[2]; run <- args[3]; threads <- as.integer(args[4])
  extra <- if (length(args) >= 5 && nzchar(args[5])) eval(parse(text = args[5])) else list()
  d <- readRDS(file.path(data_dir, name, paste0(name, ".rds")))
  emb <- switch(run,
    concord = RunConcord(d$counts, group.by = d$meta$batch, threads = threads, verbose = FALSE),
    concerto_hvg = do.call(RunConcerto, c(list(d$counts, group.by = d$meta$batch, threads = threads,
                                               verbose = FALSE), extra)),
    concerto_all = do.call(RunConcerto, c(list(d$counts, group.by = d$meta$batch, features = "all",
                                               threads = threads, verbose = FALSE), extra)),
    concerto_nogroup = do.call(RunConcerto, c(list(d$counts, threads = threads, verbose = FALSE), extra)),
    stop("unknown run ", run))
  info <- attr(emb, "concord")
  train <- sum(info$phase.seconds[c("sample", "augment", "forward", "backward", "optimizer")])
  s <- EvaluateEmbedding(unclass(emb)[, ], batch = d$meta$batch, label = d$meta$cell_type,
                         families = c("bio", "batch"), threads = threads)
  cat(sprintf("%s\t%s\t%d\t%d\t%.1f\t%d\t%.0f\t%.0f\t%.3f\t%.3f\t%.3f\n", name, run, nrow(emb),
              length(info$features), train, as.integer(info$steps),
              info$steps * info$params$batch_size / train, peak_mb(), s$Bio, s$Batch, s$Total))
  quit(save = "no")
}

# Annotation (supervised fine-tuning, RunConcerto's class.by) on kang_ctrl_5donors:
#   Rscript bench/bench_concerto.R --annotate [threads] [class.epochs, comma-separated]
#                                  [class.consistency, comma-separated]
# One pre-training (RunConcerto defaults, group.by = donor) serves every fine-tuning:
# pre-training never sees the labels, so RunConcerto(class.by = ...) with the same seed
# pre-trains exactly this model and fine-tunes it as .concerto_finetune() does here.
# (1) Each donor held out in turn (its labels NA): accuracy of the fine-tuned classifier
# (argmax; and with the default rejection, accuracy of the assigned cells and share
# unassigned) beside TransferLabels() (k = 5, cosine) from the other donors' cells on the
# pre-trained embedding and on the fine-tuned one. (2) Each cell type left out of
# training as well (its labels NA in every donor, the second donor held out): share of
# that type's cells unassigned, and of the held-out donor's other cells, per threshold.
# Each combination of class.epochs and class.consistency (the domain-adaptation loss on
# the unlabelled cells; default 1) is run.
if (length(args) >= 1 && args[1] == "--annotate") {
  suppressPackageStartupMessages(library(concordR))
  threads <- if (length(args) >= 2) as.integer(args[2]) else 1L
  class.epochs <- if (length(args) >= 3) as.integer(strsplit(args[3], ",")[[1]]) else 1L
  consistency <- if (length(args) >= 4) as.numeric(strsplit(args[4], ",")[[1]]) else 1
  d <- readRDS(file.path(data_dir, "kang_ctrl_5donors", "kang_ctrl_5donors.rds"))
  donor <- d$meta$donor
  type <- d$meta$cell_type
  x <- concordR:::.prepare_expression(d$counts, NULL, verbose = FALSE)
  started <- proc.time()[["elapsed"]]
  pre <- RunConcerto(x, group.by = donor, features = rownames(x), threads = threads, verbose = FALSE)
  cat(sprintf("pre-training: %.0f s, %d steps\n", proc.time()[["elapsed"]] - started, attr(pre, "concord")$steps))
  batch <- concordR:::.batch_labels(donor, NULL, ncol(x))
  tune <- function(labels, epochs, lambda) {
    concordR:::.concerto_finetune(pre, x, batch, droplevels(factor(labels)), epochs, 1e-3, lambda, 0.99, FALSE)
  }
  acc <- function(a, b) mean(as.character(a) == as.character(b))
  by_donor <- function(epochs, lambda) {
    for (h in sort(unique(donor))) {
      held <- donor == h
      started <- proc.time()[["elapsed"]]
      tuned <- tune(ifelse(held, NA, type), epochs, lambda)
      seconds <- proc.time()[["elapsed"]] - started
      cls <- attr(tuned, "concord")$classes
      argmax <- colnames(cls$probabilities)[max.col(cls$probabilities, ties.method = "first")]
      assigned <- held & cls$predicted != "unassigned"
      tl <- function(e) TransferLabels(unclass(e)[held, ], unclass(e)[!held, ], type[!held], threads = threads)$label
      cat(sprintf("%s\t%d\t%g\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.0f\n", h, epochs, lambda, sum(held),
                  acc(argmax[held], type[held]), acc(cls$predicted[assigned], type[assigned]),
                  mean(cls$predicted[held] == "unassigned"), acc(tl(pre), type[held]), acc(tl(tuned), type[held]),
                  seconds))
    }
  }
  thresholds <- c(0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
  left_out <- function(epochs, lambda) {
    held <- donor == sort(unique(donor))[2]
    for (t in sort(unique(type))) {
      score <- attr(tune(ifelse(held | type == t, NA, type), epochs, lambda), "concord")$classes$score
      share <- function(cells) paste(sprintf("%.3f", sapply(thresholds, function(th) mean(score[cells] < th))), collapse = "/")
      cat(t, "\t", epochs, "\t", lambda, "\t", share(type == t), "\t", share(held & type != t), "\n")
    }
  }
  for (epochs in class.epochs) {
    for (lambda in consistency) {
      cat("held_donor\tclass_epochs\tconsistency\tcells\tfinetuned_argmax\tfinetuned_assigned\tunassigned\tTL_pretrained\tTL_finetuned\tseconds\n")
      by_donor(epochs, lambda)
      cat("left_out_type\tclass_epochs\tconsistency\tshare_unassigned_at", paste(thresholds, collapse = "/"),
          "\tseen_types_of_held_donor_unassigned_at", paste(thresholds, collapse = "/"), "\n")
      left_out(epochs, lambda)
    }
  }
  cat("machine:", system("lscpu | grep 'Model name' | sed 's/.*: *//'", intern = TRUE), "|",
      format(Sys.time(), "%Y-%m-%d"), "| threads", threads, "\n")
  quit(save = "no")
}

# Annotation across a condition, the paper's inter-dataset case for its domain-adaptation
# module, on kang_ifnb_muscat: the control cells labelled, the IFN-beta-stimulated ones
# the query. Per seed, one pre-training (RunConcerto defaults, group.by = sample) and a
# fine-tuning per class.consistency; accuracy of the query's argmax calls and of its
# assigned cells, share unassigned, beside TransferLabels() on the pre-trained embedding.
#   Rscript bench/bench_concerto.R --transfer [threads] [seeds] [class.consistency] [class.epochs]
if (length(args) >= 1 && args[1] == "--transfer") {
  suppressPackageStartupMessages(library(concordR))
  threads <- if (length(args) >= 2) as.integer(args[2]) else 1L
  seeds <- if (length(args) >= 3) as.integer(strsplit(args[3], ",")[[1]]) else 0:2
  consistency <- if (length(args) >= 4) as.numeric(strsplit(args[4], ",")[[1]]) else c(0, 1)
  class.epochs <- if (length(args) >= 5) as.integer(strsplit(args[5], ",")[[1]]) else 1L
  d <- readRDS(file.path(data_dir, "kang_ifnb_muscat", "kang_ifnb_muscat.rds"))
  type <- d$meta$cell_type
  query <- d$meta$condition == "stim"
  x <- concordR:::.prepare_expression(d$counts, NULL, verbose = FALSE)
  batch <- concordR:::.batch_labels(d$meta$batch, NULL, ncol(x))
  labels <- droplevels(factor(ifelse(query, NA, type)))
  acc <- function(a, b) mean(as.character(a) == as.character(b))
  cat("seed\tclass_epochs\tconsistency\tquery_cells\targmax\tassigned\tunassigned\tTL_pretrained\tseconds\n")
  for (seed in seeds) {
    pre <- RunConcerto(x, group.by = d$meta$batch, features = rownames(x), seed = seed,
                       threads = threads, verbose = FALSE)
    tl <- TransferLabels(unclass(pre)[query, ], unclass(pre)[!query, ], type[!query], threads = threads)$label
    for (epochs in class.epochs) for (lambda in consistency) {
      started <- proc.time()[["elapsed"]]
      tuned <- concordR:::.concerto_finetune(pre, x, batch, labels, epochs, 1e-3, lambda, 0.99, FALSE)
      seconds <- proc.time()[["elapsed"]] - started
      cls <- attr(tuned, "concord")$classes
      argmax <- colnames(cls$probabilities)[max.col(cls$probabilities, ties.method = "first")]
      assigned <- query & cls$predicted != "unassigned"
      cat(sprintf("%d\t%d\t%g\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.0f\n", seed, epochs, lambda, sum(query),
                  acc(argmax[query], type[query]), acc(cls$predicted[assigned], type[assigned]),
                  mean(cls$predicted[query] == "unassigned"), acc(tl, type[query]), seconds))
    }
  }
  cat("machine:", system("lscpu | grep 'Model name' | sed 's/.*: *//'", intern = TRUE), "|",
      format(Sys.time(), "%Y-%m-%d"), "| threads", threads, "\n")
  quit(save = "no")
}

threads <- if (length(args) >= 1) as.integer(args[1]) else 2L
datasets <- if (length(args) >= 2) strsplit(args[2], ",")[[1]] else c("kang_ifnb_muscat", "kang_ctrl_5donors")
runs <- if (length(args) >= 3) strsplit(args[3], ",")[[1]] else c("concerto_hvg", "concerto_all", "concord")
extra <- if (length(args) >= 4) parse_extra(args[4]) else list()
self <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))

cat(paste(c("dataset", "run", "cells", "genes", "train_s", "steps", "cells_per_s", "peak_MB",
            "Bio", "Batch", "Total"), collapse = "\t"), "\n")
for (name in datasets) {
  suppressPackageStartupMessages(library(concordR))
  d <- readRDS(file.path(data_dir, name, paste0(name, ".rds")))
  pca <- utils::read.delim(file.path(data_dir, name, "peers", "pca.tsv.gz"), row.names = 1)
  pca <- as.matrix(pca[colnames(d$counts), ])
  s <- EvaluateEmbedding(pca, batch = d$meta$batch, label = d$meta$cell_type,
                         families = c("bio", "batch"), threads = threads)
  cat(sprintf("%s\tPCA\t%d\t\t\t\t\t\t%.3f\t%.3f\t%.3f\n", name, ncol(d$counts), s$Bio, s$Batch, s$Total))
  for (run in runs) {
    system2(file.path(R.home("bin"), "Rscript"),
            c(self, "--one", name, run, threads, shQuote(paste(deparse(extra), collapse = ""))))
  }
}
cat("machine:", system("lscpu | grep 'Model name' | sed 's/.*: *//'", intern = TRUE),
    "|", parallel::detectCores(), "cores |", format(Sys.time(), "%Y-%m-%d"),
    "| threads", threads, "| extra:", if (length(extra)) paste(names(extra), extra, sep = "=", collapse = ", ") else "none", "\n")
