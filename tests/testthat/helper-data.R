# Data for the tests: the bundled Kang IFN-beta set and, where present, the project's
# shared real datasets.

bundled <- function() readRDS(system.file("extdata", "kang_ifnb.rds", package = "concordR"))

# A file of the shared dataset `name` (../shared/data/<name>/...); skips the test where
# it is absent.
shared_file <- function(name, ...) {
  path <- file.path(testthat::test_path(), "..", "..", "..", "shared", "data", name, ...)
  if (!file.exists(path)) testthat::skip(paste("shared file", file.path(name, ...), "not available"))
  path
}

shared_dataset <- function(name) readRDS(shared_file(name, paste0(name, ".rds")))

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

# The small RNA data with proteins: one cell type split at random into two halves that
# only a protein tells apart (Psplit), a protein marking monocytes (Pmono) and one of
# noise. Proteins are centred values (negative allowed), as CLR or scaled data are.
mm_data <- function() {
  d <- small_data()
  set.seed(7)
  n <- ncol(d$counts)
  type <- as.character(d$meta$cell_type)
  split <- names(sort(table(type), decreasing = TRUE))[1]
  in.split <- type == split
  half <- rep(NA_character_, n)
  half[in.split] <- sample(rep(c("A", "B"), length.out = sum(in.split)))
  adt <- rbind(Psplit = ifelse(is.na(half), 0, ifelse(half == "A", 2, -2)) + stats::rnorm(n, sd = 0.3),
               Pmono = 2 * grepl("Mono", type) - 1 + stats::rnorm(n, sd = 0.3),
               Pnoise = stats::rnorm(n))
  colnames(adt) <- colnames(d$counts)
  c(d, list(adt = adt, half = half, in.split = in.split))
}

# Share of each split cell's k nearest split cells (Euclidean) in its own half.
half_purity <- function(emb, half, k = 10) {
  e <- emb[!is.na(half), , drop = FALSE]
  h <- half[!is.na(half)]
  dist <- as.matrix(stats::dist(e))
  diag(dist) <- Inf
  mean(vapply(seq_len(nrow(e)), function(i) mean(h[order(dist[i, ])[seq_len(k)]] == h[i]), numeric(1)))
}

# Checks a multimodal embedding against its per-modality embeddings (RNA and ADT): their
# concatenation (concat, clip) or their sum, one row per cell, finite.
expect_fusion <- function(emb, fusion) {
  info <- attr(emb, "concord")
  blocks <- info$modality.embeddings
  expect_equal(info$fusion, fusion)
  expect_named(blocks, c("RNA", "ADT"))
  expect_equal(rownames(emb), rownames(blocks$RNA))
  fused <- if (fusion == "sum") blocks$RNA + blocks$ADT else cbind(blocks$RNA, blocks$ADT)
  expect_equal(unname(unclass(emb)[, ]), unname(fused))
  expect_true(all(is.finite(unclass(emb))))
}
