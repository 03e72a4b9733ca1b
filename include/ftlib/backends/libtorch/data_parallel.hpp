#pragma once
// DataParallel: the Trainer's data-parallel TrainingStrategy (training/strategy.hpp) on LibTorch's
// c10d — a TCPStore rendezvous at MASTER_ADDR:MASTER_PORT and a Gloo process group, as torchrun's
// workers make with torch.distributed.init_process_group("gloo"). LibTorch has no C++
// DistributedDataParallel, so the gradient all-reduce is here: after backward, the gradients are
// copied into buckets of about bucket_mib MiB, every bucket's all-reduce is started before the
// first is waited for (Gloo reduces one while the next is packed), and the sums are divided by the
// number of processes (DDP's mean). Not overlapped with backward itself: the autograd hooks that
// DDP uses for that are not part of LibTorch's C++ API in 1.13.
//
// Every collective names this process's rank in its error and gives up after the run's timeout; a
// process that dies makes the others' next collective fail at once (its sockets close).

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/types.h>

#include "ftlib/backends/libtorch/compat.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/core/parameter.hpp"
#include "ftlib/distributed/launch_environment.hpp"
#include "ftlib/training/strategy.hpp"

namespace ftlib::libtorch {

namespace detail {

// The address of this machine's interface that reaches `host` (a UDP "connect" sends nothing), so
// that Gloo listens where the other machines can reach it; empty when it cannot be told.
inline std::string local_address_towards(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || found == nullptr) return {};
  std::string out;
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd >= 0) {
    sockaddr_in local{};
    socklen_t len = sizeof local;
    char text[INET_ADDRSTRLEN] = {};
    if (::connect(fd, found->ai_addr, found->ai_addrlen) == 0 && ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0 &&
        ::inet_ntop(AF_INET, &local.sin_addr, text, sizeof text) != nullptr)
      out = text;
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return out;
}

// Whether `port` can be listened on (the store's host checks before c10d, whose own message is vague).
inline bool port_is_free(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return true;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(port);
  const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return free;
}

// The bits of a tensor's values summed as integers: equal on two processes when (but for a
// collision) the values are bitwise equal. Float32 tensors by their bit patterns, others by value.
inline std::int64_t checksum(const torch::Tensor& t) {
  const torch::NoGradGuard no_grad;
  const torch::Tensor c = t.detach().contiguous().flatten();
  if (c.scalar_type() == torch::kFloat) return c.view(torch::kInt).to(torch::kLong).sum().item<std::int64_t>();
  return static_cast<std::int64_t>(c.to(torch::kDouble).sum().item<double>() * 1e6);
}

}  // namespace detail

/// @brief Data-parallel training over a c10d Gloo process group (one per process); with the default
///        constructor (or a launch of one process) it is a single process and does nothing at any seam.
class DataParallel {
 public:
  /// @brief One process: no process group.
  DataParallel() = default;

  /// @brief Joins the run `launch` describes: rank 0 hosts the TCPStore (unless torchrun's agent
  ///        does), every rank connects and the Gloo group forms (blocking until all world_size
  ///        processes are there, or options.timeout). error naming the rank, the address and the
  ///        cause when the store cannot be reached or its port is taken.
  explicit DataParallel(const distributed::LaunchEnvironment& launch, distributed::DistributedOptions options = {})
      : launch_(launch), options_(options) {
    set_bucket_mib(options_.bucket_mib);
    if (options_.timeout.count() < 1)
      throw option_error(SourceLocation{"timeout", {}, {}}, "must be >= 1 second, got " + std::to_string(options_.timeout.count()));
    if (!launch_.distributed()) return;
    // LibTorch 1.x's TCPStore client and the store a current torchrun hosts speak different versions
    // of its protocol: the client's first request would wait forever, past any timeout.
    if (launch_.agent_store && compat::torch_version < 200)
      throw option_error(SourceLocation{"TORCHELASTIC_USE_AGENT_STORE", {}, {}},
                         "torchrun hosts the rendezvous store itself, and this ftlib's LibTorch " + compat::torch_version_string() +
                             " cannot talk to the store of a torch 2.x torchrun (it would hang). Start torchrun with "
                             "TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 and --rdzv-backend c10d --rdzv-endpoint HOST:PORT (rank 0 then "
                             "hosts its own store), use ftlib train --nproc-per-node, or build ftlib against LibTorch 2.x");
    const std::string where = launch_.master_addr + ":" + std::to_string(launch_.master_port);
    if (launch_.hosts_store() && !detail::port_is_free(launch_.master_port))
      throw error(SourceLocation{"MASTER_PORT", {}, {}},
                  std::to_string(launch_.master_port) + " is already in use on this machine, so " + launch_.describe() +
                      " cannot host the rendezvous store there; choose another port (torchrun --master-port, ftlib "
                      "--master-port) or stop the process that holds it");
    const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options_.timeout);
    try {
      c10d::TCPStoreOptions store_options;
      store_options.port = launch_.master_port;
      store_options.isServer = launch_.hosts_store();
      store_options.numWorkers = static_cast<std::size_t>(launch_.world_size);
      // Every rank counts itself in (clients too); the host then waits until all world_size have.
      store_options.waitWorkers = true;
      store_options.timeout = timeout;
      c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(launch_.master_addr, store_options);
      if (launch_.agent_store) store = c10::make_intrusive<c10d::PrefixStore>(launch_.store_prefix(), store);
      store_ = c10::make_intrusive<c10d::PrefixStore>("ftlib/", store);
    } catch (const std::exception& e) {
      throw error(launch_.describe() + ": cannot reach the rendezvous store at " + where + " within " +
                  std::to_string(options_.timeout.count()) + " s (MASTER_ADDR/MASTER_PORT; is rank 0 running and the address " +
                  "reachable from here?): " + e.what());
    }
    try {
      auto gloo = c10d::ProcessGroupGloo::Options::create(timeout);
      gloo->devices.push_back(gloo_device());
      group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, static_cast<int>(launch_.rank), static_cast<int>(launch_.world_size),
                                                            gloo);
    } catch (const std::exception& e) {
      throw error(launch_.describe() + ": the Gloo process group did not form (every process of the run must start within " +
                  std::to_string(options_.timeout.count()) + " s and reach the others; GLOO_SOCKET_IFNAME picks the network "
                  "interface): " + e.what());
    }
  }

  /// @brief The strategy of this process as torchrun (or `ftlib train --nproc-per-node`) started it:
  ///        data-parallel under WORLD_SIZE > 1, a single process otherwise.
  [[nodiscard]] static DataParallel from_environment(distributed::DistributedOptions options = {}) {
    return DataParallel(distributed::LaunchEnvironment::from_environment(), options);
  }

  /// @brief Number of processes training together.
  [[nodiscard]] std::int64_t world_size() const noexcept { return launch_.world_size; }
  /// @brief This process's index.
  [[nodiscard]] std::int64_t rank() const noexcept { return launch_.rank; }
  /// @brief Rank 0: prints, logs, checkpoints, saves the model.
  [[nodiscard]] bool is_main_process() const noexcept { return launch_.rank == 0; }
  /// @brief Sets the gradient bucket size (DistributedOptions::bucket_mib; every process must use the same).
  void set_bucket_mib(std::int64_t mib) {
    if (mib < 1) throw option_error(SourceLocation{"bucket_mib", {}, {}}, "must be >= 1, got " + std::to_string(mib));
    options_.bucket_mib = mib;
  }
  /// @brief The launch this strategy joined.
  [[nodiscard]] const distributed::LaunchEnvironment& launch() const noexcept { return launch_; }

  /// @brief Replaces every gradient by its mean over the processes (bucketed all-reduce).
  template <class Model>
  void reduce_gradients(Model& model) {
    if (!group_) return;
    if constexpr (requires { model.grad_scaler().enabled(); }) {
      if (model.grad_scaler().enabled())
        throw option_error(SourceLocation{"fp16", {}, {}}, "float16 loss scaling is not supported in data-parallel runs yet (each "
                                                          "process's scaler would decide alone); use bf16 or fp32");
    }
    auto params = model.parameters();
    std::vector<torch::Tensor> grads;
    std::int64_t elements = 0;
    for (const auto& p : params) {
      if (!p.has_grad || !p.grad.defined()) continue;
      grads.push_back(p.grad);
      elements += p.grad.numel();
    }
    // Every process must reduce the same gradients, or the buckets would not line up.
    if (!agree(elements))
      throw error(launch_.describe() + ": the processes have gradients of different sizes (" + std::to_string(elements) +
                  " elements here): they are not training the same model");
    const std::int64_t bucket_bytes = options_.bucket_mib * 1024 * 1024;
    struct Bucket {
      std::vector<torch::Tensor> flat;  // one tensor: the all-reduce's argument
      std::size_t first = 0, last = 0;  // grads[first, last)
      c10::intrusive_ptr<c10d::Work> work;
    };
    std::vector<Bucket> buckets;
    for (std::size_t i = 0; i < grads.size();) {
      Bucket b;
      b.first = i;
      std::int64_t bytes = 0;
      while (i < grads.size() && (i == b.first || (bytes + grads[i].numel() * grads[i].element_size() <= bucket_bytes &&
                                                   grads[i].scalar_type() == grads[b.first].scalar_type() &&
                                                   grads[i].device() == grads[b.first].device()))) {
        bytes += grads[i].numel() * grads[i].element_size();
        ++i;
      }
      b.last = i;
      buckets.push_back(std::move(b));
    }
    const torch::NoGradGuard no_grad;
    collective("the gradient all-reduce", [&] {
      for (auto& b : buckets) {
        std::vector<torch::Tensor> parts;
        for (std::size_t g = b.first; g < b.last; ++g) parts.push_back(grads[g].reshape({-1}));
        b.flat = {torch::cat(parts)};
        b.work = group_->allreduce(b.flat);
      }
      const double inverse = 1.0 / static_cast<double>(launch_.world_size);
      for (auto& b : buckets) {
        b.work->wait();
        b.flat[0].mul_(inverse);
        std::int64_t offset = 0;
        for (std::size_t g = b.first; g < b.last; ++g) {
          const std::int64_t n = grads[g].numel();
          grads[g].copy_(b.flat[0].narrow(0, offset, n).view(grads[g].sizes()));
          offset += n;
        }
      }
    });
  }

  /// @brief Every process's evaluation shard, concatenated in rank order (on every process).
  [[nodiscard]] EvaluationShard gather(EvaluationShard local) {
    if (!group_) return local;
    const auto rows = static_cast<std::int64_t>(local.rows.size());
    const auto logits = static_cast<std::int64_t>(local.logits.size());
    const auto sizes = all_gather(torch::tensor({rows, logits}, torch::kLong), "the evaluation sizes' all-gather");
    std::int64_t max_rows = 0, max_logits = 0;
    for (const auto& s : sizes) {
      max_rows = std::max(max_rows, s[0].item<std::int64_t>());
      max_logits = std::max(max_logits, s[1].item<std::int64_t>());
    }
    // Padded to the largest shard (an all-gather takes equal shapes); the sizes say what is real.
    std::vector<std::int64_t> ids(static_cast<std::size_t>(std::max<std::int64_t>(max_rows, 1)), 0);
    for (std::size_t i = 0; i < local.rows.size(); ++i) ids[i] = static_cast<std::int64_t>(local.rows[i]);
    std::vector<float> padded_logits(static_cast<std::size_t>(std::max<std::int64_t>(max_logits, 1)), 0.0f);
    std::copy(local.logits.begin(), local.logits.end(), padded_logits.begin());
    const torch::Tensor row_ids = torch::from_blob(ids.data(), {static_cast<std::int64_t>(ids.size())}, torch::kLong).clone();
    const torch::Tensor values =
        torch::from_blob(padded_logits.data(), {static_cast<std::int64_t>(padded_logits.size())}, torch::kFloat).clone();
    const auto all_rows = all_gather(row_ids, "the evaluation rows' all-gather");
    const auto all_values = all_gather(values, "the evaluation logits' all-gather");
    const auto all_losses = all_gather(torch::tensor({local.loss_sum}, torch::kDouble), "the evaluation loss all-gather");
    EvaluationShard out;
    for (std::size_t r = 0; r < sizes.size(); ++r) {
      const auto n = sizes[r][0].item<std::int64_t>();
      const auto k = sizes[r][1].item<std::int64_t>();
      const auto* their_rows = all_rows[r].data_ptr<std::int64_t>();
      for (std::int64_t i = 0; i < n; ++i) out.rows.push_back(static_cast<std::size_t>(their_rows[i]));
      const auto* v = all_values[r].data_ptr<float>();
      out.logits.insert(out.logits.end(), v, v + k);
      out.loss_sum += all_losses[r].item<double>();
    }
    return out;
  }

  /// @brief True on every process when `flag` is true on any.
  [[nodiscard]] bool any(bool flag) {
    if (!group_) return flag;
    std::vector<torch::Tensor> t{torch::tensor({flag ? 1 : 0}, torch::kInt)};
    c10d::AllreduceOptions max;
    max.reduceOp = c10d::ReduceOp::MAX;
    collective("an agreement (all-reduce)", [&] { group_->allreduce(t, max)->wait(); });
    return t[0].item<int>() != 0;
  }

  /// @brief The mean of `value` over the processes.
  [[nodiscard]] double average(double value) {
    if (!group_) return value;
    std::vector<torch::Tensor> t{torch::tensor({value}, torch::kDouble)};
    collective("the loss all-reduce", [&] { group_->allreduce(t)->wait(); });
    return t[0].item<double>() / static_cast<double>(launch_.world_size);
  }

  /// @brief With options.check_replicas: error naming the first tensor whose weights differ from rank 0's.
  template <class Model>
  void after_optimizer_step(Model& model) {
    if (!group_ || !options_.check_replicas) return;
    const auto params = model.parameters();
    std::vector<std::int64_t> sums;
    for (const auto& p : params) sums.push_back(detail::checksum(p.value));
    const auto n = static_cast<std::int64_t>(sums.size());
    const auto all = all_gather(torch::from_blob(sums.data(), {n}, torch::kLong).clone(), "the replica check's all-gather");
    for (std::size_t r = 1; r < all.size(); ++r) {
      const auto* theirs = all[r].data_ptr<std::int64_t>();
      const auto* first = all[0].data_ptr<std::int64_t>();
      for (std::int64_t i = 0; i < n; ++i) {
        if (theirs[i] != first[i])
          throw error(launch_.describe() + ": after this optimizer step rank " + std::to_string(r) + "'s " +
                      params[static_cast<std::size_t>(i)].name + " differs from rank 0's (check_replicas): the processes no longer "
                      "hold the same model");
      }
    }
  }

 private:
  // Gloo's device: on GLOO_SOCKET_IFNAME's interface when set, else on the address that reaches
  // MASTER_ADDR (loopback for a local run, the network's for several machines).
  [[nodiscard]] std::shared_ptr<::gloo::transport::Device> gloo_device() const {
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != '\0')
      return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
    const std::string local = detail::local_address_towards(launch_.master_addr, launch_.master_port);
    if (!local.empty()) return c10d::ProcessGroupGloo::createDeviceForHostname(local);
    return c10d::ProcessGroupGloo::createDefaultDevice();
  }

  // Runs one collective; a failure becomes an error naming this rank (the usual cause: another
  // process stopped, and its own error says why).
  template <class F>
  void collective(const char* what, F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      throw error(launch_.describe() + ": " + what + " failed (timeout " + std::to_string(options_.timeout.count()) +
                  " s); another process of the run has probably stopped (its own message says why): " + e.what());
    }
  }

  // Whether `value` is the same on every process.
  [[nodiscard]] bool agree(std::int64_t value) {
    std::vector<torch::Tensor> t{torch::tensor({value, -value}, torch::kLong)};
    c10d::AllreduceOptions max;
    max.reduceOp = c10d::ReduceOp::MAX;
    collective("an agreement (all-reduce)", [&] { group_->allreduce(t, max)->wait(); });
    return t[0][0].item<std::int64_t>() == value && -t[0][1].item<std::int64_t>() == value;
  }

  // Every process's `local` (same shape on every process), in rank order.
  [[nodiscard]] std::vector<torch::Tensor> all_gather(torch::Tensor local, const char* what) {
    std::vector<torch::Tensor> input{std::move(local)};
    std::vector<std::vector<torch::Tensor>> output(1);
    for (std::int64_t r = 0; r < launch_.world_size; ++r) output[0].push_back(torch::empty_like(input[0]));
    collective(what, [&] { group_->allgather(output, input)->wait(); });
    return output[0];
  }

  distributed::LaunchEnvironment launch_;
  distributed::DistributedOptions options_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
};

static_assert(TrainingStrategy<DataParallel>);

}  // namespace ftlib::libtorch
