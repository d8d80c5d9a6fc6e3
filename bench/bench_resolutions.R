# The Leiden resolutions behind NMI and ARI: the best-NMI clustering over scIB's 20
# (0.1 to 2 by 0.1) against the 10 that EvaluateEmbedding() searches above 200,000 cells
# (every other one from 0.1) and scib-metrics' 10 (0.2 to 2), on the peers' embeddings of
# the shared multi-batch data (bio + batch) and 30 principal components of the
# single-batch sets (bio).
#
#   R_LIBS=<lib> Rscript bench/bench_resolutions.R [data.dir=../shared/data]
script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
source(file.path(dirname(script), "common.R"))
suppressPackageStartupMessages(library(concordR))
opt <- bench_options(list(data.dir = "../shared/data"))
grids <- list(all20 = seq(0.1, 2, by = 0.1), odd10 = concordR:::.default_resolutions(3e5),
              scibmetrics10 = seq(0.1, 2, by = 0.1)[c(FALSE, TRUE)])
score <- function(name, emb, batch, label) {
  families <- if (is.null(batch)) "bio" else c("bio", "batch")
  r <- lapply(grids, function(g) EvaluateEmbedding(emb, batch = batch, label = label, families = families,
                                                  resolutions = g))
  curve <- attr(r$all20, "details")$clustering
  row <- data.frame(embedding = name, best20 = curve$resolution[which.max(curve$NMI)])
  for (g in names(grids)) {
    row[[paste0("NMI_", g)]] <- r[[g]]$NMI
    row[[paste0(if (is.null(batch)) "Bio_" else "Total_", g)]] <- r[[g]][[if (is.null(batch)) "Bio" else "Total"]]
  }
  print(row, digits = 4, row.names = FALSE)
  flush(stdout())
}
for (ds in c("kang_ctrl_5donors", "kang_ifnb_muscat")) {
  d <- readRDS(file.path(opt$data.dir, ds, paste0(ds, ".rds")))
  for (f in list.files(file.path(opt$data.dir, ds, "peers"), pattern = "\\.tsv\\.gz$", full.names = TRUE)) {
    tab <- utils::read.delim(f, row.names = 1, check.names = FALSE)
    score(paste(ds, sub("\\.tsv\\.gz$", "", basename(f))), as.matrix(tab[colnames(d$counts), , drop = FALSE]),
          d$meta$batch, d$meta$cell_type)
  }
}
for (ds in c("pbmc3k_clustifyr", "paul15_tradeseq", "scdcc_cite_cbmc")) {
  d <- load_real(ds, opt$data.dir)
  z <- t(as.matrix(d$x[d$features, ]))
  set.seed(1)  # irlba starts from a random vector
  score(paste(ds, "pca30"), irlba::prcomp_irlba(z, n = 30)$x, NULL, d$label)
}
