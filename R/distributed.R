# Data-parallel training across processes (ranks), launched like PyTorch's torchrun: the
# same script on every rank, told its place by RunConcord()'s `distributed` argument or
# by the environment variables RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT.

.distributed_fields <- c("rank", "world.size", "address", "port", "timeout")

# The checked process group of a run as the engine takes it (rank, world_size, address,
# port, timeout in seconds), or NULL for a single process: `distributed = FALSE`, no
# WORLD_SIZE in the environment, or a world of one.
# A list without `rank` and `world.size` takes them, the address and the port from the
# environment (so that `distributed = list(timeout = 600)` works under a launcher).
.resolve_distributed <- function(distributed) {
  if (isFALSE(distributed)) return(NULL)
  source <- "'distributed'"
  given <- NULL
  if (is.list(distributed) && length(distributed) && !is.null(names(distributed)) &&
      is.null(distributed$rank) && is.null(distributed$world.size) &&
      !is.na(Sys.getenv("WORLD_SIZE", unset = NA))) {
    given <- distributed
    distributed <- NULL
  }
  if (is.null(distributed)) {
    env <- Sys.getenv(c("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"), unset = NA)
    if (is.na(env[["WORLD_SIZE"]])) return(NULL)
    source <- "the environment variable"
    number <- function(name, default) {
      value <- env[[name]]
      if (is.na(value)) {
        if (is.null(default)) .stop("WORLD_SIZE is set, so RunConcord trains distributed, but ", name,
                                    " is not; set it on every rank (or unset WORLD_SIZE).")
        return(default)
      }
      out <- suppressWarnings(as.numeric(value))
      if (is.na(out)) .stop("the environment variable ", name, " must be a whole number; got \"", value, "\".")
      out
    }
    distributed <- list(rank = number("RANK", NULL), world.size = number("WORLD_SIZE", NULL),
                        address = if (is.na(env[["MASTER_ADDR"]])) "127.0.0.1" else env[["MASTER_ADDR"]],
                        port = number("MASTER_PORT", 29500))
    if (!is.null(given)) distributed <- utils::modifyList(distributed, given)
  }
  if (!is.list(distributed) || is.null(names(distributed)) || any(names(distributed) == "")) {
    .stop("'distributed' must be NULL, FALSE or a named list(rank, world.size, address, port); got ",
          .show(distributed), ".")
  }
  unknown <- setdiff(names(distributed), .distributed_fields)
  if (length(unknown)) {
    .stop("unknown field(s) of 'distributed': ", paste(unknown, collapse = ", "), "; it takes ",
          paste(.distributed_fields, collapse = ", "), ".")
  }
  d <- utils::modifyList(list(address = "127.0.0.1", port = 29500, timeout = 120), distributed)
  if (is.null(d$rank) || is.null(d$world.size)) .stop("'distributed' needs 'rank' and 'world.size'.")
  name <- function(field) if (source == "'distributed'") paste0("distributed$", field) else
    c(rank = "RANK", world.size = "WORLD_SIZE", port = "MASTER_PORT", timeout = "distributed$timeout")[[field]]
  .check_number(d$world.size, name("world.size"), lower = 1, upper = 65536, integer = TRUE)
  .check_number(d$rank, name("rank"), lower = 0, upper = d$world.size - 1, integer = TRUE)
  .check_string(d$address, "distributed$address")
  .check_number(d$port, name("port"), lower = 1, upper = 65535, integer = TRUE)
  .check_number(d$timeout, "distributed$timeout", lower = 0, lower.open = TRUE)
  if (d$world.size == 1) return(NULL)
  list(rank = as.integer(d$rank), world_size = as.integer(d$world.size), address = d$address,
       port = as.integer(d$port), timeout = as.numeric(d$timeout))
}

# The cells (1-based) of the rank's share of n, every world_size-th from its rank as the
# engine's share_of() takes them; NULL (every cell) in a single process.
.rank_cells <- function(n, distributed) {
  if (is.null(distributed)) return(NULL)
  if (distributed$rank >= n) return(integer(0))
  seq.int(distributed$rank + 1L, n, by = distributed$world_size)
}

# Whether `emb` came from a rank other than 0 of a distributed run: it then holds only that
# rank's own cells and is returned as it is, not written into the user's object.
.other_rank <- function(emb) {
  rank <- attr(emb, "concord")$rank
  !is.null(rank) && rank > 0L
}
