// Data-parallel training across processes (ranks) on LibTorch's c10d: a TCPStore for
// the rendezvous and ProcessGroupGloo for the collectives. This header is free of
// LibTorch and c10d so that the trainer and front ends compile without their headers;
// distributed.cpp is the only translation unit that includes them.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "csr.h"
#include "trainer.h"

namespace concord {

struct DistributedOptions {
  int rank = 0;        // this process, in [0, world_size)
  int world_size = 1;  // processes taking part
  std::string address = "127.0.0.1";  // where rank 0 listens (MASTER_ADDR)
  int port = 29500;                   // and its port (MASTER_PORT)
  // How long the rendezvous waits for every rank, and how long any collective waits for
  // the others, before giving up: a rank that hangs or never starts stops the rest.
  // A rank that dies closes its connections, which the others notice at once.
  double timeout_seconds = 120;
};

// Any failure to reach or keep contact with the other ranks. `what()` says which
// operation failed and why, without c10d's source locations.
class DistributedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A process group joined for the lifetime of the object. Every collective must be
// called by every rank in the same order; each throws DistributedError on failure.
class Communicator {
 public:
  explicit Communicator(const DistributedOptions& options);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }

  // In place: the element-wise sum over ranks.
  void allreduce_sum(float* data, int64_t n);
  // The smallest value over ranks.
  int64_t allreduce_min(int64_t value);
  // In place: rank `root`'s values on every rank.
  void broadcast(float* data, int64_t n, int root = 0);
  // Every rank's `n` values (n may differ between ranks), concatenated in rank order;
  // `counts`, when given, receives each rank's n.
  std::vector<float> allgather(const float* data, int64_t n, std::vector<int64_t>* counts = nullptr);
  // The same, delivered to rank `root` only (the others get an empty vector), so that
  // only one rank holds everything.
  std::vector<float> gather(const float* data, int64_t n, int root = 0);

 private:
  struct Impl;
  DistributedOptions options_;
  std::unique_ptr<Impl> impl_;
};

// The cells (row indices of an n_cells matrix) that rank `rank` of `world_size` trains
// on: every world_size-th cell from `rank`, so that each rank holds about the same share
// of every domain.
std::vector<int> share_of(int n_cells, int rank, int world_size);

// Data-parallel train(): x holds only this rank's share of the cells
// (share_of(domains.size(), rank, world_size), in that order), `domains` and `labels`
// every cell's. Each rank trains on its share with its own mini-batches (so one-domain
// batches hold per rank), starting from rank 0's weights, and the gradients of every step
// are averaged over ranks. In kNN mode the warm-up embeddings of all ranks are gathered
// into one global index: a neighbourhood is the knn_k nearest of all cells, and a rank
// samples those of its own share. Every rank ends with the same weights and the mean loss
// over ranks; rank 0's embedding holds every cell in order, the other ranks' only their
// own share, in share_of()'s order.
TrainResult train(const CsrView& x, const std::vector<int>& domains, const TrainOptions& options,
                  Communicator& communicator, const TrainCallbacks& callbacks = {},
                  const Weights* initial = nullptr, const std::vector<int>& labels = {});

}  // namespace concord
