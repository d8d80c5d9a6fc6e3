// The c10d process group behind distributed training: two processes (this one and a
// forked child) on the loopback interface.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "distributed.h"
#include "toy_data.h"

using concord::Communicator;
using concord::DistributedError;
using concord::DistributedOptions;

namespace {

// A port per test process, so that ctest's parallel runs do not collide.
int test_port(int offset) { return 30000 + static_cast<int>(getpid() % 10000) * 2 + offset; }

DistributedOptions options(int rank, int port) {
  DistributedOptions o;
  o.rank = rank;
  o.world_size = 2;
  o.port = port;
  o.timeout_seconds = 20;
  return o;
}

// Runs `rank1` in a forked child (its return value is the child's exit status; any
// exception is status 99) while the caller runs rank 0; returns the child's status.
int with_child(const std::function<int()>& rank1, const std::function<void()>& rank0) {
  const pid_t child = fork();
  if (child == 0) {
    int rc = 99;
    try {
      rc = rank1();
    } catch (...) {
    }
    _exit(rc);
  }
  rank0();
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

// The rows of `x` that rank `rank` of 2 trains on, as a CSR matrix of their own: what
// each rank holds (the R layer stores only its share).
struct Share {
  std::vector<int> indptr{0}, indices;
  std::vector<float> values;
  concord::CsrView view;
  Share(const concord::CsrView& x, int rank) {
    for (int c : concord::share_of(x.n_rows, rank, 2)) {
      indices.insert(indices.end(), x.indices + x.indptr[c], x.indices + x.indptr[c + 1]);
      values.insert(values.end(), x.values + x.indptr[c], x.values + x.indptr[c + 1]);
      indptr.push_back(static_cast<int>(indices.size()));
    }
    view = concord::CsrView{static_cast<int>(indptr.size()) - 1, x.n_cols, indptr.data(), indices.data(),
                            values.data()};
  }
};

}  // namespace

TEST_CASE("share_of deals every cell to exactly one rank", "[distributed]") {
  CHECK(concord::share_of(5, 0, 2) == std::vector<int>{0, 2, 4});
  CHECK(concord::share_of(5, 1, 2) == std::vector<int>{1, 3});
  CHECK(concord::share_of(2, 2, 3).empty());
  CHECK(concord::share_of(7, 0, 1).size() == 7);
}

TEST_CASE("collectives between two processes", "[distributed]") {
  const int port = test_port(0);
  // Each rank's checks, as a number: 0 when all held.
  const auto run = [port](int rank) {
    Communicator c(options(rank, port));
    std::vector<float> v{static_cast<float>(rank + 1), 2.f};
    c.allreduce_sum(v.data(), 2);
    if (v != std::vector<float>{3.f, 4.f}) return 1;
    if (c.allreduce_min(10 + rank) != 10) return 2;
    std::vector<float> b(3, rank == 0 ? 7.f : 0.f);
    c.broadcast(b.data(), 3, 0);
    if (b != std::vector<float>(3, 7.f)) return 3;
    // Shares of different sizes: rank 0 sends {0}, rank 1 {1, 1}.
    std::vector<float> mine(rank + 1, static_cast<float>(rank));
    std::vector<int64_t> counts;
    const std::vector<float> all = c.allgather(mine.data(), static_cast<int64_t>(mine.size()), &counts);
    if (all != std::vector<float>{0.f, 1.f, 1.f} || counts != std::vector<int64_t>{1, 2}) return 4;
    const std::vector<float> root = c.gather(mine.data(), static_cast<int64_t>(mine.size()), 0);
    if (root != (rank == 0 ? all : std::vector<float>())) return 5;
    return 0;
  };
  int rank0 = -1;
  const int rank1 = with_child([&] { return run(1); }, [&] { rank0 = run(0); });
  CHECK(rank0 == 0);
  CHECK(rank1 == 0);
}

TEST_CASE("a rank that exits makes the other's next collective throw", "[distributed]") {
  const int port = test_port(1);
  std::string message;
  const int rank1 = with_child(
      [&] {
        Communicator c(options(1, port));
        float x = 1;
        c.allreduce_sum(&x, 1);
        return 0;  // and exits, closing its connections
      },
      [&] {
        Communicator c(options(0, port));
        float x = 1;
        c.allreduce_sum(&x, 1);
        try {
          for (int i = 0; i < 100; ++i) c.allreduce_sum(&x, 1);
        } catch (const DistributedError& e) {
          message = e.what();
        }
      });
  CHECK(rank1 == 0);
  CHECK(message.find("rank 0 of 2 lost contact with the other ranks during a gradient all-reduce") == 0);
  // No source locations from Gloo.
  CHECK(message.find(".cc:") == std::string::npos);
}

TEST_CASE("broadcasting to a rank that exited throws", "[distributed]") {
  // As the root of a broadcast, rank 0 sends; Gloo notices the closed connection while
  // waiting for the receiver's go-ahead, or, should a write come first, through EPIPE
  // (SIGPIPE, whose default action here would kill the process, is ignored while a group
  // lives).
  const int port = test_port(3);
  std::string message;
  const int rank1 = with_child(
      [&] {
        Communicator c(options(1, port));
        float x = 1;
        c.broadcast(&x, 1, 0);
        return 0;
      },
      [&] {
        Communicator c(options(0, port));
        std::vector<float> big(1 << 20, 1.f);
        c.broadcast(big.data(), 1, 0);
        try {
          for (int i = 0; i < 200; ++i) c.broadcast(big.data(), static_cast<int64_t>(big.size()), 0);
        } catch (const DistributedError& e) {
          message = e.what();
        }
      });
  CHECK(rank1 == 0);
  CHECK(message.find("rank 0 of 2 lost contact with the other ranks during the broadcast") == 0);
}

TEST_CASE("a rank that cannot reach rank 0 throws after the timeout", "[distributed]") {
  DistributedOptions o = options(1, test_port(2));
  o.timeout_seconds = 1;
  CHECK_THROWS_WITH(Communicator(o), Catch::Contains("rank 1 of 2 could not reach rank 0 at 127.0.0.1"));
  CHECK_THROWS_AS(Communicator(options(2, test_port(2))), std::invalid_argument);
}

TEST_CASE("distributed training: the same weights on both ranks, every cell on rank 0", "[distributed]") {
  Toy toy(400, 4, 100, 5);
  concord::TrainOptions o = small_options();
  o.sampler.batch_size = 32;  // per rank
  o.sampler.p_intra_knn = 0.3;
  o.knn_k = 40;
  o.warmup_epochs = 1;
  o.epochs = 3;
  o.min_steps = 30;
  // The alignments' sample: each rank embeds its part, every rank clusters all of it and
  // finds its cells' neighbours in it.
  o.align_weight = 1;
  o.align_clusters = 4;
  o.align_local_weight = 10;
  o.align_sample = 100;
  const int port = test_port(4);
  // Flattened weights, which the child sends back through a pipe.
  const auto flat = [](const concord::Weights& w) {
    std::vector<float> v;
    for (const auto& a : w) v.insert(v.end(), a.values.begin(), a.values.end());
    return v;
  };
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  concord::TrainResult r0;
  const int rank1 = with_child(
      [&] {
        close(fds[0]);
        Communicator c(options(1, port));
        const concord::TrainResult r = concord::train(Share(toy.view, 1).view, toy.domain, o, c);
        if (r.n_cells != 200) return 1;
        const std::vector<float> w = flat(r.weights);
        const size_t bytes = w.size() * sizeof(float);
        return write(fds[1], w.data(), bytes) == static_cast<ssize_t>(bytes) ? 0 : 2;
      },
      [&] {
        close(fds[1]);
        Communicator c(options(0, port));
        r0 = concord::train(Share(toy.view, 0).view, toy.domain, o, c);
      });
  const std::vector<float> w0 = flat(r0.weights);
  std::vector<float> w1(w0.size());
  const size_t bytes = w1.size() * sizeof(float);
  size_t got = 0;
  while (got < bytes) {
    const ssize_t n = read(fds[0], reinterpret_cast<char*>(w1.data()) + got, bytes - got);
    if (n <= 0) break;
    got += n;
  }
  close(fds[0]);
  REQUIRE(rank1 == 0);
  REQUIRE(got == bytes);
  CHECK(w0 == w1);  // bit for bit
  REQUIRE(r0.n_cells == 400);
  REQUIRE(r0.embedding.size() == 400u * 8u);
  for (float v : r0.embedding) REQUIRE(std::isfinite(v));
  CHECK(r0.epoch_loss.back() < r0.epoch_loss.front());
  // Each rank trained on half the cells, yet rank 0's embedding of all of them (in the
  // input's order) separates the cell types.
  CHECK(neighbour_agreement(r0, toy.type) > 0.9);
}
