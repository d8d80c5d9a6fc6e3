# Multimodal RunConcerto (RNA + proteins): the paper's sum (and concatenation) of the
# modalities' attention outputs in the teacher and Dense outputs in the student, per-
# modality embeddings, projection with the proteins missing, Seurat and SCE input, and
# what Concerto refuses. mm_data() and half_purity() are in helper-data.R.

concerto_fast <- list(latent.dim = 16, gene.dim = 16, epochs = 1, min.steps = 60, batch.size = 32,
                      threads = 1, verbose = FALSE)
run_concerto_mm <- function(object, ...) {
  do.call(RunConcerto, c(list(object), utils::modifyList(concerto_fast, list(...))))
}

test_that("sum (the default) and concat give the teacher's joint embedding and each modality's", {
  d <- mm_data()
  input <- list(RNA = d$counts, ADT = d$adt)
  summed <- run_concerto_mm(input)
  info <- attr(summed, "concord")
  expect_equal(info$fusion, "sum")  # Concerto's own choice
  expect_equal(dim(summed), c(ncol(d$counts), 16L))
  expect_equal(colnames(summed)[1], "CONCERTO_1")
  expect_named(info$modality.embeddings, c("RNA", "ADT"))
  expect_equal(dim(info$modality.embeddings$ADT), c(ncol(d$counts), 16L))
  expect_true(all(is.finite(info$loss)))
  # One attention per modality in the teacher, each over its own features.
  w <- info$model$weights
  expect_equal(attr(w[["method.teacher.attention.embedding"]], "shape")[1], nrow(d$counts))
  expect_equal(attr(w[["method.teacher.attention_2.embedding"]], "shape")[1], 3)
  # Sum: the batch norm after the attention sees gene.dim inputs; concat: two blocks.
  expect_equal(attr(w[["method.teacher.head.norm.weight"]], "shape"), 16)

  concat <- run_concerto_mm(input, fusion = "concat")
  expect_equal(dim(concat), c(ncol(d$counts), 16L))
  expect_equal(attr(attr(concat, "concord")$model$weights[["method.teacher.head.norm.weight"]], "shape"), 32)
  expect_equal(attr(attr(concat, "concord")$model$weights[["method.student.norm.weight"]], "shape"), 32)
})

test_that("the proteins shape Concerto's joint embedding", {
  d <- mm_data()
  input <- list(RNA = d$counts, ADT = d$adt)
  joint <- run_concerto_mm(input, min.steps = 150)
  blocks <- attr(joint, "concord")$modality.embeddings
  # The joint embedding is not the RNA's alone, and it separates the halves of one cell
  # type that only the Psplit protein tells apart, which the RNA embedding cannot.
  expect_gt(max(abs(unclass(joint)[, ] - blocks$RNA)), 1e-3)
  expect_lt(half_purity(blocks$RNA, d$half), 0.65)
  expect_gt(half_purity(unclass(joint)[, ], d$half), 0.75)
})

test_that("Concerto multimodal models save, load and project RNA-only queries", {
  d <- mm_data()
  emb <- run_concerto_mm(list(RNA = d$counts, ADT = d$adt))
  file <- tempfile(fileext = ".rds")
  SaveConcordModel(emb, file)
  model <- LoadConcordModel(file)
  both <- ProjectConcord(list(ADT = d$adt[3:1, ], RNA = d$counts), model, threads = 1, verbose = FALSE)
  expect_equal(unclass(both)[, ], unclass(emb)[, ], tolerance = 1e-4, ignore_attr = TRUE)
  # RNA only: the teacher without the protein attention, i.e. the RNA's own embedding.
  rna <- ProjectConcord(d$counts, model, threads = 1, verbose = FALSE)
  expect_equal(attr(rna, "concord")$modalities, "RNA")
  expect_equal(unname(unclass(rna)[, ]), unname(attr(emb, "concord")$modality.embeddings$RNA), tolerance = 1e-4)
})

test_that("RunConcerto trains Seurat assays and SCE altExps jointly", {
  skip_if_not_installed("Seurat")
  d <- mm_data()
  seu <- small_seurat(d)
  seu[["ADT"]] <- SeuratObject::CreateAssayObject(data = d$adt)
  seu <- do.call(RunConcerto, c(list(seu, assay = c("RNA", "ADT"), fusion = "concat"), concerto_fast))
  red <- seu[["concerto"]]
  expect_equal(ncol(SeuratObject::Embeddings(red)), 16L)
  expect_named(SeuratObject::Misc(red)$modality.embeddings, c("RNA", "ADT"))
  skip_if_not_installed("SingleCellExperiment")
  sce <- SingleCellExperiment::SingleCellExperiment(list(logcounts = d$data))
  SingleCellExperiment::altExp(sce, "ADT") <- SingleCellExperiment::SingleCellExperiment(list(clr = d$adt))
  sce <- do.call(RunConcerto, c(list(sce, altexps = "ADT"), concerto_fast))
  expect_equal(dim(SingleCellExperiment::reducedDim(sce, "CONCERTO")), c(ncol(d$data), 16L))
  expect_named(S4Vectors::metadata(sce)$concord$CONCERTO$modality.embeddings, c("RNA", "ADT"))
})

test_that("what multimodal Concerto refuses, it refuses clearly", {
  d <- mm_data()
  input <- list(RNA = d$counts, ADT = d$adt)
  expect_error(run_concerto_mm(input, fusion = "clip"), "does not take fusion = \"clip\".*self-distillation")
  expect_error(run_concerto_mm(input, class.by = d$meta$cell_type), "fine-tuning \\('class.by'\\) takes one modality")
  expect_error(run_concerto_mm(list(RNA = d$counts, ADT = d$adt[, -1])), "the modalities have different cells")
  expect_error(run_concerto_mm(list(RNA = d$counts, ADT = d$adt[0, ])), "modality 'ADT' has no features")
  emb <- run_concerto_mm(input, min.steps = 5)
  expect_error(ConcertoAttention(d$counts, model = emb), "multimodal Concerto model \\(RNA \\+ ADT\\)")
  skip_if_not_installed("Seurat")
  expect_error(RunConcerto(small_seurat(d), assay = c("RNA", "ADT"), verbose = FALSE), "assay 'ADT' not found")
})
