#' concordR: CONCORD single-cell embeddings for R
#'
#' Contrastive learning of single-cell embeddings with a dataset- and
#' neighbourhood-aware mini-batch sampler, trained by a compiled engine (LibTorch,
#' Faiss). Start with [RunConcord()].
#'
#' @keywords internal
#' @useDynLib concordR, .registration = TRUE
#' @importFrom Rcpp sourceCpp
#' @importFrom methods as
#' @importClassesFrom Matrix dgCMatrix
#' @importMethodsFrom Matrix colSums rowMeans t
"_PACKAGE"
