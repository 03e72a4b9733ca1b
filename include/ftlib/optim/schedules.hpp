#pragma once
// Learning-rate schedules with the numbers of transformers' get_scheduler (optimization.py):
// each is a factor of the initial learning rate as a function of the step, which torch's LambdaLR
// multiplies by the optimizer's lr. The arithmetic follows the Python lambdas operation by
// operation so the doubles come out identical.
//
// Step convention (as LambdaLR inside transformers' Trainer): the update that follows `step`
// earlier updates uses lr(step), so the first update uses lr(0), which is 0 under warmup. After an
// update the Trainer's logged "learning_rate" is lr(global_step), the value for the next update.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <numbers>
#include <string>
#include <string_view>

#include "ftlib/core/error.hpp"

namespace ftlib {

namespace optim::detail {
// "%g": 1e-07 rather than std::to_string's 0.000000 for small learning rates.
inline std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", value);
  return buffer;
}
}  // namespace optim::detail

/// @brief The schedules ftlib implements, named as transformers' SchedulerType.
enum class SchedulerType {
  linear,                ///< warmup, then linear decay to 0 at num_training_steps
  cosine,                ///< warmup, then half a cosine (num_cycles 0.5) down to 0
  polynomial,            ///< warmup, then (lr - lr_end) * remaining^power + lr_end
  constant,              ///< always the initial lr (no warmup, as transformers' "constant")
  constant_with_warmup,  ///< warmup, then the initial lr
};

/// @brief The transformers name of a schedule ("linear", "cosine", ...).
[[nodiscard]] constexpr std::string_view to_string(SchedulerType type) noexcept {
  switch (type) {
    case SchedulerType::linear: return "linear";
    case SchedulerType::cosine: return "cosine";
    case SchedulerType::polynomial: return "polynomial";
    case SchedulerType::constant: return "constant";
    case SchedulerType::constant_with_warmup: return "constant_with_warmup";
  }
  return "?";
}

/// @brief Every SchedulerType, in the order messages list them.
inline constexpr std::array<SchedulerType, 5> all_scheduler_types{
    SchedulerType::linear, SchedulerType::cosine, SchedulerType::polynomial, SchedulerType::constant,
    SchedulerType::constant_with_warmup};

/// @brief Parses a transformers scheduler name (e.g. a --lr-scheduler flag).
/// @throws option_error listing the valid names.
[[nodiscard]] inline SchedulerType parse_scheduler_type(std::string_view name) {
  std::string valid;
  for (const auto type : all_scheduler_types) {
    if (name == to_string(type)) return type;
    valid += (valid.empty() ? "" : ", ") + std::string(to_string(type));
  }
  std::string message = "unknown learning-rate scheduler '" + std::string(name) + "'; expected one of: " + valid;
  for (const std::string_view other :
       {"cosine_with_restarts", "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr", "warmup_stable_decay"}) {
    if (name == other) message += " (transformers has '" + std::string(name) + "', ftlib does not implement it)";
  }
  throw option_error(SourceLocation{"lr_scheduler_type", {}, {}}, message);
}

/// @brief transformers' TrainingArguments.get_warmup_steps: ceil(num_training_steps * warmup_ratio).
[[nodiscard]] inline std::int64_t warmup_steps_from_ratio(std::int64_t num_training_steps, double warmup_ratio) {
  if (!(warmup_ratio >= 0.0 && warmup_ratio <= 1.0)) {
    throw option_error("warmup ratio must be in [0, 1], got " + optim::detail::number(warmup_ratio));
  }
  return static_cast<std::int64_t>(std::ceil(static_cast<double>(num_training_steps) * warmup_ratio));
}

/// @brief A learning-rate schedule: the factor of base_lr at each step, and the lr itself.
struct LearningRateSchedule {
  SchedulerType type = SchedulerType::linear;  ///< which curve
  double base_lr = 5e-5;                       ///< the optimizer's initial lr (lr_init of the polynomial schedule)
  std::int64_t num_warmup_steps = 0;           ///< steps of linear warmup from 0 (ignored by constant)
  std::int64_t num_training_steps = 0;         ///< total optimizer steps (linear, cosine, polynomial)
  double num_cycles = 0.5;                     ///< cosine waves: 0.5 = from 1 down to 0 once
  double lr_end = 1e-7;                        ///< polynomial: the final lr
  double power = 1.0;                          ///< polynomial: the decay exponent

  /// @brief Linear warmup then linear decay (transformers' default scheduler).
  [[nodiscard]] static LearningRateSchedule linear(double base_lr, std::int64_t warmup, std::int64_t total) {
    return {SchedulerType::linear, base_lr, warmup, total};
  }
  /// @brief Linear warmup then half-cosine decay.
  [[nodiscard]] static LearningRateSchedule cosine(double base_lr, std::int64_t warmup, std::int64_t total,
                                                   double num_cycles = 0.5) {
    return {SchedulerType::cosine, base_lr, warmup, total, num_cycles};
  }
  /// @brief Linear warmup then polynomial decay to lr_end.
  [[nodiscard]] static LearningRateSchedule polynomial(double base_lr, std::int64_t warmup, std::int64_t total,
                                                       double lr_end = 1e-7, double power = 1.0) {
    return {SchedulerType::polynomial, base_lr, warmup, total, 0.5, lr_end, power};
  }
  /// @brief The initial lr throughout.
  [[nodiscard]] static LearningRateSchedule constant(double base_lr) { return {SchedulerType::constant, base_lr}; }
  /// @brief Linear warmup then the initial lr.
  [[nodiscard]] static LearningRateSchedule constant_with_warmup(double base_lr, std::int64_t warmup) {
    return {SchedulerType::constant_with_warmup, base_lr, warmup};
  }

  /// @brief Checks the fields the schedule's type uses.
  /// @throws option_error naming the bad value and what was expected.
  void validate() const {
    const std::string name = "scheduler '" + std::string(to_string(type)) + "': ";
    if (!(base_lr >= 0.0)) throw option_error(name + "learning rate must be >= 0, got " + optim::detail::number(base_lr));
    if (num_warmup_steps < 0) {
      throw option_error(name + "num_warmup_steps must be >= 0, got " + std::to_string(num_warmup_steps));
    }
    const bool needs_total =
        type == SchedulerType::linear || type == SchedulerType::cosine || type == SchedulerType::polynomial;
    if (needs_total && num_training_steps <= 0) {
      throw option_error(name + "num_training_steps must be > 0, got " + std::to_string(num_training_steps));
    }
    if (type == SchedulerType::polynomial && !(base_lr > lr_end)) {
      // transformers raises the same ValueError in get_polynomial_decay_schedule_with_warmup.
      throw option_error(name + "lr_end (" + optim::detail::number(lr_end) + ") must be smaller than the initial lr (" +
                         optim::detail::number(base_lr) + ")");
    }
  }

  /// @brief The factor LambdaLR multiplies base_lr by before the update that follows `step` updates.
  [[nodiscard]] double factor(std::int64_t step) const {
    if (type == SchedulerType::constant) return 1.0;
    if (step < num_warmup_steps) {
      return static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, num_warmup_steps));
    }
    switch (type) {
      case SchedulerType::constant:
      case SchedulerType::constant_with_warmup: return 1.0;
      case SchedulerType::linear:
        return std::max(0.0, static_cast<double>(num_training_steps - step) /
                                 static_cast<double>(std::max<std::int64_t>(1, num_training_steps - num_warmup_steps)));
      case SchedulerType::cosine: {
        const double progress = static_cast<double>(step - num_warmup_steps) /
                                static_cast<double>(std::max<std::int64_t>(1, num_training_steps - num_warmup_steps));
        // Past num_training_steps the curve rises again, as it does in transformers.
        return std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * num_cycles * 2.0 * progress)));
      }
      case SchedulerType::polynomial: {
        const std::int64_t decay_steps = num_training_steps - num_warmup_steps;
        // transformers divides by zero when warmup == total; ftlib holds lr_end instead.
        if (step > num_training_steps || decay_steps <= 0) return lr_end / base_lr;
        const double lr_range = base_lr - lr_end;
        const double pct_remaining =
            1.0 - static_cast<double>(step - num_warmup_steps) / static_cast<double>(decay_steps);
        const double decay = lr_range * std::pow(pct_remaining, power) + lr_end;
        return decay / base_lr;
      }
    }
    return 1.0;
  }

  /// @brief The learning rate for the update that follows `step` updates: base_lr * factor(step).
  [[nodiscard]] double lr(std::int64_t step) const { return base_lr * factor(step); }
};

}  // namespace ftlib
