#pragma once
// AdamW with torch.optim.AdamW's exact semantics, written once for every backend over a small
// "parameter ops" trait (ParamOps<Tensor>) that each backend specialises for its tensor type.

#include <cmath>
#include <concepts>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ftlib/batch.hpp"
#include "ftlib/error.hpp"
#include "ftlib/models/model_concept.hpp"

namespace ftlib {

/// @brief The element-wise operations AdamW needs on a backend's tensor type. Each backend
///        specialises it next to its tensor type (backends/libtorch/param_ops.hpp, backends/eigen/...).
template <class Tensor>
struct ParamOps;

template <class Tensor>
concept AdamWTensor = requires(Tensor& t, const Tensor& c, double a, const HostTensor& host) {
  { ParamOps<Tensor>::zeros_like(c) } -> std::same_as<Tensor>;
  { ParamOps<Tensor>::scale(t, a) };                 // t *= a
  { ParamOps<Tensor>::lerp(t, c, a) };               // t += a * (c - t)
  { ParamOps<Tensor>::scale_add_square(t, a, c, a) };  // t = a * t + b * c^2
  { ParamOps<Tensor>::adam_update(t, c, c, a, a, a) };  // p -= step * m / (sqrt(v) / bc2_sqrt + eps)
  { ParamOps<Tensor>::to_host(c) } -> std::same_as<HostTensor>;
  { ParamOps<Tensor>::from_host(host, c) } -> std::same_as<Tensor>;  // shaped/placed like c
};

/// @brief AdamW hyper-parameters (torch defaults, except the lr which the scheduler drives).
struct AdamWOptions {
  double lr = 5e-5;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  /// transformers' Trainer excludes biases and LayerNorm weights from decay; the Python notebook
  /// (and torch's plain AdamW) decays every parameter.
  bool decay_bias_and_layer_norm = true;

  AdamWOptions& with_lr(double v) { lr = v; return *this; }
  AdamWOptions& with_weight_decay(double v) { weight_decay = v; return *this; }
  AdamWOptions& with_betas(double b1, double b2) { beta1 = b1; beta2 = b2; return *this; }
  AdamWOptions& with_eps(double v) { eps = v; return *this; }

  void validate() const {
    if (!(lr >= 0.0)) throw option_error("AdamW: learning rate must be >= 0, got " + std::to_string(lr));
    if (!(beta1 >= 0.0 && beta1 < 1.0)) throw option_error("AdamW: beta1 must be in [0, 1), got " + std::to_string(beta1));
    if (!(beta2 >= 0.0 && beta2 < 1.0)) throw option_error("AdamW: beta2 must be in [0, 1), got " + std::to_string(beta2));
    if (!(eps >= 0.0)) throw option_error("AdamW: eps must be >= 0, got " + std::to_string(eps));
    if (!(weight_decay >= 0.0)) throw option_error("AdamW: weight decay must be >= 0, got " + std::to_string(weight_decay));
  }
};

/// @brief True for the names transformers' Trainer leaves out of weight decay: biases and
///        LayerNorm weights (HF names contain "LayerNorm" or "layer_norm").
[[nodiscard]] inline bool is_bias_or_layer_norm(const std::string& name) {
  const auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".bias") || name.find("LayerNorm") != std::string::npos ||
         name.find("layer_norm") != std::string::npos;
}

/// @brief torch.optim.AdamW: decoupled weight decay, bias-corrected moments, per-parameter step count.
template <AdamWTensor Tensor>
class AdamW {
 public:
  using Ops = ParamOps<Tensor>;

  explicit AdamW(AdamWOptions options = {}) : options_(options) { options_.validate(); }

  [[nodiscard]] const AdamWOptions& options() const noexcept { return options_; }
  void set_lr(double lr) { options_.lr = lr; }

  /// @brief One update of every parameter that has a gradient, at learning rate options().lr.
  void step(std::vector<ParameterRef<Tensor>>& parameters) {
    for (auto& p : parameters) {
      if (!p.has_grad) continue;  // torch skips parameters whose .grad is None
      auto [it, inserted] = state_.try_emplace(p.name);
      State& s = it->second;
      if (inserted) {
        s.exp_avg = Ops::zeros_like(p.value);
        s.exp_avg_sq = Ops::zeros_like(p.value);
      }
      s.step += 1;
      const double decay = options_.decay_bias_and_layer_norm || !is_bias_or_layer_norm(p.name)
                               ? options_.weight_decay : 0.0;
      if (decay != 0.0) Ops::scale(p.value, 1.0 - options_.lr * decay);
      Ops::lerp(s.exp_avg, p.grad, 1.0 - options_.beta1);
      Ops::scale_add_square(s.exp_avg_sq, options_.beta2, p.grad, 1.0 - options_.beta2);
      const double t = static_cast<double>(s.step);
      const double bias_correction1 = 1.0 - std::pow(options_.beta1, t);
      const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(options_.beta2, t));
      Ops::adam_update(p.value, s.exp_avg, s.exp_avg_sq, options_.lr / bias_correction1,
                       bias_correction2_sqrt, options_.eps);
    }
  }

  /// @brief Moments and step counts as host tensors, keyed "<param>.exp_avg", "<param>.exp_avg_sq",
  ///        "<param>.step" (a 1-element tensor), for exact resume.
  [[nodiscard]] std::map<std::string, HostTensor> state_dict() const {
    std::map<std::string, HostTensor> out;
    for (const auto& [name, s] : state_) {
      out[name + ".exp_avg"] = Ops::to_host(s.exp_avg);
      out[name + ".exp_avg_sq"] = Ops::to_host(s.exp_avg_sq);
      out[name + ".step"] = HostTensor{{1}, {static_cast<float>(s.step)}};
    }
    return out;
  }

  /// @brief Restores state_dict() output; the parameters give each moment its shape and device.
  void load_state_dict(const std::map<std::string, HostTensor>& saved,
                       const std::vector<ParameterRef<Tensor>>& parameters) {
    state_.clear();
    for (const auto& p : parameters) {
      const auto m = saved.find(p.name + ".exp_avg");
      if (m == saved.end()) continue;  // never stepped
      const auto v = saved.find(p.name + ".exp_avg_sq");
      const auto t = saved.find(p.name + ".step");
      if (v == saved.end() || t == saved.end() || t->second.data.size() != 1)
        throw tensor_error("optimizer state for '" + p.name + "' is incomplete (need exp_avg, exp_avg_sq and step)");
      State s;
      s.exp_avg = Ops::from_host(m->second, p.value);
      s.exp_avg_sq = Ops::from_host(v->second, p.value);
      s.step = static_cast<std::int64_t>(t->second.data[0]);
      state_.emplace(p.name, std::move(s));
    }
  }

 private:
  struct State {
    Tensor exp_avg{};
    Tensor exp_avg_sq{};
    std::int64_t step = 0;
  };

  AdamWOptions options_;
  std::map<std::string, State> state_;
};

}  // namespace ftlib
