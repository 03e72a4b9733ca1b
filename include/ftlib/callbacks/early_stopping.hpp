#pragma once
// Early stopping with transformers' EarlyStoppingCallback semantics: an evaluation "improves"
// when it beats the best value so far by more than min_delta; after `patience` evaluations in a
// row that do not, training stops. The best value itself moves on any strict improvement, as
// transformers' Trainer updates state.best_metric (and its best checkpoint) regardless of min_delta.

#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "ftlib/core/error.hpp"
#include "ftlib/core/trainer_state.hpp"
#include "ftlib/metrics/metric_lookup.hpp"

namespace ftlib {

/// @brief Watches one evaluation metric and says when to stop training.
class EarlyStopping {
 public:
  /// @brief `metric` is looked up in evaluation results as given or with an "eval_" prefix;
  ///        patience >= 1 (1 = stop at the first evaluation that does not improve); min_delta >= 0.
  /// @throws option_error for patience < 1 or a negative/NaN min_delta.
  explicit EarlyStopping(std::string metric = "eval_loss", MetricMode mode = MetricMode::min, int patience = 1,
                         double min_delta = 0.0)
      : metric_(std::move(metric)), mode_(mode), patience_(patience), min_delta_(min_delta) {
    if (patience_ < 1) throw option_error("early stopping: patience must be >= 1, got " + std::to_string(patience_));
    if (!(min_delta_ >= 0.0)) {
      throw option_error("early stopping: min_delta must be >= 0, got " + std::to_string(min_delta_));
    }
  }

  /// @brief Early stopping on `metric` with the mode transformers would choose for it.
  [[nodiscard]] static EarlyStopping for_metric(std::string metric, int patience = 1, double min_delta = 0.0) {
    const MetricMode mode = default_metric_mode(metric);
    return EarlyStopping(std::move(metric), mode, patience, min_delta);
  }

  /// @brief Records one evaluation's value; true when training should stop now.
  ///        A NaN value never improves.
  bool should_stop(double value) {
    last_ = value;
    const bool better = !std::isnan(value) && (!best_ || beats(value, *best_));
    improved_ = better && (!best_ || std::abs(value - *best_) > min_delta_);
    is_best_ = better;
    if (better) best_ = value;
    bad_evaluations_ = improved_ ? 0 : bad_evaluations_ + 1;
    stop_ = bad_evaluations_ >= patience_;
    return stop_;
  }

  /// @brief Records an evaluation given as name -> value (e.g. {"eval_loss": 0.4, "eval_accuracy": 0.8}).
  /// @throws option_error when the metric is not among them, listing what is.
  bool should_stop(const std::map<std::string, double>& metrics) { return should_stop(lookup(metrics)); }

  /// @brief The watched metric's value in `metrics` (by name, or with an "eval_" prefix).
  /// @throws option_error listing the available names when it is missing.
  [[nodiscard]] double lookup(const std::map<std::string, double>& metrics) const {
    if (const auto value = find_metric(metrics, metric_)) return *value;
    throw option_error("early stopping: metric '" + metric_ + "' is not among the evaluation results (" +
                       metric_names(metrics) + ")");
  }

  /// @brief True when the last evaluation improved by more than min_delta (it reset the patience count).
  [[nodiscard]] bool improved() const noexcept { return improved_; }
  /// @brief True when the last evaluation is the best so far (strictly better; where a best checkpoint is saved).
  [[nodiscard]] bool is_best() const noexcept { return is_best_; }
  /// @brief True once should_stop has returned true.
  [[nodiscard]] bool stopped() const noexcept { return stop_; }
  /// @brief The best value seen, if any.
  [[nodiscard]] std::optional<double> best() const noexcept { return best_; }
  /// @brief The last value recorded, if any.
  [[nodiscard]] std::optional<double> last() const noexcept { return last_; }
  /// @brief Evaluations in a row without improvement (transformers' early_stopping_patience_counter).
  [[nodiscard]] int bad_evaluations() const noexcept { return bad_evaluations_; }
  /// @brief The watched metric's name.
  [[nodiscard]] const std::string& metric() const noexcept { return metric_; }
  /// @brief min or max.
  [[nodiscard]] MetricMode mode() const noexcept { return mode_; }
  /// @brief Evaluations without improvement that stop training.
  [[nodiscard]] int patience() const noexcept { return patience_; }
  /// @brief Smallest change that counts as an improvement (transformers' early_stopping_threshold).
  [[nodiscard]] double min_delta() const noexcept { return min_delta_; }

  // --- as a Trainer callback (callbacks/traits.hpp) ----------------------------------------------

  /// @brief Starts from the run's past evaluations (none for a fresh run; a resumed run's log_history
  ///        replays them), so that a resumed run stops where the uninterrupted one would.
  void on_train_begin(const TrainerState& state) {
    reset();
    for (const auto& record : state.log_history) {
      const auto value = recorded_value(record);
      if (value) (void)should_stop(*value);
    }
  }
  /// @brief Records the evaluation; true stops training.
  bool on_evaluate(const TrainerState&, const std::map<std::string, double>& metrics) { return should_stop(metrics); }

  /// @brief Forgets every evaluation (for a new training run).
  void reset() noexcept {
    best_.reset();
    last_.reset();
    bad_evaluations_ = 0;
    improved_ = is_best_ = stop_ = false;
  }

 private:
  // The watched metric of a logged evaluation record (null, as JSON writes NaN, reads back as NaN);
  // nothing for the other records (training loss, runtime).
  [[nodiscard]] std::optional<double> recorded_value(const nlohmann::json& record) const {
    if (!record.is_object() || !record.contains("eval_runtime")) return std::nullopt;
    for (const std::string& key : {metric_, "eval_" + metric_}) {
      const auto it = record.find(key);
      if (it == record.end()) continue;
      if (it->is_number()) return it->get<double>();
      if (it->is_null()) return std::numeric_limits<double>::quiet_NaN();
    }
    return std::nullopt;
  }

  [[nodiscard]] bool beats(double value, double reference) const noexcept {
    return mode_ == MetricMode::min ? value < reference : value > reference;
  }

  std::string metric_;
  MetricMode mode_;
  int patience_;
  double min_delta_;
  std::optional<double> best_;
  std::optional<double> last_;
  int bad_evaluations_ = 0;
  bool improved_ = false;
  bool is_best_ = false;
  bool stop_ = false;
};

}  // namespace ftlib
