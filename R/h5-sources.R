# The matrix layouts of .h5ad and 10x .h5 files as sources (.new_source()) of blocks of
# cells, handed to f(p, i, x) as the slots of a genes x cells compressed matrix. Each walk
# reads the file again a block at a time, so that memory follows the block size (about
# `block.values` stored values, option concordR.block.values), never the file's size.
#
# hdf5r reverses dimensions relative to the HDF5 C API: a dataset of n_obs x n_vars in
# the file reads as n_vars x n_obs here.

# A compressed group's offsets (`indptr`, one more than its `n` rows of `what`, "cells" or
# "genes") as integers, checked against its stored values: offsets that do not start at
# 0, decrease or end elsewhere are a corrupt or truncated file, and more than 2^31 - 1
# values are beyond what a block's integer offsets index.
.h5_offsets <- function(g, n, what, path, group) {
  p <- as.numeric(g[["indptr"]]$read())
  n.values <- g[["data"]]$dims
  if (length(p) != n + 1L || p[1] != 0 || is.unsorted(p) || p[length(p)] != n.values ||
      g[["indices"]]$dims != n.values) {
    .stop("'", path, "' is corrupt or truncated: the offsets of ", group, " (", length(p), " for ",
          n, " ", what, ") do not match its ", n.values, " stored values.")
  }
  if (n.values > .Machine$integer.max) {
    .stop("'", path, "' holds more than 2^31 - 1 stored values, beyond what concordR can index; ",
          "split the file into smaller ones.")
  }
  as.integer(p)
}

# The last of the rows first.. (1-based) whose values, by offsets `p`, add up to about
# `values`: at least row `first`, at most `n`.
.h5_last_row <- function(p, first, values, n) {
  max(first, min(n, findInterval(p[first] + values, p) - 1L))
}

# Positions from..to (1-based; none when to < from) of a group's 1-D dataset `name`, as
# doubles, or as R's integers where they fit (`index`: indices, half the memory). Read as
# one hyperslab: read(args = list(from:to)) would first check the regularity of the
# whole index vector in R, which took three quarters of reading a file in blocks.
.h5_read_range <- function(g, name, from, to, index = FALSE) {
  if (to < from) return(if (index) integer(0) else numeric(0))
  dataset <- g[[name]]
  space <- dataset$get_space()
  on.exit(space$close())
  count <- to - from + 1
  space$select_hyperslab(start = from, count = count)
  v <- dataset$read_low_level(file_space = space, mem_space = hdf5r::H5S$new(dims = count, maxdims = count))
  if (index && is.integer(v)) v else as.numeric(v)
}

# A sparse group compressed by cell (AnnData's csr_matrix, 10x's matrix) as a source of
# n.genes x n.cells: only the cells' offsets and one block are in memory at a time.
# `keep`: the genes to keep (10x: gene expression features only), all by default.
.h5_cell_source <- function(path, group, n.genes, n.cells, block.values, keep = NULL) {
  force(group)  # the node it is read from closes with the file
  force(block.values)
  column <- if (is.null(keep)) NULL else ifelse(keep, cumsum(keep) - 1L, NA_integer_)
  blocks <- function(f) {
    h5 <- .h5_open(path)
    on.exit(h5$close_all())
    g <- h5[[group]]
    p <- .h5_offsets(g, n.cells, "cells", path, group)
    first <- 1L
    while (first <= n.cells) {
      last <- .h5_last_row(p, first, block.values, n.cells)
      offsets <- p[first:(last + 1L)]
      genes <- as.integer(.h5_read_range(g, "indices", p[first] + 1, p[last + 1L], index = TRUE))
      values <- .h5_read_range(g, "data", p[first] + 1, p[last + 1L])
      if (!is.null(column)) {
        kept <- !is.na(column[genes + 1L])
        cell <- rep.int(seq_len(last - first + 1L), diff(offsets))
        offsets <- c(0L, cumsum(tabulate(cell[kept], nbins = last - first + 1L)))
        genes <- column[genes[kept] + 1L]
        values <- values[kept]
      }
      f(offsets, genes, values)
      first <- last + 1L
    }
  }
  .new_source(c(if (is.null(keep)) n.genes else sum(keep), n.cells), NULL, blocks)
}

# A dense dataset (AnnData's dense X or layer) as a source of n.genes x n.cells read a
# slab of whole cells at a time (rows of the file, contiguous on disk), about
# `block.values` values each, at least one cell. Each slab is made sparse: zeros dropped,
# NA and NaN kept so that the scan reports them, as a dgCMatrix made from it would hold them.
.h5_dense_source <- function(path, dataset, n.genes, n.cells, block.values) {
  force(dataset)
  per.block <- as.integer(max(1, floor(block.values / max(1, n.genes))))
  blocks <- function(f) {
    if (n.genes == 0L || n.cells == 0L) return(invisible(NULL))
    h5 <- .h5_open(path)
    on.exit(h5$close_all())
    d <- h5[[dataset]]
    for (first in seq.int(1L, n.cells, by = per.block)) {
      cells <- seq.int(first, min(n.cells, first + per.block - 1L))
      # from:to as a call is one hyperslab to hdf5r, not a vector checked for regularity.
      m <- d$read(args = list(quote(expr = ), call(":", first, max(cells))), drop = FALSE)
      kept <- m != 0  # NA where m is NA or NaN, which are kept
      if (anyNA(kept)) kept[is.na(kept)] <- TRUE
      stored <- which(kept) - 1L  # 0-based, column-major: gene fastest
      kept <- NULL
      cell <- stored %/% n.genes
      f(c(0L, cumsum(tabulate(cell + 1L, nbins = length(cells)))), stored - cell * n.genes, as.numeric(m[stored + 1L]))
    }
  }
  .new_source(c(n.genes, n.cells), NULL, blocks)
}

# AnnData's csc_matrix (one compressed column per gene) as a source of n.genes x n.cells.
# A cell's values lie spread over the whole file, so the first walk sorts it by cell once
# in bounded memory: one pass over blocks of genes appends each value, its cell and its
# gene to the temporary files of its range of cells. Every walk then reads the ranges
# back, as many as fit in a block, and orders them by cell; the order is stable and the
# files were written gene by gene, so genes increase within a cell, as in a dgCMatrix.
# Ranges hold about a quarter of a block on average, so that cells of uneven depth still
# fill blocks of about `block.values`; there are at most 1000 of them, a file each.
# Disk: 16 bytes per stored value, 12 where the file holds float32. The files are
# removed by the source's release() (.release_source(), once the training store is built),
# else when the source is garbage collected or R exits, and at once if the pass fails.
.h5_gene_source <- function(path, group, n.genes, n.cells, block.values) {
  force(group)
  force(block.values)
  sorted <- new.env(parent = emptyenv())
  reg.finalizer(sorted, .remove_sorted, onexit = TRUE)
  sort.by.cell <- function() {
    h5 <- .h5_open(path)
    on.exit(h5$close_all())
    g <- h5[[group]]
    p <- .h5_offsets(g, n.genes, "genes", path, group)
    type <- g[["data"]]$get_type()
    value.size <- if (identical(as.character(type$get_class()), "H5T_FLOAT") && type$get_size() == 4) 4L else 8L
    n.values <- p[length(p)]
    width <- as.integer(min(max(1, n.cells), max(1, ceiling(n.cells / 1000),
                                                 floor(block.values / 4 * n.cells / max(1, n.values)))))
    n.ranges <- as.integer(ceiling(n.cells / width))
    dir <- tempfile("concordR-cells-")
    dir.create(dir)
    done <- FALSE
    on.exit(if (!done) unlink(dir, recursive = TRUE), add = TRUE)
    counts <- numeric(n.ranges)
    first <- 1L
    while (first <= n.genes) {
      last <- .h5_last_row(p, first, block.values / 2, n.genes)
      cells <- .h5_read_range(g, "indices", p[first] + 1, p[last + 1L], index = TRUE)
      if (length(cells) && (anyNA(cells) || min(cells) < 0 || max(cells) >= n.cells)) {
        .stop("'", path, "' is corrupt: ", group, " holds cell indices outside 0 to ", n.cells - 1L,
              " (its shape has ", n.cells, " cells).")
      }
      cells <- as.integer(cells)
      values <- .h5_read_range(g, "data", p[first] + 1, p[last + 1L])
      genes <- rep.int(seq.int(first - 1L, last - 1L), diff(p[first:(last + 1L)]))
      in.range <- cells %/% width + 1L
      order.by.range <- order(in.range, method = "radix")
      n <- tabulate(in.range, nbins = n.ranges)
      end <- cumsum(n)
      for (k in which(n > 0L)) {
        at <- order.by.range[seq.int(end[k] - n[k] + 1L, end[k])]
        .append_chunk(file.path(dir, k), cells[at], genes[at], values[at], value.size)
      }
      counts <- counts + n
      first <- last + 1L
    }
    done <- TRUE
    sorted$dir <- dir
    sorted$counts <- counts
    sorted$width <- width
    sorted$value.size <- value.size
  }
  blocks <- function(f) {
    if (is.null(sorted$dir)) sort.by.cell()
    width <- sorted$width
    counts <- sorted$counts
    ends <- c(0, cumsum(counts))
    k <- 1L
    while (k <= length(counts)) {
      l <- .h5_last_row(ends, k, block.values, length(counts))
      first.cell <- (k - 1L) * width
      n.block <- min(n.cells, l * width) - first.cell
      # Ranges hold disjoint, increasing cells, so each is ordered alone, in its place.
      gene <- integer(sum(counts[k:l]))
      value <- numeric(length(gene))
      per.cell <- integer(n.block)
      at <- 0
      for (r in k:l) {
        if (counts[r] == 0) next
        range <- .read_sorted_range(file.path(sorted$dir, r), counts[r], sorted$value.size)
        by.cell <- order(range$cell, method = "radix")
        slot <- seq.int(at + 1, at + counts[r])
        gene[slot] <- range$gene[by.cell]
        value[slot] <- range$value[by.cell]
        per.cell <- per.cell + tabulate(range$cell - first.cell + 1L, nbins = n.block)
        at <- at + counts[r]
      }
      range <- by.cell <- NULL
      f(c(0L, cumsum(per.cell)), gene, value)
      k <- l + 1L
    }
  }
  .new_source(c(n.genes, n.cells), NULL, blocks, release = function() .remove_sorted(sorted))
}

# Removes a CSC source's sorted files (.h5_gene_source()); a later walk sorts again.
.remove_sorted <- function(sorted) {
  if (!is.null(sorted$dir)) unlink(sorted$dir, recursive = TRUE)
  sorted$dir <- NULL
  invisible(NULL)
}

# A range's file is a series of chunks, one per block of genes with values in the range:
# n, then n cells and n genes (4-byte integers), then n values (4 or 8 bytes).
.append_chunk <- function(file, cell, gene, value, value.size) {
  con <- file(file, "ab")
  on.exit(close(con))
  writeBin(c(length(cell), cell, gene), con, size = 4L)
  writeBin(value, con, size = value.size)
}

# The `n` values of a range's file, with their cells and genes, in the order written.
.read_sorted_range <- function(file, n, value.size) {
  con <- file(file, "rb")
  on.exit(close(con))
  cell <- integer(n)
  gene <- integer(n)
  value <- numeric(n)
  read <- 0
  while (read < n) {
    size <- readBin(con, "integer", n = 1L, size = 4L)
    index <- if (length(size)) readBin(con, "integer", n = 2L * size, size = 4L) else integer(0)
    values <- if (length(size)) readBin(con, "double", n = size, size = value.size) else numeric(0)
    if (!length(size) || length(index) != 2L * size || length(values) != size || read + size > n) {
      .stop("a temporary file of the cells' sorted values, '", file, "', was cut short; ",
            "check the free space in tempdir() ('", tempdir(), "').")
    }
    slot <- seq.int(read + 1, length.out = size)
    cell[slot] <- index[seq_len(size)]
    gene[slot] <- index[size + seq_len(size)]
    value[slot] <- values
    read <- read + size
  }
  list(cell = cell, gene = gene, value = value)
}
