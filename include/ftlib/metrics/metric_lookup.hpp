#pragma once
// Choosing an evaluation metric by name, as transformers' Trainer does for metric_for_best_model and
// EarlyStoppingCallback: "eval_loss" or just "loss" (the "eval_" prefix is implied), smaller is
// better for names ending in "loss", larger otherwise.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "ftlib/core/error.hpp"

namespace ftlib {

/// @brief Whether a smaller or a larger metric is better.
enum class MetricMode {
  min,  ///< smaller is better (losses)
  max,  ///< larger is better (accuracy, F1)
};

/// @brief Parses "min" or "max".
/// @throws option_error listing the valid names.
[[nodiscard]] inline MetricMode parse_metric_mode(std::string_view name) {
  if (name == "min") return MetricMode::min;
  if (name == "max") return MetricMode::max;
  throw option_error("unknown metric mode '" + std::string(name) + "'; expected one of: min, max");
}

/// @brief The mode for a metric: min for names ending in "loss" (transformers' rule) and for the
///        regression errors mse, mae and rmse (where transformers would need greater_is_better=False), else max.
[[nodiscard]] inline MetricMode default_metric_mode(std::string_view metric) {
  const bool error = metric.ends_with("mse") || metric.ends_with("mae") || metric.ends_with("rmse");
  return metric.ends_with("loss") || error ? MetricMode::min : MetricMode::max;
}

/// @brief The value of `metric` in `metrics`, looked up as given, then with an "eval_" prefix.
[[nodiscard]] inline std::optional<double> find_metric(const std::map<std::string, double>& metrics, std::string_view metric) {
  if (const auto it = metrics.find(std::string(metric)); it != metrics.end()) return it->second;
  if (!metric.starts_with("eval_")) {
    if (const auto it = metrics.find("eval_" + std::string(metric)); it != metrics.end()) return it->second;
  }
  return std::nullopt;
}

/// @brief "a, b, c" (or "none"): the names of `metrics`, for messages.
[[nodiscard]] inline std::string metric_names(const std::map<std::string, double>& metrics) {
  std::string names;
  for (const auto& [name, value] : metrics) names += (names.empty() ? "" : ", ") + name;
  return names.empty() ? "none" : names;
}

}  // namespace ftlib
