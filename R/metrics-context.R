# Checks EvaluateEmbedding()'s arguments and gathers what the metric families share
# (the embedding, annotations, subsample, kNN graph) into one list.

.all_families <- c("bio", "batch", "probes", "geometry", "topology", "proxy")

.choose_families <- function(families, batch, label, reference, expected.betti) {
  if (is.null(families)) {
    return(c(if (!is.null(label)) c("bio"), if (!is.null(batch)) "batch",
             if (!is.null(label)) "probes", if (!is.null(reference)) "geometry",
             if (!is.null(expected.betti)) "topology"))
  }
  if (!is.character(families) || !length(families) || anyNA(families) ||
      !all(families %in% .all_families)) {
    .stop("'families' must name metric families among ", paste0('"', .all_families, '"', collapse = ", "),
          "; got ", paste(format(families), collapse = ", "), ".")
  }
  need <- list(bio = list(label, "label"), batch = list(batch, "batch"),
               probes = list(label, "label"), geometry = list(reference, "reference"),
               proxy = list(batch, "batch"), proxy = list(reference, "reference"))
  for (i in which(names(need) %in% families)) {
    f <- names(need)[i]
    if (is.null(need[[i]][[1]])) {
      .stop("'families' includes \"", f, "\", which needs '", need[[i]][[2]], "'; give '",
            need[[i]][[2]], "' or leave \"", f, "\" out.")
    }
  }
  unique(families)
}

.check_betti <- function(x) {
  if (is.null(x)) return(NULL)
  if (!is.numeric(x) || length(x) != 3L || anyNA(x) || any(x < 0) || any(x != round(x))) {
    .stop("'expected.betti' must hold 3 whole numbers >= 0, the Betti numbers of dimensions ",
          "0, 1 and 2 (e.g. c(1, 1, 0) for a loop); got ", .show(x), ".")
  }
  x
}

# The Leiden resolutions searched for NMI and ARI: scIB's 20 up to `full.grid` cells;
# above, where 20 resolutions take most of an evaluation's time, every other one from
# the first (0.1, 0.3, ..., 1.9). The coarsest, 0.1, is where most embeddings of the
# shared data score best; scib-metrics' 10 (0.2 to 2) lack it and cost up to 0.06 of
# Total there (bench/README.md: Evaluation pipeline).
.default_resolutions <- function(n, full.grid = 2e5) {
  grid <- seq(0.1, 2, by = 0.1)
  if (n > full.grid) grid[c(TRUE, FALSE)] else grid
}

.evaluation_context <- function(x, batch, label, families, reference, expected.betti,
                                n.neighbors, resolutions, max.cells, geometry.cells,
                                topology.cells, seed, threads, verbose, kni.k, kni.tau,
                                rbni.radius, rbni.share, proxy.resolution) {
  x <- .check_embedding(x)
  n <- nrow(x)
  .check_number(n.neighbors, "n.neighbors", lower = 1, integer = TRUE)
  .check_number(max.cells, "max.cells", lower = 10, integer = TRUE)
  .check_number(geometry.cells, "geometry.cells", lower = 10, integer = TRUE)
  .check_number(topology.cells, "topology.cells", lower = 3, integer = TRUE)
  # The families draw with seed, seed + 1 and seed + 2, all R integers.
  .check_number(seed, "seed", lower = -.Machine$integer.max, upper = .Machine$integer.max - 2, integer = TRUE)
  .check_number(threads, "threads", lower = 1, upper = .max_threads, integer = TRUE)
  .check_flag(verbose, "verbose")
  .check_number(kni.k, "kni.k", lower = 1, upper = .Machine$integer.max, integer = TRUE)
  .check_number(kni.tau, "kni.tau", lower = 0, upper = kni.k, integer = TRUE)
  .check_number(rbni.radius, "rbni.radius", lower = 0)
  .check_probability(rbni.share, "rbni.share")
  .check_number(proxy.resolution, "proxy.resolution", lower = 0, lower.open = TRUE)
  if (is.null(resolutions)) resolutions <- .default_resolutions(n)
  if (!is.numeric(resolutions) || !length(resolutions) || any(!is.finite(resolutions)) ||
      any(resolutions <= 0)) {
    .stop("'resolutions' must be positive numbers (Leiden resolutions); got ", .show(resolutions), ".")
  }
  ctx <- list(
    x = x, batch = .cell_factor(batch, "batch", NULL, n), label = .cell_factor(label, "label", NULL, n),
    reference = .check_reference(reference, n), expected.betti = .check_betti(expected.betti),
    n.neighbors = as.integer(min(n.neighbors, n - 1L)), resolutions = resolutions,
    geometry.cells = as.integer(min(geometry.cells, n)), topology.cells = as.integer(min(topology.cells, n)),
    seed = as.integer(seed), threads = as.integer(threads), verbose = verbose,
    kni.k = as.integer(kni.k), kni.tau = as.integer(kni.tau), rbni.radius = rbni.radius,
    rbni.share = rbni.share, proxy.resolution = proxy.resolution
  )
  ctx$families <- .choose_families(families, ctx$batch, ctx$label, ctx$reference, ctx$expected.betti)
  if (!length(ctx$families)) {
    .stop("nothing to compute: give 'label' and/or 'batch' (or 'reference', 'expected.betti'), ",
          "or name the families to compute in 'families'.")
  }
  ctx$constant <- all(vapply(seq_len(ncol(x)), function(j) all(x[, j] == x[1L, j]), logical(1)))
  ctx$sub <- .subsample(n, max.cells, ctx$seed)
  t0 <- proc.time()[["elapsed"]]
  c0 <- .cpu_seconds()
  if (!ctx$constant && any(c("bio", "batch", "probes", "proxy") %in% ctx$families)) {
    # One search serves every family: LISI's 90 neighbours (3 x perplexity 30, as
    # scIB), of which the first n.neighbors make the kNN graph.
    ctx$knn <- .knn_graph(x, max(90L, ctx$n.neighbors), ctx$threads)
    ctx$perplexity <- max(1, floor(ncol(ctx$knn$index) / 3))
  }
  ctx$knn.seconds <- proc.time()[["elapsed"]] - t0
  ctx$knn.cpu <- .cpu_seconds() - c0
  ctx
}
