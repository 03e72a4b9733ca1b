#pragma once
// Who this process is in a data-parallel run, read from the environment torchrun gives its workers
// (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, and torchelastic's
// agent-store variables), and the options of the run's collectives. Backend-free: the process
// group itself is the LibTorch backend's (backends/libtorch/data_parallel.hpp); `ftlib train
// --nproc-per-node` sets the same variables for the workers it starts (local_launcher.hpp).

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>

#include "ftlib/core/error.hpp"

namespace ftlib::distributed {

/// @brief How the processes of a run reach each other and how long they wait for one another.
struct DistributedOptions {
  /// How long a collective (or reaching the rendezvous store) may wait for the other processes before
  /// this one gives up with an error (transformers' ddp_timeout, 1800 s by default).
  std::chrono::seconds timeout{1800};
  /// Gradients are all-reduced in buckets of about this many MiB (DDP's bucket_cap_mb).
  std::int64_t bucket_mib = 25;
  /// After every optimizer step, compare a checksum of every weight across processes and stop with
  /// an error naming the first tensor that differs (a debug mode: one small all-gather per step).
  bool check_replicas = false;

  /// @brief Sets timeout.
  DistributedOptions& with_timeout(std::chrono::seconds v) { timeout = v; return *this; }
  /// @brief Sets bucket_mib.
  DistributedOptions& with_bucket_mib(std::int64_t v) { bucket_mib = v; return *this; }
  /// @brief Sets check_replicas.
  DistributedOptions& with_check_replicas(bool v) { check_replicas = v; return *this; }
};

/// @brief This process's place in a run started by torchrun (or by `ftlib train --nproc-per-node`).
struct LaunchEnvironment {
  std::int64_t rank = 0;              ///< RANK: index among all processes
  std::int64_t local_rank = 0;        ///< LOCAL_RANK: index on this machine (picks the GPU)
  std::int64_t world_size = 1;        ///< WORLD_SIZE
  std::int64_t local_world_size = 1;  ///< LOCAL_WORLD_SIZE
  std::string master_addr = "127.0.0.1";  ///< MASTER_ADDR: host of the rendezvous store
  std::uint16_t master_port = 29500;      ///< MASTER_PORT
  /// TORCHELASTIC_USE_AGENT_STORE=True: torchrun's agent hosts the store; every rank is a client
  /// under the prefix /worker/attempt_<restart_count>.
  bool agent_store = false;
  std::int64_t restart_count = 0;     ///< TORCHELASTIC_RESTART_COUNT

  /// @brief More than one process trains together.
  [[nodiscard]] bool distributed() const noexcept { return world_size > 1; }
  /// @brief The rank that hosts the rendezvous store (none under torchrun's agent store).
  [[nodiscard]] bool hosts_store() const noexcept { return !agent_store && rank == 0; }
  /// @brief The key prefix every store access goes under ("" when this run hosts its own store).
  [[nodiscard]] std::string store_prefix() const {
    return agent_store ? "/worker/attempt_" + std::to_string(restart_count) : std::string();
  }
  /// @brief "rank 1 of 2", for messages.
  [[nodiscard]] std::string describe() const {
    return "rank " + std::to_string(rank) + " of " + std::to_string(world_size);
  }

  /// @brief The launch of this process: single-process defaults when WORLD_SIZE is unset, else every
  ///        variable checked (option_error naming the variable). `getenv` reads one variable (null: unset).
  [[nodiscard]] static LaunchEnvironment from_environment(const std::function<const char*(const char*)>& getenv = &std::getenv) {
    LaunchEnvironment env;
    const char* world = getenv("WORLD_SIZE");
    if (world == nullptr) {
      for (const char* name : {"RANK", "LOCAL_RANK"}) {
        if (const char* v = getenv(name); v != nullptr && std::string(v) != "0")
          throw option_error(SourceLocation{name, {}, {}}, "is " + std::string(v) + " but WORLD_SIZE is not set; a data-parallel "
                                                           "run needs RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (torchrun sets them)");
      }
      return env;
    }
    env.world_size = integer(getenv, "WORLD_SIZE", 1, 1 << 20);
    if (!env.distributed()) return env;
    env.rank = integer(getenv, "RANK", 0, env.world_size - 1, true);
    env.local_world_size = getenv("LOCAL_WORLD_SIZE") ? integer(getenv, "LOCAL_WORLD_SIZE", 1, env.world_size) : env.world_size;
    env.local_rank = getenv("LOCAL_RANK") ? integer(getenv, "LOCAL_RANK", 0, env.local_world_size - 1) : env.rank % env.local_world_size;
    const char* addr = getenv("MASTER_ADDR");
    if (addr == nullptr || *addr == '\0')
      throw option_error(SourceLocation{"MASTER_ADDR", {}, {}}, "is not set: WORLD_SIZE " + std::to_string(env.world_size) +
                                                                    " asks for a data-parallel run, whose processes meet at MASTER_ADDR:MASTER_PORT");
    env.master_addr = addr;
    env.master_port = static_cast<std::uint16_t>(integer(getenv, "MASTER_PORT", 1, 65535, true));
    if (const char* agent = getenv("TORCHELASTIC_USE_AGENT_STORE")) env.agent_store = std::string(agent) == "True" || std::string(agent) == "1";
    if (getenv("TORCHELASTIC_RESTART_COUNT")) env.restart_count = integer(getenv, "TORCHELASTIC_RESTART_COUNT", 0, 1 << 30);
    return env;
  }

 private:
  static std::int64_t integer(const std::function<const char*(const char*)>& getenv, const char* name, std::int64_t low,
                              std::int64_t high, bool required = false) {
    const char* v = getenv(name);
    if (v == nullptr) {
      if (required) throw option_error(SourceLocation{name, {}, {}}, "is not set (a data-parallel run needs it; torchrun sets it)");
      return low;
    }
    const std::string text(v);
    std::size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (text.empty() || used != text.size())
      throw option_error(SourceLocation{name, {}, {}}, "'" + text + "' is not an integer");
    if (value < low || value > high)
      throw option_error(SourceLocation{name, {}, {}}, "is " + text + ", outside " + std::to_string(low) + ".." + std::to_string(high));
    return value;
  }
};

}  // namespace ftlib::distributed
