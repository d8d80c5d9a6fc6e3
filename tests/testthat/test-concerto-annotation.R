# RunConcerto's supervised fine-tuning for annotation (class.by): predictions with a
# confidence, the rejection option, errors, seeds and saved models.

annot_fast <- list(latent.dim = 16, gene.dim = 16, epochs = 3, batch.size = 32, lr = 1e-3,
                   min.steps = 0, class.epochs = 3, threads = 1, verbose = FALSE)

run_annot <- function(object, ...) {
  do.call(RunConcerto, c(list(object), utils::modifyList(annot_fast, list(...))))
}

# 300 cells of each type of kang_ctrl_5donors, the settings of a short run.
kang_subset <- function() {
  k <- shared_dataset("kang_ctrl_5donors")
  set.seed(1)
  keep <- unlist(lapply(split(seq_len(ncol(k$counts)), k$meta$cell_type),
                        function(i) i[sample.int(length(i), min(300L, length(i)))]))
  list(counts = k$counts[, keep], donor = k$meta$donor[keep], type = k$meta$cell_type[keep])
}
kang_args <- list(latent.dim = 32, gene.dim = 32, lr = 1e-3, min.steps = 200, class.epochs = 5,
                  threads = 1, verbose = FALSE)

test_that("fine-tuned annotation of a held-out donor is at least as accurate as TransferLabels", {
  k <- kang_subset()
  held <- k$donor == sort(unique(k$donor))[2]
  pre <- do.call(RunConcerto, c(list(k$counts, group.by = k$donor), kang_args))
  tuned <- do.call(RunConcerto, c(list(k$counts, group.by = k$donor, class.by = ifelse(held, NA, k$type)),
                                  kang_args))
  cls <- attr(tuned, "concord")$classes
  argmax <- colnames(cls$probabilities)[max.col(cls$probabilities)]
  accuracy <- mean(argmax[held] == k$type[held])
  transferred <- TransferLabels(unclass(pre)[held, ], unclass(pre)[!held, ], labels = k$type[!held])
  expect_gte(accuracy, mean(as.character(transferred$label) == k$type[held]))
  expect_gt(accuracy, 0.9)
  # The teacher was fine-tuned: the embedding moved from the pre-trained one ...
  expect_false(isTRUE(all.equal(unclass(pre)[, ], unclass(tuned)[, ], tolerance = 1e-3)))
  # ... and pre-training never saw the labels: fine-tuning the run without class.by
  # gives exactly the same result (what bench_concerto.R --annotate relies on).
  x <- concordR:::.prepare_expression(k$counts, NULL, verbose = FALSE)
  again <- concordR:::.concerto_finetune(pre, x, concordR:::.batch_labels(k$donor, NULL, ncol(x)),
                                         droplevels(factor(ifelse(held, NA, k$type))), 5L, 1e-3, 1, 0.99, FALSE)
  expect_identical(unclass(again)[, ], unclass(tuned)[, ])
  # Query cells projected with the model get the training cells' calls back.
  query <- ProjectConcord(k$counts[, held], tuned, threads = 1, verbose = FALSE)
  expect_equal(attr(query, "concord")$classes$score, cls$score[held], tolerance = 1e-4)
  expect_identical(as.character(attr(query, "concord")$classes$predicted), as.character(cls$predicted[held]))
})

test_that("a cell type left out of training is mostly unassigned", {
  k <- kang_subset()
  held <- k$donor == sort(unique(k$donor))[2]
  out <- k$type == "B cells"
  # Longer fine-tuning than the first test: on few cells the softmax is calibrated as
  # for the full data set's one epoch (bench/README.md) after about 20 passes.
  tuned <- do.call(RunConcerto, c(list(k$counts, group.by = k$donor, class.by = ifelse(held | out, NA, k$type)),
                                  utils::modifyList(kang_args, list(class.epochs = 20))))
  predicted <- attr(tuned, "concord")$classes$predicted
  expect_false("B cells" %in% levels(predicted))
  expect_gt(mean(predicted[out] == "unassigned"), 0.5)
  # ... while the held-out donor's cells of the trained types are mostly assigned, rightly.
  seen <- held & !out
  expect_lt(mean(predicted[seen] == "unassigned"), 0.25)
  expect_gt(mean(as.character(predicted[seen]) == k$type[seen]), 0.75)
})

test_that("predictions, confidence and rejection on objects; bad arguments are clear errors", {
  skip_if_not_installed("Seurat")
  d <- small_data()
  seu <- small_seurat(d)
  before <- seu
  expect_error(run_annot(seu, group.by = "batch", class.by = rep("A", ncol(seu))), "needs at least 2")
  expect_error(run_annot(seu, group.by = "batch", class.by = "cell_type", class.weight = 1),
               "unknown argument\\(s\\) to RunConcerto\\(\\): class.weight")
  expect_error(run_annot(seu, group.by = "batch", class.by = "cell_type", min.confidence = 2),
               "'min.confidence' is a probability")
  expect_error(run_annot(seu, group.by = "batch", class.by = "cell_type", class.epochs = 0), "'class.epochs'")
  expect_error(run_annot(seu, group.by = "batch", class.by = "cell_type", class.lr = 0), "'class.lr' must be positive")
  expect_error(run_annot(seu, group.by = "batch", class.by = "cell_type", class.consistency = -1),
               "'class.consistency'")
  few <- ifelse(seu$batch == seu$batch[1] & seq_len(ncol(seu)) > 3, NA, seu$cell_type)
  expect_error(run_annot(seu, group.by = "batch", class.by = few, class.consistency = 0),
               "labels fewer than 4 cells of batch")
  expect_identical(seu, before)
  seu <- run_annot(seu, group.by = "batch", class.by = "cell_type", min.confidence = 0.6,
                   features = rownames(seu))
  expect_true(all(c("concord.class", "concord.class.score") %in% colnames(seu[[]])))
  unsure <- seu$concord.class.score < 0.6
  expect_true(all(seu$concord.class[unsure] == "unassigned"))
  expect_true(all(seu$concord.class[!unsure] != "unassigned"))
})

test_that("the same seed gives the same classifier, and it survives save and load", {
  d <- small_data()
  labels <- d$meta$cell_type
  labels[seq(1, length(labels), by = 3)] <- NA
  a <- run_annot(d$data, group.by = d$meta$batch, class.by = labels, seed = 2)
  b <- run_annot(d$data, group.by = d$meta$batch, class.by = labels, seed = 2)
  expect_identical(unclass(a)[, ], unclass(b)[, ])
  expect_identical(attr(a, "concord")$classes, attr(b, "concord")$classes)
  c <- run_annot(d$data, group.by = d$meta$batch, class.by = labels, seed = 3)
  expect_false(isTRUE(all.equal(attr(a, "concord")$classes$probabilities, attr(c, "concord")$classes$probabilities)))
  model <- GetConcordModel(a)
  expect_equal(model$classes, sort(unique(d$meta$cell_type)))
  expect_equal(model$params$method, "concerto")
  file <- tempfile(fileext = ".rds")
  on.exit(unlink(file))
  SaveConcordModel(model, file)
  loaded <- LoadConcordModel(file)
  projected <- ProjectConcord(d$data, loaded, threads = 1, verbose = FALSE)
  expect_equal(attr(projected, "concord")$classes$probabilities, attr(a, "concord")$classes$probabilities,
               tolerance = 1e-5)
  # The stored threshold applies unless ProjectConcord is given another one.
  strict <- ProjectConcord(d$data, loaded, min.confidence = 1, threads = 1, verbose = FALSE)
  expect_true(all(attr(strict, "concord")$classes$predicted == "unassigned"))
  # Unsupervised fine-tuning on query cells carries the classifier along.
  tuned <- ProjectConcord(d$data[, 1:120], loaded, fine.tune.epochs = 1, threads = 1, verbose = FALSE)
  expect_equal(colnames(attr(tuned, "concord")$classes$probabilities), model$classes)
  expect_length(attr(tuned, "concord")$classes$predicted, 120)
})

test_that("the consistency loss trains the student on the unlabelled cells, and only them", {
  d <- small_data()
  labels <- d$meta$cell_type
  labels[d$meta$batch == d$meta$batch[1]] <- NA
  student <- function(e) {
    w <- GetConcordModel(e)$weights
    unlist(w[grep("^method\\.student\\.", names(w))])
  }
  pre <- run_annot(d$data, group.by = d$meta$batch)
  off <- run_annot(d$data, group.by = d$meta$batch, class.by = labels, class.consistency = 0)
  on <- run_annot(d$data, group.by = d$meta$batch, class.by = labels)
  # Without the loss the student takes no part in fine-tuning; with it, it learns.
  expect_identical(student(off), student(pre))
  expect_gt(max(abs(student(on) - student(pre))), 1e-4)
  expect_false(isTRUE(all.equal(attr(on, "concord")$classes$probabilities,
                                attr(off, "concord")$classes$probabilities, tolerance = 1e-3)))
  expect_equal(GetConcordModel(on)$params$class_consistency, 1)
  # Every cell labelled: there is no query to adapt to, so the weight changes nothing.
  all_on <- run_annot(d$data, group.by = d$meta$batch, class.by = d$meta$cell_type)
  all_off <- run_annot(d$data, group.by = d$meta$batch, class.by = d$meta$cell_type, class.consistency = 0)
  expect_identical(unclass(all_on)[, ], unclass(all_off)[, ])
})
