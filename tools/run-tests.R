# Runs the testthat suite against the installed package and ends with a
# "N passed, N failed" line; exits non-zero on any failure.
library(testthat)
library(concordR)
results <- as.data.frame(test_dir("tests/testthat", package = "concordR",
                                  load_package = "installed", stop_on_failure = FALSE,
                                  reporter = ProgressReporter$new(show_praise = FALSE)))
failed <- sum(results$failed) + sum(results$error)
passed <- sum(results$nb) - sum(results$failed) - sum(results$skipped) - sum(results$warning)
cat(sprintf("\ntestthat: %d passed, %d failed, %d skipped\n", passed, failed, sum(results$skipped)))
quit(status = if (failed > 0) 1 else 0)
