# Argument checks of SimulateCells(): every message names the argument, what was wrong
# and what to give instead.

# One of `choices`; the untouched default (all choices) means the first.
.check_choice <- function(x, choices, name) {
  if (identical(x, choices)) return(choices[1])
  if (!(is.character(x) && length(x) == 1L && !is.na(x) && x %in% choices)) {
    .stop("'", name, "' must be one of ", paste0('"', choices, '"', collapse = ", "),
          "; got ", .show(x), ".")
  }
  x
}

.check_batch_effect <- function(x) {
  ok <- is.character(x) && length(x) >= 1L && !anyNA(x) && all(x %in% .batch_effect_types)
  if (!ok) {
    .stop("'batch.effect' must be \"none\" or any of ",
          paste0('"', .batch_effect_types[-1], '"', collapse = ", "), "; got ",
          if (is.character(x)) paste0('"', x, '"', collapse = ", ") else .show(x), ".")
  }
  if ("none" %in% x && length(x) > 1L) {
    .stop("'batch.effect' combines \"none\" with effects (", paste(x, collapse = ", "),
          "); give either \"none\" or the effects.")
  }
  if (anyDuplicated(x)) .stop("'batch.effect' names an effect twice: ", paste(x, collapse = ", "), ".")
  invisible(x)
}

# Smallest n.states for which each structure is what its name says: a loop needs three
# programs to enclose a hole, a crossing needs a middle program between two ends.
.min_states <- c(clusters = 1, trajectory = 2, tree = 2, loop = 3, multi.loop = 3,
                 intersecting = 3)

# Largest useful noise spread per model: a negative-binomial dispersion of 1e3 already
# puts nearly all mass at zero, normal noise of sd 1e6 swamps any level, and a log-normal
# log-scale sd of 10 scales values by exp(-50) on average.
.max_dispersion <- c(nb = 1e3, poisson = Inf, normal = 1e6, lognormal = 10)
# Scaling factors are exp(N(0, (batch.strength / 2)^2)): at 20 they reach about exp(+-40).
.max_scaling_strength <- 20

.check_simulation <- function(structure, n.cells, n.genes, n.states, noise, n.batches,
                              batch.effect, seed, level, dispersion, dropout, non.negative,
                              round.values, global.genes, shared.genes, n.loops, n.paths,
                              branching, depth, decay, batch.proportions, batch.overlap,
                              batch.strength, batch.genes, threads) {
  .check_number(n.cells, "n.cells", lower = 1, upper = .Machine$integer.max, integer = TRUE)
  .check_number(n.genes, "n.genes", lower = 1, upper = .Machine$integer.max, integer = TRUE)
  .check_number(n.states, "n.states", lower = .min_states[[structure]], upper = 1e5, integer = TRUE)
  .check_number(n.batches, "n.batches", lower = 1, integer = TRUE)
  if (n.batches > n.cells) {
    .stop("'n.batches' (", n.batches, ") is larger than 'n.cells' (", n.cells, "); every ",
          "batch needs cells. Lower 'n.batches' or raise 'n.cells'.")
  }
  .check_batch_effect(batch.effect)
  .check_number(seed, "seed", lower = 0, upper = 2^31 - 1, integer = TRUE)
  .check_number(level, "level", lower = 0, upper = 1e6, lower.open = TRUE)
  .check_number(dispersion, "dispersion", lower = 0, upper = .max_dispersion[[noise]])
  .check_probability(dropout, "dropout")
  .check_flag(non.negative, "non.negative")
  .check_flag(round.values, "round.values")
  .check_probability(global.genes, "global.genes")
  .check_probability(shared.genes, "shared.genes")
  if (global.genes + shared.genes >= 1) {
    .stop("'global.genes' + 'shared.genes' is ", global.genes + shared.genes, "; it must be ",
          "below 1 to leave genes for the state-specific programs.")
  }
  .check_number(n.loops, "n.loops", lower = 1, upper = 1e4, integer = TRUE)
  .check_number(n.paths, "n.paths", lower = 1, upper = 1e4, integer = TRUE)
  .check_number(branching, "branching", lower = 1, upper = 1e5, integer = TRUE)
  .check_number(depth, "depth", lower = 0, upper = 100, integer = TRUE)
  if (structure == "tree" && branching^depth > 1e5) {
    .stop("'branching'^'depth' = ", branching^depth, " leaves is too many; lower 'branching' ",
          "or 'depth'.")
  }
  .check_probability(decay, "decay")
  if (!is.null(batch.proportions)) {
    if (!(is.numeric(batch.proportions) && length(batch.proportions) == n.batches &&
          !anyNA(batch.proportions) && all(is.finite(batch.proportions)) &&
          all(batch.proportions > 0))) {
      .stop("'batch.proportions' must be NULL or ", n.batches, " positive number(s), one per ",
            "batch; got ", paste(format(batch.proportions), collapse = ", "), ".")
    }
  }
  .check_probability(batch.overlap, "batch.overlap")
  .check_number(batch.strength, "batch.strength", lower = 0, upper = 1e6)
  if ("scaling" %in% batch.effect && batch.strength > .max_scaling_strength) {
    .stop("'batch.strength' = ", batch.strength, " is too large for batch.effect \"scaling\": ",
          "genes would be multiplied by factors like exp(", signif(batch.strength, 3), "), beyond ",
          "double precision. Use batch.strength <= ", .max_scaling_strength, ".")
  }
  .check_probability(batch.genes, "batch.genes")
  invisible(TRUE)
}
