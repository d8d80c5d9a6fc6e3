// The c10d side of distributed.h: the only translation unit that includes c10d's and
// Gloo's headers (they are large and need USE_C10D_GLOO, which Debian's libtorch was
// built with).
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include "distributed.h"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <csignal>
#include <dlfcn.h>
#include <regex>
#include <utility>

namespace concord {

namespace {

// A c10d or Gloo message without source locations ("[../gloo/.../pair.cc:589] ") or
// LibTorch's appended backtrace.
std::string clean(const std::string& what) {
  std::string m = what.substr(0, what.find("Exception raised from"));
  m = std::regex_replace(m, std::regex("\\[[^\\]]*\\.(cc|cpp|h|hpp):[0-9]+\\]\\s*"), "");
  m = std::regex_replace(m, std::regex("\\s+$"), "");
  return m;
}

// Runs a c10d call and turns whatever it throws into a DistributedError naming the
// operation and the likely cause.
template <class F>
auto guarded(const DistributedOptions& o, const char* operation, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const DistributedError&) {
    throw;
  } catch (const std::exception& e) {
    throw DistributedError("rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size) +
                           " lost contact with the other ranks during " + operation + " (" + clean(e.what()) +
                           "): another rank stopped or failed, or did not answer within " +
                           std::to_string(static_cast<long>(o.timeout_seconds)) + " s");
  }
}

// c10d also logs each failure to stderr (through glog where LibTorch was built with it,
// as Debian's is) before throwing it; the exception reaches the user as a clear error, so
// the raw log line is silenced while a group is alive. The flags are looked up at run
// time because a LibTorch built without glog has no such symbol.
class QuietLogs {
 public:
  QuietLogs() {
    for (const char* name : {"_ZN3fLI17FLAGS_minloglevelE", "_ZN3fLI22FLAGS_caffe2_log_levelE"}) {
      if (auto* flag = static_cast<int32_t*>(dlsym(RTLD_DEFAULT, name))) {
        saved_.push_back({flag, *flag});
        *flag = 3;  // FATAL only
      }
    }
  }
  ~QuietLogs() {
    for (auto& [flag, value] : saved_) *flag = value;
  }

 private:
  std::vector<std::pair<int32_t*, int32_t>> saved_;
};

// Gloo writes to its sockets with writev(), so a write to a rank that died can raise
// SIGPIPE, whose default action kills the process and whose R handler raises an R
// error from inside Gloo's threads. (Gloo usually notices the closed connection first,
// while reading; this is the defence for when a write comes first.) While a group is
// alive SIGPIPE is ignored: the write then fails with EPIPE, which Gloo reports as an
// exception like any other.
class IgnoreSigpipe {
 public:
  IgnoreSigpipe() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    saved_ok_ = sigaction(SIGPIPE, &ignore, &saved_) == 0;
  }
  ~IgnoreSigpipe() {
    if (saved_ok_) sigaction(SIGPIPE, &saved_, nullptr);
  }

 private:
  struct sigaction saved_ {};
  bool saved_ok_ = false;
};

bool is_loopback(const std::string& address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

}  // namespace

struct Communicator::Impl {
  // Declared first, so that they outlive the group and the store.
  IgnoreSigpipe no_sigpipe;
  QuietLogs quiet;
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};

Communicator::Communicator(const DistributedOptions& o) : options_(o), impl_(std::make_unique<Impl>()) {
  if (o.world_size < 1) throw std::invalid_argument("world size must be at least 1");
  if (o.rank < 0 || o.rank >= o.world_size) throw std::invalid_argument("rank must lie in [0, world size)");
  if (o.port < 1 || o.port > 65535) throw std::invalid_argument("port must lie in [1, 65535]");
  if (!(o.timeout_seconds > 0)) throw std::invalid_argument("the timeout must be positive");
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_seconds * 1000));
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(o.port);
    so.isServer = o.rank == 0;
    so.numWorkers = o.world_size;
    so.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(o.address, so);
  } catch (const std::exception& e) {
    throw DistributedError(
        "rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size) + " could not " +
        (o.rank == 0 ? "listen on " : "reach rank 0 at ") + o.address + ":" + std::to_string(o.port) + " (" +
        clean(e.what()) + ")" +
        (o.rank == 0 ? ": the port may be in use, or not every rank started within " +
                           std::to_string(static_cast<long>(o.timeout_seconds)) + " s"
                     : ": check that rank 0 runs and that the address and port are the same on every rank"));
  }
  guarded(o, "the rendezvous", [&] {
    auto go = c10d::ProcessGroupGloo::Options::create(timeout);
    // The address Gloo binds to: the loopback interface for a local group, else the
    // interface named by GLOO_SOCKET_IFNAME (as PyTorch), else the host name's.
    const char* iface = std::getenv("GLOO_SOCKET_IFNAME");
    if (iface != nullptr && *iface != '\0') {
      go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
    } else if (is_loopback(o.address)) {
      go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(o.address));
    } else {
      go->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, o.rank, o.world_size, go);
  });
}

Communicator::~Communicator() = default;

void Communicator::allreduce_sum(float* data, int64_t n) {
  if (n == 0) return;
  guarded(options_, "a gradient all-reduce", [&] {
    std::vector<at::Tensor> t{at::from_blob(data, {n}, at::kFloat)};
    impl_->group->allreduce(t)->wait();
  });
}

int64_t Communicator::allreduce_min(int64_t value) {
  return guarded(options_, "an all-reduce", [&] {
    std::vector<at::Tensor> t{at::full({1}, value, at::kLong)};
    c10d::AllreduceOptions ao;
    ao.reduceOp = c10d::ReduceOp::MIN;
    impl_->group->allreduce(t, ao)->wait();
    return t[0].item<int64_t>();
  });
}

void Communicator::broadcast(float* data, int64_t n, int root) {
  if (n == 0) return;
  guarded(options_, "the broadcast of the initial weights", [&] {
    std::vector<at::Tensor> t{at::from_blob(data, {n}, at::kFloat)};
    c10d::BroadcastOptions bo;
    bo.rootRank = root;
    impl_->group->broadcast(t, bo)->wait();
  });
}

namespace {

// Gloo gathers tensors of one size: every rank's count of values (into `count`), then
// this rank's values padded with zeros to the largest count.
at::Tensor padded(c10d::ProcessGroupGloo& group, const float* data, int64_t n, int world,
                  std::vector<int64_t>& count) {
  std::vector<std::vector<at::Tensor>> sizes_out(1);
  for (int r = 0; r < world; ++r) sizes_out[0].push_back(at::empty({1}, at::kLong));
  std::vector<at::Tensor> size_in{at::full({1}, n, at::kLong)};
  group.allgather(sizes_out, size_in)->wait();
  count.resize(world);
  for (int r = 0; r < world; ++r) count[r] = sizes_out[0][r].item<int64_t>();
  const int64_t most = std::max<int64_t>(1, *std::max_element(count.begin(), count.end()));
  at::Tensor out = at::zeros({most}, at::kFloat);
  std::copy_n(data, n, out.data_ptr<float>());
  return out;
}

}  // namespace

std::vector<float> Communicator::allgather(const float* data, int64_t n, std::vector<int64_t>* counts) {
  return guarded(options_, "an all-gather of embeddings", [&] {
    const int w = options_.world_size;
    std::vector<int64_t> count;
    std::vector<at::Tensor> in{padded(*impl_->group, data, n, w, count)};
    const int64_t most = in[0].numel();
    std::vector<std::vector<at::Tensor>> out(1);
    for (int r = 0; r < w; ++r) out[0].push_back(at::empty({most}, at::kFloat));
    impl_->group->allgather(out, in)->wait();
    std::vector<float> all;
    for (int r = 0; r < w; ++r) all.insert(all.end(), out[0][r].data_ptr<float>(), out[0][r].data_ptr<float>() + count[r]);
    if (counts != nullptr) *counts = count;
    return all;
  });
}

std::vector<float> Communicator::gather(const float* data, int64_t n, int root) {
  return guarded(options_, "the gathering of the final embedding", [&] {
    const int w = options_.world_size;
    const bool is_root = options_.rank == root;
    std::vector<int64_t> count;
    std::vector<at::Tensor> in{padded(*impl_->group, data, n, w, count)};
    const int64_t most = in[0].numel();
    std::vector<std::vector<at::Tensor>> out;
    if (is_root) {
      out.resize(1);
      for (int r = 0; r < w; ++r) out[0].push_back(at::empty({most}, at::kFloat));
    }
    c10d::GatherOptions go;
    go.rootRank = root;
    impl_->group->gather(out, in, go)->wait();
    std::vector<float> all;
    if (is_root) {
      for (int r = 0; r < w; ++r) all.insert(all.end(), out[0][r].data_ptr<float>(), out[0][r].data_ptr<float>() + count[r]);
    }
    return all;
  });
}

std::vector<int> share_of(int n_cells, int rank, int world_size) {
  std::vector<int> cells;
  for (int c = rank; c < n_cells; c += world_size) cells.push_back(c);
  return cells;
}

}  // namespace concord
