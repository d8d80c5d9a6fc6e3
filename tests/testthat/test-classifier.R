test_that("a classifier trained with unlabelled cells predicts every cell", {
  d <- small_data()
  labels <- d$meta$cell_type
  labels[seq(1, length(labels), by = 2)] <- NA
  emb <- run_fast(d$data, group.by = d$meta$batch, class.by = labels, epochs = 3)
  cls <- attr(emb, "concord")$classes
  expect_equal(levels(cls$predicted), sort(unique(d$meta$cell_type)))
  expect_length(cls$predicted, ncol(d$data))
  expect_equal(unname(rowSums(cls$probabilities)), rep(1, ncol(d$data)), tolerance = 1e-6)
  expect_equal(cls$score, apply(cls$probabilities, 1, max), ignore_attr = TRUE)
  expect_equal(GetConcordModel(emb)$classes, levels(cls$predicted))
  expect_output(print(GetConcordModel(emb)), "classes:")
})

test_that("the classifier beats chance by a wide margin on held-out cells", {
  d <- shared_dataset("kang_ctrl_5donors")
  donor <- d$meta$batch
  held <- donor == sort(unique(donor))[2]
  labels <- d$meta$cell_type
  labels[held] <- NA
  x <- concordR:::.prepare_expression(d$counts, NULL, verbose = FALSE)
  emb <- RunConcord(x, group.by = donor, class.by = labels, features = rownames(x),
                    threads = 2, verbose = FALSE)
  predicted <- as.character(attr(emb, "concord")$classes$predicted)
  chance <- max(table(d$meta$cell_type[held])) / sum(held)
  accuracy <- mean(predicted[held] == d$meta$cell_type[held])
  expect_gt(accuracy, 0.95)
  expect_gt(accuracy, chance + 0.4)
  # Projected query cells get predictions from the same head.
  query <- ProjectConcord(x[, held], emb, threads = 2, verbose = FALSE)
  expect_equal(as.character(attr(query, "concord")$classes$predicted), predicted[held])
})

test_that("objects store predictions, and bad class labels are rejected", {
  skip_if_not_installed("Seurat")
  d <- small_data()
  seu <- small_seurat(d)
  before <- seu
  expect_error(run_fast(seu, group.by = "batch", class.by = "celltype"),
               "'class.by' column 'celltype' not found")
  expect_error(run_fast(seu, group.by = "batch", class.by = rep("A", ncol(seu))),
               "needs at least 2")
  expect_error(run_fast(seu, group.by = "batch", class.by = "cell_type", class.weight = -1),
               "'class.weight'")
  expect_identical(seu, before)
  seu <- run_fast(seu, group.by = "batch", class.by = "cell_type", features = rownames(seu)[1:200])
  expect_true(all(c("concord.class", "concord.class.score") %in% colnames(seu[[]])))
})
