# Bad and edge-case inputs to the functions that use a trained model or score an
# embedding: each must stop with a clear R message that names the problem (or give its
# documented warning), pass on no C++ text, and leave every input as it was.

# LibTorch's namespace with its colons: a temporary file's random name can hold "c10".
engine_text <- "c10::|Exception raised|\\.cpp|frame #|index out of range in self|std::|Rcpp"

d <- small_data()
x <- d$counts
b <- d$meta$batch
emb <- run_fast(x, group.by = b)
model <- GetConcordModel(emb)
seu <- small_seurat(d)
seu[["concord"]] <- SeuratObject::CreateDimReducObject(unclass(emb)[, , drop = FALSE], key = "CONCORD_",
                                                       assay = "RNA", misc = list(model = model))
sce <- SingleCellExperiment::SingleCellExperiment(assays = list(counts = x), colData = d$meta)
SingleCellExperiment::reducedDim(sce, "CONCORD") <- unclass(emb)[, , drop = FALSE]
E <- unclass(emb)[, , drop = FALSE]
attr(E, "concord") <- NULL
type <- d$meta$cell_type
att <- ConcordAttribution(x, model, max.cells = 50, threads = 1, verbose = FALSE)

with_na <- function(m, i = 1) { m[i] <- NA; m }
set_row <- function(m, r, v) { m[r, ] <- v; m }
renamed <- function(m, f) { rownames(m) <- f(rownames(m)); m }
damaged <- function(edit) { m <- model; edit(m) }
file <- tempfile(fileext = ".rds")
write_file <- function(content, raw = FALSE) {
  if (raw) writeLines(content, file) else saveRDS(content, file)
  file
}
model_file <- function(m, version = 1L) write_file(list(format = "concordR model", format.version = version, model = unclass(m)))
nan_weight <- function(m) { m$weights[[1]][1] <- NaN; m }
inf_weight <- function(m) { m$weights[[2]][1] <- Inf; m }
no_shape <- function(m) { attr(m$weights[[1]], "shape") <- NULL; m }
short_weight <- function(m) { m$weights[[1]] <- m$weights[[1]][-1]; m }
wrong_layer <- function(m) { m$weights[[3]] <- structure(numeric(6), shape = c(2, 3)); m }
emb_with <- function(m) { e <- emb; attr(e, "concord")$model <- m; e }
one_col <- function(m) m[, 1, drop = FALSE]

# Each case: the call, and a pattern its error message must match.
cases <- list(
  # ProjectConcord
  list(quote(ProjectConcord(x, "nope", verbose = FALSE)), "no CONCORD model found"),
  list(quote(ProjectConcord(x, NULL, verbose = FALSE)), "no CONCORD model found"),
  list(quote(ProjectConcord(x, model, fine.tune.epochs = -1, verbose = FALSE)), "'fine.tune.epochs'"),
  list(quote(ProjectConcord(x, model, fine.tune.epochs = 1.5, verbose = FALSE)), "'fine.tune.epochs'"),
  list(quote(ProjectConcord(x, model, fine.tune.epochs = NA, verbose = FALSE)), "'fine.tune.epochs'"),
  list(quote(ProjectConcord(x, model, fine.tune.epochs = c(1, 2), verbose = FALSE)), "'fine.tune.epochs'"),
  list(quote(ProjectConcord(x, model, fine.tune.epochs = 3e9, verbose = FALSE)), "'fine.tune.epochs'"),
  list(quote(ProjectConcord(x, model, threads = 0, verbose = FALSE)), "'threads'"),
  list(quote(ProjectConcord(x, model, verbose = "yes")), "'verbose'"),
  list(quote(ProjectConcord(x, model, reduction.key = "", verbose = FALSE)), "'reduction.key'"),
  list(quote(ProjectConcord(x, model, finetune = 1, verbose = FALSE)), "unknown argument.*finetune"),
  list(quote(ProjectConcord(list(1), model, verbose = FALSE)), "features x cells query matrix"),
  list(quote(ProjectConcord(renamed(x, function(n) paste0("x", n)), model, verbose = FALSE)), "shares none of the model's"),
  list(quote(ProjectConcord(renamed(x, function(n) c(n[2], n[-1])), model, verbose = FALSE)), "duplicated feature name"),
  list(quote(ProjectConcord(renamed(x, function(n) replace(n, 3, NA)), model, verbose = FALSE)), "without a name"),
  list(quote(ProjectConcord(with_na(as.matrix(x), 5), model, verbose = FALSE)), "non-finite"),
  list(quote(ProjectConcord(-as.matrix(x), model, verbose = FALSE)), "negative values"),
  list(quote(ProjectConcord(x[, 0], model, verbose = FALSE)), "0 cells"),
  list(quote(ProjectConcord(x, model, group.by = b[-1], fine.tune.epochs = 1, verbose = FALSE)), "'group.by'"),
  list(quote(ProjectConcord(x, model, group.by = replace(b, 2, NA), fine.tune.epochs = 1, verbose = FALSE)), "missing \\(NA\\) batch"),
  list(quote(ProjectConcord(x, model, group.by = replace(b, 1, "tiny"), fine.tune.epochs = 1, verbose = FALSE)), "fewer than 4 cells"),
  list(quote(ProjectConcord(x, model, device = "tpu", verbose = FALSE)), "'device'"),
  list(quote(ProjectConcord(x, damaged(nan_weight), verbose = FALSE)), "damaged CONCORD model"),
  list(quote(ProjectConcord(seu, model, group.by = "nocol", fine.tune.epochs = 1, verbose = FALSE)), "'group.by' column 'nocol' not found"),
  list(quote(ProjectConcord(seu, model, assay = "nope", verbose = FALSE)), "assay 'nope' not found"),
  list(quote(ProjectConcord(seu, model, slot = "scale.data", verbose = FALSE)), "'slot'"),
  list(quote(ProjectConcord(seu, model, reduction.name = NA, verbose = FALSE)), "'reduction.name'"),
  list(quote(ProjectConcord(sce, model, assay = "nope", verbose = FALSE)), "assay 'nope' not found"),
  list(quote(ProjectConcord(sce, seu, reduction.name = "", verbose = FALSE)), "'reduction.name'"),
  # SaveConcordModel / LoadConcordModel
  list(quote(SaveConcordModel(model, file.path(tempfile(), "m.rds"))), "'file'|does not exist"),
  list(quote(SaveConcordModel(model, tempdir())), "is a directory"),
  list(quote(SaveConcordModel(model, NA_character_)), "'file'"),
  list(quote(SaveConcordModel(model, c("a.rds", "b.rds"))), "'file'"),
  list(quote(SaveConcordModel(model, 1)), "'file'"),
  list(quote(SaveConcordModel("nope", file)), "no CONCORD model found"),
  list(quote(SaveConcordModel(damaged(inf_weight), file)), "non-finite"),
  list(quote(LoadConcordModel(tempfile())), "does not exist"),
  list(quote(LoadConcordModel(1)), "'file'"),
  list(quote(LoadConcordModel(write_file("not a model", raw = TRUE))), "could not read"),
  list(quote(LoadConcordModel(write_file(list(a = 1)))), "is not a concordR model file"),
  list(quote(LoadConcordModel(write_file(model))), "is not a concordR model file"),
  list(quote(LoadConcordModel(model_file(model, version = 99L))), "newer concordR"),
  list(quote(LoadConcordModel(model_file(nan_weight(model)))), "hold non-finite"),
  list(quote(LoadConcordModel(model_file(inf_weight(model)))), "hold non-finite"),
  list(quote(LoadConcordModel(model_file(no_shape(model)))), "shape they record"),
  list(quote(LoadConcordModel(model_file(short_weight(model)))), "shape they record"),
  list(quote(LoadConcordModel(model_file(wrong_layer(model)))), "do not have the shape"),
  list(quote(LoadConcordModel(model_file(damaged(function(m) { m$features <- NULL; m })))), "missing part.*features"),
  list(quote(LoadConcordModel(model_file(damaged(function(m) { m$features[2] <- m$features[1]; m })))), "features are not"),
  list(quote(LoadConcordModel(model_file(damaged(function(m) { m$features <- m$features[-1]; m })))), "do not have the shape"),
  list(quote(LoadConcordModel(model_file(damaged(function(m) { m$params$encoder_dims <- NULL; m })))), "architecture"),
  list(quote(LoadConcordModel(model_file(damaged(function(m) { m$params$latent_dim <- 3L; m })))), "do not have the shape"),
  list(quote(LoadConcordModel(model_file(damaged(function(m) { m$batches <- NA_character_; m })))), "batches"),
  list(quote(LoadConcordModel(model_file(damaged(function(m) { m$weights <- list(); m })))), "weights"),
  # GetConcordModel
  list(quote(GetConcordModel(E)), "no CONCORD model found"),
  list(quote(GetConcordModel(seu, reduction = "nope")), "reduction 'nope' not found"),
  list(quote(GetConcordModel(emb_with(nan_weight(model)))), "damaged CONCORD model"),
  list(quote(GetConcordModel(nan_weight(model))), "damaged CONCORD model"),
  list(quote(GetConcordModel(sce, reduction = "PCA")), "no CONCORD model found"),
  # TransferLabels
  list(quote(TransferLabels(with_na(E, 3), E, type)), "non-finite"),
  list(quote(TransferLabels(replace(E, 4, Inf), E, type)), "query embedding .*non-finite"),
  list(quote(TransferLabels(E, replace(E, 4, -Inf), type)), "reference embedding .*non-finite"),
  list(quote(TransferLabels(replace(E, 4, NaN), E, type)), "non-finite"),
  list(quote(TransferLabels(set_row(E, 2, 0), E, type)), "query embedding has 1 all-zero"),
  list(quote(TransferLabels(E, set_row(E, 7, 0), type)), "reference embedding has 1 all-zero"),
  list(quote(TransferLabels(E, E, type[-1])), "'labels'"),
  list(quote(TransferLabels(E, E, replace(type, 1, NA))), "'labels' has 1 missing"),
  list(quote(TransferLabels(E, E, list(type))), "'labels'"),
  list(quote(TransferLabels(E, E, type, k = 0)), "'k'"),
  list(quote(TransferLabels(E, E, type, k = 2.5)), "'k'"),
  list(quote(TransferLabels(E, E, type, min.confidence = 2)), "'min.confidence'"),
  list(quote(TransferLabels(E, E, type, unassigned = "")), "'unassigned'"),
  list(quote(TransferLabels(E, E, type, threads = -1)), "'threads'"),
  list(quote(TransferLabels(E, one_col(E), type)), "differ in dimensions"),
  list(quote(TransferLabels(as.data.frame(E), E, type)), "query must be a numeric"),
  list(quote(TransferLabels(E[0, ], E, type)), "query must be a numeric"),
  list(quote(TransferLabels(E, E, type, kk = 3)), "unknown argument.*kk"),
  list(quote(TransferLabels(seu, seu, labels = "nocol")), "labels column 'nocol' not found"),
  list(quote(TransferLabels(seu, seu, labels = "cell_type", reduction = "umap")), "no reduction 'umap'"),
  list(quote(TransferLabels(seu, seu, labels = "cell_type", prefix = NA)), "'prefix'"),
  list(quote(TransferLabels(sce, sce, labels = "cell_type", reduction = "PCA")), "no reducedDim 'PCA'"),
  # EvaluateEmbedding
  list(quote(EvaluateEmbedding(with_na(E), batch = b)), "non-finite"),
  list(quote(EvaluateEmbedding(replace(E, 2, Inf), batch = b)), "non-finite"),
  list(quote(EvaluateEmbedding(E, batch = rep("one", nrow(E)))), "'batch' has a single value"),
  list(quote(EvaluateEmbedding(E, label = rep("one", nrow(E)))), "'label' has a single value"),
  list(quote(EvaluateEmbedding(E, label = replace(type, 1, NA))), "'label' has 1 missing"),
  list(quote(EvaluateEmbedding(E, batch = b[-1])), "'batch'"),
  list(quote(EvaluateEmbedding(E, batch = b, families = "foo")), "'families'"),
  list(quote(EvaluateEmbedding(E, batch = b, families = "bio")), "needs 'label'"),
  list(quote(EvaluateEmbedding(E, batch = b, n.neighbors = 0)), "'n.neighbors'"),
  list(quote(EvaluateEmbedding(E, batch = b, resolutions = -1)), "'resolutions'"),
  list(quote(EvaluateEmbedding(E[1:5, ], batch = b[1:5])), "at least 10 cells"),
  list(quote(EvaluateEmbedding(E, batch = b, reference = E[-1, ])), "'reference'"),
  list(quote(EvaluateEmbedding(E, expected.betti = c(1, 1))), "'expected.betti'"),
  list(quote(EvaluateEmbedding(E, batch = b, seed = 1.5)), "'seed'"),
  list(quote(EvaluateEmbedding(E, batch = b, seed = 3e9)), "'seed'"),
  list(quote(EvaluateEmbedding(E, batch = b, max.cells = 2)), "'max.cells'"),
  list(quote(EvaluateEmbedding(E)), "nothing to compute"),
  list(quote(EvaluateEmbedding("E", batch = b)), "'object' must be a numeric"),
  list(quote(EvaluateEmbedding(seu, reduction = "umap", batch = "batch")), "reduction 'umap' not found"),
  list(quote(EvaluateEmbedding(seu, batch = "nocol")), "'batch' column 'nocol' not found"),
  # BenchmarkEmbeddings
  list(quote(BenchmarkEmbeddings(E, batch = b)), "'object' must be a list of embeddings"),
  list(quote(BenchmarkEmbeddings(list(E, E), batch = b)), "'object' must be a list"),
  list(quote(BenchmarkEmbeddings(list(a = E, a = E), batch = b)), "unique"),
  list(quote(BenchmarkEmbeddings(list(a = E, b = E[-1, ]), batch = b)), "differ in their number of cells"),
  list(quote(BenchmarkEmbeddings(list(a = E, b = with_na(E)), batch = b)), "embedding 'b'.*non-finite"),
  list(quote(BenchmarkEmbeddings(seu, reductions = "umap", batch = "batch")), "reduction 'umap' not found"),
  # ConcordAttribution
  list(quote(ConcordAttribution(x, model, cells = c(1, NA), verbose = FALSE)), "'cells'.*without NA"),
  list(quote(ConcordAttribution(x, model, cells = 0, verbose = FALSE)), "'cells'"),
  list(quote(ConcordAttribution(x, model, cells = 1e6, verbose = FALSE)), "'cells'"),
  list(quote(ConcordAttribution(x, model, cells = 1.5, verbose = FALSE)), "'cells'"),
  list(quote(ConcordAttribution(x, model, cells = "nope", verbose = FALSE)), "'cells' are not in the data"),
  list(quote(ConcordAttribution(x, model, cells = c(3, 3), verbose = FALSE)), "more than once"),
  list(quote(ConcordAttribution(x, model, cells = colnames(x)[c(1, 1)], verbose = FALSE)), "more than once"),
  list(quote(ConcordAttribution(x, model, cells = TRUE, verbose = FALSE)), "one value per cell"),
  list(quote(ConcordAttribution(x, model, cells = rep(FALSE, ncol(x)), verbose = FALSE)), "selects no cell"),
  list(quote(ConcordAttribution(x, model, cells = list(1), verbose = FALSE)), "'cells'"),
  list(quote(ConcordAttribution(x, model, cells = integer(0), verbose = FALSE)), "'cells'"),
  list(quote(ConcordAttribution(x, model, max.cells = 0, verbose = FALSE)), "'max.cells'"),
  list(quote(ConcordAttribution(x, model, seed = -1, verbose = FALSE)), "'seed'"),
  list(quote(ConcordAttribution(x, model, seed = 3e9, verbose = FALSE)), "'seed'"),
  list(quote(ConcordAttribution(x, "nope", verbose = FALSE)), "no CONCORD model found"),
  list(quote(ConcordAttribution(renamed(x, function(n) paste0("x", n)), model, verbose = FALSE)), "shares none"),
  list(quote(ConcordAttribution(seu, reduction = "umap")), "reduction 'umap' not found"),
  # TopAttributedGenes
  list(quote(TopAttributedGenes(unname(att))), "'attribution'"),
  list(quote(TopAttributedGenes("att")), "'attribution'"),
  list(quote(TopAttributedGenes(with_na(att))), "'attribution'"),
  list(quote(TopAttributedGenes(att, n = 0)), "'n'"),
  list(quote(TopAttributedGenes(att, dims = "nope")), "'dims'"),
  list(quote(TopAttributedGenes(att, dims = 99)), "'dims'"),
  list(quote(TopAttributedGenes(att, dims = NA)), "'dims'")
)

test_that("every bad input is a clear R error and changes nothing", {
  inputs <- c("x", "b", "emb", "model", "seu", "sce", "E", "type", "att")
  before <- mget(inputs, inherits = TRUE)
  for (case in cases) {
    label <- paste(deparse(case[[1]], width.cutoff = 500L), collapse = " ")
    msg <- tryCatch({
      eval(case[[1]])
      "no error"
    }, error = conditionMessage)
    expect_match(msg, case[[2]], label = label)
    expect_no_match(msg, engine_text, label = label)
  }
  expect_identical(mget(inputs, inherits = TRUE), before)
  expect_gte(length(cases), 70)
})

test_that("counts beyond R's integers are accepted where they only cap", {
  expect_equal(nrow(TransferLabels(E[1:5, ], E, type, k = 1e10)), 5)
  s <- EvaluateEmbedding(E, batch = b, families = "batch", max.cells = 1e10, geometry.cells = 1e10,
                         topology.cells = 1e10, n.neighbors = 1e10)
  expect_true(is.finite(s$ASW_batch))
})

test_that("degenerate embeddings give the documented warning, not a score", {
  constant <- matrix(0.5, nrow(E), ncol(E))
  expect_warning(s <- EvaluateEmbedding(constant, batch = b, label = type, resolutions = 1),
                 "at the same point")
  expect_true(all(is.na(unlist(s))))
  expect_warning(s <- BenchmarkEmbeddings(list(flat = constant), batch = b, families = "batch"),
                 "at the same point")
  expect_true(all(is.na(s$score)))
})
