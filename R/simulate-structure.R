# Stage 1 of SimulateCells(): the state structure. Each builder places the cells (state,
# pseudotime, branch), splits the genes into gene programs and says how active each
# program is in each cell. The noise-free expression of a cell is then
#   sum over programs of activity * gene level,
# computed by the engine. Builders return
#   sizes      genes per program (summing to the genes they were given)
#   names      program names
#   activity   list(cell, program, weight): one row per active program of a cell
#   state, pseudotime, branch   one value per cell (NA where the structure has none)
#   betti      c(components, loops) of the noise-free structure
#   info       structure-specific truth for metadata (e.g. the tree's segments)

# Genes split as evenly as possible among `n` programs.
.even_sizes <- function(n.genes, n, what) {
  if (n.genes < n) {
    .stop("'n.genes' is too small: ", what, " need(s) ", n, " gene programs of at least one ",
          "gene each, but only ", n.genes, " genes are left for them. Raise 'n.genes', ",
          "lower 'n.states' (or the branching / loops), or lower 'global.genes'.")
  }
  base <- n.genes %/% n
  base + (seq_len(n) <= n.genes - base * n)
}

# Weights of two neighbouring programs on a line of `m` programs centred at
# (k - 1) / (m - 1), for positions t in [0, 1]: "tent" profiles that sum to one, so each
# program switches on as its predecessor switches off.
.tents <- function(t, m) {
  u <- t * (m - 1)
  k <- pmin(floor(u), m - 2)
  f <- u - k
  list(first = k + 1, second = k + 2, w.first = 1 - f, w.second = f)
}

# The program with the largest weight in each cell (ties: the earlier row).
.dominant <- function(activity, n.cells) {
  o <- order(activity$cell, -activity$weight)
  first <- o[!duplicated(activity$cell[o])]
  out <- integer(n.cells)
  out[activity$cell[first]] <- activity$program[first]
  out
}

.structure_clusters <- function(n.cells, n.genes, n.states, shared.genes) {
  n.shared <- if (shared.genes > 0 && n.states > 1) n.states - 1L else 0L
  shared.total <- if (n.shared > 0) max(n.shared, round(shared.genes * n.genes)) else 0
  sizes <- c(.even_sizes(n.genes - shared.total, n.states, paste(n.states, "clusters")),
             if (n.shared > 0) .even_sizes(shared.total, n.shared, "shared programs"))
  names <- c(paste0("S", seq_len(n.states)),
             if (n.shared > 0) paste0("S", seq_len(n.shared), "+S", seq_len(n.shared) + 1L))
  state <- sample(rep_len(seq_len(n.states), n.cells))
  cells <- seq_len(n.cells)
  # Shared program k joins states k and k + 1.
  left <- state > 1 & n.shared > 0
  right <- state <= n.shared
  activity <- list(
    cell = c(cells, cells[left], cells[right]),
    program = c(state, n.states + state[left] - 1L, n.states + state[right]),
    weight = rep(1, n.cells + sum(left) + sum(right))
  )
  list(sizes = sizes, names = names, activity = activity,
       state = factor(names[state], levels = names[seq_len(n.states)]),
       pseudotime = rep(NA_real_, n.cells), branch = factor(rep(NA_character_, n.cells)),
       betti = c(components = n.states, loops = 0L), info = list())
}

# One trajectory (n.paths = 1), or several that cross: their middle program is shared.
.structure_paths <- function(n.cells, n.genes, n.states, n.paths) {
  m <- n.states
  cross <- n.paths > 1
  mid <- ceiling(m / 2)
  own <- if (cross) setdiff(seq_len(m), mid) else seq_len(m)
  names <- if (cross) c(paste0("P", rep(seq_len(n.paths), each = m - 1), ".S", own), "cross")
           else paste0("S", own)
  # Program id of position k on path p.
  id <- function(p, k) {
    if (!cross) return(k)
    ifelse(k == mid, length(names), (p - 1) * (m - 1) + k - (k > mid))
  }
  path <- sample(rep_len(seq_len(n.paths), n.cells))
  t <- stats::runif(n.cells)
  tn <- .tents(t, m)
  cells <- seq_len(n.cells)
  activity <- list(cell = c(cells, cells), program = c(id(path, tn$first), id(path, tn$second)),
                   weight = c(tn$w.first, tn$w.second))
  dom <- .dominant(activity, n.cells)
  list(sizes = .even_sizes(n.genes, length(names), "the trajectory"), names = names,
       activity = activity, state = factor(names[dom], levels = names), pseudotime = t,
       branch = if (cross) factor(paste0("P", path)) else factor(rep(NA_character_, n.cells)),
       betti = c(components = 1L, loops = 0L), info = list(crossing = if (cross) "cross"))
}

# One loop (n.loops = 1), or several joined at a shared hub program (a bouquet).
.structure_loops <- function(n.cells, n.genes, n.states, n.loops) {
  m <- n.states
  names <- if (n.loops == 1) paste0("S", seq_len(m))
           else c("hub", paste0("L", rep(seq_len(n.loops), each = m - 1), ".S", 2:m))
  id <- function(l, k) if (n.loops == 1) k else ifelse(k == 1, 1L, 1L + (l - 1) * (m - 1) + k - 1L)
  loop <- sample(rep_len(seq_len(n.loops), n.cells))
  t <- stats::runif(n.cells)
  # Tents on a circle: program k (1-based) peaks at (k - 1) / m and the last hands over
  # to the first, so the noise-free expression at t = 1 equals that at t = 0.
  u <- t * m
  k <- floor(u) %% m
  f <- u - floor(u)
  cells <- seq_len(n.cells)
  activity <- list(cell = c(cells, cells), program = c(id(loop, k + 1), id(loop, (k + 1) %% m + 1)),
                   weight = c(1 - f, f))
  dom <- .dominant(activity, n.cells)
  list(sizes = .even_sizes(n.genes, length(names), "the loop(s)"), names = names,
       activity = activity, state = factor(names[dom], levels = names), pseudotime = t,
       branch = if (n.loops > 1) factor(paste0("L", loop)) else factor(rep(NA_character_, n.cells)),
       betti = c(components = 1L, loops = as.integer(n.loops)), info = list())
}

# The segments of a tree with `branching` daughters per node, `depth` levels of branching.
.tree_segments <- function(branching, depth) {
  name <- "root"
  parent <- 0L
  level <- 0L
  for (d in seq_len(depth)) {
    at <- which(level == d - 1L)
    kids <- rep(at, each = branching)
    prefix <- ifelse(name[kids] == "root", "", paste0(name[kids], "."))
    name <- c(name, paste0(prefix, rep_len(seq_len(branching), length(kids))))
    parent <- c(parent, kids)
    level <- c(level, rep(d, length(kids)))
  }
  data.frame(segment = name, parent = c(NA, name[parent[-1]]), level = level,
             leaf = level == depth, stringsAsFactors = FALSE)
}

# Branching lineages. Each segment has n.states programs; a daughter takes over from its
# parent's last program, and keeps every ancestor's last program decayed by `decay` per
# generation (weight decay^g after the hand-over), so daughters inherit their lineage.
.structure_tree <- function(n.cells, n.genes, n.states, branching, depth, decay) {
  seg <- .tree_segments(branching, depth)
  m <- n.states
  n.seg <- nrow(seg)
  names <- paste0(rep(seg$segment, each = m), ":S", seq_len(m))
  last <- seq_len(n.seg) * m  # program id of each segment's last program
  parent <- match(seg$parent, seg$segment)
  s.of <- sample(rep_len(seq_len(n.seg), n.cells))
  s <- stats::runif(n.cells)
  cells <- seq_len(n.cells)
  base <- (s.of - 1L) * m
  root <- s.of == 1L

  # Root: tents over its own programs. Daughters: tents over m + 1 slots, slot 1 being
  # the parent's last program, whose weight then decays to `decay` instead of 0.
  tr <- .tents(s, m)
  td <- .tents(s, m + 1)
  first <- ifelse(root, base + tr$first, base + td$first - 1L)
  second <- ifelse(root, base + tr$second, base + td$second - 1L)
  w.first <- ifelse(root, tr$w.first, td$w.first)
  hand <- !root & td$first == 1
  first[hand] <- last[parent[s.of[hand]]]
  w.first[hand] <- decay + (1 - decay) * w.first[hand]
  activity <- list(cell = c(cells, cells), program = c(first, second),
                   weight = c(w.first, ifelse(root, tr$w.second, td$w.second)))
  # Memory of the parent once handed over, and of older ancestors throughout.
  fade <- decay + (1 - decay) * pmax(0, 1 - s * m)
  anc <- parent[s.of]
  g <- 1L
  while (decay > 0 && any(!is.na(anc))) {
    keep <- !is.na(anc) & !(g == 1L & hand)
    w <- decay^(g - 1) * fade
    activity$cell <- c(activity$cell, cells[keep])
    activity$program <- c(activity$program, last[anc[keep]])
    activity$weight <- c(activity$weight, w[keep])
    anc <- parent[anc]
    g <- g + 1L
  }
  dom <- .dominant(activity, n.cells)
  list(sizes = .even_sizes(n.genes, length(names), paste(n.seg, "tree segments")),
       names = names, activity = activity, state = factor(names[dom], levels = names),
       pseudotime = (seg$level[s.of] + s) / (depth + 1),
       branch = factor(seg$segment[s.of], levels = seg$segment),
       betti = c(components = 1L, loops = 0L), info = list(segments = seg))
}
