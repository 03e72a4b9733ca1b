#pragma once
// What Trainer::evaluate and Trainer::predict return, and the softmax that turns logits into
// probabilities. Backend-free.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ftlib/core/batch.hpp"
#include "ftlib/core/host_tensor.hpp"
#include "ftlib/core/problem_type.hpp"
#include "ftlib/metrics/classification.hpp"
#include "ftlib/metrics/multi_label.hpp"
#include "ftlib/metrics/regression.hpp"

namespace ftlib {

/// @brief Loss, metrics and raw outputs of one pass over a dataset. Which metrics are there depends on
///        the model's problem type: `metrics` (single-label), `multi_label_metrics` or `regression_metrics`.
struct EvalResult {
  std::int64_t num_examples = 0;                  ///< rows evaluated
  ProblemType problem_type = ProblemType::single_label_classification;  ///< the model's
  double loss = 0.0;                              ///< mean loss over the rows (when labelled)
  bool has_loss = false;                          ///< false for unlabelled data
  std::optional<ClassificationMetrics> metrics;   ///< single-label: accuracy, F1, confusion matrix (when labelled)
  std::optional<MultiLabelMetrics> multi_label_metrics;  ///< multi-label: micro/macro F1, subset accuracy, per label
  std::optional<RegressionMetrics> regression_metrics;   ///< regression: MSE, MAE, RMSE, R², Pearson, Spearman
  std::vector<std::int64_t> predictions;          ///< single-label: argmax of each row's logits (else empty)
  std::vector<float> targets;                     ///< regression: each row's true value (for plots), when labelled
  HostTensor logits;                              ///< [num_examples, num_labels]
  double runtime_s = 0.0;                         ///< wall-clock seconds

  /// @brief transformers-style flat metrics: <prefix>loss, <prefix>accuracy, <prefix>f1_macro, ..., runtime.
  [[nodiscard]] std::map<std::string, double> to_map(const std::string& prefix = "eval_") const {
    std::map<std::string, double> out;
    if (has_loss) out[prefix + "loss"] = loss;
    if (metrics) {
      for (const auto& [name, value] : metrics->summary()) out[prefix + name] = value;
    }
    if (multi_label_metrics) {
      for (const auto& [name, value] : multi_label_metrics->summary()) out[prefix + name] = value;
    }
    if (regression_metrics) {
      for (const auto& [name, value] : regression_metrics->summary()) out[prefix + name] = value;
    }
    out[prefix + "runtime"] = runtime_s;
    out[prefix + "samples_per_second"] = runtime_s > 0 ? static_cast<double>(num_examples) / runtime_s : 0.0;
    return out;
  }
};

/// @brief What predict returns for each input row, by problem type: single-label the class (labels,
///        label_names) and softmax probabilities; multi-label the labels at or over the threshold
///        (label_sets) and sigmoid probabilities; regression the value (values).
struct Predictions {
  ProblemType problem_type = ProblemType::single_label_classification;  ///< the model's
  std::vector<std::int64_t> labels;       ///< single-label: predicted label id of each row
  std::vector<std::string> label_names;   ///< single-label: id2label of each prediction (empty when names are unknown)
  std::vector<std::vector<std::int64_t>> label_sets;  ///< multi-label: ids of each row's predicted labels
  std::vector<float> values;              ///< regression: each row's predicted value
  HostTensor probabilities;               ///< softmax (single-label) or sigmoid (multi-label) of the logits; empty for regression
  HostTensor logits;                      ///< [rows, num_labels]
};

/// @brief Row-wise softmax of [rows, cols] logits (computed in double, max-subtracted).
[[nodiscard]] inline HostTensor softmax_rows(const HostTensor& logits) {
  HostTensor out = logits;
  if (logits.shape.size() != 2 || logits.shape[1] <= 0) return out;
  const auto cols = static_cast<std::size_t>(logits.shape[1]);
  for (std::size_t r = 0; r + cols <= out.data.size(); r += cols) {
    const float* in = logits.data.data() + r;
    const double m = *std::max_element(in, in + cols);
    double sum = 0.0;
    for (std::size_t c = 0; c < cols; ++c) sum += std::exp(static_cast<double>(in[c]) - m);
    for (std::size_t c = 0; c < cols; ++c) out.data[r + c] = static_cast<float>(std::exp(static_cast<double>(in[c]) - m) / sum);
  }
  return out;
}

/// @brief The sigmoid of each logit (metrics/multi_label.hpp's sigmoid), in the logits' shape.
[[nodiscard]] inline HostTensor sigmoid_all(const HostTensor& logits) {
  return HostTensor{logits.shape, sigmoid(logits.data)};
}

}  // namespace ftlib
