# Stage 3 of SimulateCells(): which cells form which batch, and the parameters of each
# batch effect. The effects themselves run in the engine, cell by cell.

.batch_effect_types <- c("none", "specific.genes", "shift", "scaling", "variance", "depth",
                         "dropout")

# `n` split into parts proportional to `prop`, summing to n (largest remainders).
.allocate <- function(n, prop) {
  raw <- n * prop / sum(prop)
  out <- floor(raw)
  up <- order(raw - out, decreasing = TRUE)[seq_len(n - sum(out))]
  out[up] <- out[up] + 1
  out
}

# A share `overlap` of the states is seen by every batch, the other states each by one
# batch only (dealt out in turn). Cells of shared states are split among the batches in
# the given proportions; cells of the other states go to the batch that owns the state.
.assign_batches <- function(state, n.batches, proportions, overlap) {
  states <- levels(droplevels(state))
  n.shared <- round(overlap * length(states))
  order <- sample(states)
  shared <- order[seq_len(n.shared)]
  own <- setdiff(order, shared)
  owner <- stats::setNames(rep_len(seq_len(n.batches), length(own)), own)
  batch <- integer(length(state))
  in.shared <- as.character(state) %in% shared
  batch[!in.shared] <- owner[as.character(state[!in.shared])]
  batch[in.shared] <- sample(rep(seq_len(n.batches), .allocate(sum(in.shared), proportions)))
  empty <- setdiff(seq_len(n.batches), batch)
  if (length(empty)) {
    .stop("batch(es) ", paste(empty, collapse = ", "), " of 'n.batches' = ", n.batches,
          " received no cells (", length(states), " states, of which ", n.shared, " shared by ",
          "all batches, ", sum(in.shared), " cells in shared states). Raise 'batch.overlap', ",
          "'n.states' or 'n.cells', lower 'n.batches', or make 'batch.proportions' less uneven.")
  }
  covered <- lapply(seq_len(n.batches), function(b) c(shared, own[owner == b]))
  list(batch = batch, states = stats::setNames(covered, paste0("B", seq_len(n.batches))))
}

# A genes x batches matrix, zero except `share` of the genes in each batch, drawn by
# `value(n)`.
.gene_effect <- function(n.genes, n.batches, share, value) {
  out <- matrix(0, n.genes, n.batches)
  k <- max(1L, round(share * n.genes))
  for (b in seq_len(n.batches)) out[sample.int(n.genes, k), b] <- value(k)
  out
}

# Parameters of each requested effect, on the scales documented in ?SimulateCells. The
# engine wants genes-fastest vectors per batch, which is how a genes x batches matrix is
# stored.
.batch_effects <- function(types, n.batches, n.genes, strength, share, level) {
  e <- list()
  for (type in setdiff(types, "none")) {
    e[[type]] <- switch(type,
      specific.genes = .gene_effect(n.genes, n.batches, share,
                                    function(k) strength * level * stats::runif(k, 0.5, 1.5)),
      shift = .gene_effect(n.genes, n.batches, share,
                           function(k) stats::rnorm(k, 0, strength * level / 2)),
      scaling = matrix(exp(stats::rnorm(n.genes * n.batches, 0, strength / 2)), n.genes),
      variance = 1 + strength * stats::runif(n.batches),
      depth = exp(-strength * stats::runif(n.batches)),
      dropout = strength * stats::runif(n.batches, 0.5, 1.5) / (level / 2)^2
    )
  }
  names <- paste0("B", seq_len(n.batches))
  lapply(e, function(x) {
    if (is.matrix(x)) dimnames(x) <- list(NULL, names) else names(x) <- names
    x
  })
}

# The list the engine reads: cell batches 0-based, effects as plain vectors.
.engine_batch <- function(batch, effects, n.batches) {
  if (length(effects) == 0L) return(list())
  v <- function(x) if (is.null(x)) NULL else as.numeric(x)
  list(cell = batch - 1L, n = n.batches, variance = v(effects$variance),
       shift = v(effects$shift), specific = v(effects$specific.genes),
       scale = v(effects$scaling), depth = v(effects$depth), dropout = v(effects$dropout))
}
