# Times RunConcord with default settings (15 epochs) on the real datasets and on
# 100,000 resampled cells, each case in its own R process. Prints a table: the whole
# call and training seconds, seconds per epoch, optimizer steps, cells per second of
# the whole call, peak resident memory (MB) of the process and before the call, and
# quality (share of same-cell-type cells among 15 nearest neighbours, and batch mixing
# relative to perfect mixing) for CONCORD and for PCA of the same features.
# Usage: Rscript bench/bench_runconcord.R [threads] [cases...]
args <- commandArgs(TRUE)
threads <- if (length(args)) args[1] else "2"
cases <- if (length(args) > 1) args[-1] else c("kang_ifnb_muscat", "kang_ctrl_5donors", "resampled_100k")
cat(paste(c("case", "cells", "genes", "threads", "total_s", "train_s", "s_per_epoch", "steps",
            "cells_per_s", "peak_mb", "mb_before_call", "label_share", "label_share_pca",
            "batch_mixing", "batch_mixing_pca", "ms_per_step_by_phase"), collapse = "\t"), "\n")
for (case in cases) {
  status <- system2("Rscript", c("bench/bench_one.R", case, threads))
  if (status != 0) stop("benchmark case ", case, " failed")
}
cat("machine:", system("lscpu | grep 'Model name' | sed 's/.*: *//'", intern = TRUE),
    "|", parallel::detectCores(), "cores |", format(Sys.time(), "%Y-%m-%d"),
    "| OPENBLAS_CORETYPE =", Sys.getenv("OPENBLAS_CORETYPE", "(unset)"), "\n")
