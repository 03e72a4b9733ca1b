#pragma once
// Multi-label classification metrics with scikit-learn's semantics on indicator matrices
// (zero_division = 0): subset accuracy, Hamming loss, per-label precision/recall/F1/support, their
// micro, macro, weighted and samples averages, and a text report laid out exactly like
// sklearn.metrics.classification_report for multilabel input. Also the logistic sigmoid that turns
// a multi-label model's logits into the probabilities these metrics take.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ftlib/core/error.hpp"
#include "ftlib/metrics/classification.hpp"

namespace ftlib {

/// @brief Everything compute_multi_label_metrics measures.
struct MultiLabelMetrics {
  std::size_t num_labels = 0;            ///< number of labels (columns)
  std::vector<std::string> label_names;  ///< name of each label (for the report)
  double threshold = 0.5;                ///< a label is predicted when its probability is >= this
  std::size_t total = 0;                 ///< number of rows
  std::vector<ClassScores> per_label;    ///< precision, recall, F1 of each label; support = rows where it is true
  double subset_accuracy = 0.0;  ///< share of rows whose predicted label set equals the true set (sklearn accuracy_score)
  double hamming_loss = 0.0;     ///< share of wrong (row, label) cells (sklearn hamming_loss)
  double micro_precision = 0.0;  ///< tp / (tp + fp) over all (row, label) cells
  double micro_recall = 0.0;     ///< tp / (tp + fn) over all (row, label) cells
  double micro_f1 = 0.0;         ///< 2 tp / (2 tp + fp + fn) over all (row, label) cells
  double macro_precision = 0.0;  ///< unweighted mean over every label (sklearn's multilabel labels=None)
  double macro_recall = 0.0;     ///< unweighted mean over every label
  double macro_f1 = 0.0;         ///< unweighted mean over every label
  double weighted_precision = 0.0;  ///< support-weighted mean over every label; 0 when no label is ever true
  double weighted_recall = 0.0;     ///< support-weighted mean over every label; 0 when no label is ever true
  double weighted_f1 = 0.0;         ///< support-weighted mean over every label; 0 when no label is ever true

  /// @brief Flat name -> value pairs for logs: subset_accuracy, hamming_loss, f1_micro, f1_macro,
  ///        f1_weighted, precision_micro, recall_micro, precision_macro, recall_macro,
  ///        precision_weighted, recall_weighted.
  [[nodiscard]] std::map<std::string, double> summary() const {
    return {{"subset_accuracy", subset_accuracy},
            {"hamming_loss", hamming_loss},
            {"f1_micro", micro_f1},
            {"f1_macro", macro_f1},
            {"f1_weighted", weighted_f1},
            {"precision_micro", micro_precision},
            {"recall_micro", micro_recall},
            {"precision_macro", macro_precision},
            {"recall_macro", macro_recall},
            {"precision_weighted", weighted_precision},
            {"recall_weighted", weighted_recall}};
  }

  /// @brief The text of sklearn's classification_report(y_true, y_pred, target_names=label_names,
  ///        digits=digits, zero_division=0) on indicator matrices: one row per label, then "micro avg",
  ///        "macro avg", "weighted avg" and "samples avg".
  [[nodiscard]] std::string report(int digits = 2) const;

  double samples_precision = 0.0;  ///< mean over rows of each row's precision (average='samples'; 0 for a row predicting nothing)
  double samples_recall = 0.0;     ///< mean over rows of each row's recall (0 for a row with no true label)
  double samples_f1 = 0.0;         ///< mean over rows of each row's F1 (0 for a row with nothing true or predicted)
};

/// @brief Element-wise logistic sigmoid 1 / (1 + e^-z) of logits, computed in double in the form that
///        cannot overflow (e^z / (1 + e^z) for z < 0), then rounded to float.
[[nodiscard]] inline std::vector<float> sigmoid(std::span<const float> logits) {
  std::vector<float> out;
  out.reserve(logits.size());
  for (const float v : logits) {
    const double z = v;
    out.push_back(static_cast<float>(z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z))));
  }
  return out;
}

namespace metrics::detail {

// A double as printf's %g writes it (for messages).
inline std::string shortest(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%g", value);
  return buffer;
}

}  // namespace metrics::detail

/// @brief Scores multi-label predictions with sklearn's semantics (zero_division = 0).
///
/// `probabilities` and `targets` are row-major [rows, num_labels]. A label is predicted when its
/// probability is >= threshold (compared in double) and true when its target is >= 0.5, so soft targets
/// are allowed. Macro and weighted averages run over every label, also one never true nor predicted
/// (sklearn's multilabel behaviour without labels=). `label_names` (one per label, or empty for
/// "0", "1", ...) name the report's rows.
/// @throws option_error for mismatched sizes, sizes that are not whole rows, no rows, num_labels 0, a wrong
///         number of names, a threshold outside (0, 1) or a non-finite probability or target (naming its
///         row and label).
[[nodiscard]] inline MultiLabelMetrics compute_multi_label_metrics(std::span<const float> probabilities,
                                                                   std::span<const float> targets, std::size_t num_labels,
                                                                   std::vector<std::string> label_names = {},
                                                                   double threshold = 0.5) {
  if (num_labels == 0) throw option_error("multi-label metrics: num_labels must be at least 1");
  if (probabilities.size() != targets.size()) {
    throw option_error("multi-label metrics: " + std::to_string(probabilities.size()) + " probabilities but " +
                       std::to_string(targets.size()) + " targets");
  }
  if (targets.empty()) throw option_error("multi-label metrics: no rows to score");
  if (targets.size() % num_labels != 0) {
    throw option_error("multi-label metrics: " + std::to_string(targets.size()) + " values do not form rows of " +
                       std::to_string(num_labels) + " labels");
  }
  if (!label_names.empty() && label_names.size() != num_labels) {
    throw option_error("multi-label metrics: " + std::to_string(label_names.size()) + " label names for " +
                       std::to_string(num_labels) + " labels");
  }
  if (!(threshold > 0.0 && threshold < 1.0)) {
    throw option_error("multi-label metrics: the threshold must be in (0, 1), got " + metrics::detail::shortest(threshold));
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const bool bad_probability = !std::isfinite(probabilities[i]);
    if (bad_probability || !std::isfinite(targets[i])) {
      throw option_error("multi-label metrics: the " + std::string(bad_probability ? "probability" : "target") + " of row " +
                         std::to_string(i / num_labels) + ", label " + std::to_string(i % num_labels) + " is not finite (" +
                         metrics::detail::shortest(bad_probability ? probabilities[i] : targets[i]) + ")");
    }
  }

  MultiLabelMetrics m;
  m.num_labels = num_labels;
  m.threshold = threshold;
  if (label_names.empty()) {
    for (std::size_t i = 0; i < num_labels; ++i) label_names.push_back(std::to_string(i));
  }
  m.label_names = std::move(label_names);
  const std::size_t rows = targets.size() / num_labels;
  m.total = rows;

  std::vector<std::size_t> tp(num_labels, 0), predicted(num_labels, 0), actual(num_labels, 0);
  std::size_t exact_rows = 0, wrong_cells = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    std::size_t row_tp = 0, row_predicted = 0, row_actual = 0;
    bool same = true;
    for (std::size_t j = 0; j < num_labels; ++j) {
      const bool p = static_cast<double>(probabilities[r * num_labels + j]) >= threshold;
      const bool t = targets[r * num_labels + j] >= 0.5F;
      tp[j] += p && t;
      predicted[j] += p;
      actual[j] += t;
      row_tp += p && t;
      row_predicted += p;
      row_actual += t;
      if (p != t) {
        same = false;
        ++wrong_cells;
      }
    }
    exact_rows += same;
    const auto s = metrics::detail::scores_of_counts(static_cast<double>(row_tp), static_cast<double>(row_predicted),
                                                     static_cast<double>(row_actual));
    m.samples_precision += s.precision;
    m.samples_recall += s.recall;
    m.samples_f1 += s.f1;
  }
  const auto n = static_cast<double>(rows);
  m.samples_precision /= n;
  m.samples_recall /= n;
  m.samples_f1 /= n;
  m.subset_accuracy = static_cast<double>(exact_rows) / n;
  m.hamming_loss = static_cast<double>(wrong_cells) / static_cast<double>(targets.size());

  std::size_t all_tp = 0, all_predicted = 0, all_actual = 0;
  m.per_label.reserve(num_labels);
  for (std::size_t j = 0; j < num_labels; ++j) {
    auto s = metrics::detail::scores_of_counts(static_cast<double>(tp[j]), static_cast<double>(predicted[j]),
                                               static_cast<double>(actual[j]));
    s.support = actual[j];
    m.per_label.push_back(s);
    all_tp += tp[j];
    all_predicted += predicted[j];
    all_actual += actual[j];
    const auto w = static_cast<double>(actual[j]);
    m.macro_precision += s.precision;
    m.macro_recall += s.recall;
    m.macro_f1 += s.f1;
    m.weighted_precision += w * s.precision;
    m.weighted_recall += w * s.recall;
    m.weighted_f1 += w * s.f1;
  }
  const auto micro = metrics::detail::scores_of_counts(static_cast<double>(all_tp), static_cast<double>(all_predicted),
                                                       static_cast<double>(all_actual));
  m.micro_precision = micro.precision;
  m.micro_recall = micro.recall;
  m.micro_f1 = micro.f1;
  const auto k = static_cast<double>(num_labels);
  m.macro_precision /= k;
  m.macro_recall /= k;
  m.macro_f1 /= k;
  if (all_actual > 0) {
    const auto w = static_cast<double>(all_actual);
    m.weighted_precision /= w;
    m.weighted_recall /= w;
    m.weighted_f1 /= w;
  }  // else: no support anywhere, and sklearn's weighted average is zero_division, 0 (the sums already are)
  return m;
}

inline std::string MultiLabelMetrics::report(int digits) const {
  using metrics::detail::report_row;
  std::size_t width = metrics::detail::report_min_width(digits);
  for (const auto& name : label_names) width = std::max(width, metrics::detail::display_width(name));
  std::string out = metrics::detail::report_header(width);
  std::size_t support_sum = 0;
  for (std::size_t j = 0; j < per_label.size(); ++j) {
    const auto& s = per_label[j];
    out += report_row(width, j < label_names.size() ? label_names[j] : std::to_string(j), s.precision, s.recall, s.f1, s.support, digits);
    support_sum += s.support;
  }
  out += "\n";
  out += report_row(width, "micro avg", micro_precision, micro_recall, micro_f1, support_sum, digits);
  out += report_row(width, "macro avg", macro_precision, macro_recall, macro_f1, support_sum, digits);
  out += report_row(width, metrics::detail::report_last_heading, weighted_precision, weighted_recall, weighted_f1, support_sum, digits);
  out += report_row(width, "samples avg", samples_precision, samples_recall, samples_f1, support_sum, digits);
  return out;
}

}  // namespace ftlib
