#' Run Concerto: cell embeddings by teacher-student self-distillation with gene attention
#'
#' Trains Concerto (Yang et al. 2022) on the cells' expression and returns the teacher's
#' embedding. Two networks see the same cell: the teacher embeds each expressed gene
#' (a learned `gene.dim`-dimensional vector scaled by the gene's value), pools the
#' cell's expressed genes by attention (a tanh layer scored against a learned context
#' vector, softmax over the cell's non-zero genes), then applies batch norm, dropout and
#' a Dense layer with ReLU; the student reads the values through a Dense layer with
#' ReLU, batch norm, dropout and a Dense layer with ReLU. NT-Xent (temperature 0.1)
#' pulls the teacher's and the student's outputs of a cell together and pushes other
#' cells apart: the two dropout masks are the only augmentation, the input is never
#' changed. The teacher works on each cell's non-zero genes only, so it scales to all
#' genes (`features = "all"`) without densifying the data.
#'
#' With `group.by`, batch norms compute their statistics per batch (source) within each
#' mini-batch: the paper's source-aware training for data integration. In evaluation
#' (the returned embedding, [ProjectConcord()]) they use running statistics averaged
#' over the sources, as a query cell's source is unknown.
#'
#' Defaults follow the paper: 128 units in every Dense layer, gene embeddings of 128,
#' dropout 0.2, mini-batches of 32, Adam, temperature 0.1. Departures, measured in
#' bench/README.md:
#' \itemize{
#'   \item the student has no batch norm of its input values (normalizing every gene of
#'     every cell would densify the input; a per-gene affine map before a Linear layer is
#'     one the Linear layer can learn): its first Dense layer reads the sparse values;
#'   \item mini-batches come from one batch of `group.by` at a time (CONCORD's sampler),
#'     where the paper shuffles all cells: it mixes batches better (EvaluateEmbedding
#'     Total 0.771 against 0.740 on kang_ifnb_muscat, 0.836 against 0.811 on
#'     kang_ctrl_5donors, in a version that normalized training cells with their own
#'     source's statistics; the defaults score 0.736 and 0.856);
#'   \item learning rate 1e-4 (the paper: "1e-4 to 1e-6") for at least `min.steps` steps
#'     (the paper: 3 epochs, only 144 steps on 1,556 cells).
#' }
#'
#' Input handling is RunConcord's (log-normalized expression or raw counts, which are
#' detected and log-normalized; variable features by default; progress bar; Ctrl-C
#' leaves the object unchanged). The model is a `ConcordModel`, so
#' [GetConcordModel()], [SaveConcordModel()], [ProjectConcord()] (which embeds query
#' cells with the teacher, optionally after unsupervised fine-tuning from the
#' reference weights) and [TransferLabels()] work as for CONCORD. Every cell must
#' express at least one of the features.
#'
#' @section Supervised fine-tuning for annotation:
#' With `class.by`, Concerto is pre-trained as above on all cells (labels unused), then
#' fine-tuned on the labelled cells, as the paper's automatic cell-type identification:
#' a classification layer (Dense, softmax) is added on the teacher's output, and the
#' teacher and that layer are trained together by cross-entropy with Adam (learning
#' rate `class.lr`, 1e-3 as the paper) for `class.epochs` passes over the labelled
#' cells (the paper: 1). The teacher is fine-tuned, not frozen, as in the reference
#' code, whose classifier trains the teacher's variables with it. Pre-training does not
#' depend on the labels: with the same seed it gives exactly the embedding of a run
#' without `class.by`.
#'
#' Cells with `NA` labels are the query, to be annotated. With `class.consistency`
#' above 0 they take part in fine-tuning through the paper's domain-adaptation module
#' (its eq. 13): the classifier's prediction from the student's dropout-augmented
#' embedding of a query cell is trained towards its prediction from the teacher's
#' embedding, held fixed, with weight `class.consistency` (the paper's lambda, 1). The
#' reference code computes this loss but leaves it out of the objective. Fine-tuning then
#' passes over all cells, each mini-batch adding the cross-entropy of its labelled cells
#' and the consistency loss of its unlabelled ones. With `class.consistency = 0`, cells
#' with `NA` labels take part in pre-training only.
#'
#' The returned embedding and the model are then the fine-tuned teacher's, and every
#' cell gets a predicted class and its confidence, the highest softmax probability.
#' Cells whose confidence is below `min.confidence` are `"unassigned"`: the paper's
#' none-of-the-above rejection, for cells of a type absent from the labels.
#' [ProjectConcord()] embeds query cells with the fine-tuned teacher and classifies them
#' with the same head and threshold (or one given to it). On kang_ctrl_5donors
#' (bench/README.md), the fine-tuned classifier (default settings) annotated each donor
#' held out of the labels more accurately than [TransferLabels()] from the other donors'
#' cells on the pre-trained embedding: 0.992-0.999 of the cells against 0.978-0.993
#' (0.987-0.997 without the consistency loss). Across the IFN-beta stimulation of
#' kang_ifnb_muscat (control cells labelled), the consistency loss raised the accuracy
#' on the stimulated cells from 0.892 to 0.899 (three seeds; 0.868 to 0.901 with five
#' epochs).
#'
#' @param group.by Batch (source) of each cell: a metadata column name, or one label per
#'   cell. Turns on source-aware batch normalization; `NULL` treats all cells as one
#'   source.
#' @param features Features to train on: `"all"` for every gene of the input, a
#'   character vector of names, or `NULL` for the variable features (see
#'   [RunConcord()]).
#' @param latent.dim Units of every Dense layer: the embedding's dimensions.
#' @param gene.dim Dimensions of each gene's embedding in the teacher.
#' @param dropout Dropout rate before the last Dense layer of teacher and student.
#' @param sampler How mini-batches are drawn: `"concord"` (each mini-batch from one
#'   batch of `group.by`, CONCORD's sampler; without `group.by` the same as uniform) or
#'   `"uniform"` (shuffled cells, as the paper).
#' @param epochs Training epochs.
#' @param batch.size Cells per mini-batch.
#' @param lr Learning rate of Adam.
#' @param decay.rate Learning-rate multiplier per epoch.
#' @param temperature Temperature of the NT-Xent loss.
#' @param min.steps Minimum number of optimizer steps: with fewer mini-batches than that,
#'   each epoch draws more of them. 0 trains exactly `epochs` passes over the cells.
#' @param class.by Cell labels for supervised fine-tuning (see the section below): a
#'   metadata column name (Seurat, SCE) or one label per cell; `NA` marks unlabelled
#'   cells. At least two classes; with `class.consistency = 0`, at least 4 labelled
#'   cells in each batch of `group.by` that has labelled cells (fine-tuning then draws
#'   its mini-batches from the labelled cells of one batch at a time, like
#'   pre-training). `NULL`: no fine-tuning.
#' @param class.epochs Passes over the labelled cells (over all cells with the
#'   consistency loss) in fine-tuning. The paper's 1 is
#'   the default: 5 (the reference code's) annotated as accurately on kang_ctrl_5donors
#'   but made the classifier confident on cell types absent from the labels too, so that
#'   far fewer of them were rejected (bench/README.md).
#' @param class.lr Learning rate of Adam in fine-tuning.
#' @param class.consistency Weight of the domain-adaptation consistency loss on the
#'   cells with `NA` labels in fine-tuning (see the section below); 0 fine-tunes on the
#'   labelled cells alone.
#' @param min.confidence Cells whose highest class probability is below this are
#'   `"unassigned"` (stored with the model; [ProjectConcord()] applies it to query
#'   cells); 0 assigns every cell. The default, 0.99, is the lowest of 0.5, 0.7, 0.8,
#'   0.9, 0.95 and 0.99 at which, on kang_ctrl_5donors with each cell type in turn left
#'   out of the labels, most cells of the left-out type were unassigned (72-96\%), while
#'   2-13\% of a held-out donor's cells of the trained types were (bench/README.md);
#'   with the consistency loss, 70-98\% and 5-8\%.
#'   The confidence grows with fine-tuning: after short fine-tuning on few cells
#'   (`class.epochs` passes of a few dozen steps) most cells fall below the default.
#' @param reduction.key Prefix of the embedding's column names.
#' @param fusion How several modalities (a list of matrices, several Seurat assays in
#'   `assay`, SCE `altexps`) are integrated, as the paper's multimodal Concerto (its
#'   eqs. 10-11): the teacher has one gene attention per modality and the student one
#'   Dense layer per modality (the first modality, RNA, prepared as a single-modality
#'   input is; the others used as given, e.g. CLR-normalized proteins). `"sum"`
#'   (default; the paper's) adds the modalities' attention outputs (teacher) and Dense
#'   outputs (student) before the batch normalization, `"concat"` concatenates them
#'   there. Either way the embedding is the teacher's output (`latent.dim` columns);
#'   each modality's own embedding, the teacher's output with the other modalities left
#'   out (which a query lacking them gets), is kept in `misc$modality.embeddings`.
#'   `"clip"` is refused: Concerto's loss contrasts the teacher's and the student's
#'   embeddings of a cell, and CLIP's contrast between modalities would replace that
#'   self-distillation. Fine-tuning (`class.by`) and [ConcertoAttention()] take one
#'   modality. Measurements on scdcc_cite_cbmc are in bench/README.md ("Multimodal").
#' @inheritParams RunSSL
#' @inheritParams RunConcord
#' @return For a Seurat object, the object with a DimReduc `"concerto"` (key
#'   `"CONCERTO_"`) whose `misc` holds the model, the parameters and the loss of each
#'   epoch. For a SingleCellExperiment, the object with `reducedDim(x, "CONCERTO")` and
#'   the same information in `metadata(x)$concord$CONCERTO`. For a matrix, the cells x
#'   `latent.dim` embedding with that information in `attr(, "concord")`. With
#'   `class.by`, the predictions as for [RunConcord()]'s classifier: metadata columns
#'   `concord.class` (with `"unassigned"` below `min.confidence`) and
#'   `concord.class.score` (the confidence) for objects, `attr(, "concord")$classes`
#'   (`predicted`, `score`, `probabilities`) for matrices; `class.loss` holds the
#'   fine-tuning loss of each epoch.
#' @seealso [ConcertoAttention()], [TopAttentionGenes()], [ProjectConcord()],
#'   [EvaluateEmbedding()]
#' @export
#' @examples
#' data <- readRDS(system.file("extdata", "kang_ifnb.rds", package = "concordR"))
#' emb <- RunConcerto(data$counts, group.by = data$meta$batch, epochs = 1, min.steps = 50,
#'                    threads = 1, verbose = FALSE)
#' dim(emb)
#' # Fine-tuned annotation of one sample from the others' labels.
#' query <- data$meta$batch == "stim107"
#' labels <- ifelse(query, NA, data$meta$cell_type)
#' emb <- RunConcerto(data$counts, group.by = data$meta$batch, class.by = labels,
#'                    latent.dim = 32, gene.dim = 32, epochs = 1, min.steps = 50,
#'                    class.epochs = 3, min.confidence = 0.9, threads = 1, verbose = FALSE)
#' calls <- attr(emb, "concord")$classes
#' table(calls$predicted[query], data$meta$cell_type[query])
#'
#' # RNA and surface proteins: one attention per modality in the teacher, summed
#' cite <- readRDS(system.file("extdata", "cbmc_cite.rds", package = "concordR"))
#' joint <- RunConcerto(list(RNA = cite$counts, ADT = cite$adt), latent.dim = 16,
#'                      gene.dim = 16, epochs = 1, min.steps = 20, threads = 1,
#'                      verbose = FALSE)
#' names(attr(joint, "concord")$modality.embeddings)
RunConcerto <- function(object, ...) UseMethod("RunConcerto")

#' @rdname RunConcerto
#' @export
RunConcerto.default <- function(object, group.by = NULL, features = NULL, latent.dim = 128,
                                gene.dim = 128, dropout = 0.2, sampler = c("concord", "uniform"),
                                epochs = 3, batch.size = 32, lr = 1e-4, decay.rate = 1,
                                temperature = 0.1, min.steps = 1000, class.by = NULL,
                                class.epochs = 1, class.lr = 1e-3, class.consistency = 1,
                                min.confidence = 0.99, fusion = c("sum", "concat"),
                                seed = 0, threads = NULL, device = c("auto", "cpu", "cuda"),
                                verbose = TRUE, reduction.key = "CONCERTO_", ...) {
  .check_dots(..., fun = "RunConcerto")
  fusion <- .check_fusion(fusion, c("sum", "concat"), "RunConcerto")
  sampler <- .match_choice(sampler, c("concord", "uniform"), "sampler")
  .check_flag(verbose, "verbose")
  .check_string(reduction.key, "reduction.key")
  .check_number(gene.dim, "gene.dim", lower = 1, upper = .max_width, integer = TRUE)
  .check_number(dropout, "dropout", lower = 0, upper = 1)
  if (dropout >= 1) .stop("'dropout' must be below 1 (1 would drop every unit); got ", dropout, ".")
  object <- .verb_input(object)
  multimodal <- .is_modality_list(object)
  if (identical(features, "all")) features <- rownames(if (multimodal) object[[1]] else object)
  params <- .concord_params(
    latent.dim = latent.dim, encoder.dims = integer(0), epochs = epochs,
    batch.size = batch.size, lr = lr, decay.rate = decay.rate, temperature = temperature,
    beta = 0, element.mask = 0, feature.mask = 0, p.intra.knn = 0, p.intra.domain = 1,
    knn.k = NULL, knn.metric = "euclidean", warmup.epochs = 0, min.steps = min.steps,
    norm = "none", dropout = 0, seed = seed, threads = threads, device = device
  )
  # The online encoder is the student's first Dense layer alone; the rest of the student
  # and the teacher are the method's own (src/concord/method_concerto.cpp).
  params <- utils::modifyList(params, list(
    method = "concerto", sampler = sampler, latent_activation = FALSE,
    concerto_embedding_dim = as.integer(gene.dim), concerto_dropout = as.numeric(dropout)
  ))
  batch <- .batch_labels(group.by, meta = NULL, n.cells = .input_cells(object))
  params$n_domains <- nlevels(batch)
  classes <- .class_labels(class.by, meta = NULL, n.cells = .input_cells(object))
  if (multimodal) {
    if (!is.null(classes)) {
      .stop("RunConcerto()'s fine-tuning ('class.by') takes one modality; train on several ",
            "modalities without 'class.by' and annotate with TransferLabels(), or fine-tune on the RNA alone.")
    }
    return(.train_multimodal(object, batch, features, params, fusion, verbose, reduction.key))
  }
  if (!is.null(classes)) {
    .check_number(class.epochs, "class.epochs", lower = 1, upper = .Machine$integer.max, integer = TRUE)
    .check_number(class.lr, "class.lr", lower = 0)
    if (class.lr <= 0) .stop("'class.lr' must be positive; got ", class.lr, ".")
    .check_number(class.consistency, "class.consistency", lower = 0)
    .check_probability(min.confidence, "min.confidence")
    # Without the consistency loss, fine-tuning sees the labelled cells alone.
    if (!anyNA(classes)) class.consistency <- 0
    if (class.consistency == 0) .check_labelled_batches(classes, batch)
  }
  x <- .prepare_expression(object, features, verbose)
  emb <- .train_embedding(x, batch, features, params, verbose, reduction.key, prepare = FALSE)
  if (is.null(classes)) return(emb)
  .concerto_finetune(emb, x, batch, classes, as.integer(class.epochs), as.numeric(class.lr),
                     as.numeric(class.consistency), as.numeric(min.confidence), verbose)
}

# Supervised fine-tuning for annotation (the paper's "rigid annotation"): from the
# pre-trained weights, the teacher and a classification head on its output are trained
# together by cross-entropy on the labelled cells (engine method "concerto_finetune"),
# with the consistency loss on the unlabelled ones when class.consistency > 0 (otherwise
# they took part in pre-training only). Every cell is then embedded by the fine-tuned
# teacher and classified by the head, as ProjectConcord() does for query cells.
.concerto_finetune <- function(emb, x, batch, classes, class.epochs, class.lr, class.consistency,
                               min.confidence, verbose) {
  info <- attr(emb, "concord")
  pre <- info$model
  cells <- if (class.consistency > 0) rep(TRUE, length(classes)) else !is.na(classes)
  params <- utils::modifyList(pre$params, list(n_classes = nlevels(classes),
                                               class_epochs = class.epochs, class_lr = class.lr,
                                               class_consistency = class.consistency,
                                               class_min_confidence = min.confidence))
  tuning <- utils::modifyList(params, list(method = "concerto_finetune", epochs = class.epochs,
                                           lr = class.lr, lr_decay = 1, min_steps = 0L,
                                           concerto_consistency = class.consistency))
  fit <- .train_engine(x[, cells, drop = FALSE], droplevels(batch[cells]), tuning, verbose,
                       initial.weights = pre$weights, classes = classes[cells])
  model <- .new_model(fit$weights, features = pre$features, params = params, batches = pre$batches,
                      input = pre$input, loss = pre$training$loss, steps = pre$training$steps,
                      n.cells = ncol(x), classes = levels(classes))
  out <- .concord_encode(x, fit$weights, params, params$threads, params$device)
  if (!all(is.finite(out))) {
    .stop("fine-tuning gave non-finite embeddings; lower 'class.lr' (now ", class.lr, ").")
  }
  dimnames(out) <- dimnames(emb)
  info$model <- model
  info$params <- params
  info$class.loss <- fit$loss
  info$class.steps <- fit$steps
  info$classes <- .class_predictions(out, model)
  attr(out, "concord") <- info
  out
}

# Fine-tuning draws its mini-batches from the labelled cells of one batch at a time, so
# every batch with labelled cells needs a few of them.
.check_labelled_batches <- function(classes, batch) {
  sizes <- table(batch[!is.na(classes)])
  small <- sizes[sizes > 0 & sizes < 4]
  if (length(small)) {
    .stop("class.by labels fewer than 4 cells of batch(es) ",
          paste0("'", names(small), "' (", small, ")", collapse = ", "),
          ", too few for a fine-tuning mini-batch; label more of their cells or set their labels to NA.")
  }
}

#' @rdname RunConcerto
#' @param assay Assay to read, or several assays to train on jointly, one modality
#'   each (see [RunConcord()]).
#' @param slot Seurat slot to read: `"data"` (log-normalized, default) or `"counts"`.
#' @param reduction.name Name under which the embedding is stored.
#' @export
RunConcerto.Seurat <- function(object, group.by = NULL, features = NULL, assay = NULL,
                               slot = "data", reduction.name = "concerto",
                               reduction.key = "CONCERTO_", class.by = NULL, verbose = TRUE, ...) {
  assays <- .seurat_assays(object, assay)
  assay <- assays$assay
  object <- .run_seurat(object, RunConcerto.default, group.by = group.by, features = features,
                        assay = assay, slot = slot, reduction.name = reduction.name,
                        reduction.key = reduction.key, class.by = class.by, verbose = verbose,
                        modalities = assays$modalities, ...)
  SeuratObject::LogSeuratCommand(object)
}

#' @rdname RunConcerto
#' @export
RunConcerto.SingleCellExperiment <- function(object, group.by = NULL, features = NULL,
                                             assay = NULL, reduction.name = "CONCERTO",
                                             reduction.key = "CONCERTO_", class.by = NULL,
                                             altexps = NULL, verbose = TRUE, ...) {
  .check_modality_names(altexps, "altexps")
  .run_sce(object, RunConcerto.default, group.by = group.by, features = features, assay = assay,
           reduction.name = reduction.name, reduction.key = reduction.key, class.by = class.by,
           verbose = verbose, altexps = altexps, ...)
}
