#' Plot the persistent homology of an embedding
#'
#' Draws the persistence diagram (birth against death of each feature, by homology
#' dimension) or the Betti curves (number of features alive at each scale) computed by
#' [EvaluateEmbedding()] with the `"topology"` family. Features alive at the end of the
#' filtration are drawn at the top of the diagram; the features counted in `betti_0`,
#' `betti_1`, `betti_2` (alive over the whole most persistent range) are filled.
#'
#' @param result A result of [EvaluateEmbedding()] computed with the `"topology"`
#'   family.
#' @param type `"diagram"` or `"betti"` (Betti curves).
#'
#' @return A ggplot object.
#' @export
#' @examples
#' t <- seq(0, 2 * pi, length.out = 61)[-61]
#' ring <- cbind(cos(t), sin(t)) + matrix(rnorm(120, sd = 0.02), 60)
#' res <- EvaluateEmbedding(ring, families = "topology", expected.betti = c(1, 1, 0))
#' if (requireNamespace("ggplot2", quietly = TRUE)) PlotPersistence(res)
PlotPersistence <- function(result, type = c("diagram", "betti")) {
  .require("ggplot2", "for plots")
  type <- match.arg(type)
  details <- attr(result, "details")
  if (is.null(details$persistence)) {
    .stop("'result' holds no persistent homology; run EvaluateEmbedding() with the ",
          "\"topology\" family (families = \"topology\") first.")
  }
  if (type == "betti") {
    curves <- details$betti_curves
    curves$dimension <- factor(paste0("H", curves$dimension))
    return(ggplot2::ggplot(curves, ggplot2::aes(x = .data$scale, y = .data$betti, colour = .data$dimension)) +
             ggplot2::geom_step() +
             ggplot2::labs(x = "scale (Rips radius)", y = "Betti number", colour = NULL) +
             ggplot2::theme_minimal())
  }
  dg <- details$persistence
  top <- max(c(dg$death[is.finite(dg$death)], dg$birth, 0)) * 1.05
  dg$death.shown <- ifelse(is.finite(dg$death), dg$death, top)
  dg$dimension <- factor(paste0("H", dg$dimension))
  ggplot2::ggplot(dg, ggplot2::aes(x = .data$birth, y = .data$death.shown, colour = .data$dimension)) +
    ggplot2::geom_abline(slope = 1, intercept = 0, colour = "grey60") +
    ggplot2::geom_hline(yintercept = top, linetype = "dashed", colour = "grey60") +
    ggplot2::geom_point(ggplot2::aes(shape = .data$persistent), size = 2) +
    ggplot2::scale_shape_manual(values = c(`FALSE` = 1, `TRUE` = 16), name = "persistent") +
    ggplot2::coord_equal(xlim = c(0, top), ylim = c(0, top)) +
    ggplot2::labs(x = "birth", y = "death", colour = NULL) +
    ggplot2::theme_minimal()
}
