# Atlas scale (issue 14 item 4): RunConcord from an .h5ad file of n cells x 2,000 genes,
# each size trained in a fresh R process so that its peak memory is its own. Prints one
# line per size: wall seconds of the whole call and of training, optimizer steps, cells/s
# of the whole call, the peak resident memory of the process (VmHWM) and its size before
# the call.
#
#   R_LIBS=<library with concordR> Rscript bench/bench_scale.R [sizes=100000,300000,1000000]
#     [threads=2] [epochs=15] [align.weight=default] [align.local.weight=default] [dir=/tmp/concordR-scale] [keep=FALSE]
#
# The files: kang_ctrl_5donors's 2,000 most variable genes, cells drawn with replacement,
# each count redrawn as Poisson(count x a per-cell depth factor in [0.7, 1.3]) so that no
# two cells are identical (as bench_one.R's resampled_100k); donors are the batches.
# Written as AnnData CSR a block of 50,000 cells at a time (each block drawn twice from its
# own seed: once to count its values, once to write them), so that writing a million
# cells needs no more memory than a block.
suppressPackageStartupMessages(library(concordR))
script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
source(file.path(dirname(script), "common.R"))
opt <- bench_options(list(sizes = "100000,300000,1000000", threads = "2", epochs = "15", align.weight = "default",
                          align.local.weight = "default", dir = "/tmp/concordR-scale", keep = "FALSE", run = "", data.dir = "../shared/data"))

# "default" leaves RunConcord's default (NULL), else the number.
weight_arg <- function(value) if (value == "default") NULL else as.numeric(value)

peak_mb <- function() {
  status <- readLines("/proc/self/status")
  as.numeric(gsub("[^0-9]", "", grep("^VmHWM", status, value = TRUE))) / 1024
}

# The child process: one training run from the file, one line of figures.
if (nzchar(opt$run)) {
  before <- peak_mb()
  started <- proc.time()[["elapsed"]]
  emb <- RunConcord(opt$run, group.by = "batch", threads = as.integer(opt$threads),
                    epochs = as.integer(opt$epochs),
                    align.weight = weight_arg(opt$align.weight),
                    align.local.weight = weight_arg(opt$align.local.weight),
                    verbose = FALSE)
  total <- proc.time()[["elapsed"]] - started
  info <- attr(emb, "concord")
  phases <- info$phase.seconds
  cat(sprintf("%d\t%d\t%s\t%.1f\t%.1f\t%d\t%.0f\t%.0f\t%.0f\t%s\n", nrow(emb), length(info$features),
              opt$threads, total, info$seconds, as.integer(info$steps), nrow(emb) / total, peak_mb(), before,
              paste(sprintf("%s=%.1f", names(phases), 1000 * phases / info$steps), collapse = ",")))
  quit(save = "no")
}

source_counts <- function() {
  d <- readRDS(file.path(opt$data.dir, "kang_ctrl_5donors", "kang_ctrl_5donors.rds"))
  x <- concordR:::.log_normalize(d$counts)
  list(counts = d$counts[concordR:::.variable_genes(x, 2000L), ], batch = factor(d$meta$batch))
}

draw_block <- function(src, n, seed) {
  set.seed(seed)
  pick <- sample.int(ncol(src$counts), n, replace = TRUE)
  m <- src$counts[, pick]
  m@x <- as.numeric(stats::rpois(length(m@x), m@x * rep(stats::runif(n, 0.7, 1.3), diff(m@p))))
  list(m = Matrix::drop0(m), batch = src$batch[pick])
}

write_scaled <- function(path, src, n, block = 50000L) {
  starts <- seq(1L, n, by = block)
  sizes <- pmin(block, n - starts + 1L)
  nnz <- vapply(seq_along(starts), function(k) as.numeric(length(draw_block(src, sizes[k], k)$m@x)), 0)
  f <- hdf5r::H5File$new(path, mode = "w")
  on.exit(f$close_all())
  attrs <- function(node, ...) {
    a <- list(...)
    for (name in names(a)) hdf5r::h5attr(node, name) <- a[[name]]
  }
  X <- f$create_group("X")
  total <- sum(nnz)
  data <- X$create_dataset("data", dtype = hdf5r::h5types$H5T_NATIVE_FLOAT, space = hdf5r::H5S$new(dims = total),
                           chunk_dims = min(total, 2^20))
  indices <- X$create_dataset("indices", dtype = hdf5r::h5types$H5T_NATIVE_INT32, space = hdf5r::H5S$new(dims = total),
                              chunk_dims = min(total, 2^20))
  indptr <- numeric(n + 1L)
  batch <- integer(n)
  offset <- 0
  for (k in seq_along(starts)) {
    b <- draw_block(src, sizes[k], k)
    cells <- starts[k] + seq_len(sizes[k]) - 1L
    if (length(b$m@x)) {
      range <- offset + seq_along(b$m@x)
      data[range] <- b$m@x
      indices[range] <- b$m@i
    }
    indptr[cells + 1L] <- offset + b$m@p[-1]
    batch[cells] <- as.integer(b$batch)
    offset <- offset + length(b$m@x)
  }
  X[["indptr"]] <- indptr
  attrs(X, `encoding-type` = "csr_matrix", `encoding-version` = "0.1.0", shape = c(n, nrow(src$counts)))
  obs <- f$create_group("obs")
  obs[["_index"]] <- paste0("c", seq_len(n))
  g <- obs$create_group("batch")
  g[["categories"]] <- levels(src$batch)
  g[["codes"]] <- batch - 1L
  attrs(g, `encoding-type` = "categorical", `encoding-version` = "0.2.0", ordered = FALSE)
  attrs(obs, `_index` = "_index", `encoding-type` = "dataframe", `encoding-version` = "0.2.0", `column-order` = "batch")
  var <- f$create_group("var")
  var[["_index"]] <- rownames(src$counts)
  attrs(var, `_index` = "_index", `encoding-type` = "dataframe", `encoding-version` = "0.2.0")
  invisible(total)
}

dir.create(opt$dir, showWarnings = FALSE, recursive = TRUE)
src <- source_counts()
cat(paste(c("cells", "genes", "threads", "total_s", "train_s", "steps", "cells_per_s", "peak_mb",
            "mb_before_call", "ms_per_step_by_phase"), collapse = "\t"), "\n")
for (n in as.integer(split_list(opt$sizes))) {
  path <- file.path(opt$dir, sprintf("scaled_%d.h5ad", n))
  if (!file.exists(path)) write_scaled(path, src, n)
  status <- system2("Rscript", c(script, paste0("run=", path), paste0("threads=", opt$threads),
                                 paste0("epochs=", opt$epochs), paste0("align.weight=", opt$align.weight),
                                 paste0("align.local.weight=", opt$align.local.weight)))
  if (status != 0) stop("the run on ", n, " cells failed")
  if (!as.logical(opt$keep)) unlink(path)
}
cat("machine:", system("lscpu | grep 'Model name' | sed 's/.*: *//'", intern = TRUE),
    "|", parallel::detectCores(), "cores |", format(Sys.time(), "%Y-%m-%d"),
    "| OPENBLAS_CORETYPE =", Sys.getenv("OPENBLAS_CORETYPE", "(unset)"), "\n")
