# Data for the tests: the bundled Kang IFN-beta set and, where present, the project's
# shared real datasets.

bundled <- function() readRDS(system.file("extdata", "kang_ifnb.rds", package = "concordR"))

shared_dataset <- function(name) {
  path <- file.path(testthat::test_path(), "..", "..", "..", "shared", "data", name, paste0(name, ".rds"))
  if (!file.exists(path)) testthat::skip(paste("shared dataset", name, "not available"))
  readRDS(path)
}

# A small subset: 60 cells from each of the four samples, 300 genes.
small_data <- function() {
  d <- bundled()
  keep <- unlist(lapply(split(seq_len(ncol(d$counts)), d$meta$batch), utils::head, 60))
  counts <- d$counts[seq_len(300), keep]
  # Seurat replaces underscores in feature names; avoid them so names agree everywhere.
  rownames(counts) <- gsub("_", "-", rownames(counts))
  list(counts = counts, meta = d$meta[keep, ], data = concordR:::.log_normalize(counts))
}

# The small data as a log-normalized Seurat object.
small_seurat <- function(d = small_data()) {
  seu <- SeuratObject::CreateSeuratObject(d$counts, meta.data = d$meta)
  Seurat::NormalizeData(seu, verbose = FALSE)
}

# Fast settings for tests that check plumbing rather than quality.
fast <- list(latent.dim = 8, encoder.dims = 32, epochs = 2, min.steps = 4, batch.size = 64,
             threads = 1, verbose = FALSE)

run_fast <- function(object, ...) do.call(RunConcord, c(list(object), utils::modifyList(fast, list(...))))
