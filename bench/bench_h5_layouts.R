# Reading an .h5ad file by the layout of its matrix (issue 14 item 1): the training input
# (.prepare_store(): the scan, the choice of 2,000 variable genes, the store) built from
# the same cells stored as CSR, CSC and dense, each in a fresh R process so that its peak
# memory is its own. "csc-whole" is how CSC files were read before they were read in
# blocks: the whole matrix into R, then the store from it. Prints one line per layout:
# seconds, peak resident memory (VmHWM) and the process's size before reading.
#
#   R_LIBS=<library with concordR> Rscript bench/bench_h5_layouts.R [cells=100000]
#     [layouts=csr,csc,csc-whole,dense] [dir=/tmp/concordR-layouts] [block.values=8388608]
#
# The data: 2,000 genes, 11% of them stored per cell (about the 217 of bench_scale.R's
# files), counts 1 to 20 drawn at random, values stored as float32 with hdf5r's default
# gzip level 4; batches are four equal groups of cells.
suppressPackageStartupMessages(library(concordR))
script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
source(file.path(dirname(script), "common.R"))
opt <- bench_options(list(cells = "100000", layouts = "csr,csc,csc-whole,dense", dir = "/tmp/concordR-layouts",
                          block.values = "8388608", run = "", layout = ""))

peak_mb <- function() {
  status <- readLines("/proc/self/status")
  as.numeric(gsub("[^0-9]", "", grep("^VmHWM", status, value = TRUE))) / 1024
}

# The child process: one input built from the file, one line of figures.
if (nzchar(opt$run)) {
  options(concordR.block.values = as.numeric(opt$block.values))
  before <- peak_mb()
  started <- proc.time()[["elapsed"]]
  x <- if (opt$layout == "csc-whole") {
    f <- hdf5r::H5File$new(opt$run, mode = "r")
    g <- f[["X"]]
    shape <- hdf5r::h5attr(g, "shape")
    m <- methods::new("dgRMatrix", j = as.integer(g[["indices"]]$read()), p = as.integer(g[["indptr"]]$read()),
                      x = as.numeric(g[["data"]]$read()), Dim = as.integer(rev(shape)))
    f$close_all()
    methods::as(m, "CsparseMatrix")
  } else {
    concordR:::.read_h5ad(opt$run)$x
  }
  input <- concordR:::.prepare_store(x, features = NULL, verbose = FALSE)
  seconds <- proc.time()[["elapsed"]] - started
  cat(sprintf("%s\t%d\t%d\t%.1f\t%.0f\t%.0f\n", opt$layout, ncol(input), nrow(input), seconds, peak_mb(), before))
  quit(save = "no")
}

write_layout <- function(path, m, layout) {
  f <- hdf5r::H5File$new(path, mode = "w")
  on.exit(f$close_all())
  attrs <- function(node, ...) {
    a <- list(...)
    for (name in names(a)) hdf5r::h5attr(node, name) <- a[[name]]
  }
  float <- hdf5r::h5types$H5T_NATIVE_FLOAT
  if (layout == "dense") {
    # Written a slab of cells at a time, so that the dense matrix is never whole in R.
    # Dimensions in hdf5r's order: genes x cells here, cells x genes in the file.
    X <- f$create_dataset("X", dtype = float, space = hdf5r::H5S$new(dims = dim(m)),
                          chunk_dims = c(nrow(m), min(ncol(m), 1000L)))
    for (s in seq(1L, ncol(m), by = 10000L)) {
      cells <- seq.int(s, min(ncol(m), s + 9999L))
      X[, cells] <- as.matrix(m[, cells])
    }
  } else {
    if (layout == "csc") m <- methods::as(methods::as(m, "RsparseMatrix"), "generalMatrix")
    X <- f$create_group("X")
    X$create_dataset("data", robj = m@x, dtype = float, chunk_dims = min(length(m@x), 2^20))
    X$create_dataset("indices", robj = if (layout == "csr") m@i else m@j, chunk_dims = min(length(m@x), 2^20))
    X[["indptr"]] <- m@p
    attrs(X, `encoding-type` = paste0(layout, "_matrix"), `encoding-version` = "0.1.0", shape = rev(dim(m)))
  }
  obs <- f$create_group("obs")
  obs[["_index"]] <- paste0("c", seq_len(ncol(m)))
  obs[["batch"]] <- paste0("b", (seq_len(ncol(m)) - 1L) %% 4L)
  attrs(obs, `_index` = "_index", `encoding-type` = "dataframe", `encoding-version` = "0.2.0", `column-order` = "batch")
  var <- f$create_group("var")
  var[["_index"]] <- paste0("g", seq_len(nrow(m)))
  attrs(var, `_index` = "_index", `encoding-type` = "dataframe", `encoding-version` = "0.2.0")
}

dir.create(opt$dir, showWarnings = FALSE, recursive = TRUE)
n <- as.integer(opt$cells)
set.seed(1)
m <- Matrix::rsparsematrix(2000L, n, density = 0.11, rand.x = function(k) as.numeric(sample.int(20L, k, replace = TRUE)))
cat(paste(c("layout", "cells", "features", "seconds", "peak_mb", "mb_before"), collapse = "\t"), "\n")
for (layout in split_list(opt$layouts)) {
  stored <- if (layout == "csc-whole") "csc" else layout
  path <- file.path(opt$dir, sprintf("%s_%d.h5ad", stored, n))
  if (!file.exists(path)) write_layout(path, m, stored)
  status <- system2("Rscript", c(script, paste0("run=", path), paste0("layout=", layout),
                                 paste0("block.values=", opt$block.values)))
  if (status != 0) stop("the run on the ", layout, " file failed")
}
cat("machine:", system("lscpu | grep 'Model name' | sed 's/.*: *//'", intern = TRUE),
    "|", parallel::detectCores(), "cores |", format(Sys.time(), "%Y-%m-%d %H:%M"), "\n")
