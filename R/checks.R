# Argument checks shared by every entry point. Each stops with a message that names
# the argument, what was wrong and what is expected.

.stop <- function(...) stop(paste0(...), call. = FALSE)

.check_number <- function(x, name, lower = -Inf, upper = Inf, integer = FALSE,
                          lower.open = FALSE) {
  ok <- is.numeric(x) && length(x) == 1L && !is.na(x) && is.finite(x)
  if (ok && integer) ok <- x == round(x)
  if (ok) ok <- if (lower.open) x > lower else x >= lower
  if (ok) ok <- x <= upper
  if (!ok) {
    kind <- if (integer) "a whole number" else "a number"
    range <- c(
      if (is.finite(lower)) paste(if (lower.open) ">" else ">=", lower),
      if (is.finite(upper)) paste("<=", upper)
    )
    .stop("'", name, "' must be ", kind,
          if (length(range)) paste0(" ", paste(range, collapse = " and ")),
          "; got ", .show(x), ".")
  }
  invisible(x)
}

.check_probability <- function(x, name) {
  if (!(is.numeric(x) && length(x) == 1L && !is.na(x) && x >= 0 && x <= 1)) {
    .stop("'", name, "' is a probability and must lie in [0, 1]; got ", .show(x), ".")
  }
  invisible(x)
}

.check_flag <- function(x, name) {
  if (!(is.logical(x) && length(x) == 1L && !is.na(x))) {
    .stop("'", name, "' must be TRUE or FALSE; got ", .show(x), ".")
  }
  invisible(x)
}

.check_string <- function(x, name) {
  if (!(is.character(x) && length(x) == 1L && !is.na(x) && nzchar(x))) {
    .stop("'", name, "' must be a single non-empty string; got ", .show(x), ".")
  }
  invisible(x)
}

# Methods take `...` for S3 dispatch; anything left in it is a misspelt or unknown
# argument, which would otherwise be silently ignored.
.check_dots <- function(..., fun = "RunConcord") {
  extra <- names(list(...))
  if (length(extra) == 0L && ...length() == 0L) return(invisible())
  if (is.null(extra)) extra <- rep("", ...length())
  extra[extra == ""] <- "<unnamed>"
  .stop("unknown argument(s) to ", fun, "(): ", paste(extra, collapse = ", "),
        ". See ?", fun, " for the arguments it takes.")
}

.show <- function(x) {
  if (is.null(x)) return("NULL")
  if (length(x) != 1L) return(paste0("a ", class(x)[1], " of length ", length(x)))
  if (is.character(x)) return(paste0('"', x, '"'))
  format(x)
}

.require <- function(pkg, why) {
  if (!requireNamespace(pkg, quietly = TRUE)) {
    .stop("package '", pkg, "' is needed ", why, "; install it (Debian: apt-get install r-",
          if (pkg %in% c("SingleCellExperiment", "SummarizedExperiment", "S4Vectors")) "bioc-" else "cran-",
          tolower(pkg), ").")
  }
}
