#pragma once
// One optimizer step, as transformers' Trainer takes it: forward and backward over the step's
// micro-batches (gradients accumulate, each scaled by 1/accumulation), the strategy's gradient
// reduction (once per step, never on accumulation micro-steps), clipping, and — when the loss and
// the gradient norm are finite — the optimizer update at the schedule's learning rate. Gradients
// are cleared afterwards in every case.

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "ftlib/models/model_concept.hpp"
#include "ftlib/training/data_loader.hpp"

namespace ftlib::training {

/// @brief What one optimizer step did.
struct StepOutcome {
  double loss = std::numeric_limits<double>::quiet_NaN();       ///< mean loss over its micro-batches
  double grad_norm = std::numeric_limits<double>::quiet_NaN();  ///< norm before clipping (NaN when not reached)
  bool applied = false;    ///< the optimizer updated the weights
  bool overflow = false;   ///< loss-scaled gradients overflowed: skipped by the scaler's rule, never an error
  std::string problem;     ///< why the update was not made (a non-finite loss or gradient norm), else empty
};

namespace detail {

inline std::string describe_nonfinite(double v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "+inf" : "-inf";
}

}  // namespace detail

/// @brief Runs one optimizer step over `micro_batches` (rows of `loader`'s data) of epoch `epoch`; the
///        loss it returns is the mean over every process (strategy.average).
/// @param scale    factor of every micro-batch's gradient (1 / gradient_accumulation_steps)
/// @param max_norm clipping threshold (+inf: none)
/// @param lr       the learning rate of this step
template <SequenceClassifier Model, class Optimizer, class Strategy>
StepOutcome training_step(Model& model, Optimizer& optimizer, Strategy& strategy, const DataLoader& loader,
                          std::span<const std::vector<std::size_t>> micro_batches, std::int64_t first_index,
                          std::int64_t epoch, double scale, double max_norm, double lr) {
  StepOutcome out;
  double loss_sum = 0.0;
  for (std::size_t b = 0; b < micro_batches.size() && out.problem.empty(); ++b) {
    const double loss = model.forward_backward(loader.make_batch(micro_batches[b]), scale);
    if (!std::isfinite(loss))
      out.problem = "the training loss is " + detail::describe_nonfinite(loss) + " on micro-batch " +
                    std::to_string(first_index + static_cast<std::int64_t>(b)) + " of epoch " + std::to_string(epoch);
    loss_sum += loss;
  }
  if (strategy.any(!out.problem.empty()) && out.problem.empty()) out.problem = "another process had a non-finite loss";
  if (out.problem.empty()) {
    strategy.reduce_gradients(model);
    out.grad_norm = model.clip_grad_norm(max_norm);
    if (!std::isfinite(out.grad_norm)) {
      if constexpr (LossScalingModel<Model>) out.overflow = model.gradient_overflow();
      out.problem = out.overflow ? "the loss-scaled gradients overflowed (norm " + detail::describe_nonfinite(out.grad_norm) +
                                       "); loss scale lowered"
                                 : "the gradient norm is " + detail::describe_nonfinite(out.grad_norm) + " (epoch " +
                                       std::to_string(epoch) + ")";
    }
  }
  if (out.problem.empty()) {
    optimizer.set_lr(lr);
    auto params = model.parameters();
    optimizer.step(params);
    strategy.after_optimizer_step(model);
    out.loss = strategy.average(loss_sum / static_cast<double>(micro_batches.size()));
    out.applied = true;
  }
  model.zero_grad();
  return out;
}

}  // namespace ftlib::training
