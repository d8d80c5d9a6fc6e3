# Makes inst/extdata/cbmc_cite.rds, the subset of scdcc_cite_cbmc shipped for examples
# and the vignette. Run from the repository root, next to ../shared/data:
#   Rscript inst/scripts/make_cbmc_cite.R
suppressMessages(library(Matrix))
d <- readRDS("../shared/data/scdcc_cite_cbmc/scdcc_cite_cbmc.rds")
set.seed(42)
cells <- sort(sample(ncol(d$counts), 1500))
x <- concordR:::.log_normalize(d$counts[, cells])
genes <- concordR:::.variable_genes(x, 1000)
counts <- d$counts[genes, cells]
counts@x <- as.numeric(as.integer(counts@x))
# Seurat turns underscores in feature names into dashes; name them so from the start.
dimnames(counts) <- list(sub("_", "-", genes), rownames(d$meta)[cells])
adt <- t(as.matrix(d$meta[cells, paste0("ADT_", 0:9)]))
storage.mode(adt) <- "double"
adt <- round(adt, 4)
rownames(adt) <- sub("_", "-", rownames(adt))
meta <- data.frame(cell_type = factor(d$meta$cell_type[cells]), row.names = colnames(counts))
colnames(adt) <- colnames(counts)
out <- list(counts = counts, adt = adt, meta = meta,
            info = list(source = d$info$source,
                        notes = "1,500 random cells (seed 42) of scdcc_cite_cbmc, its 1,000 most variable genes (raw counts; genes unnamed in the source, gene-<j> here), 10 normalized surface proteins ADT-0..ADT-9 (ADT_0..ADT_9 in the source), 15 cell-type codes"))
saveRDS(out, "inst/extdata/cbmc_cite.rds", compress = "xz")
