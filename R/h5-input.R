# Reading the files atlases are stored in: AnnData .h5ad and 10x Genomics .h5, through
# hdf5r. The expression matrix is never read whole: it becomes a source of blocks of
# cells (R/h5-sources.R, one per layout) that training walks; here are the files' other
# parts (obs, var, names) and writing the embedding back.

.h5_open <- function(path) {
  .require("hdf5r", "to read .h5ad and .h5 files")
  if (!file.exists(path)) .stop("file '", path, "' does not exist.")
  tryCatch(hdf5r::H5File$new(path, mode = "r"), error = function(e) {
    .stop("cannot open '", path, "' as an HDF5 file (", conditionMessage(e), ").")
  })
}

# Whether `path` ("a/b/c") exists below `node`; HDF5 errors on a path whose parent
# group is missing, so each component is checked in turn.
.h5_exists <- function(node, path) {
  parts <- strsplit(path, "/", fixed = TRUE)[[1]]
  for (k in seq_along(parts)) {
    if (!node$exists(paste(parts[seq_len(k)], collapse = "/"))) return(FALSE)
  }
  TRUE
}

.h5_attr <- function(node, name) {
  if (!node$attr_exists(name)) return(NULL)
  node$attr_open(name)$read()
}

# An AnnData matrix node (X or a layer) as a genes x cells source read a block of cells
# at a time (R/h5-sources.R), whichever its layout: csr_matrix (AnnData's usual one),
# csc_matrix, or a dense array.
.h5ad_matrix <- function(node, what, path, block.values) {
  if (inherits(node, "H5D")) {  # dense: n_obs x n_vars in HDF5, n_vars x n_obs here
    dims <- node$dims
    type <- as.character(node$get_type()$get_class())
    if (length(dims) != 2L || !type %in% c("H5T_INTEGER", "H5T_FLOAT")) {
      .stop(what, " is a dense array of ", length(dims), " dimension(s) and HDF5 type ", type,
            "; concordR reads a cells x genes array of numbers.")
    }
    return(.h5_dense_source(path, node$get_obj_name(), n.genes = as.integer(dims[1]),
                            n.cells = as.integer(dims[2]), block.values))
  }
  kind <- .h5_attr(node, "encoding-type")
  shape <- as.integer(.h5_attr(node, "shape"))
  if (!kind %in% c("csr_matrix", "csc_matrix") || length(shape) != 2L) {
    .stop(what, " is stored as '", if (is.null(kind)) "unknown" else kind, "'; concordR reads ",
          "dense arrays and csr_matrix / csc_matrix groups (AnnData 0.7 or later).")
  }
  source <- if (kind == "csr_matrix") .h5_cell_source else .h5_gene_source
  source(path, node$get_obj_name(), n.genes = shape[2], n.cells = shape[1], block.values)
}

# One AnnData dataframe column: a categorical group (codes into categories; -1 is
# missing), or a dataset of strings, numbers or booleans.
.h5ad_column <- function(node) {
  if (inherits(node, "H5Group")) {
    if (!identical(.h5_attr(node, "encoding-type"), "categorical")) return(NULL)
    codes <- node[["codes"]]$read()
    categories <- node[["categories"]]$read()
    codes[codes < 0] <- NA
    return(factor(categories[codes + 1L], levels = categories))
  }
  v <- node$read()
  if (is.null(dim(v)) || length(dim(v)) == 1L) as.vector(v) else NULL
}

# An AnnData dataframe (obs or var): its index and its columns.
.h5ad_frame <- function(group, what) {
  if (!inherits(group, "H5Group") || !identical(.h5_attr(group, "encoding-type"), "dataframe")) {
    .stop("the file's ", what, " is not an AnnData dataframe group; files written by AnnData ",
          "older than 0.7 are not supported: read and write them again with a newer AnnData.")
  }
  index <- .h5_attr(group, "_index")
  names <- as.character(group[[index]]$read())
  columns <- setdiff(c(.h5_attr(group, "column-order"), group$ls()$name), index)
  frame <- data.frame(row.names = make.unique(names))
  for (column in unique(columns)) {
    v <- .h5ad_column(group[[column]])
    if (!is.null(v) && length(v) == length(names)) frame[[column]] <- v
  }
  frame
}

# An .h5ad file's expression (X, or the named layer) as genes x cells with the cells'
# obs table: a source read in blocks of about `block.values` stored values (option
# concordR.block.values; 2^23, about 100 MB in R).
.read_h5ad <- function(path, layer = NULL, block.values = getOption("concordR.block.values", 2^23)) {
  f <- .h5_open(path)
  on.exit(f$close_all())
  node <- if (is.null(layer)) "X" else paste0("layers/", layer)
  if (!.h5_exists(f, node)) {
    layers <- if (.h5_exists(f, "layers")) f[["layers"]]$ls()$name else character(0)
    .stop("'", path, "' has no ", if (is.null(layer)) "X" else paste0("layer '", layer, "'"),
          "; available layers: ", if (length(layers)) paste(layers, collapse = ", ") else "none", ".")
  }
  x <- .h5ad_matrix(f[[node]], if (is.null(layer)) "X" else paste0("layer '", layer, "'"), path, block.values)
  obs <- .h5ad_frame(f[["obs"]], "obs")
  var <- .h5ad_frame(f[["var"]], "var")
  if (nrow(obs) != ncol(x) || nrow(var) != nrow(x)) {
    .stop("'", path, "' is inconsistent: its matrix is ", ncol(x), " cells x ", nrow(x),
          " genes but obs has ", nrow(obs), " rows and var ", nrow(var), ".")
  }
  dimnames(x) <- list(rownames(var), rownames(obs))
  list(x = x, meta = obs)
}

# A 10x Genomics .h5 file (Cell Ranger 3 or later: the "matrix" group; Cell Ranger 2:
# one group per genome) as a genes x cells source read in blocks of cells: gene
# expression features only, their symbols made unique as Seurat's Read10X_h5 does.
.read_10x_h5 <- function(path, block.values = getOption("concordR.block.values", 2^23)) {
  f <- .h5_open(path)
  on.exit(f$close_all())
  groups <- f$ls()$name
  v3 <- "matrix" %in% groups
  group <- f[[if (v3) "matrix" else groups[1]]]
  shape <- as.integer(group[["shape"]]$read())
  genes <- as.character(group[[if (v3) "features/name" else "gene_names"]]$read())
  keep <- if (v3 && .h5_exists(group, "features/feature_type")) {
    as.character(group[["features/feature_type"]]$read()) == "Gene Expression"
  }
  x <- .h5_cell_source(path, group$get_obj_name(), n.genes = shape[1], n.cells = shape[2], block.values, keep)
  dimnames(x) <- list(make.unique(if (is.null(keep)) genes else genes[keep]),
                      make.unique(as.character(group[["barcodes"]]$read())))
  list(x = x, meta = data.frame(row.names = colnames(x)))
}

.read_expression_file <- function(path, layer) {
  .check_string(path, "the file path")
  if (grepl("\\.h5ad$", path, ignore.case = TRUE)) return(.read_h5ad(path, layer))
  if (grepl("\\.h5$", path, ignore.case = TRUE)) {
    if (!is.null(layer)) .stop("'layer' applies to .h5ad files only; a 10x .h5 file holds one matrix.")
    return(.read_10x_h5(path))
  }
  .stop("expected a features x cells matrix, a Seurat object, a SingleCellExperiment, or the ",
        "path of an AnnData .h5ad or 10x Genomics .h5 file; got the string '", path, "'.")
}

# Runs a verb's default method (`run`) on an .h5ad or 10x .h5 file: `group.by` and
# `class.by` may name obs columns. With `write.to`, the embedding is also written to an
# .h5ad file (checked before training, so that a bad path fails fast).
.run_file <- function(path, run, group.by, class.by, layer, write.to, obsm.key, ...) {
  input <- .read_expression_file(path, layer)
  if (!is.null(write.to)) .check_write_to(path, write.to, obsm.key)
  n.cells <- ncol(input$x)
  args <- list(input$x, group.by = .batch_labels(group.by, meta = input$meta, n.cells = n.cells), ...)
  if (!is.null(class.by)) args$class.by <- .class_labels(class.by, meta = input$meta, n.cells = n.cells)
  emb <- do.call(run, args)
  if (.other_rank(emb)) return(invisible(emb))
  if (!is.null(write.to)) .write_h5ad_obsm(path, write.to, obsm.key, emb)
  emb
}

.check_write_to <- function(from, to, key) {
  .check_string(to, "write.to")
  .check_string(key, "obsm.key")
  if (!grepl("\\.h5ad$", from, ignore.case = TRUE)) {
    .stop("'write.to' needs an .h5ad input to add the embedding to; '", from, "' is not one.")
  }
  if (file.exists(to) && normalizePath(to) != normalizePath(from)) {
    .stop("'", to, "' already exists; remove it, or give write.to = the input file to add the ",
          "embedding to it.")
  }
  dir <- dirname(to)
  if (!dir.exists(dir) || file.access(dir, 2L) != 0L || (file.exists(to) && file.access(to, 2L) != 0L)) {
    .stop("cannot write '", to, "': its folder or the file is not writable; choose another 'write.to'.")
  }
  f <- .h5_open(from)
  on.exit(f$close_all())
  if (.h5_exists(f, paste0("obsm/", key))) .stop("'", from, "' already has obsm '", key, "'; give another 'obsm.key'.")
  invisible(TRUE)
}

# Adds the embedding to a copy of the .h5ad file `from` as obsm[key] (cells x dims,
# float32) and moves the copy to `to` in one rename, so that `to` is never seen half
# written and the input is never modified in place.
.write_h5ad_obsm <- function(from, to, key, emb) {
  .check_write_to(from, to, key)
  staging <- tempfile(pattern = ".concordR-", tmpdir = dirname(to), fileext = ".h5ad")
  on.exit(unlink(staging), add = TRUE)
  if (!file.copy(from, staging)) .stop("cannot copy '", from, "' next to '", to, "'.")
  f <- hdf5r::H5File$new(staging, mode = "r+")
  tryCatch({
    if (!.h5_exists(f, "obsm")) {
      obsm <- f$create_group("obsm")
      hdf5r::h5attr(obsm, "encoding-type") <- "dict"
      hdf5r::h5attr(obsm, "encoding-version") <- "0.1.0"
    }
    values <- t(unclass(emb)[, , drop = FALSE])
    dimnames(values) <- NULL
    f[["obsm"]]$create_dataset(key, robj = values, dtype = hdf5r::h5types$H5T_NATIVE_FLOAT)
    hdf5r::h5attr(f[["obsm"]][[key]], "encoding-type") <- "array"
    hdf5r::h5attr(f[["obsm"]][[key]], "encoding-version") <- "0.2.0"
  }, finally = f$close_all())
  if (!file.rename(staging, to)) .stop("cannot move the result to '", to, "'.")
  invisible(to)
}
