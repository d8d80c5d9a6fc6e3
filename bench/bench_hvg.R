# The choice of variable genes (issue 14 item 2): the engine's one scan of the input with
# per-batch sums (hvg.by.batch = TRUE) against the pooled scan, and the ranking after it.
# For each dataset, from the matrix in memory (raw counts) and from its .h5ad file (read
# a block of cells at a time), prints the median seconds of the scan (`reps` runs) and of
# the ranking both ways, how many of the 2,000 genes the two rankings share, and the
# memory the per-batch sums add. `cells` > 0 adds a dataset of that many cells drawn
# with replacement from kang_ctrl_5donors (all genes; counts redrawn as bench_scale.R
# does), in memory only.
#
#   R_LIBS=<library with concordR> Rscript bench/bench_hvg.R [reps=5] [cells=100000]
suppressPackageStartupMessages(library(concordR))
script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
source(file.path(dirname(script), "common.R"))
opt <- bench_options(list(reps = "5", cells = "100000", data.dir = "../shared/data",
                          datasets = "kang_ctrl_5donors,kang_ifnb_muscat"))
reps <- as.integer(opt$reps)

seconds <- function(f) {
  t <- vapply(seq_len(reps), function(i) system.time(f())[["elapsed"]], 0)
  stats::median(t)
}

report <- function(name, source, x, batch) {
  scan.pooled <- seconds(function() concordR:::.scan_input(x, FALSE))
  scan.batch <- seconds(function() concordR:::.scan_input(x, FALSE, batch))
  s <- concordR:::.scan_input(x, FALSE, batch)
  rank.pooled <- seconds(function() concordR:::.top_variable(rownames(x), s$moments))
  rank.batch <- seconds(function() concordR:::.top_variable_by_batch(rownames(x), s))
  shared <- length(intersect(concordR:::.top_variable(rownames(x), s$moments),
                             concordR:::.top_variable_by_batch(rownames(x), s)))
  cat(sprintf("%s\t%s\t%d x %d\t%d batches\tscan %.3f / %.3f s\trank %.3f / %.3f s\tshared %d\t+%.2f MB\n",
              name, source, ncol(x), nrow(x), nlevels(batch), scan.pooled, scan.batch, rank.pooled,
              rank.batch, shared, nlevels(batch) * nrow(x) * 32 / 2^20))
  flush(stdout())
}

cat("dataset\tinput\tcells x genes\tbatches\tscan pooled / by batch\trank pooled / by batch\tgenes shared\tper-batch sums\n")
for (name in split_list(opt$datasets)) {
  d <- readRDS(file.path(opt$data.dir, name, paste0(name, ".rds")))
  batch <- factor(d$meta$batch)
  report(name, "memory", d$counts, batch)
  h5 <- concordR:::.read_h5ad(file.path(opt$data.dir, name, paste0(name, ".h5ad")))
  report(name, "h5ad", concordR:::.checked_shape(h5$x), factor(h5$meta$batch))
}
n <- as.integer(opt$cells)
if (n > 0) {
  d <- readRDS(file.path(opt$data.dir, "kang_ctrl_5donors", "kang_ctrl_5donors.rds"))
  set.seed(1)
  pick <- sample.int(ncol(d$counts), n, replace = TRUE)
  m <- d$counts[, pick]
  m@x <- as.numeric(stats::rpois(length(m@x), m@x * rep(stats::runif(n, 0.7, 1.3), diff(m@p))))
  m <- Matrix::drop0(m)
  colnames(m) <- paste0("cell", seq_len(n))
  report(paste0("kang_ctrl_5donors resampled"), "memory", m, factor(d$meta$batch[pick]))
}
cat("\nmachine:", system("lscpu | grep 'Model name' | sed 's/.*: *//'", intern = TRUE), "|",
    parallel::detectCores(), "cores | load average", system("cut -d' ' -f1-3 /proc/loadavg", intern = TRUE),
    "|", format(Sys.time(), "%Y-%m-%d %H:%M"), "\n")
