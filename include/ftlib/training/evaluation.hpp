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
#include "ftlib/metrics/classification.hpp"

namespace ftlib {

/// @brief Loss, metrics and raw outputs of one pass over a dataset.
struct EvalResult {
  std::int64_t num_examples = 0;                  ///< rows evaluated
  double loss = 0.0;                              ///< mean cross-entropy over the rows (when labelled)
  bool has_loss = false;                          ///< false for unlabelled data
  std::optional<ClassificationMetrics> metrics;   ///< accuracy, F1, confusion matrix (when labelled)
  std::vector<std::int64_t> predictions;          ///< argmax of each row's logits
  HostTensor logits;                              ///< [num_examples, num_labels]
  double runtime_s = 0.0;                         ///< wall-clock seconds

  /// @brief transformers-style flat metrics: <prefix>loss, <prefix>accuracy, <prefix>f1_macro, ..., runtime.
  [[nodiscard]] std::map<std::string, double> to_map(const std::string& prefix = "eval_") const {
    std::map<std::string, double> out;
    if (has_loss) out[prefix + "loss"] = loss;
    if (metrics) {
      for (const auto& [name, value] : metrics->summary()) out[prefix + name] = value;
    }
    out[prefix + "runtime"] = runtime_s;
    out[prefix + "samples_per_second"] = runtime_s > 0 ? static_cast<double>(num_examples) / runtime_s : 0.0;
    return out;
  }
};

/// @brief What predict returns for each input row.
struct Predictions {
  std::vector<std::int64_t> labels;       ///< predicted label id of each row
  std::vector<std::string> label_names;   ///< id2label of each prediction (empty when names are unknown)
  HostTensor probabilities;               ///< softmax of the logits, [rows, num_labels]
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

}  // namespace ftlib
