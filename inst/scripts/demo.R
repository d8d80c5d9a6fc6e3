# concordR demo: integrate the bundled Kang IFN-beta PBMCs (4 samples: 2 control,
# 2 stimulated) with RunConcord, compare with PCA, and write UMAP plots and a score
# table. Usage: Rscript demo.R [output-dir]
suppressPackageStartupMessages({
  library(concordR)
  library(Seurat)
  library(ggplot2)
})
out <- commandArgs(TRUE)[1]
if (is.na(out)) out <- "demo-output"
dir.create(out, showWarnings = FALSE, recursive = TRUE)

data <- readRDS(system.file("extdata", "kang_ifnb.rds", package = "concordR"))
cat("Data:", data$info$source, "\n")
seu <- CreateSeuratObject(data$counts, meta.data = data$meta)
seu <- NormalizeData(seu, verbose = FALSE)
seu <- FindVariableFeatures(seu, nfeatures = 1000, verbose = FALSE)

started <- proc.time()[["elapsed"]]
seu <- RunConcord(seu, group.by = "batch")
cat(sprintf("RunConcord: %.1f s for %d cells x %d features\n",
            proc.time()[["elapsed"]] - started, ncol(seu), length(VariableFeatures(seu))))

# The baseline: Seurat's standard PCA of the same features.
seu <- ScaleData(seu, verbose = FALSE)
seu <- RunPCA(seu, npcs = 50, verbose = FALSE)
seu <- RunUMAP(seu, reduction = "pca", dims = 1:50, reduction.name = "umap_pca",
               reduction.key = "umappca_", umap.method = "uwot", verbose = FALSE)
seu <- RunUMAP(seu, reduction = "concord", dims = 1:100, reduction.name = "umap_concord",
               reduction.key = "umapconcord_", umap.method = "uwot", verbose = FALSE)

scores <- rbind(
  PCA = concordR:::.neighbour_scores(Embeddings(seu, "pca"), seu$cell_type, seu$batch),
  CONCORD = concordR:::.neighbour_scores(Embeddings(seu, "concord"), seu$cell_type, seu$batch)
)
scores <- data.frame(method = rownames(scores), round(scores, 3), row.names = NULL)
cat("\nAmong each cell's 15 nearest neighbours: share with the same cell type, share from\n",
    "another sample, and that share relative to perfect mixing:\n", sep = "")
print(scores, row.names = FALSE)
utils::write.table(scores, file.path(out, "scores.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)

# The scIB metrics of the evaluation pipeline (biological conservation and batch
# correction, aggregated as Total = 0.6 Bio + 0.4 Batch).
scib <- rbind(
  PCA = EvaluateEmbedding(seu, reduction = "pca", batch = "batch", label = "cell_type",
                          families = c("bio", "batch"), threads = 2),
  CONCORD = EvaluateEmbedding(seu, reduction = "concord", batch = "batch", label = "cell_type",
                              families = c("bio", "batch"), threads = 2)
)
scib <- data.frame(method = c("PCA", "CONCORD"), round(scib, 3), row.names = NULL)
cat("\nscIB metrics (EvaluateEmbedding):\n")
print(scib, row.names = FALSE)
utils::write.table(scib, file.path(out, "scib_scores.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)

panel <- function(reduction, method) {
  e <- Embeddings(seu, reduction)
  rbind(data.frame(x = e[, 1], y = e[, 2], method = method, colour.by = "sample", value = seu$batch),
        data.frame(x = e[, 1], y = e[, 2], method = method, colour.by = "cell type", value = seu$cell_type))
}
df <- rbind(panel("umap_pca", "PCA"), panel("umap_concord", "CONCORD"))
df$method <- factor(df$method, c("PCA", "CONCORD"))
plots <- lapply(c("sample", "cell type"), function(by) {
  ggplot(df[df$colour.by == by, ], aes(x, y, colour = value)) +
    geom_point(size = 0.4) + facet_wrap(~method, scales = "free") +
    labs(x = "UMAP 1", y = "UMAP 2", colour = by) + theme_bw() +
    guides(colour = guide_legend(override.aes = list(size = 3)))
})
for (i in seq_along(plots)) {
  file <- file.path(out, paste0("umap_by_", gsub(" ", "_", c("sample", "cell type")[i]), ".png"))
  ggsave(file, plots[[i]], width = 9, height = 4, dpi = 110)
  cat("Wrote", file, "\n")
}
cat("Wrote", file.path(out, "scores.tsv"), "and", file.path(out, "scib_scores.tsv"), "\n")
