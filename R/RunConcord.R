#' Run CONCORD: a batch-integrated, denoised embedding by contrastive learning
#'
#' Trains a CONCORD encoder on the cells' expression and returns their embedding. Each
#' mini-batch is drawn from one batch (dataset) at a time, so that the contrastive loss
#' cannot learn to tell batches apart, and optionally partly from one cell's kNN
#' neighbourhood (`p.intra.knn`), so that fine cell states are resolved. The defaults
#' reproduce the reference CONCORD (Python package concord-sc 1.0.13) with five measured
#' exceptions: `min.steps` gives small data enough training steps, `beta` is 0 (plain
#' NT-Xent) instead of the reference's 1 (see those arguments), `lr` is 1e-3 instead
#' of 1e-2, and batches are also aligned within clusters of the embedding
#' (`align.weight`) and within each cell's neighbourhood (`align.local.weight`). With
#' `lr = 1e-3, min.steps = 400` (against `lr = 0.01, min.steps = 1000`) the embedding
#' kept cell types better on both real multi-batch datasets (scIB-style Total on
#' kang_ctrl_5donors 0.789 -> 0.865, kang_ifnb_muscat 0.815 -> 0.829, mean of 3 seeds)
#' and on simulated clusters, and kept a simulated loop's hole (5 of 5 seeds, none
#' before) and the geometry of simulated trajectories, in less time on small data
#' (bench/README.md, "Learning rate and steps (fourth round)"); the alignment then took
#' kang_ctrl_5donors past Harmony too (see `align.weight`).
#' `lr = 0.01, min.steps = 0, beta = 1, align.weight = 0, align.local.weight = 0` gives
#' the reference's training.
#'
#' The input is log-normalized expression (Seurat's `data` slot, an SCE's `logcounts`);
#' raw counts are detected and log-normalized (counts / cell total * 10000, then
#' `log1p`) with a message. Training runs in the compiled engine (LibTorch on the CPU,
#' or CUDA where the linked LibTorch has it); a progress bar shows epochs and loss, and
#' Ctrl-C stops training and leaves the object as it was.
#'
#' @details
#' Departures from the reference besides `min.steps`, `beta` and `lr` (README.md, "Departures
#' from the reference"; measurements in bench/README.md):
#' \itemize{
#'   \item sampling within a batch draws a fresh permutation every epoch and Adam skips
#'     parameters without a gradient, both as the reference;
#'   \item a batch smaller than `batch.size` gives one mini-batch of all its cells (the
#'     reference: a draw with replacement, repeats dropped);
#'   \item kNN mode draws its core cells with replacement (the reference: without);
#'   \item kNN sampling searches exactly up to 20,000 cells, IVF-Flat above (the
#'     reference: always IVF);
#'   \item the decoder reconstructs the unmasked expression (the reference: the masked
#'     view) without an output activation (the reference: a final ReLU, which lost
#'     marker contrast here); its output is clamped at 0, so corrected values are never
#'     negative. It is decoded in blocks of cells, so memory peaks at the result plus
#'     one block.
#' }
#'
#' @param object A Seurat object, a SingleCellExperiment, a features x cells matrix
#'   or `dgCMatrix` (default method), a named list of such matrices of the same cells,
#'   one per modality (default method; e.g. `list(RNA = rna, ADT = adt)`, see
#'   `fusion`), or the path of an AnnData `.h5ad` file (`X`, or `layer`; CSR, CSC or
#'   dense) or a 10x Genomics `.h5` file (its gene expression features). The input is
#'   never copied in R: the engine scans it once (value checks, variable genes) and keeps
#'   its own float32 copy of the training features only (about 8 bytes per stored value).
#'   Files (`.h5ad` in any of its layouts, 10x `.h5`) and HDF5-backed assays are read a
#'   block of cells at a time (files: about `getOption("concordR.block.values", 2^23)`
#'   stored values, some 100 MB in R), so that they are never held in R whole. A CSC
#'   `.h5ad` (one column per gene) is first sorted by cell into temporary files in
#'   `tempdir()` (16 bytes per stored value, 12 for float32 values; removed once the
#'   input is built).
#' @param group.by Batch of each cell: a metadata column name (Seurat, SCE; an `obs`
#'   column of an `.h5ad` file), or a vector with one label per cell. `NULL` treats all cells as one dataset.
#' @param features Features (genes) to train on. Default: the object's variable features
#'   (Seurat), else the 2000 most variable genes, computed with a message.
#' @param hvg.by.batch How the most variable genes are chosen when `features` is
#'   not given (nor a Seurat object's variable features). `FALSE` (default): genes whose
#'   variance most exceeds that of genes of similar mean (a loess fit of log variance on
#'   log mean of the log-normalized values), over all cells pooled. `TRUE`: ranked within
#'   each batch of `group.by` and combined, as the reference CONCORD does with a batch key
#'   (scanpy's highly variable genes per batch): genes seen in fewer than 10 cells are
#'   left out, each batch keeps its 2000 genes by the same variance model, and genes are
#'   ordered by the number of batches that keep them, then by their median rank in those
#'   batches; a gene constant within every batch (one that only tells batches apart) is
#'   never chosen. Pooled is the default because it kept cell types better on
#'   kang_ctrl_5donors (Total 0.788 against 0.771, 6 seeds, lower with `TRUE` in every
#'   seed; a simulation with batch-specific genes scored alike either way;
#'   bench/README.md). Either way the engine's one
#'   scan of the input computes it (per-batch sums: batches x genes x 32 bytes), for files
#'   and distributed runs alike. Without `group.by` (one batch) both are the pooled
#'   ranking.
#' @param latent.dim Dimensions of the embedding.
#' @param encoder.dims Widths of the encoder's hidden layers (`integer(0)` for none).
#' @param epochs Training epochs.
#' @param batch.size Cells per mini-batch.
#' @param lr Learning rate of Adam.
#' @param weight.decay L2 penalty of Adam (added to every gradient, as PyTorch's
#'   `Adam(weight_decay)`). The reference has none (0); 1e-3 to 1 did not improve
#'   kang_ctrl_5donors and lowered the simulated tree's batch mixing (bench/README.md).
#' @param decay.rate Learning-rate multiplier per epoch (the reference multiplies by
#'   0.97 twice per epoch: 0.9409).
#' @param temperature Temperature of the NT-Xent loss.
#' @param beta Hard-negative weight of the loss: each negative is weighted by
#'   `exp(beta * similarity)` relative to the mean. 0 gives plain NT-Xent. The reference
#'   uses 1; with batches drawn from one dataset all negatives come from that dataset, and
#'   weighting up the closest ones pushes similar cells apart. On kang_ifnb_muscat and
#'   kang_ctrl_5donors, 0 kept cell types and mixed batches better (bench/README.md).
#' @param align.weight Weight of the alignment of batches within clusters (not in the
#'   reference, which is 0); `NULL`, the default, is 7, or 0 with `fusion = "clip"`
#'   (which trains no joint embedding to align). After the warm-up epochs, once per
#'   epoch, the embeddings of a random 20,000 cells (all, when fewer) are clustered
#'   (k-means, `align.clusters` clusters, soft memberships as in Harmony) and each cell
#'   is pulled from its batch's mean in its clusters towards the mean of the batches'
#'   means there, so that batch effects that differ between cell types are removed too.
#'   The means follow the training from mini-batch to mini-batch, so the pull stops
#'   where the batches meet, and a difference within sampling noise is not pulled. With
#'   one batch nothing is aligned. Against 0 (bench/README.md, ninth round; mean of 5
#'   seeds on real data, 3 on simulations): kang_ctrl_5donors 0.866 -> 0.889 Total
#'   (Harmony 0.878), kang_ifnb_muscat 0.829 -> 0.841 (Harmony 0.816), simulated
#'   clusters 0.750 -> 0.829, trajectory 0.723 -> 0.721, loop 0.703 -> 0.702, tree
#'   0.724 -> 0.722, all in one piece, trustworthiness level. At 10 kang_ifnb_muscat
#'   with all genes kept cell types worse than PCA (same-type share of 15 neighbours
#'   0.85 against 0.87); at 5 two of five kang_ctrl_5donors seeds split a CD4 T
#'   subpopulation off (0.857). It costs a pass over the sample each epoch and one
#'   without gradient over each mini-batch: 1.8x the time on kang_ctrl_5donors (8,684
#'   cells; 4.8 -> 8.5 s on 2 threads), about a third more per epoch at 300,000.
#' @param align.clusters Number of k-means clusters of that alignment.
#' @param align.local.weight Weight of the alignment of batches within each cell's
#'   neighbourhood, the finer partner of `align.weight` (not in the reference, which is
#'   0); `NULL`, the default, is 50, or 0 with `fusion = "clip"`. After the warm-up
#'   epochs each cell is pulled from the mean of its nearest cells of its own batch
#'   towards the mean of every batch's nearest cells around it (each batch's
#'   neighbourhood holds `align.local.share` of its cells among at most 4,000 cells of
#'   the sample of `align.weight`); a batch whose neighbours lie far from the cell counts
#'   less, a difference within sampling noise is not pulled, and the pull stops where
#'   the batches meet. For batch effects within populations smaller than the clusters of
#'   `align.weight`. Against 0 (bench/README.md, eleventh to thirteenth rounds; 5 seeds
#'   on real data, 3 on simulations, 5 on the loop): kang_ctrl_5donors 0.889 -> 0.909
#'   Total (Bio 0.923 -> 0.940; Harmony 0.878), kang_ifnb_muscat 0.841 -> 0.837
#'   (Harmony 0.816), simulated trajectory 0.721 -> 0.751, loop 0.702 -> 0.723 (hole kept
#'   in 5 of 5), clusters 0.829 -> 0.826, tree 0.722 -> 0.758 (0.741 over 6 seeds),
#'   trustworthiness level. Where batches differ in biology it mixes a little past the
#'   cell types: on kang_ifnb_muscat, whose samples are control and IFN-beta stimulated,
#'   the share of each cell's 15 nearest neighbours of its cell type falls from 0.865 to
#'   0.845 (PCA 0.868, Harmony 0.851), though Bio stays above every peer's (0.788;
#'   Harmony 0.758, Seurat CCA 0.787); 0 keeps neighbourhoods purer there. The tree's
#'   Betti numbers read it as in pieces in 3 of 6 seeds, though its widest gap is half
#'   that at 0 (they count a loop-free shape as connected only when a spurious loop
#'   outlives its last merge; twelfth round). Each step searches the sampled cells for
#'   its cells' neighbours: 1.4x the time on kang_ctrl_5donors (8.0 -> 11.5 s on 2
#'   threads), 1.4x per aligned epoch at 100,000 cells.
#' @param align.local.share Share of each batch's sampled cells in a neighbourhood of
#'   that alignment, in (0, 1]. A share rather than a count, so that batches of
#'   different sizes are compared over the same region; 50 neighbours in each batch
#'   pulled kang_ifnb_muscat's rarest cell types (15-20 cells in a sample) apart.
#' @param element.mask Probability that a non-zero value is zeroed in an augmented view, in
#'   \[0, 1).
#' @param feature.mask Probability, in \[0, 1), that a gene is dropped from a view (the same
#'   genes for a whole mini-batch).
#' @param p.intra.knn Share of a mini-batch drawn from the kNN neighbourhood of one core
#'   cell (0 turns kNN sampling off).
#' @param p.intra.domain Share of a mini-batch drawn from its own batch (1 gives
#'   batch-pure mini-batches).
#' @param knn.k Neighbourhood size for kNN sampling; `NULL` means `min(1000, cells / 10)`.
#' @param knn.metric Distance of the kNN graph: `"euclidean"` or `"cosine"`.
#' @param warmup.epochs Epochs trained before the kNN graph is built from the model's own
#'   embedding (kNN sampling only; it must be below `epochs` when `p.intra.knn > 0`).
#' @param min.steps Minimum number of optimizer steps over all epochs: with fewer
#'   mini-batches than that, each epoch draws more of them. Not in the reference, whose
#'   few dozen steps under-train data of a few thousand cells; data above about 7,000
#'   cells (with the default batch size and epochs) has more steps and is unaffected.
#'   0 gives the reference's schedule.
#' @param norm Normalization in each encoder block: `"layer"`, `"batch"` or `"none"`.
#' @param dropout Dropout probability in each encoder block.
#' @param seed Random seed; the same seed and `threads` give the same embedding.
#' @param threads CPU threads; `NULL` uses every CPU this process may use (its CPU
#'   affinity, capped by a cgroup CPU quota).
#' @param device `"auto"` (CUDA when available, else CPU), `"cpu"` or `"cuda"`.
#' @param class.by Optional cell labels for a classification head trained jointly with
#'   the embedding: a metadata column name (Seurat, SCE) or one label per cell; `NA`
#'   marks unlabelled cells, which still take part in contrastive training. Every cell
#'   then gets a predicted class and its probability (metadata columns `concord.class`
#'   and `concord.class.score` for objects; `attr(, "concord")$classes` for matrices).
#' @param class.weight Weight of the classifier's cross-entropy in the loss.
#' @param use.decoder Train a decoder that reconstructs each cell's expression from its
#'   embedding and a learned embedding of its batch; every cell is then decoded as if
#'   from `decode.batch`, giving batch-corrected expression of the features: a new assay
#'   `"corrected"` (Seurat), an altExp `"corrected"` (SingleCellExperiment), or
#'   `attr(, "concord")$corrected` (matrix).
#' @param decoder.dims Widths of the decoder's hidden layers.
#' @param decoder.weight Weight of the decoder's mean squared error in the loss.
#' @param decode.batch The batch every cell is decoded as (default: the first level).
#' @param fusion How several modalities (a list of matrices, several Seurat
#'   assays in `assay`, SCE `altexps`) make one embedding. Each modality has its own
#'   encoder (`encoder.dims`, `latent.dim` each) and its own input: the first modality
#'   (RNA) is prepared as a single-modality input is (log-normalized if it holds counts;
#'   `features` or its most variable genes), the others are used as given (e.g.
#'   CLR-normalized proteins; negative values are allowed). `"sum"` (default; Concerto's
#'   choice) trains CONCORD's loss on the sum of the modalities' embeddings (`latent.dim`
#'   columns), `"concat"` on their concatenation (`modalities x latent.dim` columns), and
#'   `"clip"` trains the encoders with CLIP's symmetric contrastive loss between the
#'   modalities of each cell (at `temperature`, on the masked view) and concatenates
#'   them, as the SSL benchmark does. On scdcc_cite_cbmc (4 seeds, bench/README.md) sum
#'   scored best against the labels (NMI 0.809, ARI 0.721; RNA alone 0.787, 0.635;
#'   concat 0.780, 0.641; clip 0.762, 0.697), and clip's RNA encoder predicted proteins
#'   of RNA-only cells best ([PredictModality()]). Each modality's own embedding is kept
#'   in `misc$modality.embeddings` (Seurat; `metadata(x)$concord[[reduction.name]]` for
#'   SCE, `attr(, "concord")` for matrices). Multimodal training does not take
#'   `class.by` or `use.decoder` yet. RunSSL() and RunConcerto() train several
#'   modalities too (see their `fusion`).
#' @param verbose Show messages and a progress bar.
#' @param reduction.key Prefix of the embedding's column names.
#' @param distributed Data-parallel training across processes (ranks), on this machine or
#'   several: `list(rank, world.size, address, port, timeout)`, the same on every rank but
#'   for `rank` (0 to `world.size - 1`). `address` and `port` are where rank 0 listens
#'   (default `"127.0.0.1"`, 29500); `timeout` (seconds, default 120) bounds how long a
#'   rank waits for the others, at the start and at every step. `NULL` (default) reads
#'   the environment variables `RANK`, `WORLD_SIZE`, `MASTER_ADDR` and `MASTER_PORT` as
#'   PyTorch's torchrun sets them, and trains in one process when `WORLD_SIZE` is unset;
#'   a list without `rank` and `world.size` (e.g. `list(timeout = 600)`) takes them, the
#'   address and the port from those variables; `FALSE` always trains in one process. Each rank keeps every `world.size`-th cell in memory and trains on
#'   them (its own mini-batches, one batch per mini-batch as usual) and the gradients are
#'   averaged over ranks at every step, so `batch.size` is per rank. Every rank must run
#'   the same call on the same input. Rank 0 returns the result for all cells; the other
#'   ranks return the embedding matrix of their own cells only, with the
#'   same model, whatever the input, and write nothing into the object or file. A rank
#'   that fails or stops makes the others stop with an error. See the README's section
#'   on large data and the launcher `inst/scripts/concord-distributed`.
#' @param ... Arguments passed to the default method; unknown names are an error.
#'
#' @return For a Seurat object, the object with a DimReduc (named by `reduction.name`,
#'   default `"concord"`) whose `misc` holds the trained model (see
#'   [GetConcordModel()]), the parameters, the loss of each epoch, the features and the
#'   run time. For a SingleCellExperiment, the object with
#'   `reducedDim(x, reduction.name)` (default `"CONCORD"`) and the same information in
#'   `metadata(x)$concord[[reduction.name]]`. For a matrix, the cells x `latent.dim`
#'   embedding, with that information in `attr(, "concord")`; for a file, the same
#'   matrix (and, with `write.to`, the file written with it).
#' @export
#' @examples
#' data <- readRDS(system.file("extdata", "kang_ifnb.rds", package = "concordR"))
#' emb <- RunConcord(data$counts, group.by = data$meta$batch, epochs = 2,
#'                   min.steps = 0, latent.dim = 16, threads = 1, verbose = FALSE)
#' dim(emb)
#'
#' # RNA and surface proteins (CITE-seq) of the same cells, one encoder each
#' cite <- readRDS(system.file("extdata", "cbmc_cite.rds", package = "concordR"))
#' joint <- RunConcord(list(RNA = cite$counts, ADT = cite$adt), fusion = "concat",
#'                     epochs = 2, min.steps = 0, latent.dim = 8, encoder.dims = 64,
#'                     threads = 1, verbose = FALSE)
#' dim(joint)                                      # 16 = 2 modalities x 8
#' names(attr(joint, "concord")$modality.embeddings)
RunConcord <- function(object, ...) UseMethod("RunConcord")

#' @rdname RunConcord
#' @export
RunConcord.default <- function(object, group.by = NULL, features = NULL, hvg.by.batch = FALSE,
                               latent.dim = 100,
                               encoder.dims = 1000, epochs = 15, batch.size = 256, lr = 0.001,
                               weight.decay = 0, decay.rate = 0.9409, temperature = 0.4, beta = 0,
                               align.weight = NULL, align.clusters = 20, align.local.weight = NULL,
                               align.local.share = 0.03,
                               element.mask = 0.4, feature.mask = 0.3, p.intra.knn = 0,
                               p.intra.domain = 1, knn.k = NULL, knn.metric = "euclidean",
                               warmup.epochs = 2, min.steps = 400,
                               norm = c("layer", "batch", "none"), dropout = 0, seed = 0,
                               threads = NULL, device = c("auto", "cpu", "cuda"),
                               class.by = NULL, class.weight = 1, use.decoder = FALSE,
                               decoder.dims = 1000, decoder.weight = 1, decode.batch = NULL,
                               fusion = c("sum", "concat", "clip"),
                               verbose = TRUE, reduction.key = "CONCORD_", distributed = NULL, ...) {
  .check_dots(...)
  fusion <- .match_choice(fusion, .fusions, "fusion")
  .check_flag(verbose, "verbose")
  .check_string(reduction.key, "reduction.key")
  .check_flag(hvg.by.batch, "hvg.by.batch")
  multimodal <- .is_modality_list(object)
  clip <- multimodal && fusion == "clip"
  if (is.null(align.weight)) align.weight <- if (clip) 0 else 7
  if (is.null(align.local.weight)) align.local.weight <- if (clip) 0 else 50
  params <- .concord_params(
    latent.dim = latent.dim, encoder.dims = encoder.dims, epochs = epochs,
    batch.size = batch.size, lr = lr, weight.decay = weight.decay, decay.rate = decay.rate,
    temperature = temperature, beta = beta, align.weight = align.weight,
    align.clusters = align.clusters, align.local.weight = align.local.weight,
    align.local.share = align.local.share, element.mask = element.mask,
    feature.mask = feature.mask, p.intra.knn = p.intra.knn, p.intra.domain = p.intra.domain,
    knn.k = knn.k, knn.metric = knn.metric, warmup.epochs = warmup.epochs, min.steps = min.steps,
    norm = norm, dropout = dropout, seed = seed, threads = threads, device = device,
    class.weight = class.weight, use.decoder = use.decoder, decoder.dims = decoder.dims,
    decoder.weight = decoder.weight
  )
  object <- .verb_input(object)
  n.cells <- .input_cells(object)
  batch <- .batch_labels(group.by, meta = NULL, n.cells = n.cells)
  classes <- .class_labels(class.by, meta = NULL, n.cells = n.cells)
  if (!is.null(classes)) params$n_classes <- nlevels(classes)
  params$n_domains <- nlevels(batch)
  dist <- .resolve_distributed(distributed)
  if (clip) {
    weights <- c(align.weight = align.weight, align.local.weight = align.local.weight)
    for (arg in names(weights)[weights > 0]) {
      .stop("'", arg, "' aligns the joint embedding, which fusion = \"clip\" does not train; ",
            "set ", arg, " = 0 or use fusion = \"sum\" or \"concat\".")
    }
  }
  if (multimodal) {
    if (!is.null(dist)) .stop("distributed training takes one modality; train several modalities in one process (distributed = FALSE).")
    return(.train_multimodal(object, batch, features, params, fusion, verbose, reduction.key,
                             feature.batch = .feature_batch(hvg.by.batch, batch)))
  }
  decode.as <- .decode_batch(decode.batch, batch, use.decoder)
  emb <- .train_embedding(object, batch, features, params, verbose, reduction.key, classes = classes,
                          distributed = dist, feature.batch = .feature_batch(hvg.by.batch, batch))
  info <- attr(emb, "concord")
  info$classes <- .class_predictions(emb, info$model)
  info$corrected <- if (use.decoder) .decode_expression(emb, info$model, decode.as, params$threads)
  info$decode.batch <- decode.as
  attr(emb, "concord") <- info
  emb
}

#' @rdname RunConcord
#' @param assay Assay to read: for Seurat the assay name (default: the default assay),
#'   or several assays to train on jointly, one modality each (e.g. `c("RNA", "ADT")`:
#'   the first is the RNA, all are read from `slot`, and the DimReduc is stored with the
#'   first; see `fusion`); for SingleCellExperiment the assay name (default:
#'   `"logcounts"` if present, else `"counts"`).
#' @param slot Seurat slot to read: `"data"` (log-normalized, default) or `"counts"`.
#' @param reduction.name Name under which the embedding is stored.
#' @export
RunConcord.Seurat <- function(object, group.by = NULL, features = NULL, assay = NULL,
                              slot = "data", reduction.name = "concord",
                              reduction.key = "CONCORD_", class.by = NULL, verbose = TRUE, ...) {
  assays <- .seurat_assays(object, assay)
  assay <- assays$assay
  object <- .run_seurat(object, RunConcord.default, group.by = group.by, features = features,
                        assay = assay, slot = slot, reduction.name = reduction.name,
                        reduction.key = reduction.key, class.by = class.by, verbose = verbose,
                        modalities = assays$modalities, ...)
  if (.other_rank(object)) return(invisible(object))
  SeuratObject::LogSeuratCommand(object)
}

#' @rdname RunConcord
#' @param altexps SingleCellExperiment only: altExps to train on jointly with the main
#'   assay (`assay`), one modality each, e.g. `"ADT"`; each altExp's `"logcounts"` if it
#'   has one, else its first assay, as given. The main assay's modality is named by
#'   `mainExpName()`, else `"RNA"`. See `fusion`.
#' @export
RunConcord.SingleCellExperiment <- function(object, group.by = NULL, features = NULL,
                                            assay = NULL, reduction.name = "CONCORD",
                                            reduction.key = "CONCORD_", class.by = NULL,
                                            altexps = NULL, verbose = TRUE, ...) {
  .check_modality_names(altexps, "altexps")
  .run_sce(object, RunConcord.default, group.by = group.by, features = features, assay = assay,
           reduction.name = reduction.name, reduction.key = reduction.key, class.by = class.by,
           verbose = verbose, altexps = altexps, ...)
}

#' @rdname RunConcord
#' @param layer For an .h5ad file: the layer to read instead of `X` (e.g. `"counts"`).
#' @param write.to For an .h5ad file: where to write the file again with the embedding
#'   added as `obsm[obsm.key]`. A new path gets a copy; the input's own path adds the
#'   key to it by replacing the file in one rename, never by writing into it. `NULL`
#'   (default) writes nothing.
#' @param obsm.key Name of the embedding in the written file's `obsm`.
#' @export
RunConcord.character <- function(object, group.by = NULL, class.by = NULL, layer = NULL,
                                 write.to = NULL, obsm.key = "X_concord", ...) {
  # A character matrix is not a path: the default method names what is wrong with it.
  if (!is.null(dim(object))) return(RunConcord.default(object, group.by = group.by, class.by = class.by, ...))
  .run_file(object, RunConcord.default, group.by = group.by, class.by = class.by, layer = layer,
            write.to = write.to, obsm.key = obsm.key, ...)
}
