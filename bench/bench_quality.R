# Integration quality and topology of RunConcord's training recipes (issue 9).
#
# For each named setting (arguments to RunConcord) and each dataset, trains with every
# seed and scores the embedding with EvaluateEmbedding():
# - real multi-batch data (../shared/data/<name>/<name>.rds): families bio + batch, next
#   to the peers' embeddings in ../shared/data/<name>/peers/*.tsv.gz. Input as the peers
#   had it: zero-count genes dropped, Seurat NormalizeData (LogNormalize, 1e4) and
#   FindVariableFeatures (vst, 2,000 genes), passed to RunConcord as `features`
#   (RunConcord's own default, without `features`, ranks genes by a loess fit of
#   log-variance on log-mean of the log-normalized values, not Seurat's vst on counts).
# - simulations ("sim_<structure>": SimulateCells(<structure>, 2000 cells, `sim.genes` genes,
#   2 batches, batch effects specific.genes + depth, seed 3)): Betti numbers against the
#   noise-free structure, both the most persistent (`betti_*`) and the CONCORD
#   benchmark's mode of each Betti curve (`betti_mode_*`), trustworthiness
#   against the PCA of the noise-free truth, and bio + batch with `state` (or the branch,
#   or pseudotime deciles) as label.
# Prints one row per run as it goes, then mean and sd over seeds, and writes every run to
# a CSV.
#
# Usage (one R process; `threads` are RunConcord's and EvaluateEmbedding's):
#   Rscript bench/bench_quality.R [settings=default,reference,knn] \
#     [datasets=kang_ctrl_5donors,kang_ifnb_muscat,sim_clusters,sim_trajectory,sim_loop,sim_tree] \
#     [seeds=1,2,3] [threads=1] [topology.cells=300] [out=bench_quality.csv] [peers=TRUE] \
#     [families=geometry,topology]   (simulations only; default all four) \
#     [sim.genes=500] \
#     [features=peers]   (real data: "own" trains without `features`, on RunConcord's own
#                        choice of variable genes; see hvg.by.batch)
# A setting is a name from `recipes` below or an ad-hoc "name:arg=value;arg=value"
# (values are parsed as R), e.g. "steps300:min.steps=300;beta=0".
suppressPackageStartupMessages({
  library(concordR)
  library(SingleCellExperiment)
})
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))), "common.R"))

recipes <- list(
  default = list(),
  reference = list(lr = 0.01, min.steps = 0, beta = 1),
  reference_steps = list(lr = 0.01, min.steps = 0),
  lr1e2 = list(lr = 0.01),
  knn = list(p.intra.knn = 0.3),
  reference_knn = list(lr = 0.01, min.steps = 0, p.intra.knn = 0.3),
  steps300 = list(min.steps = 300),
  temp0.5 = list(temperature = 0.5),
  temp1 = list(temperature = 1),
  beta1 = list(beta = 1),
  latent30 = list(latent.dim = 30)
)

opt <- bench_options(list(settings = "default,reference,knn",
            datasets = "kang_ctrl_5donors,kang_ifnb_muscat,sim_clusters,sim_trajectory,sim_loop,sim_tree",
            seeds = "1,2,3", threads = "1", topology.cells = "300", out = "bench_quality.csv",
            peers = "TRUE", data.dir = "../shared/data", families = "", features = "peers", sim.genes = "500"))
if (!opt$features %in% c("peers", "own")) stop("features must be 'peers' or 'own'")
seeds <- as.integer(split_list(opt$seeds))
threads <- as.integer(opt$threads)
topology.cells <- as.integer(opt$topology.cells)

settings <- lapply(split_list(opt$settings), parse_setting, recipes = recipes)

load_real_eval <- function(name) {
  data <- c(load_real(name, opt$data.dir), list(eval = list(families = c("bio", "batch"))))
  if (opt$features == "own") data$features <- NULL
  data
}

load_sim <- function(structure) {
  sim <- SimulateCells(structure, n.cells = 2000, n.genes = as.integer(opt$sim.genes), n.batches = 2,
                       batch.effect = c("specific.genes", "depth"), seed = 3, threads = threads)
  truth <- prcomp(t(as.matrix(assay(sim, "truth"))), rank. = 20)$x
  label <- if (!all(is.na(sim$state))) sim$state
           else if (!all(is.na(sim$branch))) sim$branch
           else cut(sim$pseudotime, unique(quantile(sim$pseudotime, 0:10 / 10)), include.lowest = TRUE)
  b <- S4Vectors::metadata(sim)$betti
  list(x = assay(sim, "logcounts"), features = NULL, batch = sim$batch, label = as.character(label),
       eval = list(families = if (nzchar(opt$families)) split_list(opt$families)
                              else c("bio", "batch", "geometry", "topology"), reference = truth,
                   expected.betti = c(b[["b0"]], b[["b1"]], 0), topology.cells = topology.cells),
       truth = truth, peers.dir = NULL)
}

score <- function(emb, data) {
  ev <- do.call(EvaluateEmbedding, c(list(emb, batch = data$batch, label = data$label,
                                          threads = threads), data$eval))
  keep <- c("Bio", "Batch", "Total", "trustworthiness", paste0("betti_", 0:2), "betti_match",
            paste0("betti_mode_", 0:2), "betti_mode_match")
  out <- ev[, intersect(keep, names(ev)), drop = FALSE]
  # Lifetimes of the two longest loops (H1 bars) over the largest finite death: one long
  # bar and noise is a loop; several long ones a curve winding through the space.
  dg <- attr(ev, "details")$persistence
  if (!is.null(dg)) {
    life <- sort(dg$death[dg$dimension == 1] - dg$birth[dg$dimension == 1], decreasing = TRUE)
    scale <- max(dg$death[is.finite(dg$death)])
    out$h1_life_1 <- if (length(life) > 0) life[1] / scale else 0
    out$h1_life_2 <- if (length(life) > 1) life[2] / scale else 0
  }
  out
}

rows <- list()
emit <- function(row) {
  rows[[length(rows) + 1L]] <<- row
  num <- vapply(row, is.numeric, logical(1))
  cat(paste0(names(row), "=", ifelse(num, vapply(row, function(v) format(v, digits = 3), ""),
                                     as.character(unlist(row))), collapse = " "), "\n")
  flush(stdout())
}
for (ds in split_list(opt$datasets)) {
  data <- if (startsWith(ds, "sim_")) load_sim(sub("^sim_", "", ds)) else load_real_eval(ds)
  if (!is.null(data$truth)) {
    emit(cbind(setting = "truth_pca", dataset = ds, seed = NA, seconds = NA, score(data$truth, data)))
  }
  if (as.logical(opt$peers) && !is.null(data$peers.dir)) {
    for (f in list.files(data$peers.dir, pattern = "\\.tsv\\.gz$", full.names = TRUE)) {
      tab <- utils::read.delim(f, row.names = 1, check.names = FALSE)
      emb <- as.matrix(tab[colnames(data$x), , drop = FALSE])
      emit(cbind(setting = paste0("peer_", sub("\\.tsv\\.gz$", "", basename(f))), dataset = ds,
                 seed = NA, seconds = NA, score(emb, data)))
    }
  }
  for (st in settings) for (seed in seeds) {
    t0 <- proc.time()[["elapsed"]]
    emb <- do.call(RunConcord, c(list(data$x, group.by = data$batch, features = data$features,
                                      seed = seed, threads = threads, verbose = FALSE), st$args))
    secs <- proc.time()[["elapsed"]] - t0
    emit(cbind(setting = st$name, dataset = ds, seed = seed, seconds = round(secs, 1), score(emb, data)))
  }
}

all <- do.call(rbind, lapply(rows, function(r) {
  miss <- setdiff(unique(unlist(lapply(rows, names))), names(r))
  r[miss] <- NA
  r
}))
utils::write.csv(all, opt$out, row.names = FALSE)
num <- setdiff(names(all)[vapply(all, is.numeric, logical(1))], "seed")
key <- interaction(all$setting, all$dataset, drop = TRUE, lex.order = TRUE)
summary <- do.call(rbind, lapply(split(all, key), function(g) {
  cells <- vapply(num, function(n) {
    v <- g[[n]][!is.na(g[[n]])]
    if (!length(v)) return("")
    m <- format(round(mean(v), 3), nsmall = 3)
    if (length(v) > 1) paste0(m, " +- ", format(round(stats::sd(v), 3), nsmall = 3)) else m
  }, character(1))
  data.frame(setting = g$setting[1], dataset = g$dataset[1], runs = nrow(g), t(cells),
             check.names = FALSE)
}))
cat("\nMean +- sd over seeds (", nrow(all), " runs written to ", opt$out, "):\n", sep = "")
for (ds in unique(summary$dataset)) {
  s <- summary[summary$dataset == ds, , drop = FALSE]
  s <- s[, vapply(s, function(v) any(v != ""), logical(1)), drop = FALSE]
  print(s, row.names = FALSE, right = FALSE)
}
cat("\nmachine:", system("lscpu | grep 'Model name' | sed 's/.*: *//'", intern = TRUE), "|",
    parallel::detectCores(), "cores | load average",
    system("cut -d' ' -f1-3 /proc/loadavg", intern = TRUE), "|", format(Sys.time(), "%Y-%m-%d"),
    "| threads", threads, "\n")
