# kang_ifnb_muscat same-type share of 15 NN (test-quality.R's metric), seeds from env SEEDS
suppressPackageStartupMessages(library(concordR))
d <- readRDS("/work/shared/data/kang_ifnb_muscat/kang_ifnb_muscat.rds")
x <- concordR:::.prepare_expression(d$counts, NULL, verbose = FALSE)
args <- eval(parse(text = paste0("list(", Sys.getenv("ARGS", ""), ")")))
pca <- concordR:::.neighbour_scores(concordR:::.pca_baseline(x), d$meta$cell_type, d$meta$batch)
for (seed in as.integer(strsplit(Sys.getenv("SEEDS", "0,1,2"), ",")[[1]])) {
  emb <- do.call(RunConcord, c(list(x, group.by = d$meta$batch, features = rownames(x), threads = 1,
                                    verbose = FALSE, seed = seed), args))
  s <- concordR:::.neighbour_scores(emb, d$meta$cell_type, d$meta$batch, threads = 1)
  cat(sprintf("%s guard=%s seed %d label_share %.4f pca %.4f mixing %.3f\n", Sys.getenv("ARGS"),
              Sys.getenv("LOCAL_GUARD", "0.1"), seed, s[["label_share"]], pca[["label_share"]], s[["batch_mixing"]]))
}
