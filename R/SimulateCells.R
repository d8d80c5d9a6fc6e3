#' Simulate single-cell data with a known structure, noise and batch effects
#'
#' Builds expression data whose truth is known, in three stages, for testing and
#' benchmarking embeddings and integration methods:
#' 1. **State structure**: noise-free expression of gene programs. Each gene belongs to
#'    one program (or to the globally expressed, non-specific genes); a cell's
#'    noise-free value of a gene is the program's activity in that cell times the gene's
#'    level (`level` times a uniform factor in \[0.5, 1.5\]).
#'    * `"clusters"`: `n.states` discrete states, each with its own program; with
#'      `shared.genes > 0`, states k and k + 1 also share a program.
#'    * `"trajectory"`: `n.states` programs switch on and off in sequence along
#'      pseudotime (tent profiles: each program peaks as its predecessor fades).
#'    * `"loop"`: the same on a circle (`n.states >= 3`): the last program hands back to
#'      the first, so the noise-free data returns to its start (a cell cycle).
#'    * `"multi.loop"`: `n.loops` loops of `n.states` programs joined at a shared hub
#'      program (branch labels `L1`, `L2`, ...).
#'    * `"intersecting"`: `n.paths` trajectories of `n.states` programs that cross: their
#'      middle program (`"cross"`) is shared (branch labels `P1`, `P2`, ...).
#'    * `"tree"`: branching lineages, `branching` daughters per node and `depth` levels
#'      (`branching^depth` leaves), `n.states` programs per segment. A daughter takes
#'      over from its parent's last program and keeps each ancestor's last program at
#'      weight `decay^g` (g generations back).
#' 2. **Noise** around the noise-free means (see `noise`), then `dropout`, clipping
#'    (`non.negative`) and rounding (`round.values`).
#' 3. **Batch effects**: `n.batches` batches in `batch.proportions`, sharing a share
#'    `batch.overlap` of the states (the other states are each seen by one batch only),
#'    with the effects named in `batch.effect`, each scaled by `batch.strength`:
#'    * `"specific.genes"`: in each batch a share `batch.genes` of the genes gets an extra
#'      batch-only program of mean `batch.strength * level` (times 0.5 to 1.5), drawn with
#'      the noise model;
#'    * `"shift"`: in each batch a share `batch.genes` of the genes is shifted by a
#'      normal amount of sd `batch.strength * level / 2` (in every cell of the batch);
#'    * `"scaling"`: every gene of every batch is multiplied by `exp(N(0, (batch.strength
#'      / 2)^2))`;
#'    * `"variance"`: each value's deviation from its noise-free mean is multiplied by
#'      `1 + batch.strength * U(0, 1)`, one factor per batch;
#'    * `"depth"`: sequencing depth: counts are downsampled (binomial thinning) to a share
#'      `exp(-batch.strength * U(0, 1))` per batch (non-integer values are multiplied);
#'    * `"dropout"`: value-dependent dropout: a value x is zeroed with probability
#'      `exp(-lambda x^2)`, with `lambda = batch.strength * U(0.5, 1.5) / (level / 2)^2`
#'      per batch, so a value of `level / 2` drops with probability about
#'      `exp(-batch.strength)`.
#'
#'    The parameters drawn are returned in `metadata(x)$simulation$batch.effects`.
#'
#' The heavy work runs in the compiled engine, in fixed blocks of cells with their own
#' random streams: the same `seed` gives the same data for any `threads`, and the noise
#' (assay `noisy`) is the same with and without batch effects. Count noise models and
#' the log-normal keep zero means at zero, so the matrices are sparse; normal noise is
#' additive and makes them dense (avoid it for very large data).
#'
#' @param structure The state structure: `"clusters"`, `"trajectory"`, `"loop"`,
#'   `"tree"`, `"multi.loop"` or `"intersecting"`.
#' @param n.cells Number of cells.
#' @param n.genes Number of genes.
#' @param n.states Clusters (`"clusters"`); programs along the trajectory, loop or path;
#'   programs per segment (`"tree"`).
#' @param noise Noise distribution around the noise-free mean mu: `"nb"` (negative
#'   binomial, variance mu + `dispersion` mu^2), `"poisson"`, `"normal"` (sd
#'   `dispersion`, added to every entry) or `"lognormal"` (mu times a log-normal factor of
#'   mean 1 and log-scale sd `dispersion`).
#' @param n.batches Number of batches (at most `n.cells`).
#' @param batch.effect Batch effect type(s), any of `"specific.genes"`, `"shift"`,
#'   `"scaling"`, `"variance"`, `"depth"`, `"dropout"`, or `"none"` (batch labels only).
#' @param seed Random seed (a whole number >= 0); the same seed gives the same data.
#' @param level Mean noise-free expression of a program gene at full activity.
#' @param dispersion Noise spread; its meaning depends on `noise` (see there). Unused for
#'   `"poisson"`.
#' @param dropout Probability that a noisy value is set to zero (uniform dropout).
#' @param non.negative Clip negative values to zero.
#' @param round.values Round values to whole numbers (count models give whole numbers
#'   anyway).
#' @param global.genes Share of genes expressed in every cell (non-specific genes).
#' @param shared.genes Share of genes in programs shared by neighbouring clusters
#'   (`"clusters"` only).
#' @param n.loops Number of loops (`"multi.loop"` only).
#' @param n.paths Number of crossing trajectories (`"intersecting"` only).
#' @param branching Daughters per branch point (`"tree"` only).
#' @param depth Levels of branching (`"tree"` only); the tree has `branching^depth` leaves.
#' @param decay Weight kept by an inherited parental program per generation, in \[0, 1\]
#'   (`"tree"` only; 0: daughters forget their parents).
#' @param batch.proportions Relative batch sizes (one positive number per batch) among
#'   cells of states that all batches share; `NULL` for equal sizes.
#' @param batch.overlap Share of the states present in every batch, in \[0, 1\]: 1 means
#'   full overlap, 0 that each state is in one batch only.
#' @param batch.strength Size of the batch effects (>= 0; 0 leaves the data unchanged).
#' @param batch.genes Share of genes affected by `"specific.genes"` and `"shift"`.
#' @param threads CPU threads; `NULL` uses every CPU this process may use (its CPU
#'   affinity, capped by a cgroup CPU quota). Results do not depend on it.
#'
#' @return A `SingleCellExperiment` with assays `truth` (noise-free means), `noisy`
#'   (after noise, before batch effects), `counts` (final values) and, where the final
#'   values are non-negative, `logcounts` (`log1p(counts / cell total * 10000)`), all
#'   sparse `dgCMatrix`; colData columns `state`, `pseudotime`, `branch`, `batch` (NA
#'   where the structure has none); rowData columns `program` and `level`; and metadata
#'   `betti` (`c(b0 = connected components, b1 = loops)` of the noise-free structure) and
#'   `simulation` (the parameters, program names, the states each batch covers, the
#'   batch-effect parameters and, for trees, the segments). Use [SimulatedToSeurat()] for
#'   a Seurat object.
#' @seealso [SimulatedToSeurat()]
#' @importClassesFrom Matrix dgCMatrix
#' @export
#' @examples
#' if (requireNamespace("SingleCellExperiment", quietly = TRUE)) {
#'   sim <- SimulateCells("trajectory", n.cells = 300, n.genes = 100, n.batches = 2,
#'                        batch.effect = "scaling", seed = 1, threads = 1)
#'   sim
#'   table(sim$state, sim$batch)
#'   S4Vectors::metadata(sim)$betti
#' }
SimulateCells <- function(structure = c("clusters", "trajectory", "loop", "tree", "multi.loop",
                                        "intersecting"),
                          n.cells = 1000, n.genes = 500, n.states = 5,
                          noise = c("nb", "poisson", "normal", "lognormal"), n.batches = 1,
                          batch.effect = "none", seed = 1, level = 5, dispersion = 0.2,
                          dropout = 0, non.negative = TRUE, round.values = FALSE,
                          global.genes = 0.1, shared.genes = 0, n.loops = 2, n.paths = 2,
                          branching = 2, depth = 2, decay = 0.5, batch.proportions = NULL,
                          batch.overlap = 1, batch.strength = 1, batch.genes = 0.1,
                          threads = NULL) {
  structure <- .check_choice(structure, eval(formals(SimulateCells)$structure), "structure")
  noise <- .check_choice(noise, eval(formals(SimulateCells)$noise), "noise")
  args <- mget(names(formals(SimulateCells)))
  args$structure <- structure
  args$noise <- noise
  do.call(.check_simulation, args)
  .require("SingleCellExperiment", "to return the simulated cells")
  threads <- .resolve_threads(threads)

  design <- .with_seed(seed, .simulation_design(args))
  sim <- .concord_simulate_cells(
    design$activity.p, design$activity.program, design$activity.weight, design$program.p,
    design$program.gene, design$program.level, as.integer(n.genes), noise, dispersion,
    dropout, non.negative, round.values, design$engine.batch, seed, threads
  )
  if (any(vapply(sim, function(m) !is.null(m) && any(!is.finite(m$x)), logical(1)))) {
    .stop("the simulation produced non-finite values (level = ", level, ", dispersion = ",
          dispersion, ", batch.strength = ", batch.strength, "); lower them.")
  }
  .simulation_result(sim, design, args, threads)
}

# Everything drawn in R (cheap, per cell or per gene): the structure, the gene programs
# and levels, then the batches, last, so that the truth does not depend on them.
.simulation_design <- function(a) {
  n.global <- round(a$global.genes * a$n.genes)
  free <- a$n.genes - n.global
  st <- switch(a$structure,
    clusters = .structure_clusters(a$n.cells, free, a$n.states, a$shared.genes),
    trajectory = .structure_paths(a$n.cells, free, a$n.states, 1L),
    intersecting = .structure_paths(a$n.cells, free, a$n.states, a$n.paths),
    loop = .structure_loops(a$n.cells, free, a$n.states, 1L),
    multi.loop = .structure_loops(a$n.cells, free, a$n.states, a$n.loops),
    tree = .structure_tree(a$n.cells, free, a$n.states, a$branching, a$depth, a$decay)
  )
  names <- st$names
  act <- st$activity
  if (n.global > 0) {
    names <- c(names, "global")
    act$cell <- c(act$cell, seq_len(a$n.cells))
    act$program <- c(act$program, rep(length(names), a$n.cells))
    act$weight <- c(act$weight, rep(1, a$n.cells))
  }
  sizes <- c(st$sizes, if (n.global > 0) n.global)
  gene.program <- sample(rep(seq_along(sizes), sizes))
  gene.level <- a$level * stats::runif(a$n.genes, 0.5, 1.5)
  by.program <- order(gene.program)
  by.cell <- order(act$cell)

  batch <- rep(1L, a$n.cells)
  covered <- list(B1 = levels(st$state))
  if (a$n.batches > 1) {
    assigned <- .assign_batches(st$state, a$n.batches,
                                if (is.null(a$batch.proportions)) rep(1, a$n.batches)
                                else a$batch.proportions, a$batch.overlap)
    batch <- assigned$batch
    covered <- assigned$states
  }
  effects <- .batch_effects(a$batch.effect, a$n.batches, a$n.genes, a$batch.strength,
                            a$batch.genes, a$level)
  list(
    structure = st, program.names = names, gene.program = gene.program,
    gene.level = gene.level, batch = batch, batch.states = covered, batch.effects = effects,
    activity.p = c(0L, cumsum(tabulate(act$cell, a$n.cells))),
    activity.program = as.integer(act$program[by.cell]) - 1L,
    activity.weight = as.numeric(act$weight[by.cell]),
    program.p = c(0L, cumsum(tabulate(gene.program, length(sizes)))),
    program.gene = by.program - 1L, program.level = gene.level[by.program],
    engine.batch = .engine_batch(batch, effects, a$n.batches)
  )
}

.simulation_result <- function(sim, design, a, threads) {
  width <- function(n) nchar(as.character(n))
  genes <- sprintf("Gene%0*d", width(a$n.genes), seq_len(a$n.genes))
  cells <- sprintf("Cell%0*d", width(a$n.cells), seq_len(a$n.cells))
  # Slots set one by one: the engine's output is valid by construction, and new()'s
  # validity check would read every entry again.
  dgc <- function(s, x = s$x) {
    m <- methods::new("dgCMatrix")
    m@Dim <- c(length(genes), length(cells))
    m@Dimnames <- list(genes, cells)
    m@p <- s$p
    m@i <- s$i
    m@x <- x
    m
  }
  assays <- list(truth = dgc(sim$truth), noisy = dgc(sim$noisy))
  sim$truth <- NULL
  # Without batch effects the final values are the noisy ones: the same object, no copy.
  assays$counts <- if (is.null(sim$counts)) assays$noisy else dgc(sim$counts)
  sim <- NULL
  counts <- assays$counts
  if (length(counts@x) == 0L || min(counts@x) >= 0) {
    # Shares i and p with counts: only the values take new memory.
    assays$logcounts <- dgc(list(i = counts@i, p = counts@p),
                            .concord_log_normalize(counts@p, counts@x, 1e4, threads))
  }
  st <- design$structure
  batches <- paste0("B", seq_len(a$n.batches))
  col <- S4Vectors::DataFrame(state = st$state, pseudotime = st$pseudotime,
                              branch = st$branch,
                              batch = factor(batches[design$batch], levels = batches),
                              row.names = cells)
  row <- S4Vectors::DataFrame(program = factor(design$program.names[design$gene.program],
                                               levels = design$program.names),
                              level = design$gene.level, row.names = genes)
  a$threads <- NULL
  meta <- list(
    betti = c(b0 = as.integer(st$betti[[1]]), b1 = as.integer(st$betti[[2]])),
    simulation = c(list(parameters = a, programs = design$program.names,
                        batch.states = design$batch.states,
                        batch.effects = design$batch.effects), st$info)
  )
  SingleCellExperiment::SingleCellExperiment(assays = assays, colData = col, rowData = row,
                                             metadata = meta)
}

# Runs `expr` with R's random numbers seeded, leaving the caller's random state as it was.
.with_seed <- function(seed, expr) {
  env <- globalenv()
  old <- if (exists(".Random.seed", envir = env, inherits = FALSE)) get(".Random.seed", envir = env)
  on.exit(if (is.null(old)) rm(".Random.seed", envir = env) else assign(".Random.seed", old, envir = env))
  set.seed(seed, kind = "Mersenne-Twister", normal.kind = "Inversion", sample.kind = "Rejection")
  expr
}

#' Turn a simulation into a Seurat object
#'
#' Converts the result of [SimulateCells()] into a Seurat object: the final values in
#' the `counts` slot of assay `assay`, the log-normalized values in its `data` slot, the
#' cell labels (`state`, `pseudotime`, `branch`, `batch`) in the metadata, and the
#' simulation's metadata (including `betti`) in `Misc(seu, "simulation")`.
#'
#' @param x A SingleCellExperiment returned by [SimulateCells()].
#' @param assay Name of the Seurat assay holding the final values.
#' @param keep.truth Also keep the `truth` and `noisy` matrices, as assays `"truth"` and
#'   `"noisy"` (in their `data` slots).
#'
#' @return A Seurat object with one cell per column of `x`.
#' @seealso [SimulateCells()]
#' @export
#' @examples
#' if (requireNamespace("SeuratObject", quietly = TRUE) &&
#'     requireNamespace("SingleCellExperiment", quietly = TRUE)) {
#'   sim <- SimulateCells("clusters", n.cells = 200, n.genes = 100, seed = 1, threads = 1)
#'   seu <- SimulatedToSeurat(sim)
#'   table(seu$state)
#'   SeuratObject::Misc(seu, "simulation")$betti
#' }
SimulatedToSeurat <- function(x, assay = "RNA", keep.truth = TRUE) {
  .require("SingleCellExperiment", "to read the simulation")
  .require("SeuratObject", "to build a Seurat object")
  needed <- c("truth", "noisy", "counts")
  if (!methods::is(x, "SingleCellExperiment") ||
      !all(needed %in% SummarizedExperiment::assayNames(x)) ||
      is.null(S4Vectors::metadata(x)$betti)) {
    .stop("'x' must be a SingleCellExperiment returned by SimulateCells() (with assays ",
          paste(needed, collapse = ", "), " and metadata 'betti'); got an object of class ",
          class(x)[1], ".")
  }
  .check_string(assay, "assay")
  .check_flag(keep.truth, "keep.truth")
  get <- function(name) SummarizedExperiment::assay(x, name, withDimnames = TRUE)
  meta <- as.data.frame(SummarizedExperiment::colData(x))
  seu <- SeuratObject::CreateSeuratObject(counts = get("counts"), assay = assay,
                                          meta.data = meta)
  if ("logcounts" %in% SummarizedExperiment::assayNames(x)) {
    seu <- SeuratObject::SetAssayData(seu, slot = "data", new.data = get("logcounts"),
                                      assay = assay)
  }
  if (keep.truth) {
    for (name in c("truth", "noisy")) seu[[name]] <- SeuratObject::CreateAssayObject(data = get(name))
  }
  SeuratObject::Misc(seu, "simulation") <- S4Vectors::metadata(x)
  seu
}
