# Peak memory of decoding batch-corrected expression (RunConcord(use.decoder = TRUE)):
# 20,000 simulated cells x 2000 genes, decoded with a model trained on 1000 of them.
#
#   Rscript bench/bench_decoder_memory.R
#
# The decoder's weights are what they are after one short epoch; only the memory of the
# decoding pass matters here. The peak (VmHWM in /proc/self/status, Linux only) is reset
# just before the pass (writing 5 to /proc/self/clear_refs), and reported above the
# resident memory at that moment, next to the size of the result (8 bytes a value).

status_kb <- function(field) {
  line <- grep(paste0("^", field, ":"), readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", line))
}

suppressPackageStartupMessages(library(concordR))
n.cells <- 20000L
n.genes <- 2000L
sim <- SimulateCells("clusters", n.cells = n.cells, n.genes = n.genes, n.states = 10,
                     n.batches = 2, batch.effect = "depth", seed = 1)
x <- SummarizedExperiment::assay(sim, "counts")
batch <- SummarizedExperiment::colData(sim)$batch
train <- seq(1L, n.cells, length.out = 1000L)
emb <- RunConcord(x[, train], group.by = batch[train], features = rownames(x), epochs = 1,
                  min.steps = 0, latent.dim = 32, encoder.dims = 256, use.decoder = TRUE,
                  decoder.dims = 256, threads = 2, verbose = FALSE)
model <- GetConcordModel(emb)
all <- ProjectConcord(x, model, threads = 2, verbose = FALSE)
attr(all, "concord") <- NULL
invisible(gc())

base <- status_kb("VmRSS")
writeLines("5", "/proc/self/clear_refs")
time <- system.time(corrected <- concordR:::.decode_expression(all, model, model$batches[1], 2L))
peak <- status_kb("VmHWM") - base
result <- 8 * n.cells * n.genes / 1024
cat(sprintf("%d cells x %d genes: decoded in %.1f s; peak above baseline %.0f MB, result %.0f MB (%.1f bytes per value)\n",
            n.cells, n.genes, time[["elapsed"]], peak / 1024, result / 1024,
            peak * 1024 / (n.cells * n.genes)))
