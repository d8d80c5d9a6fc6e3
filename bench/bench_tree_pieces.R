# Why the simulated tree reads as "in pieces" (issue 9; bench/README.md, twelfth round).
# Trains RunConcord on bench_quality.R's sim_tree for each local-alignment weight and seed,
# and prints, next to the most persistent b0 of EvaluateEmbedding's topology (300 cells):
# the last merge of two components (largest finite H0 death), the latest death of any
# loop or void (H1/H2), and the widest single-linkage gap of all cells' unit rows over
# their median nearest-neighbour distance. b0 reads 1 only when some loop or void dies
# after the last merge.
#
#   Rscript bench/bench_tree_pieces.R [weights=0,50] [seeds=1,2,3,4,5,6] [threads=1] \
#     [out=tree_pieces.csv]
suppressPackageStartupMessages({
  library(concordR)
  library(SingleCellExperiment)
})
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))), "common.R"))

opt <- bench_options(list(weights = "0,50", seeds = "1,2,3,4,5,6", threads = "1", out = "tree_pieces.csv"))
threads <- as.integer(opt$threads)
sim <- SimulateCells("tree", n.cells = 2000, n.genes = 500, n.batches = 2,
                     batch.effect = c("specific.genes", "depth"), seed = 3, threads = threads)

widest_gap <- function(emb) {
  unit <- emb / sqrt(rowSums(emb^2))
  d <- as.matrix(dist(unit))
  diag(d) <- Inf
  max(hclust(stats::as.dist(d), method = "single")$height) / stats::median(apply(d, 1, min))
}

rows <- list()
for (w in as.numeric(split_list(opt$weights))) for (seed in as.integer(split_list(opt$seeds))) {
  emb <- RunConcord(assay(sim, "logcounts"), group.by = sim$batch, align.local.weight = w,
                    seed = seed, threads = threads, verbose = FALSE)
  ev <- EvaluateEmbedding(emb, families = "topology", topology.cells = 300, threads = threads)
  dg <- attr(ev, "details")$persistence
  merges <- sort(dg$death[dg$dimension == 0 & is.finite(dg$death)], decreasing = TRUE)
  row <- data.frame(align.local.weight = w, seed = seed, betti_0 = ev$betti_0, last_merge = merges[1],
                    latest_h12_death = max(c(dg$death[dg$dimension > 0], 0)),
                    widest_gap_over_1nn = widest_gap(emb))
  print(row, row.names = FALSE, digits = 3)
  rows[[length(rows) + 1L]] <- row
}
utils::write.csv(do.call(rbind, rows), opt$out, row.names = FALSE)
