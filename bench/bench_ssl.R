# The SSL benchmark's methods (RunSSL) on the shared multi-batch datasets, beside
# RunConcord and PCA: integration scores, query-to-reference mapping and training speed.
#
# Input as the peers had it (bench_quality.R, ../shared/data/README.md): zero-count genes
# dropped, Seurat LogNormalize (1e4), vst 2,000 variable genes passed as `features`.
#
#   R_LIBS=<lib> Rscript bench/bench_ssl.R [key=value ...]
#     datasets=kang_ifnb_muscat,kang_ctrl_5donors   methods=simclr,vicreg (or "none")
#     settings="default|concord:sampler='concord'|wide:encoder.dims=512;lr=1e-3"
#       a setting is a name, optionally ":" and RunSSL arguments "arg=value;..." (values
#       parsed as R); settings are separated by "|"
#     mode=score        EvaluateEmbedding(families = c("bio", "batch")) on all cells
#     mode=query        train on every batch but `holdout` (default: the last), embed the
#                       held-out batch with ProjectConcord, TransferLabels (k = 5) from
#                       the reference: accuracy and macro-F1 over the query's cell types
#     mode=speed        training speed only, with the seconds of each training phase
#     baselines=TRUE    also RunConcord (defaults) and PCA (score: the peers' PCA; query:
#                       PCA of the scaled reference, the query projected on it)
#     threads=1 seed=0 out=bench/output/bench_ssl.tsv (rows appended)
# Speed is cells per second of training: optimizer steps x batch size / training seconds
# (sampling, views, forward, backward, optimizer), and per CPU second of the whole call
# (user + system time of this process, which a loaded machine does not inflate).
suppressPackageStartupMessages(library(concordR))
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))), "common.R"))

opt <- bench_options(list(datasets = "kang_ifnb_muscat,kang_ctrl_5donors", methods = "simclr,vicreg",
            settings = "default", mode = "score", baselines = "FALSE", threads = "1", seed = "0",
            holdout = "", out = "bench/output/bench_ssl.tsv", data.dir = "../shared/data"))
threads <- as.integer(opt$threads)
seed <- as.integer(opt$seed)
methods <- setdiff(split_list(opt$methods), "none")

settings <- lapply(split_list(opt$settings, "|"), parse_setting)


train_seconds <- function(info) sum(info$phase.seconds[c("sample", "augment", "forward", "backward", "optimizer")])

# Trains `what` ("concord" or a RunSSL method) on cells `keep`; the embedding with its
# training speed.
train <- function(d, keep, what, args) {
  x <- d$x[, keep]
  common <- list(x, group.by = d$batch[keep], features = d$features, threads = threads,
                 seed = seed, verbose = FALSE)
  start <- proc.time()
  emb <- if (what == "concord") do.call(RunConcord, common)
         else do.call(RunSSL, c(common, list(method = what), args))
  cpu <- sum((proc.time() - start)[c("user.self", "sys.self")])
  info <- attr(emb, "concord")
  s <- train_seconds(info)
  list(emb = emb, steps = as.integer(info$steps), seconds = s, phases = info$phase.seconds,
       cells.per.s = info$steps * info$params$batch_size / s,
       cells.per.cpu.s = info$steps * info$params$batch_size / cpu)
}

macro_f1 <- function(truth, pred) {
  f1 <- vapply(unique(truth), function(k) {
    tp <- sum(pred == k & truth == k)
    if (tp == 0) return(0)
    precision <- tp / sum(pred == k)
    recall <- tp / sum(truth == k)
    2 * precision * recall / (precision + recall)
  }, numeric(1))
  mean(f1)
}

transfer <- function(ref.emb, query.emb, d, ref, query) {
  pred <- as.character(TransferLabels(unclass(query.emb)[, , drop = FALSE], unclass(ref.emb)[, , drop = FALSE],
                                      d$label[ref], k = 5, threads = threads)$label)
  truth <- d$label[query]
  c(accuracy = mean(pred == truth), macro_f1 = macro_f1(truth, pred))
}

pca_query <- function(d, ref, query) {
  xr <- as.matrix(Matrix::t(d$x[d$features, ref]))
  mu <- colMeans(xr)
  sdv <- apply(xr, 2, stats::sd)
  sdv[sdv == 0] <- 1
  p <- stats::prcomp(scale(xr, mu, sdv), center = FALSE, rank. = 50)
  xq <- scale(as.matrix(Matrix::t(d$x[d$features, query])), mu, sdv)
  list(ref = p$x, query = xq %*% p$rotation)
}

score <- function(emb, d) {
  s <- EvaluateEmbedding(unclass(emb)[, , drop = FALSE], batch = d$batch, label = d$label,
                         families = c("bio", "batch"), threads = threads)
  c(Bio = s$Bio, Batch = s$Batch, Total = s$Total)
}

dir.create(dirname(opt$out), showWarnings = FALSE, recursive = TRUE)
emit <- function(row) {
  row <- c(list(date = format(Sys.time(), "%Y-%m-%d %H:%M"), load = round(unname(
    as.numeric(strsplit(readLines("/proc/loadavg"), " ")[[1]][1])), 1)), row)
  cat(paste(names(row), unlist(lapply(row, function(v) if (is.numeric(v)) format(round(v, 3)) else v)),
            sep = "=", collapse = "\t"), "\n")
  utils::write.table(as.data.frame(row), opt$out, sep = "\t", row.names = FALSE, quote = FALSE,
                     append = file.exists(opt$out), col.names = !file.exists(opt$out))
}

for (name in split_list(opt$datasets)) {
  d <- load_real(name, opt$data.dir)
  runs <- list()
  if (as.logical(opt$baselines)) runs$concord <- list(what = "concord", setting = list(name = "default", args = list()))
  for (m in methods) for (s in settings) runs[[length(runs) + 1]] <- list(what = m, setting = s)
  base <- list(dataset = name, mode = opt$mode, seed = seed)

  if (opt$mode == "score") {
    if (as.logical(opt$baselines)) {
      pca <- utils::read.delim(file.path(d$peers.dir, "pca.tsv.gz"), row.names = 1)
      pca <- as.matrix(pca[colnames(d$x), ])
      emit(c(base, list(method = "pca", setting = "peers", steps = NA, train_s = NA, cells_per_s = NA),
             as.list(score(pca, d)), list(cells_per_cpu_s = NA)))
    }
    for (r in runs) {
      fit <- train(d, rep(TRUE, ncol(d$x)), r$what, r$setting$args)
      emit(c(base, list(method = r$what, setting = r$setting$name, steps = fit$steps,
                        train_s = fit$seconds, cells_per_s = fit$cells.per.s), as.list(score(fit$emb, d)),
             list(cells_per_cpu_s = fit$cells.per.cpu.s)))
    }
  } else if (opt$mode == "query") {
    holdout <- if (nzchar(opt$holdout)) opt$holdout else utils::tail(sort(unique(d$batch)), 1)
    query <- d$batch == holdout
    ref <- !query
    base$holdout <- holdout
    if (as.logical(opt$baselines)) {
      p <- pca_query(d, ref, query)
      emit(c(base, list(method = "pca", setting = "scaled reference", steps = NA, train_s = NA,
                        cells_per_s = NA), as.list(transfer(p$ref, p$query, d, ref, query)),
             list(cells_per_cpu_s = NA)))
    }
    for (r in runs) {
      fit <- train(d, ref, r$what, r$setting$args)
      q <- ProjectConcord(d$x[, query], fit$emb, threads = threads, verbose = FALSE)
      emit(c(base, list(method = r$what, setting = r$setting$name, steps = fit$steps,
                        train_s = fit$seconds, cells_per_s = fit$cells.per.s),
             as.list(transfer(fit$emb, q, d, ref, query)), list(cells_per_cpu_s = fit$cells.per.cpu.s)))
    }
  } else if (opt$mode == "speed") {
    for (r in runs) {
      fit <- train(d, rep(TRUE, ncol(d$x)), r$what, r$setting$args)
      ph <- fit$phases[c("augment", "forward", "backward", "optimizer")]
      emit(c(base, list(method = r$what, setting = r$setting$name, steps = fit$steps,
                        train_s = fit$seconds, cells_per_s = fit$cells.per.s),
             stats::setNames(as.list(ph), paste0(names(ph), "_s")),
             list(cells_per_cpu_s = fit$cells.per.cpu.s)))
    }
  } else {
    stop("unknown mode '", opt$mode, "'")
  }
}
cat("machine:", system("lscpu | grep 'Model name' | sed 's/.*: *//'", intern = TRUE), "|",
    parallel::detectCores(), "cores | threads", threads, "\n")
