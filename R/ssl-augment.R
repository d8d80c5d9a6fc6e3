# The augmentations of RunSSL (the SSL benchmark, scAugmentBench), as the user writes
# them and as the engine (src/concord/augment_pipeline.h) receives them.
#
# User form: a named list whose names are augmentations, applied in the list's order,
# each a list of its settings; settings left out take the benchmark's values:
#   list(mask      = list(p = 0.5, strength = 0.2),
#        gaussian  = list(p = 0.5, sigma = 0.2, share = 0.8),
#        innerswap = list(p = 0.5, strength = 0.1),
#        crossover = list(p = 0.5, strength = 0.25),
#        mnn       = list(p = 0.5, alpha = 0.5, k = 5),
#        bbknn     = list(p = 0.5, alpha = 0.5, k = 5))
# A character vector of names (c("mask", "bbknn")) takes every setting's default;
# "clear" is the CLEAR pipeline (the default); NULL or an empty list means no
# augmentation. `p` is the probability that a cell gets
# the augmentation in a view; `strength` the share of genes masked, swapped or crossed
# over; `sigma` and `share` the noise's standard deviation and the share of genes it
# reaches; `alpha` the least weight a cell keeps of itself when interpolated (mnn) or
# the probability that a gene keeps its own value (bbknn); `k` the neighbours per
# batch. mnn and bbknn need batches (group.by); mnn must come first.

# Each augmentation's settings and the benchmark's values for them (CLEAR pipeline;
# mnn and bbknn as in the benchmark's ablation, where p = 0.5).
.ssl_augment_settings <- list(
  mask = list(p = 0.5, strength = 0.2),
  gaussian = list(p = 0.5, sigma = 0.2, share = 0.8),
  innerswap = list(p = 0.5, strength = 0.1),
  crossover = list(p = 0.5, strength = 0.25),
  mnn = list(p = 0.5, alpha = 0.5, k = 5L),
  bbknn = list(p = 0.5, alpha = 0.5, k = 5L)
)

# The CLEAR pipeline, the benchmark's default: mask, Gaussian noise, InnerSwap and
# CrossOver, each at p = 0.5.
.ssl_augment_default <- function() .ssl_augment_settings[c("mask", "gaussian", "innerswap", "crossover")]

# Checks the user's `augment` and returns the engine's list of steps (kind, p,
# strength, share, k), in order. `has.groups`: whether the call has batches.
.ssl_augment <- function(augment, has.groups) {
  if (is.null(augment) || (is.list(augment) && length(augment) == 0L)) return(list())
  if (identical(augment, "clear")) augment <- .ssl_augment_default()
  known <- names(.ssl_augment_settings)
  if (is.character(augment) && !anyNA(augment)) {
    augment <- stats::setNames(rep(list(list()), length(augment)), augment)
  }
  if (!is.list(augment) || is.null(names(augment)) || any(!nzchar(names(augment)))) {
    .stop("'augment' must be \"clear\", a named list of augmentations or a character vector ",
          "of their names, e.g. list(mask = list(p = 0.5, strength = 0.2)); known augmentations: ",
          paste(known, collapse = ", "), ".")
  }
  kinds <- names(augment)
  unknown <- setdiff(kinds, known)
  if (length(unknown)) {
    .stop("unknown augmentation(s) in 'augment': ", paste0('"', unknown, '"', collapse = ", "),
          "; known: ", paste(known, collapse = ", "), ".")
  }
  if (anyDuplicated(kinds)) {
    .stop("'augment' names each augmentation at most once; repeated: ",
          paste(unique(kinds[duplicated(kinds)]), collapse = ", "), ".")
  }
  neighbourhood <- intersect(kinds, c("mnn", "bbknn"))
  if (length(neighbourhood) && !isTRUE(has.groups)) {
    .stop("the ", paste(neighbourhood, collapse = " and "), " augmentation",
          if (length(neighbourhood) > 1L) "s need" else " needs",
          " batches: give 'group.by', or leave ", paste(neighbourhood, collapse = " and "), " out of 'augment'.")
  }
  if ("mnn" %in% kinds && kinds[1L] != "mnn") {
    .stop("the mnn augmentation must come first in 'augment' (its second view starts from ",
          "another cell, so nothing may be applied before it).")
  }
  lapply(kinds, function(kind) .ssl_augment_step(kind, augment[[kind]]))
}

.ssl_augment_step <- function(kind, settings) {
  defaults <- .ssl_augment_settings[[kind]]
  if (!is.list(settings) || (length(settings) && (is.null(names(settings)) || any(!nzchar(names(settings)))))) {
    .stop("augment$", kind, " must be a named list of settings (", paste(names(defaults), collapse = ", "),
          "); got ", .show(settings), ".")
  }
  extra <- setdiff(names(settings), names(defaults))
  if (length(extra)) {
    .stop("unknown setting(s) for the ", kind, " augmentation: ", paste(extra, collapse = ", "),
          "; it takes ", paste(names(defaults), collapse = ", "), ".")
  }
  s <- utils::modifyList(defaults, settings)
  name <- function(setting) paste0("augment$", kind, "$", setting)
  .check_probability(s$p, name("p"))
  step <- list(kind = kind, p = s$p, strength = 0, share = 1, k = 0L)
  if (kind == "gaussian") {
    .check_number(s$sigma, name("sigma"), lower = 0)
    .check_number(s$share, name("share"), lower = 0, upper = 1)
    step$strength <- s$sigma
    step$share <- s$share
  } else if (kind %in% c("mnn", "bbknn")) {
    .check_number(s$alpha, name("alpha"), lower = 0, upper = 1)
    .check_number(s$k, name("k"), lower = 1, integer = TRUE)
    step$strength <- s$alpha
    step$k <- as.integer(s$k)
  } else {
    .check_number(s$strength, name("strength"), lower = 0, upper = 1)
    step$strength <- s$strength
  }
  step$p <- as.numeric(step$p)
  step$strength <- as.numeric(step$strength)
  step$share <- as.numeric(step$share)
  step
}

# Stops when the engine's `steps` hold MNN or BBKNN but the cells come from fewer than
# two batches, which their neighbour graphs need; `fix` says what the user can do.
.ssl_augment_check_batches <- function(steps, n.batches, fix) {
  kinds <- intersect(vapply(steps, `[[`, character(1), "kind"), c("mnn", "bbknn"))
  if (length(kinds) && n.batches < 2L) {
    .stop("the ", paste(kinds, collapse = " and "), " augmentation",
          if (length(kinds) > 1L) "s need" else " needs", " cells from at least two batches; got ",
          n.batches, ": ", fix, ".")
  }
  invisible(steps)
}
