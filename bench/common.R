# What the benchmark scripts share: where the shared data lie, their command-line
# settings, and the real datasets prepared as the peers had them. Each script sources it
# from its own folder.

# ../shared/data from the repository root, else the workspace's copy.
bench_data_dir <- function(dir = file.path("..", "shared", "data")) {
  if (dir.exists(dir)) dir else "/work/shared/data"
}

# key=value command-line arguments over `defaults`; an unknown key is an error.
bench_options <- function(defaults, args = commandArgs(TRUE)) {
  for (a in args) {
    kv <- regmatches(a, regexpr("=", a), invert = TRUE)[[1]]
    if (length(kv) != 2 || !kv[1] %in% names(defaults)) stop("unknown argument '", a, "'")
    defaults[[kv[1]]] <- kv[2]
  }
  if (!is.null(defaults$data.dir)) defaults$data.dir <- bench_data_dir(defaults$data.dir)
  defaults
}

split_list <- function(s, sep = ",") strsplit(s, sep, fixed = TRUE)[[1]]

# A setting: a name, looked up in `recipes` when given, or "name:arg=value;arg=value"
# with the values parsed as R.
parse_setting <- function(s, recipes = NULL) {
  if (!grepl(":", s, fixed = TRUE)) {
    if (is.null(recipes)) return(list(name = s, args = list()))
    if (is.null(recipes[[s]])) stop("unknown setting '", s, "'; known: ", paste(names(recipes), collapse = ", "))
    return(list(name = s, args = recipes[[s]]))
  }
  pairs <- split_list(sub("^[^:]*:", "", s), ";")
  args <- lapply(pairs, function(p) eval(parse(text = sub("^[^=]*=", "", p))))
  names(args) <- sub("=.*", "", pairs)
  list(name = sub(":.*", "", s), args = args)
}

# "name=value,name=value" arguments for a verb: numbers where they parse as numbers.
parse_extra <- function(s) {
  extra <- list()
  for (kv in strsplit(s, ",")[[1]]) {
    kv <- strsplit(kv, "=")[[1]]
    value <- suppressWarnings(as.numeric(kv[2]))
    extra[[kv[1]]] <- if (is.na(value)) kv[2] else value
  }
  extra
}

# A shared multi-batch dataset as the peers had it (../shared/data/README.md): zero-count
# genes dropped, Seurat NormalizeData (LogNormalize, 1e4) and FindVariableFeatures (vst,
# 2,000 genes), to be passed to the verbs as `features`.
load_real <- function(name, data.dir) {
  d <- readRDS(file.path(data.dir, name, paste0(name, ".rds")))
  counts <- d$counts[Matrix::rowSums(d$counts) > 0, ]
  seu <- Seurat::CreateSeuratObject(counts)
  seu <- Seurat::NormalizeData(seu, normalization.method = "LogNormalize", scale.factor = 1e4,
                               verbose = FALSE)
  seu <- Seurat::FindVariableFeatures(seu, selection.method = "vst",
                                      nfeatures = min(2000, nrow(counts)), verbose = FALSE)
  list(x = Seurat::GetAssayData(seu, slot = "data"), features = Seurat::VariableFeatures(seu),
       batch = as.character(d$meta$batch), label = as.character(d$meta$cell_type),
       peers.dir = file.path(data.dir, name, "peers"))
}
