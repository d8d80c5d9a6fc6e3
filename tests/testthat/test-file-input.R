# Small files written here in the layouts AnnData and Cell Ranger use.
write_h5ad <- function(path, counts, obs, layout = c("csr", "csc", "dense")) {
  layout <- match.arg(layout)
  f <- hdf5r::H5File$new(path, mode = "w")
  on.exit(f$close_all())
  set_attrs <- function(node, ...) {
    a <- list(...)
    for (n in names(a)) hdf5r::h5attr(node, n) <- a[[n]]
  }
  if (layout == "dense") {
    f[["X"]] <- as.matrix(counts)  # genes x cells here is cells x genes in the file
  } else {
    m <- if (layout == "csr") methods::as(counts, "CsparseMatrix") else methods::as(counts, "RsparseMatrix")
    x <- f$create_group("X")
    x[["data"]] <- m@x
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

n_blocks <- function(x) {
  n <- 0L
  x$blocks(function(...) n <<- n + 1L)
  n
}

file_fast <- list(latent.dim = 8, encoder.dims = 32, epochs = 1, min.steps = 0, batch.size = 64,
                  threads = 1, verbose = FALSE, seed = 3)
run_file <- function(object, ...) do.call(RunConcord, c(list(object), utils::modifyList(file_fast, list(...))))

test_that("an .h5ad file trains exactly as the same data in memory", {
  skip_if_not_installed("hdf5r")
  name <- "kang_ifnb_muscat"
  path <- file.path(testthat::test_path(), "..", "..", "..", "shared", "data", name, paste0(name, ".h5ad"))
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
    if (layout == "csr") expect_gt(n_blocks(input$x), 10)
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
