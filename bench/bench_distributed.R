# Data-parallel RunConcord (issue 14, item 5) against one process with the same total
# batch size, on kang_ctrl_5donors: EvaluateEmbedding() Bio / Batch / Total per seed,
# wall time of the RunConcord call, steps, milliseconds per step (all, forward + backward,
# optimizer: in distributed runs the optimizer phase includes the gradient all-reduce).
#
# Usage, from the repository root (the installed concordR is used):
#   Rscript bench/bench_distributed.R [ranks=2] [seeds=1,2,3] [batch=256] [threads=1] \
#     [dataset=kang_ctrl_5donors] [port=29710] [p.intra.knn=0]
# For each seed: one process with batch.size = batch, then `ranks` processes started by
# inst/scripts/concord-distributed with batch.size = batch / ranks each (so the same
# cells per optimizer step and the same number of steps). Every run uses `threads`
# threads per process. Input as in bench_quality.R (Seurat LogNormalize, vst 2,000 genes).
suppressPackageStartupMessages(library(concordR))
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))), "common.R"))

opt <- bench_options(list(ranks = "2", seeds = "1,2,3", batch = "256", threads = "1", dataset = "kang_ctrl_5donors",
            port = "29710", seed = "", out = "", data.dir = "../shared/data", p.intra.knn = "0"))
ranks <- as.integer(opt$ranks)
batch <- as.integer(opt$batch)
threads <- as.integer(opt$threads)
p.intra.knn <- as.numeric(opt$p.intra.knn)


train <- function(d, seed, batch.size) {
  started <- proc.time()[["elapsed"]]
  emb <- RunConcord(d$x, group.by = d$batch, features = d$features, batch.size = batch.size, seed = seed,
                    p.intra.knn = p.intra.knn, threads = threads, verbose = FALSE)
  attr(emb, "concord")$wall <- proc.time()[["elapsed"]] - started
  emb
}

d <- load_real(opt$dataset, opt$data.dir)

if (nzchar(Sys.getenv("RANK"))) {
  # One rank of a distributed run (started by the launcher below): rank 0 saves the result.
  emb <- train(d, as.integer(opt$seed), batch %/% ranks)
  if (Sys.getenv("RANK") == "0") saveRDS(emb, opt$out)
  quit(save = "no")
}

score <- function(emb) {
  ev <- EvaluateEmbedding(unclass(emb)[, ], batch = d$batch, label = d$label, families = c("bio", "batch"),
                          threads = threads)
  c(Bio = ev$Bio, Batch = ev$Batch, Total = ev$Total)
}

launcher <- file.path("inst", "scripts", "concord-distributed")
script <- file.path("bench", "bench_distributed.R")
rows <- list()
for (seed in as.integer(strsplit(opt$seeds, ",")[[1]])) {
  single <- train(d, seed, batch)
  out <- tempfile(fileext = ".rds")
  status <- system2("sh", c(launcher, "-n", ranks, "-p", opt$port, script, paste0("ranks=", ranks),
                            paste0("seed=", seed), paste0("batch=", batch), paste0("threads=", threads),
                            paste0("dataset=", opt$dataset), paste0("out=", out),
                            paste0("data.dir=", opt$data.dir), paste0("p.intra.knn=", opt$p.intra.knn)))
  if (status != 0) stop("the distributed run failed (status ", status, ")")
  dist <- readRDS(out)
  stopifnot(identical(rownames(dist), colnames(d$x)))
  for (run in list(list("1 process", batch, single), list(paste(ranks, "ranks"), batch %/% ranks, dist))) {
    info <- attr(run[[3]], "concord")
    s <- score(run[[3]])
    ms <- 1000 * info$phase.seconds / info$steps
    rows[[length(rows) + 1]] <- data.frame(seed = seed, run = run[[1]], batch.size = run[[2]],
                                           steps = info$steps, seconds = round(info$wall, 1),
                                           ms.step = round(1000 * info$seconds / info$steps, 1),
                                           ms.fwd.bwd = round(ms[["forward"]] + ms[["backward"]], 1),
                                           ms.optimizer = round(ms[["optimizer"]], 1),
                                           Bio = s[["Bio"]], Batch = s[["Batch"]], Total = s[["Total"]])
    print(rows[[length(rows)]], row.names = FALSE)
  }
}
all <- do.call(rbind, rows)
cat("\nPer run:\n")
print(all, row.names = FALSE, digits = 3)
cat("\nMean (sd) over seeds:\n")
for (r in unique(all$run)) {
  a <- all[all$run == r, ]
  cat(sprintf("%-10s Bio %.3f (%.3f)  Batch %.3f (%.3f)  Total %.3f (%.3f)  %.1f s/run  %.1f ms/step (optimizer %.1f)\n", r,
              mean(a$Bio), sd(a$Bio), mean(a$Batch), sd(a$Batch), mean(a$Total), sd(a$Total), mean(a$seconds),
              mean(a$ms.step), mean(a$ms.optimizer)))
}
