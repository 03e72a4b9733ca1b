#pragma once
// What a sequence classifier's outputs mean, as transformers' `problem_type` defines it: one class
// per row (softmax, cross-entropy), any set of labels per row (sigmoid, binary cross-entropy), or a
// number (mean squared error). Backend-free: the data, the models, the metrics and the tool share it.

#include <cstdint>
#include <string>
#include <string_view>

#include "ftlib/core/error.hpp"

namespace ftlib {

/// @brief transformers' problem_type of *ForSequenceClassification.
enum class ProblemType {
  single_label_classification,  ///< one class per row: cross-entropy over num_labels logits
  multi_label_classification,   ///< any subset of the labels per row: BCE-with-logits on each logit
  regression,                   ///< a number per row (num_labels 1): mean squared error
};

/// @brief transformers' spelling: "single_label_classification", "multi_label_classification", "regression".
[[nodiscard]] constexpr std::string_view to_string(ProblemType type) noexcept {
  switch (type) {
    case ProblemType::multi_label_classification: return "multi_label_classification";
    case ProblemType::regression: return "regression";
    case ProblemType::single_label_classification: break;
  }
  return "single_label_classification";
}

/// @brief Parses transformers' names, and the short forms "single_label", "multi_label" (a flag's value).
/// @throws option_error naming `field` and listing the valid names.
[[nodiscard]] inline ProblemType parse_problem_type(std::string_view text, const std::string& field = "problem_type") {
  if (text == "single_label_classification" || text == "single_label") return ProblemType::single_label_classification;
  if (text == "multi_label_classification" || text == "multi_label") return ProblemType::multi_label_classification;
  if (text == "regression") return ProblemType::regression;
  throw option_error(SourceLocation{field, {}, {}}, "unknown problem type '" + std::string(text) +
                                                        "': expected single_label_classification, "
                                                        "multi_label_classification or regression");
}

/// @brief The problem type of a config: `configured` (config.json's problem_type) when set, else
///        transformers' rule for an unset one: regression for a single output, single-label otherwise
///        (transformers then looks at the labels' dtype; ftlib's integer labels make that single-label).
[[nodiscard]] inline ProblemType resolve_problem_type(std::string_view configured, std::int64_t num_labels) {
  if (!configured.empty()) return parse_problem_type(configured);
  return num_labels == 1 ? ProblemType::regression : ProblemType::single_label_classification;
}

/// @brief Whether labels are class ids (single-label) rather than float targets.
[[nodiscard]] constexpr bool has_class_ids(ProblemType type) noexcept {
  return type == ProblemType::single_label_classification;
}

}  // namespace ftlib
