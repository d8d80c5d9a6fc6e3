# Generation time and peak memory of SimulateCells() at 100k and 1M cells x 2000 genes.
#
#   Rscript bench/bench_simulate.R            # both sizes, each in a fresh R process
#   Rscript bench/bench_simulate.R 100000     # one size
#
# Each size runs in its own process because peak memory (VmHWM in /proc/self/status,
# Linux only) only ever grows. The data: 20 clusters, 5% global genes, negative binomial
# noise, 2 batches with a sequencing-depth effect, so about 9% of the counts are
# non-zero, as in real data after feature selection; every assay (truth, noisy, counts,
# logcounts) is kept.

status_kb <- function(field) {
  line <- grep(paste0("^", field, ":"), readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", line))
}

run_one <- function(n.cells, n.genes = 2000) {
  suppressPackageStartupMessages({
    library(concordR)
    library(SingleCellExperiment)
  })
  base <- status_kb("VmRSS")
  load <- scan("/proc/loadavg", n = 1, quiet = TRUE)
  time <- system.time(
    x <- SimulateCells("clusters", n.cells = n.cells, n.genes = n.genes, n.states = 20,
                       global.genes = 0.05, noise = "nb", n.batches = 2,
                       batch.effect = "depth", seed = 1)
  )
  nnz <- length(SummarizedExperiment::assay(x, "counts")@x)
  cat(sprintf(paste0("%9d cells x %d genes: %6.1f s elapsed, %6.1f s CPU, peak memory %5.2f GB ",
                     "(R + package before: %.2f GB), counts %.1f%% non-zero, threads %d, ",
                     "load average before %.1f\n"),
              as.integer(n.cells), n.genes, time[["elapsed"]],
              time[["user.self"]] + time[["sys.self"]], status_kb("VmHWM") / 2^20, base / 2^20,
              100 * nnz / (as.numeric(n.cells) * n.genes),
              concordR:::.concord_resolve_threads(0L), load))
}

args <- commandArgs(trailingOnly = TRUE)
if (length(args)) {
  run_one(as.numeric(args[1]))
} else {
  cat("SimulateCells() benchmark on", Sys.info()[["nodename"]], "-", parallel::detectCores(),
      "cores\n")
  script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  for (n in c(1e5, 1e6)) system2(file.path(R.home("bin"), "Rscript"), c(script, format(n, scientific = FALSE)))
}
