#pragma once
// Which loss a sequence classifier computes, decided once from its config and options, and the
// check that a batch's labels have the form that loss needs. Backend-free: each backend computes
// the loss itself (LibTorch's functions, the Eigen backend's hand-written forward/backward).
//
//   single_label_classification  cross-entropy over the logits, mean over the rows (torch's weight=
//                                semantics with class weights: divided by the sum of the rows' weights)
//   multi_label_classification   BCE-with-logits of every (row, label), mean over all of them
//   regression                   mean squared error of the single output (transformers squeezes it)

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ftlib/arch/model_config.hpp"
#include "ftlib/core/batch.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/core/problem_type.hpp"
#include "ftlib/models/model_options.hpp"

namespace ftlib {

/// @brief The loss of a classifier: its problem type, number of outputs and class weights.
struct LossSpec {
  ProblemType problem_type = ProblemType::single_label_classification;  ///< which loss
  std::int64_t num_labels = 2;                                          ///< outputs per row
  std::vector<double> class_weights;                                    ///< single-label: one per class; empty = unweighted

  /// @brief The loss of a model whose (configured) labels are `labels`, with `options`' class weights.
  /// @throws option_error naming class_weights when they do not fit the model's labels or problem type.
  [[nodiscard]] static LossSpec of(const arch::ClassificationLabels& labels, const ModelOptions& options) {
    LossSpec spec;
    spec.num_labels = labels.num_labels();
    spec.problem_type = resolve_problem_type(labels.problem_type, spec.num_labels);
    if (options.class_weights) {
      const auto fail = [](const std::string& what) { throw option_error(SourceLocation{"class_weights", {}, {}}, what); };
      if (spec.problem_type != ProblemType::single_label_classification)
        fail("apply to single_label_classification only; this model is " + std::string(to_string(spec.problem_type)));
      if (static_cast<std::int64_t>(options.class_weights->size()) != spec.num_labels)
        fail(std::to_string(options.class_weights->size()) + " weights for the model's " + std::to_string(spec.num_labels) +
             " labels; give one weight per label");
      spec.class_weights = *options.class_weights;
    }
    return spec;
  }

  /// @brief Float targets per row (multi-label, regression); 0 for class ids.
  [[nodiscard]] std::int64_t targets_per_row() const noexcept {
    return has_class_ids(problem_type) ? 0 : num_labels;
  }

  /// @brief Checks that a labelled batch carries the labels this loss needs: class ids in [0, num_labels)
  ///        (or -100, ignored) for single-label; batch_size x num_labels finite targets otherwise (in [0, 1]
  ///        for multi-label). tensor_error naming the field, row and value.
  void check_labels(const Batch& batch) const {
    const std::string kind(to_string(problem_type));
    if (has_class_ids(problem_type)) {
      if (!batch.label_values.empty())
        throw tensor_error("batch.label_values: the model is " + kind + " and takes integer class ids in batch.labels, "
                           "not float targets (is the model's problem_type the one the data was loaded for?)");
      if (static_cast<std::int64_t>(batch.labels.size()) != batch.batch_size)
        throw tensor_error("batch.labels holds " + std::to_string(batch.labels.size()) + " values, expected batch_size " +
                           std::to_string(batch.batch_size));
      for (std::size_t i = 0; i < batch.labels.size(); ++i) {
        const auto y = batch.labels[i];
        if (y != -100 && (y < 0 || y >= num_labels))
          throw tensor_error("batch.labels[" + std::to_string(i) + "] = " + std::to_string(y) + " is out of range: expected 0 <= label < " +
                             std::to_string(num_labels) + " (num_labels)");
      }
      return;
    }
    if (!batch.labels.empty())
      throw tensor_error("batch.labels: the model is " + kind + " and takes float targets in batch.label_values, not class ids");
    const std::int64_t expected = batch.batch_size * num_labels;
    if (static_cast<std::int64_t>(batch.label_values.size()) != expected)
      throw tensor_error("batch.label_values holds " + std::to_string(batch.label_values.size()) + " values, expected batch_size " +
                         std::to_string(batch.batch_size) + " x num_labels " + std::to_string(num_labels) + " = " +
                         std::to_string(expected) + " (" + kind + ")");
    const bool multi_label = problem_type == ProblemType::multi_label_classification;
    for (std::size_t i = 0; i < batch.label_values.size(); ++i) {
      const float v = batch.label_values[i];
      if (!std::isfinite(v) || (multi_label && (v < 0.0F || v > 1.0F))) {
        const auto n = static_cast<std::size_t>(num_labels);
        throw tensor_error("batch.label_values[" + std::to_string(i / n) + "][" + std::to_string(i % n) + "] = " + std::to_string(v) +
                           (multi_label ? " is not a target in [0, 1]" : " is not a finite number") + " (" + kind + ")");
      }
    }
  }
};

}  // namespace ftlib
