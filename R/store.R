# The engine-side training input (src/concord/store.h): the chosen features of every
# cell, log-normalized when the input holds counts, as float32 CSR in the engine's memory.
# Built in two passes over the input, a block of cells at a time (a scan that checks the
# values and finds the variable genes, then the store), so that RunConcord makes no copy
# of an R matrix and reads a file without ever holding all of it in R.

# The training input of `x` (a features x cells matrix, or a file source), restricted to
# `features` (default: the most variable genes, ranked within each batch of
# `feature.batch` when it is given): an object of class "concord_input" with
# the store, its dim and dimnames (features x cells) and attr(, "input"). A DelayedMatrix
# (an HDF5-backed assay) is read a block of cells at a time, as a file is.
# `cells` (increasing, 1-based): the store holds only these cells (a distributed rank's
# share), while the scan, and so the features, cover every cell; dim and dimnames stay
# the input's.
.prepare_store <- function(x, features, verbose, feature.batch = NULL, cells = NULL) {
  if (inherits(x, "DelayedMatrix")) x <- .delayed_source(x)
  on.exit(.release_source(x))  # walked twice (scan, store), then no more
  x <- .checked_shape(if (inherits(x, "concord_source")) x else .as_dgc(x))
  scan <- .scan_input(x, verbose, feature.batch)
  features <- .choose_features(features, rownames(x), scan, verbose)
  column <- match(rownames(x), features) - 1L
  column[is.na(column)] <- -1L
  store <- .concord_store_new(column, length(features), if (scan$counts) .scale_factor else 0)
  done <- 0L  # cells read: blocks come in the order of the cells
  .each_block(x, function(p, i, v) {
    n <- length(p) - 1L
    if (!is.null(cells)) {
      block <- .block_cells(p, i, v, cells[cells > done & cells <= done + n] - done)
      p <- block$p
      i <- block$i
      v <- block$v
    }
    done <<- done + n
    .concord_store_append(store, p, i, v, nrow(x))
  })
  structure(list(store = store, dim = c(length(features), ncol(x)), dimnames = list(features, colnames(x))),
            class = c("concord_input", "concord_matrix"), input = scan$input)
}

# The cells `keep` (1-based, increasing) of a block given as compressed columns (p, i, v;
# p need not start at 0).
.block_cells <- function(p, i, v, keep) {
  len <- diff(p)[keep]
  at <- sequence(len, from = p[keep] - p[1L] + 1L)
  list(p = c(0L, cumsum(len)), i = i[at], v = v[at])
}

# Frees a prepared input's store once training is done: at atlas size it is the largest
# object in memory, and the embedding is named and copied into the user's object next.
.release_input <- function(x) if (inherits(x, "concord_input")) .concord_store_free(x$store)

# What the engine's training and embedding take: the store of a prepared input, or a
# dgCMatrix as it is.
.engine_input <- function(x) if (inherits(x, "concord_input")) x$store else x

# A file's matrix read a block of cells at a time: features x cells, as its `blocks`
# function hands them to f(p, i, x) (.each_block()). `release`: a function that frees
# what walking the blocks left behind to walk them faster again (a CSC file's cells
# sorted into temporary files, .h5_gene_source()), called once the store is built.
.new_source <- function(dim, dimnames, blocks, release = NULL) {
  structure(list(dim = as.integer(dim), dimnames = dimnames, blocks = blocks, release = release),
            class = c("concord_source", "concord_matrix"))
}

.release_source <- function(x) {
  if (inherits(x, "concord_source") && is.function(x$release)) x$release()
  invisible(NULL)
}

#' @export
dim.concord_matrix <- function(x) x$dim

#' @export
dimnames.concord_matrix <- function(x) x$dimnames

#' @export
`dimnames<-.concord_matrix` <- function(x, value) {
  x$dimnames <- value
  x
}
