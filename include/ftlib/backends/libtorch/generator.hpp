#pragma once
// A model's own random stream for dropout. LibTorch's dropout kernels (at::dropout on the CPU, the
// fused CUDA kernel, the dropout inside scaled_dot_product_attention) take no generator: they draw
// from the process-wide default generator of their device. DropoutGenerator keeps a private
// generator per device and, for the duration of a training forward pass, swaps its state into the
// default generator and back out. The kernels stay the same (same speed, same masks as torch for
// the same state), and two models in one process no longer share a stream.

#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/core/Generator.h>
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "ftlib/core/error.hpp"

namespace ftlib::libtorch {

/// @brief Saved generator states (LibTorch's get_state() bytes): the CPU generator's, and the CUDA
///        generator's when the model lives on a CUDA device (empty otherwise). JSON: {"cpu":[...], "cuda":[...]}.
struct RngState {
  std::vector<std::uint8_t> cpu;   ///< CPUGeneratorImpl state (mt19937 + normal cache)
  std::vector<std::uint8_t> cuda;  ///< CUDA (Philox) generator state, or empty

  /// @brief Equal when both byte strings are.
  friend bool operator==(const RngState&, const RngState&) = default;
};

/// @brief nlohmann::json conversion of RngState.
inline void to_json(nlohmann::json& j, const RngState& s) { j = nlohmann::json{{"cpu", s.cpu}, {"cuda", s.cuda}}; }

/// @brief nlohmann::json conversion of RngState ("cuda" may be absent).
inline void from_json(const nlohmann::json& j, RngState& s) {
  s.cpu = j.at("cpu").get<std::vector<std::uint8_t>>();
  s.cuda = j.contains("cuda") ? j.at("cuda").get<std::vector<std::uint8_t>>() : std::vector<std::uint8_t>{};
}

namespace detail {

[[nodiscard]] inline std::vector<std::uint8_t> state_bytes(const at::Generator& generator) {
  const at::Tensor state = generator.get_state();  // a CPU uint8 tensor
  const auto* data = state.data_ptr<std::uint8_t>();
  return {data, data + state.numel()};
}

inline void set_state_bytes(at::Generator& generator, const std::vector<std::uint8_t>& bytes, const char* which) {
  at::Tensor state = at::empty({static_cast<std::int64_t>(bytes.size())}, at::kByte);
  if (!bytes.empty()) std::memcpy(state.data_ptr<std::uint8_t>(), bytes.data(), bytes.size());
  try {
    generator.set_state(state);
  } catch (const c10::Error& e) {
    throw tensor_error(std::string("cannot restore the ") + which + " generator state (" + std::to_string(bytes.size()) +
                       " bytes): " + e.what_without_backtrace());
  }
}

}  // namespace detail

/// @brief The private dropout stream of one model: a CPU generator and, once the model is on a CUDA
///        device, a CUDA generator for that device. Copies share the generators (like at::Generator).
class DropoutGenerator {
 public:
  /// @brief Both streams seeded with `seed`.
  explicit DropoutGenerator(std::uint64_t seed) : seed_(seed), cpu_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}

  /// @brief Reseeds every stream (like torch.manual_seed, but for this model only).
  void set_seed(std::uint64_t seed) {
    seed_ = seed;
    lock_and(cpu_, [&] { cpu_.set_current_seed(seed); });
    if (cuda_.defined()) lock_and(cuda_, [&] { cuda_.set_current_seed(seed); });
  }

  /// @brief Makes sure a stream exists for `device` (a CUDA generator is created on first use,
  ///        seeded with the last seed).
  void attach(const torch::Device& device) {
    if (!device.is_cuda()) return;
    // "cuda" (no index) means the current device: keep an existing stream rather than restart it.
    if (cuda_.defined() && (!device.has_index() || cuda_.device().index() == device.index())) return;
    at::Generator global = at::globalContext().defaultGenerator(device);
    at::Generator fresh = [&] {
      const std::lock_guard<std::mutex> lock(global.mutex());
      return global.clone();
    }();
    fresh.set_current_seed(seed_);
    cuda_ = std::move(fresh);
  }

  /// @brief The states of the streams (CUDA's only when attached to a CUDA device).
  [[nodiscard]] RngState state() const {
    RngState s;
    s.cpu = locked_bytes(cpu_);
    if (cuda_.defined()) s.cuda = locked_bytes(cuda_);
    return s;
  }

  /// @brief Restores states saved by state(). A CUDA state is applied when a CUDA stream exists
  ///        (a CPU-saved state leaves the CUDA stream as seeded). tensor_error on a malformed state.
  void set_state(const RngState& s) {
    lock_and(cpu_, [&] { detail::set_state_bytes(cpu_, s.cpu, "CPU"); });
    if (cuda_.defined() && !s.cuda.empty()) lock_and(cuda_, [&] { detail::set_state_bytes(cuda_, s.cuda, "CUDA"); });
  }

  /// @brief While alive, `device`'s default generator continues this model's stream; on destruction
  ///        the stream's new position is kept and the default generator is put back as it was.
  ///        `active` false (eval mode: nothing draws) makes it a no-op. Not for models running
  ///        concurrently on several threads (they would share the swap).
  class Scope {
   public:
    Scope(DropoutGenerator& owner, const torch::Device& device, bool active = true) {
      if (!active) return;
      if (device.is_cuda()) {
        owner.attach(device);
        own_ = owner.cuda_;
      } else if (device.is_cpu()) {
        own_ = owner.cpu_;
      } else {
        return;  // other devices: their default generator, as before
      }
      global_ = at::globalContext().defaultGenerator(device);
      const std::lock_guard<std::mutex> lock(global_.mutex());
      saved_ = global_.get_state();
      global_.set_state(own_.get_state());
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    ~Scope() {
      if (!global_.defined()) return;
      const std::lock_guard<std::mutex> lock(global_.mutex());
      own_.set_state(global_.get_state());
      global_.set_state(saved_);
    }

   private:
    at::Generator own_;
    at::Generator global_;
    at::Tensor saved_;
  };

 private:
  template <class F>
  static void lock_and(at::Generator& g, F&& f) {
    const std::lock_guard<std::mutex> lock(g.mutex());
    f();
  }
  [[nodiscard]] static std::vector<std::uint8_t> locked_bytes(const at::Generator& g) {
    at::Generator copy = g;  // shares the impl; mutex() is non-const
    const std::lock_guard<std::mutex> lock(copy.mutex());
    return detail::state_bytes(copy);
  }

  std::uint64_t seed_;
  at::Generator cpu_;
  at::Generator cuda_;
};

}  // namespace ftlib::libtorch
