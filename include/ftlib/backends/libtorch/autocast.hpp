#pragma once
// Mixed precision for the LibTorch backend: an RAII autocast scope (bf16 on CPU and CUDA, fp16 on
// CUDA) and a dynamic loss scaler for fp16, since LibTorch's C++ API has neither in public form.

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "ftlib/backends/libtorch/compat.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/models/model_concept.hpp"
#include "ftlib/models/model_options.hpp"

namespace ftlib::libtorch {

/// @brief Throws option_error when `precision` cannot run on `device` (fp16 autocast is CUDA-only).
inline void check_precision(Precision precision, const torch::Device& device) {
  if (precision == Precision::fp16 && !device.is_cuda())
    throw option_error(SourceLocation{"precision", {}, {}}, "fp16 needs a CUDA device (device is " + device.str() +
                                                                "); use bf16 on the CPU");
  if (precision != Precision::fp32 && !device.is_cpu() && !device.is_cuda())
    throw option_error(SourceLocation{"precision", {}, {}}, "mixed precision is supported on CPU and CUDA only, not on " + device.str());
}

/// @brief RAII autocast region for one device type, like Python's `torch.autocast(device, dtype)`.
///        Precision::fp32 makes it a no-op. Restores the previous state on destruction.
class AutocastGuard {
 public:
  AutocastGuard(const torch::Device& device, Precision precision) {
    if (precision == Precision::fp32) return;
    check_precision(precision, device);
    device_type_ = device.type();
    previous_enabled_ = compat::is_autocast_enabled(device_type_);
    previous_dtype_ = compat::get_autocast_dtype(device_type_);
    compat::set_autocast_enabled(device_type_, true);
    compat::set_autocast_dtype(device_type_, precision == Precision::bf16 ? at::kBFloat16 : at::kHalf);
    at::autocast::increment_nesting();
    active_ = true;
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;
  ~AutocastGuard() {
    if (!active_) return;
    // Leaving the outermost region drops the cached low-precision copies of the weights.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    compat::set_autocast_enabled(device_type_, previous_enabled_);
    compat::set_autocast_dtype(device_type_, previous_dtype_);
  }

 private:
  bool active_ = false;
  c10::DeviceType device_type_ = c10::DeviceType::CPU;
  bool previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
};

/// @brief What a GradScaler carries from one optimizer step to the next (saved in checkpoints).
struct GradScalerState {
  double scale = 1.0;                ///< the current loss scale
  std::int64_t growth_tracker = 0;   ///< clean steps since the last growth or backoff

  /// @brief Equal when both fields are.
  friend bool operator==(const GradScalerState&, const GradScalerState&) = default;
};

/// @brief nlohmann::json conversion of GradScalerState.
inline void to_json(nlohmann::json& j, const GradScalerState& s) {
  j = nlohmann::json{{"scale", s.scale}, {"growth_tracker", s.growth_tracker}};
}

/// @brief nlohmann::json conversion of GradScalerState.
inline void from_json(const nlohmann::json& j, GradScalerState& s) {
  s.scale = j.at("scale").get<double>();
  s.growth_tracker = j.at("growth_tracker").get<std::int64_t>();
}

/// @brief Dynamic loss scaling with torch.cuda.amp.GradScaler's rule. Use per optimizer step:
///        forward_backward(batch, scaler.scale() / accumulation); `found_inf = scaler.unscale(params)`;
///        if !found_inf { clip; optimizer.step }; `scaler.update(found_inf)`.
class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions options = {}) : options_(options) {
    options_.validate();
    scale_ = options_.enabled ? options_.init_scale : 1.0;
  }

  /// @brief Whether scaling is on.
  [[nodiscard]] bool enabled() const noexcept { return options_.enabled; }
  /// @brief The factor to multiply the loss by (1 when disabled).
  [[nodiscard]] double scale() const noexcept { return scale_; }
  /// @brief Clean steps since the last growth or backoff.
  [[nodiscard]] std::int64_t growth_tracker() const noexcept { return growth_tracker_; }

  /// @brief Divides every gradient by scale() in place; returns true when any gradient holds an
  ///        inf or NaN (the caller then skips the optimizer step). One host sync.
  bool unscale(const std::vector<ParameterRef<torch::Tensor>>& parameters) const {
    if (!options_.enabled) return false;
    std::vector<at::Tensor> cuda_grads;
    std::vector<at::Tensor> other_grads;
    for (const auto& p : parameters) {
      if (!p.has_grad || !p.grad.defined()) continue;
      (p.grad.is_cuda() ? cuda_grads : other_grads).push_back(p.grad);
    }
    const double inv_scale = 1.0 / scale_;
    at::NoGradGuard no_grad;
    bool found = false;
    if (!cuda_grads.empty()) {
      // The fused CUDA kernel exists (with this signature) in 1.13 and 2.x; it needs one device.
      const auto options = at::TensorOptions().dtype(at::kFloat).device(cuda_grads.front().device());
      at::Tensor found_inf = at::zeros({1}, options);
      const at::Tensor inv = at::full({1}, inv_scale, options);
      at::_amp_foreach_non_finite_check_and_unscale_(cuda_grads, found_inf, inv);
      found = found_inf.item<float>() != 0.0F;
    }
    if (!other_grads.empty()) {
      at::Tensor non_finite = at::zeros({}, at::kBool);
      for (auto& g : other_grads) {
        non_finite = at::logical_or(non_finite, at::isfinite(g).logical_not().any());
        g.mul_(inv_scale);
      }
      found = found || non_finite.item<bool>();
    }
    return found;
  }

  /// @brief Backs the scale off after an overflow, grows it after growth_interval clean steps.
  void update(bool found_inf) {
    if (!options_.enabled) return;
    if (found_inf) {
      scale_ *= options_.backoff_factor;
      growth_tracker_ = 0;
      return;
    }
    if (++growth_tracker_ == options_.growth_interval) {
      const double grown = scale_ * options_.growth_factor;
      if (std::isfinite(static_cast<float>(grown))) scale_ = grown;  // the scale lives in float32 in torch
      growth_tracker_ = 0;
    }
  }

  /// @brief Restores a saved state (scale and growth tracker), e.g. when resuming; a disabled
  ///        scaler checks it and stays at scale 1.
  void load_state(double scale, std::int64_t growth_tracker) {
    if (!(scale > 0.0 && std::isfinite(scale)))
      throw option_error("GradScaler: saved scale must be finite and > 0, got " + std::to_string(scale));
    if (growth_tracker < 0 || growth_tracker >= options_.growth_interval)
      throw option_error("GradScaler: saved growth_tracker must be in [0, growth_interval = " +
                         std::to_string(options_.growth_interval) + "), got " + std::to_string(growth_tracker));
    if (!options_.enabled) return;
    scale_ = scale;
    growth_tracker_ = growth_tracker;
  }
  /// @brief Restores a state saved by state().
  void load_state(const GradScalerState& state) { load_state(state.scale, state.growth_tracker); }
  /// @brief The scale and growth tracker, for checkpoints.
  [[nodiscard]] GradScalerState state() const noexcept { return GradScalerState{scale_, growth_tracker_}; }

 private:
  GradScalerOptions options_;
  double scale_ = 1.0;
  std::int64_t growth_tracker_ = 0;
};

}  // namespace ftlib::libtorch
