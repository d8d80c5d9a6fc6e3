# Small files written here in the layouts AnnData and Cell Ranger use.
# `float32`: the values stored as single precision, as AnnData often writes them.
write_h5ad <- function(path, counts, obs, layout = c("csr", "csc", "dense"), float32 = FALSE) {
  layout <- match.arg(layout)
  dtype <- if (float32) hdf5r::h5types$H5T_NATIVE_FLOAT else NULL
  f <- hdf5r::H5File$new(path, mode = "w")
  on.exit(f$close_all())
  set_attrs <- function(node, ...) {
    a <- list(...)
    for (n in names(a)) hdf5r::h5attr(node, n) <- a[[n]]
  }
  if (layout == "dense") {
    # genes x cells here is cells x genes in the file
    f$create_dataset("X", robj = as.matrix(counts), dtype = dtype)
  } else {
    m <- if (layout == "csr") methods::as(counts, "CsparseMatrix") else methods::as(counts, "RsparseMatrix")
    x <- f$create_group("X")
    x$create_dataset("data", robj = m@x, dtype = dtype)
    x[["indices"]] <- if (layout == "csr") m@i else m@j
    x[["indptr"]] <- m@p
    set_attrs(x, `encoding-type` = paste0(layout, "_matrix"), `encoding-version` = "0.1.0",
              shape = rev(dim(counts)))
  }
  frame <- function(name, index, columns) {
    g <- f$create_group(name)
    g[["_index"]] <- index
    for (n in names(columns)) {
      v <- columns[[n]]
      if (is.factor(v)) {
        cg <- g$create_group(n)
        cg[["categories"]] <- levels(v)
        cg[["codes"]] <- as.integer(v) - 1L
        set_attrs(cg, `encoding-type` = "categorical", `encoding-version` = "0.2.0", ordered = FALSE)
      } else {
        g[[n]] <- v
      }
    }
    set_attrs(g, `_index` = "_index", `encoding-type` = "dataframe", `encoding-version` = "0.2.0")
    if (length(columns)) set_attrs(g, `column-order` = names(columns))
  }
  frame("obs", colnames(counts), obs)
  frame("var", rownames(counts), list())
}

# With one antibody-capture feature after the genes, which reading must leave out.
write_10x <- function(path, counts) {
  genes <- rownames(counts)
  counts <- rbind(counts, Matrix::sparseMatrix(i = 1, j = 1, x = 7, dims = c(1, ncol(counts))))
  f <- hdf5r::H5File$new(path, mode = "w")
  on.exit(f$close_all())
  g <- f$create_group("matrix")
  g[["data"]] <- as.integer(counts@x)
  g[["indices"]] <- counts@i
  g[["indptr"]] <- counts@p
  g[["shape"]] <- dim(counts)
  g[["barcodes"]] <- colnames(counts)
  features <- g$create_group("features")
  features[["name"]] <- c(genes, "CD3-TotalSeqB")
  features[["feature_type"]] <- c(rep("Gene Expression", length(genes)), "Antibody Capture")
}

# A file source's blocks joined into one dgCMatrix, or a matrix as it is.
read_blocks <- function(x) {
  if (!inherits(x, "concord_source")) return(x)
  blocks <- list()
  x$blocks(function(p, i, v) {
    blocks[[length(blocks) + 1L]] <<- Matrix::sparseMatrix(i = i + 1L, p = p - p[1], x = v,
                                                           dims = c(nrow(x), length(p) - 1L))
  })
  out <- do.call(cbind, blocks)
  dimnames(out) <- dimnames(x)
  out
}

n_blocks <- function(x) length(block_values(x))

# The number of stored values of each block of a file source.
block_values <- function(x) {
  n <- integer(0)
  x$blocks(function(p, i, v) n <<- c(n, length(i)))
  n
}

# Values as single precision holds them.
float32 <- function(v) readBin(writeBin(v, raw(), size = 4), "double", n = length(v), size = 4)

# The folders of cells sorted out of CSC files (.h5_gene_source()).
sorted_dirs <- function() list.files(tempdir(), pattern = "^concordR-cells-")

file_fast <- list(latent.dim = 8, encoder.dims = 32, epochs = 1, min.steps = 0, batch.size = 64,
                  threads = 1, verbose = FALSE, seed = 3)
run_file <- function(object, ...) do.call(RunConcord, c(list(object), utils::modifyList(file_fast, list(...))))

test_that("an .h5ad file trains exactly as the same data in memory", {
  skip_if_not_installed("hdf5r")
  name <- "kang_ifnb_muscat"
  path <- shared_file(name, paste0(name, ".h5ad"))
  d <- shared_dataset(name)
  from.file <- run_file(path, group.by = "batch")
  in.memory <- run_file(d$counts, group.by = d$meta$batch)
  expect_identical(unclass(from.file)[, ], unclass(in.memory)[, ])
  expect_identical(attr(from.file, "concord")$model$batches, levels(factor(d$meta$batch)))
})

test_that("CSR, CSC and dense .h5ad files and 10x .h5 files read the same", {
  skip_if_not_installed("hdf5r")
  d <- small_data()
  obs <- list(batch = factor(d$meta$batch), n = seq_len(ncol(d$counts)))
  dir <- withr::local_tempdir()
  expected <- run_file(d$counts, group.by = d$meta$batch)
  for (layout in c("csr", "csc", "dense")) {
    path <- file.path(dir, paste0(layout, ".h5ad"))
    write_h5ad(path, d$counts, obs, layout)
    input <- concordR:::.read_h5ad(path, block.values = 500)
    expect_gt(n_blocks(input$x), 10, label = layout)
    expect_identical(read_blocks(input$x), d$counts, label = layout)
    expect_identical(input$meta$batch, obs$batch, label = layout)
    expect_identical(unclass(run_file(path, group.by = "batch"))[, ], unclass(expected)[, ], label = layout)
    withr::with_options(list(concordR.block.values = 300), {
      expect_identical(unclass(run_file(path, group.by = "batch"))[, ], unclass(expected)[, ], label = layout)
    })
  }
  path <- file.path(dir, "filtered_feature_bc_matrix.h5")
  write_10x(path, d$counts)
  input <- concordR:::.read_10x_h5(path, block.values = 500)
  expect_gt(n_blocks(input$x), 10)
  expect_identical(read_blocks(input$x), d$counts)  # the antibody feature left out
  expect_identical(unclass(run_file(path, group.by = d$meta$batch))[, ], unclass(expected)[, ])
})

test_that("CSC and dense .h5ad files are read in blocks of bounded size, exactly", {
  skip_if_not_installed("hdf5r")
  d <- small_data()
  set.seed(11)
  # Fractional single-precision values, an empty cell, an empty gene, and ten deep cells
  # holding every gene among shallow ones: blocks must stay bounded all the same.
  m <- d$data
  m[, 1:10] <- matrix(runif(nrow(m) * 10), nrow(m))
  m[, 5] <- 0
  m[7, ] <- 0
  m <- Matrix::drop0(m)
  m@x <- float32(m@x)
  obs <- list(batch = factor(d$meta$batch))
  dir <- withr::local_tempdir()
  before <- sorted_dirs()
  expected <- run_file(m, group.by = d$meta$batch)
  for (layout in c("csc", "dense")) {
    path <- file.path(dir, paste0(layout, ".h5ad"))
    write_h5ad(path, m, obs, layout, float32 = TRUE)
    # Blocks of one or a few cells; at 4000 a CSC file's ranges hold several cells each.
    for (values in c(500, 4000)) {
      input <- concordR:::.read_h5ad(path, block.values = values)
      sizes <- block_values(input$x)
      expect_gt(length(sizes), 4, label = layout)
      expect_lte(max(sizes), values, label = layout)
      expect_identical(read_blocks(input$x), m, label = layout)
      if (layout == "csc") {
        # The cells sorted on the first walk are kept for the next ones, until released.
        expect_length(setdiff(sorted_dirs(), before), 1)
        input$x$release()
        expect_identical(sorted_dirs(), before)
      }
    }
    if (layout == "csc") {
      expect_identical(read_blocks(input$x), m)  # sorted again
      input$x$release()
    }
    withr::with_options(list(concordR.block.values = 300), {
      expect_identical(unclass(run_file(path, group.by = "batch"))[, ], unclass(expected)[, ], label = layout)
    })
    expect_identical(sorted_dirs(), before, label = layout)  # training removed them
  }
  # No stored values at all.
  empty <- Matrix::drop0(m * 0)
  write_h5ad(file.path(dir, "empty.h5ad"), empty, obs, "csc")
  expect_identical(read_blocks(concordR:::.read_h5ad(file.path(dir, "empty.h5ad"))$x), empty)
})

test_that("write.to adds the embedding as obsm without touching the input", {
  skip_if_not_installed("hdf5r")
  d <- small_data()
  dir <- withr::local_tempdir()
  input <- file.path(dir, "in.h5ad")
  write_h5ad(input, d$counts, list(batch = factor(d$meta$batch)))
  before <- tools::md5sum(input)
  out <- file.path(dir, "out.h5ad")
  emb <- run_file(input, group.by = "batch", write.to = out)
  expect_identical(tools::md5sum(input), before)
  f <- hdf5r::H5File$new(out, mode = "r")
  stored <- f[["obsm/X_concord"]]$read()
  f$close_all()
  expect_equal(t(stored), unclass(emb)[, ], ignore_attr = TRUE, tolerance = 1e-6)
  expect_identical(read_blocks(concordR:::.read_h5ad(out)$x), d$counts)
  # The input's own path: the key is added by replacing the file whole.
  run_file(input, group.by = "batch", write.to = input, obsm.key = "X_again")
  expect_true(hdf5r::H5File$new(input, mode = "r")$exists("obsm/X_again"))
  expect_equal(list.files(dir), c("in.h5ad", "out.h5ad"))
  expect_error(run_file(input, write.to = out), "already exists; remove it")
  expect_error(run_file(input, write.to = input, obsm.key = "X_again"), "already has obsm 'X_again'")
  expect_error(run_file(input, write.to = file.path(dir, "no", "such.h5ad")), "not writable")
})

test_that("bad files give clear errors", {
  skip_if_not_installed("hdf5r")
  dir <- withr::local_tempdir()
  expect_error(run_file(file.path(dir, "none.h5ad")), "does not exist")
  text <- file.path(dir, "notes.txt")
  writeLines("x", text)
  expect_error(run_file(text), "or the path of an AnnData .h5ad or 10x Genomics .h5 file; got the string")
  fake <- file.path(dir, "fake.h5ad")
  writeLines("x", fake)
  expect_error(run_file(fake), "cannot open '.*fake.h5ad' as an HDF5 file")
  d <- small_data()
  path <- file.path(dir, "ok.h5ad")
  write_h5ad(path, d$counts, list(batch = factor(d$meta$batch)))
  expect_error(run_file(path, layer = "counts"), "has no layer 'counts'; available layers: none")
  expect_error(run_file(path, group.by = "donor"), "'group.by' column 'donor' not found.*available: batch")
  # Offsets that do not match the stored values: a truncated write.
  broken <- file.path(dir, "broken.h5ad")
  write_h5ad(broken, d$counts, list(batch = factor(d$meta$batch)))
  f <- hdf5r::H5File$new(broken, mode = "r+")
  f[["X"]]$link_delete("indptr")
  f[["X"]][["indptr"]] <- c(0L, 5L)
  f$close_all()
  expect_error(run_file(broken), "'.*broken.h5ad' is corrupt or truncated: the offsets of /X \\(2 for 240 cells\\)")
  # The same for CSC: offsets cut short, values cut short, cells beyond the shape; no
  # sorted cells are left behind.
  before <- sorted_dirs()
  rewrite <- function(path, name, value) {
    f <- hdf5r::H5File$new(path, mode = "r+")
    on.exit(f$close_all())
    f[["X"]]$link_delete(name)
    f[["X"]][[name]] <- value
  }
  csc <- file.path(dir, "csc.h5ad")
  write_h5ad(csc, d$counts, list(batch = factor(d$meta$batch)), "csc")
  rewrite(csc, "indptr", c(0L, 5L))
  expect_error(run_file(csc), "'.*csc.h5ad' is corrupt or truncated: the offsets of /X \\(2 for 300 genes\\)")
  write_h5ad(csc, d$counts, list(batch = factor(d$meta$batch)), "csc")
  rewrite(csc, "data", c(1, 2, 3))
  expect_error(run_file(csc), "corrupt or truncated: the offsets of /X \\(301 for 300 genes\\) do not match its 3 stored")
  write_h5ad(csc, d$counts, list(batch = factor(d$meta$batch)), "csc")
  m <- methods::as(d$counts, "RsparseMatrix")
  rewrite(csc, "indices", replace(m@j, 100, 240L))
  expect_error(withr::with_options(list(concordR.block.values = 300), run_file(csc)),
               "'.*csc.h5ad' is corrupt: /X holds cell indices outside 0 to 239 \\(its shape has 240 cells\\)")
  expect_identical(sorted_dirs(), before)
  # Dense: an array that is not cells x genes; a value training cannot use.
  dense <- file.path(dir, "dense.h5ad")
  write_h5ad(dense, d$counts, list(batch = factor(d$meta$batch)), "dense")
  f <- hdf5r::H5File$new(dense, mode = "r+")
  f$link_delete("X")
  f[["X"]] <- array(1, c(300, 240, 2))
  f$close_all()
  expect_error(run_file(dense), "X is a dense array of 3 dimension\\(s\\) and HDF5 type H5T_FLOAT")
  bad <- as.matrix(d$counts)
  bad[3, 200] <- NaN
  write_h5ad(dense, bad, list(batch = factor(d$meta$batch)), "dense")
  expect_error(run_file(dense), "1 non-finite value\\(s\\)")
  h5 <- file.path(dir, "m.h5")
  write_10x(h5, d$counts)
  expect_error(run_file(h5, write.to = file.path(dir, "o.h5ad")), "needs an .h5ad input")
  expect_error(run_file(h5, layer = "x"), "'layer' applies to .h5ad files only")
})

test_that("a SingleCellExperiment with an HDF5-backed assay trains as one in memory", {
  skip_if_not_installed("HDF5Array")
  skip_if_not_installed("SingleCellExperiment")
  d <- small_data()
  dir <- withr::local_tempdir()
  sce <- function(assay) {
    SingleCellExperiment::SingleCellExperiment(list(counts = assay), colData = S4Vectors::DataFrame(d$meta))
  }
  expected <- run_file(sce(d$counts), group.by = "batch")
  dense <- HDF5Array::writeHDF5Array(as.matrix(d$counts), file.path(dir, "dense.h5"), "counts")
  dimnames(dense) <- dimnames(d$counts)
  # Debian's rhdf5 fails to open a second TENxMatrix in one session, so the sparse case
  # is a DelayedMatrix over the dgCMatrix itself.
  sparse <- DelayedArray::DelayedArray(d$counts)
  for (assay in list(dense, sparse)) {
    expect_s4_class(assay, "DelayedMatrix")
    got <- run_file(sce(assay), group.by = "batch")
    expect_identical(SingleCellExperiment::reducedDim(got, "CONCORD"),
                     SingleCellExperiment::reducedDim(expected, "CONCORD"), label = class(assay)[1])
  }
  # Blocks of cells (here 7 at a time) join back into the same matrix.
  expect_identical(concordR:::.delayed_as_dgc(dense, block.bytes = 8 * 7 * nrow(dense)), d$counts)
})
