# Run time of the full evaluation pipeline (EvaluateEmbedding with every family) on
# simulated embeddings of 10k, 100k and 1M cells; topology on its default subsample of
# 300 cells, silhouettes on 10,000, geometry on 1,000.
#
#   R_LIBS=<library with concordR> Rscript bench/bench_evaluate.R [sizes] [threads] [families]
#   e.g. Rscript bench/bench_evaluate.R 10000,100000,1000000 2
#        Rscript bench/bench_evaluate.R 100000,300000 2 bio,batch
#
# Prints per size: seconds for the shared kNN search and for each family, the total
# wall time and the peak resident memory of the R process; the CPU seconds of each
# stage (this process and its forked workers: the measure that holds on a shared,
# loaded machine); every score. `families`
# (comma-separated) defaults to every family.

suppressPackageStartupMessages(library(concordR))
args <- commandArgs(trailingOnly = TRUE)
sizes <- if (length(args) >= 1) as.numeric(strsplit(args[1], ",")[[1]]) else c(1e4, 1e5, 1e6)
threads <- if (length(args) >= 2) as.integer(args[2]) else 2L
families <- if (length(args) >= 3) strsplit(args[3], ",")[[1]] else NULL

# Ten cell types (Gaussian blobs in 50 dimensions) in four batches; each batch shifts
# its cells along its own random direction. The reference is the data before the shift.
simulate <- function(n, dims = 50, types = 10, batches = 4, seed = 1) {
  set.seed(seed)
  centre <- matrix(rnorm(types * dims, sd = 3), types)
  label <- sample.int(types, n, replace = TRUE)
  batch <- sample.int(batches, n, replace = TRUE)
  reference <- centre[label, ] + matrix(rnorm(n * dims), n)
  shift <- matrix(rnorm(batches * dims, sd = 0.5), batches)
  list(embedding = reference + shift[batch, ], reference = reference,
       label = paste0("type", label), batch = paste0("batch", batch))
}

cpu_now <- function() sum(proc.time()[c("user.self", "sys.self", "user.child", "sys.child")], na.rm = TRUE)

peak_mb <- function() {
  s <- readLines("/proc/self/status")
  as.numeric(gsub("[^0-9]", "", s[grepl("^VmHWM", s)])) / 1024
}

cat(sprintf("machine: %s, %d threads; R %s; families %s; %s; load %s\n", Sys.info()[["sysname"]], threads,
            getRversion(), if (is.null(families)) "all" else paste(families, collapse = ","),
            format(Sys.time(), tz = "UTC", usetz = TRUE),
            if (file.exists("/proc/loadavg")) paste(strsplit(readLines("/proc/loadavg"), " ")[[1]][1:3], collapse = " ") else "?"))
for (n in sizes) {
  d <- simulate(n)
  t0 <- proc.time()[["elapsed"]]
  c0 <- cpu_now()
  r <- EvaluateEmbedding(d$embedding, batch = d$batch, label = d$label, reference = d$reference,
                         expected.betti = c(10, 0, 0), families = families, threads = threads)
  total <- proc.time()[["elapsed"]] - t0
  total.cpu <- cpu_now() - c0
  s <- attr(r, "details")$seconds
  cpu <- attr(r, "details")$cpu.seconds
  load <- if (file.exists("/proc/loadavg")) strsplit(readLines("/proc/loadavg"), " ")[[1]][1] else "?"
  cat(sprintf("%8d cells (load %s): total %7.1f s (CPU %.1f s) | %s | peak RSS %6.0f MB | Bio %.3f Batch %.3f Total %.3f\n",
              as.integer(n), load, total, total.cpu, paste(sprintf("%s %.1f", names(s), s), collapse = ", "),
              peak_mb(), r$Bio, r$Batch, r$Total))
  if (!is.null(cpu)) {
    cat(sprintf("  CPU seconds (this process and its workers): %s\n",
                paste(sprintf("%s %.1f", names(cpu), cpu), collapse = ", ")))
  }
  cat(sprintf("  %s\n", paste(sprintf("%s %.4f", names(r), unlist(r)), collapse = ", ")))
  rm(d, r)
  invisible(gc())
}
