# Pieces shared by the metric families: seeded subsampling, kNN graphs through Faiss,
# and the checked per-cell annotations.

# Runs `expr` with the random seed set, then puts the user's random state back, so
# that evaluating an embedding never changes what the user's next sample() returns.
.with_seed <- function(seed, expr) {
  env <- globalenv()
  had <- exists(".Random.seed", envir = env, inherits = FALSE)
  old <- if (had) get(".Random.seed", envir = env, inherits = FALSE)
  on.exit(if (had) assign(".Random.seed", old, envir = env) else
    if (exists(".Random.seed", envir = env, inherits = FALSE)) rm(".Random.seed", envir = env))
  set.seed(seed)
  expr
}

# Sorted indices of at most `size` of n cells, drawn without replacement.
.subsample <- function(n, size, seed) {
  if (n <= size) return(seq_len(n))
  sort(.with_seed(seed, sample.int(n, size)))
}

# The k nearest other cells of each row of x (1-based index and distance matrices,
# n x k). A cell's own entry is removed wherever it sits, since duplicates can push it
# off the first column; rows where it was not found lose their farthest neighbour.
.knn_graph <- function(x, k, threads, nlist = 0L, nprobe = 0L) {
  k <- min(k, nrow(x) - 1L)
  .concord_knn_graph(x, k, 20000, threads, nlist, nprobe)
}

# A cell annotation (batch or label) as a factor: a column of `meta`, or a vector with
# one value per cell. NULL stays NULL (the metrics that need it are skipped).
.cell_factor <- function(x, name, meta, n.cells) {
  if (is.null(x)) return(NULL)
  x <- .cell_values(x, name, meta, n.cells)
  if (anyNA(x)) {
    .stop("'", name, "' has ", sum(is.na(x)), " missing (NA) value(s); give every cell a value ",
          "or subset the embedding to annotated cells first.")
  }
  x <- droplevels(as.factor(x))
  if (nlevels(x) < 2L) {
    .stop("'", name, "' has a single value ('", levels(x)[1], "'); the metrics that use it need ",
          "at least two. Pass NULL to skip them.")
  }
  x
}

# An embedding as a finite numeric cells x dims matrix.
.check_embedding <- function(x, name = "object") {
  if (is.data.frame(x)) x <- as.matrix(x)
  if (!is.matrix(x) || !is.numeric(x)) {
    .stop("'", name, "' must be a numeric cells x dimensions matrix (or a Seurat / ",
          "SingleCellExperiment object with a reduction); got an object of class ", class(x)[1], ".")
  }
  if (nrow(x) < 10L || ncol(x) < 1L) {
    .stop("'", name, "' has ", nrow(x), " cells and ", ncol(x), " dimensions; evaluation needs ",
          "at least 10 cells and 1 dimension.")
  }
  if (any(!is.finite(x))) {
    .stop("'", name, "' holds ", sum(!is.finite(x)), " non-finite value(s) (NA, NaN or Inf); ",
          "remove those cells or fix the embedding.")
  }
  storage.mode(x) <- "double"
  x
}

.mean_or_na <- function(x) if (all(is.na(x))) NA_real_ else mean(x, na.rm = TRUE)
