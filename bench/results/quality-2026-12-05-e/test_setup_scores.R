# The test-quality.R setup (all genes, threads 2 in the test; here 1) at align.local.weight 0 / 50:
# same-type share, mixing, and EvaluateEmbedding bio + batch next to the peers.
suppressPackageStartupMessages(library(concordR))
name <- Sys.getenv("DS")
d <- readRDS(file.path("/work/shared/data", name, paste0(name, ".rds")))
x <- concordR:::.prepare_expression(d$counts, NULL, verbose = FALSE)
ev <- function(e) { t0 <- proc.time()[[3]]; r <- EvaluateEmbedding(e, batch = d$meta$batch, label = d$meta$cell_type, families = c("bio", "batch"), threads = 1); c(r$Bio, r$Batch, r$Total, proc.time()[[3]] - t0) }
for (f in list.files(file.path("/work/shared/data", name, "peers"), full.names = TRUE)) {
  tab <- utils::read.delim(f, row.names = 1, check.names = FALSE); e <- as.matrix(tab[colnames(x), ])
  s <- concordR:::.neighbour_scores(e, d$meta$cell_type, d$meta$batch)
  cat(sprintf("%s %s share %.4f mixing %.3f bio/batch/total/sec %s\n", name, basename(f), s[["label_share"]], s[["batch_mixing"]], paste(round(ev(e), 3), collapse = " ")))
}
p <- concordR:::.pca_baseline(x); s <- concordR:::.neighbour_scores(p, d$meta$cell_type, d$meta$batch)
cat(sprintf("%s pca-allgenes share %.4f mixing %.3f bio/batch/total/sec %s\n", name, s[["label_share"]], s[["batch_mixing"]], paste(round(ev(p), 3), collapse = " ")))
for (w in c(0, 50)) for (seed in 0:2) {
  emb <- RunConcord(x, group.by = d$meta$batch, features = rownames(x), threads = 1, verbose = FALSE, seed = seed, align.local.weight = w)
  s <- concordR:::.neighbour_scores(emb, d$meta$cell_type, d$meta$batch)
  cat(sprintf("%s lw %g seed %d share %.4f mixing %.3f bio/batch/total/sec %s\n", name, w, seed, s[["label_share"]], s[["batch_mixing"]], paste(round(ev(emb), 3), collapse = " ")))
}
