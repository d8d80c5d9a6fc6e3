# Runs R code in a child R process with a time limit, for calls that could hang or crash
# the session running the tests. The child loads the concordR under test (the one this
# session loaded, found through .libPaths()). Returns the exit status (124 when the time
# limit killed it) and the combined output.
run_child <- function(code, timeout = 60) {
  script <- tempfile(fileext = ".R")
  on.exit(unlink(script))
  writeLines(c(sprintf(".libPaths(%s)", paste(deparse(.libPaths()), collapse = "")),
               "suppressPackageStartupMessages(library(concordR))", code), script)
  out <- suppressWarnings(system2("timeout", c(timeout, file.path(R.home("bin"), "Rscript"), script),
                                  stdout = TRUE, stderr = TRUE))
  list(status = if (is.null(attr(out, "status"))) 0L else attr(out, "status"),
       output = paste(out, collapse = "\n"))
}
