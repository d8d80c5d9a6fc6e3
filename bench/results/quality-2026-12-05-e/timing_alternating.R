# RunConcord on kang_ctrl_5donors (the peers' vst 2,000), threads 2, seed 1: defaults and
# align.local.weight = 50 alternately, four times each; seconds of the call.
suppressPackageStartupMessages(library(concordR))
source("bench/common.R")
d <- load_real("kang_ctrl_5donors", "../shared/data")
for (rep in 1:4) for (w in c(0, 50)) {
  t0 <- proc.time()[["elapsed"]]
  emb <- RunConcord(d$x, group.by = d$batch, features = d$features, seed = 1, threads = 2, verbose = FALSE, align.local.weight = w)
  cat(sprintf("rep %d align.local.weight %g seconds %.1f\n", rep, w, proc.time()[["elapsed"]] - t0))
}
