#' Plot a benchmark of embeddings as a table of scores
#'
#' Draws the table returned by [BenchmarkEmbeddings()] the way the scIB benchmark
#' shows its results: one row per embedding, one column per metric grouped by family,
#' each cell coloured and labelled by its score. Rows are ordered by `Total` (or the
#' mean score when `Total` is absent), best at the top.
#'
#' @param table A data.frame from [BenchmarkEmbeddings()] (columns `embedding`,
#'   `family`, `metric`, `score`).
#' @param digits Decimals of the printed scores.
#'
#' @return A ggplot object.
#' @export
#' @examples
#' tab <- data.frame(embedding = rep(c("pca", "concord"), each = 3),
#'                   family = rep(c("bio", "batch", "aggregate"), 2),
#'                   metric = rep(c("NMI", "iLISI", "Total"), 2),
#'                   score = c(0.7, 0.2, 0.5, 0.8, 0.6, 0.72))
#' if (requireNamespace("ggplot2", quietly = TRUE)) PlotBenchmark(tab)
PlotBenchmark <- function(table, digits = 2) {
  .require("ggplot2", "for plots")
  need <- c("embedding", "family", "metric", "score")
  if (!is.data.frame(table) || !all(need %in% names(table))) {
    .stop("'table' must be the data.frame returned by BenchmarkEmbeddings(), with columns ",
          paste(need, collapse = ", "), "; got ", .show(table), ".")
  }
  .check_number(digits, "digits", lower = 0, upper = 6, integer = TRUE)
  rank.by <- if ("Total" %in% table$metric) table[table$metric == "Total", ] else table
  order <- stats::aggregate(score ~ embedding, data = rank.by, FUN = mean, na.action = stats::na.pass)
  table$embedding <- factor(table$embedding, levels = order$embedding[order(order$score)])
  families <- intersect(c("bio", "batch", "probes", "geometry", "topology", "aggregate"), table$family)
  table$family <- factor(table$family, levels = families)
  table$metric <- factor(table$metric, levels = unique(table$metric))
  table$text <- ifelse(is.na(table$score), "NA", formatC(table$score, format = "f", digits = digits))
  ggplot2::ggplot(table, ggplot2::aes(x = .data$metric, y = .data$embedding, fill = .data$score)) +
    ggplot2::geom_tile(colour = "white") +
    ggplot2::geom_text(ggplot2::aes(label = .data$text), size = 3) +
    ggplot2::facet_grid(cols = ggplot2::vars(.data$family), scales = "free_x", space = "free_x") +
    ggplot2::scale_fill_distiller(palette = "YlGnBu", direction = 1, limits = c(0, 1),
                                  oob = function(x, ...) pmin(pmax(x, 0), 1), na.value = "grey90") +
    ggplot2::labs(x = NULL, y = NULL, fill = "score") +
    ggplot2::theme_minimal() +
    ggplot2::theme(axis.text.x = ggplot2::element_text(angle = 45, hjust = 1), panel.grid = ggplot2::element_blank())
}
utils::globalVariables(".data")  # ggplot2 aesthetics use the .data pronoun
