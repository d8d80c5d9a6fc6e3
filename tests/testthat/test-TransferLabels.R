test_that("votes are weighted by cosine similarity and give a confidence", {
  reference <- rbind(c(1, 0), c(1, 0.1), c(0, 1), c(0.1, 1))
  labels <- c("A", "A", "B", "B")
  query <- rbind(c(1, 0.05), c(0.05, 1), c(1, 0.9))
  calls <- TransferLabels(query, reference, labels = labels, k = 4)
  expect_equal(as.character(calls$label), c("A", "B", "A"))
  # Query 1: similarities to A about 1, to B about 0.05 and 0.15.
  s <- function(a, b) sum(a * b) / sqrt(sum(a^2) * sum(b^2))
  w <- sapply(1:4, function(i) s(query[1, ], reference[i, ]))
  expect_equal(calls$confidence[1], sum(w[1:2]) / sum(w), tolerance = 1e-5)
  expect_true(all(calls$confidence > 0.5 & calls$confidence <= 1))
})

test_that("low-confidence calls become unassigned", {
  reference <- rbind(c(1, 0), c(0, 1))
  calls <- TransferLabels(rbind(c(1, 1)), reference, labels = c("A", "B"), k = 2,
                          min.confidence = 0.6)
  expect_equal(as.character(calls$label), "unassigned")
  expect_equal(calls$confidence, 0.5, tolerance = 1e-6)
})

test_that("bad inputs name the problem", {
  r <- matrix(rnorm(20), 10)
  expect_error(TransferLabels(r, r, labels = rep("A", 9)), "one label per reference cell")
  expect_error(TransferLabels(r, r, labels = c(NA, rep("A", 9))), "missing value")
  expect_error(TransferLabels(r[, 1, drop = FALSE], r, labels = rep("A", 10)), "differ in dimensions")
  expect_error(TransferLabels(r, r, labels = rep("A", 10), k = 0), "'k'")
  expect_error(TransferLabels(r, r, labels = rep("A", 10), min.confidence = 2), "min.confidence")
})

test_that("a held-out donor's labels are transferred about as well as inside the reference", {
  d <- shared_dataset("kang_ctrl_5donors")
  donor <- d$meta$batch
  type <- d$meta$cell_type
  held <- donor == sort(unique(donor))[1]
  x <- concordR:::.prepare_expression(d$counts, NULL, verbose = FALSE)
  # As a query: the reference is trained without the donor, which is then projected.
  ref <- RunConcord(x[, !held], group.by = donor[!held], features = rownames(x), threads = 2,
                    verbose = FALSE)
  query <- ProjectConcord(x[, held], ref, threads = 2, verbose = FALSE)
  transferred <- TransferLabels(query, ref, labels = type[!held], threads = 2)
  # Inside the reference: all donors trained together, the donor's cells voted on by the
  # other donors' cells.
  all <- RunConcord(x, group.by = donor, features = rownames(x), threads = 2, verbose = FALSE)
  inside <- TransferLabels(unclass(all)[held, ], unclass(all)[!held, ], labels = type[!held],
                           threads = 2)
  accuracy <- function(calls) mean(as.character(calls$label) == type[held])
  expect_gt(accuracy(transferred), 0.95)
  expect_gt(accuracy(transferred), accuracy(inside) - 0.02)
})

test_that("object methods store predictions in the query's metadata", {
  skip_if_not_installed("Seurat")
  d <- small_data()
  seu <- small_seurat(d)
  ref <- run_fast(seu[, seu$batch != "stim107"], group.by = "batch", features = rownames(seu)[1:200])
  query <- ProjectConcord(seu[, seu$batch == "stim107"], ref, threads = 1, verbose = FALSE)
  query <- TransferLabels(query, ref, labels = "cell_type")
  expect_true(all(c("predicted", "predicted.score") %in% colnames(query[[]])))
  expect_error(TransferLabels(query, ref, labels = "celltype"), "labels column 'celltype' not found")
})
