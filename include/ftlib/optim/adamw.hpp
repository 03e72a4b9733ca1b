#pragma once
// AdamW with torch.optim.AdamW's exact semantics, written once for every backend over a small
// "parameter ops" trait (ParamOps<Tensor>) that each backend specialises for its tensor type.
// A backend may also give the trait a one-pass `adamw_step` (AdamWFusedTensor); the op-by-op
// sequence (adamw_step_op_by_op) stays the definition that such a fused step must reproduce.

#include <cmath>
#include <concepts>
#include <cstdint>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__SSE2__) || defined(_M_X64)
#include <immintrin.h>
#endif

#include "ftlib/core/error.hpp"
#include "ftlib/core/host_tensor.hpp"
#include "ftlib/core/parameter.hpp"

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

/// @brief The scalars of one AdamW update of one parameter, in double precision as the optimizer
///        computes them (a backend rounds them to its element type, as torch does for a Scalar).
struct AdamWStepScalars {
  /// @brief p *= decay first: 1 - lr * weight_decay, exactly 1 for a parameter that is not decayed.
  double decay = 1.0;
  /// @brief m += (1 - beta1) * (g - m).
  double beta1 = 0.9;
  /// @brief v = beta2 * v + (1 - beta2) * g^2.
  double beta2 = 0.999;
  /// @brief lr / (1 - beta1^step).
  double step_size = 0.0;
  /// @brief sqrt(1 - beta2^step).
  double bias_correction2_sqrt = 1.0;
  /// @brief Added to sqrt(v) / bias_correction2_sqrt.
  double eps = 1e-8;
};

/// @brief A tensor type whose ParamOps also offer the whole update in one call (one pass over the
///        elements instead of one per operation, and no temporaries). Optional: AdamW uses it when present.
template <class Tensor>
concept AdamWFusedTensor =
    AdamWTensor<Tensor> && requires(Tensor& t, const Tensor& c, const AdamWStepScalars& s) {
      { ParamOps<Tensor>::adamw_step(t, c, t, t, s) };  // (p, g, m, v, scalars)
    };

/// @brief One AdamW update of p with gradient g and moments m, v, as ParamOps' element-wise operations in
///        torch.optim.AdamW's order: p *= decay; m.lerp_(g, 1 - beta1); v = beta2 v + (1 - beta2) g^2;
///        p -= step_size * m / (sqrt(v) / bias_correction2_sqrt + eps). This is the definition; a fused
///        ParamOps<Tensor>::adamw_step computes the same per element and falls back to this where it cannot.
template <AdamWTensor Tensor>
void adamw_step_op_by_op(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamWStepScalars& s) {
  using Ops = ParamOps<Tensor>;
  if (s.decay != 1.0) Ops::scale(p, s.decay);  // multiplying by exactly 1 changes nothing
  Ops::lerp(m, g, 1.0 - s.beta1);
  Ops::scale_add_square(v, s.beta2, g, 1.0 - s.beta2);
  Ops::adam_update(p, m, v, s.step_size, s.bias_correction2_sqrt, s.eps);
}

namespace detail {

/// @brief Elements a fused AdamW kernel handles per block: its intermediates stay in L1 between the
///        block's loops, which the compiler can vectorise one by one.
inline constexpr std::int64_t kAdamWBlock = 512;

/// @brief x[i] = sqrt(x[i]) for i < n, vectorised. std::sqrt in a loop is not: the compiler keeps its
///        errno path unless -fno-math-errno, so it stays one scalar sqrt (plus a branch) per element.
///        Hardware sqrt is correctly rounded, so the values are std::sqrt's.
template <class S>
void sqrt_in_place(S* x, std::int64_t n) {
  std::int64_t i = 0;
#if defined(__AVX__)
  if constexpr (std::is_same_v<S, float>) {
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_sqrt_ps(_mm256_loadu_ps(x + i)));
  } else if constexpr (std::is_same_v<S, double>) {
    for (; i + 4 <= n; i += 4) _mm256_storeu_pd(x + i, _mm256_sqrt_pd(_mm256_loadu_pd(x + i)));
  }
#endif
#if defined(__SSE2__) || defined(_M_X64)
  if constexpr (std::is_same_v<S, float>) {
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(x + i, _mm_sqrt_ps(_mm_loadu_ps(x + i)));
  } else if constexpr (std::is_same_v<S, double>) {
    for (; i + 2 <= n; i += 2) _mm_storeu_pd(x + i, _mm_sqrt_pd(_mm_loadu_pd(x + i)));
  }
#endif
  for (; i < n; ++i) x[i] = std::sqrt(x[i]);
}

}  // namespace detail

/// @brief AdamW hyper-parameters (torch defaults, except the lr which the scheduler drives).
struct AdamWOptions {
  double lr = 5e-5;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  /// false (the default, as transformers' Trainer and TrainingArguments) leaves biases and LayerNorm
  /// weights out of weight decay; true decays every parameter, as torch's plain AdamW (and the Python
  /// notebook) does.
  bool decay_bias_and_layer_norm = false;

  AdamWOptions& with_lr(double v) { lr = v; return *this; }
  AdamWOptions& with_weight_decay(double v) { weight_decay = v; return *this; }
  AdamWOptions& with_betas(double b1, double b2) { beta1 = b1; beta2 = b2; return *this; }
  AdamWOptions& with_eps(double v) { eps = v; return *this; }
  AdamWOptions& with_decay_of_bias_and_layer_norm(bool v) { decay_bias_and_layer_norm = v; return *this; }

  void validate() const {
    if (!(lr >= 0.0)) throw option_error("AdamW: learning rate must be >= 0, got " + std::to_string(lr));
    if (!(beta1 >= 0.0 && beta1 < 1.0)) throw option_error("AdamW: beta1 must be in [0, 1), got " + std::to_string(beta1));
    if (!(beta2 >= 0.0 && beta2 < 1.0)) throw option_error("AdamW: beta2 must be in [0, 1), got " + std::to_string(beta2));
    if (!(eps >= 0.0)) throw option_error("AdamW: eps must be >= 0, got " + std::to_string(eps));
    if (!(weight_decay >= 0.0)) throw option_error("AdamW: weight decay must be >= 0, got " + std::to_string(weight_decay));
  }
};

/// @brief The scalars of torch.optim.AdamW's update number `step` (1-based) at options.lr, for a
///        parameter decayed with `weight_decay` (0: not decayed, decay factor exactly 1).
[[nodiscard]] inline AdamWStepScalars adamw_step_scalars(const AdamWOptions& options, std::int64_t step,
                                                         double weight_decay) {
  const auto t = static_cast<double>(step);
  AdamWStepScalars scalars;
  scalars.decay = weight_decay != 0.0 ? 1.0 - options.lr * weight_decay : 1.0;
  scalars.beta1 = options.beta1;
  scalars.beta2 = options.beta2;
  scalars.step_size = options.lr / (1.0 - std::pow(options.beta1, t));
  scalars.bias_correction2_sqrt = std::sqrt(1.0 - std::pow(options.beta2, t));
  scalars.eps = options.eps;
  return scalars;
}

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
      const double weight_decay = options_.decay_bias_and_layer_norm || !is_bias_or_layer_norm(p.name)
                                      ? options_.weight_decay : 0.0;
      const AdamWStepScalars scalars = adamw_step_scalars(options_, s.step, weight_decay);
      if constexpr (AdamWFusedTensor<Tensor>) {
        Ops::adamw_step(p.value, p.grad, s.exp_avg, s.exp_avg_sq, scalars);
      } else {
        adamw_step_op_by_op(p.value, p.grad, s.exp_avg, s.exp_avg_sq, scalars);
      }
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
