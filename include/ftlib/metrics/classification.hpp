#pragma once
// Classification metrics with scikit-learn's semantics (zero_division = 0): accuracy,
// per-class precision/recall/F1/support, macro and weighted averages, the confusion matrix and
// a text report laid out exactly like sklearn.metrics.classification_report.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ftlib/core/error.hpp"

namespace ftlib {

/// @brief Which classes the macro/weighted averages and the report cover.
enum class AverageOver {
  /// Classes that occur in the labels or the predictions: what sklearn does when `labels=` is not
  /// passed (e.g. f1_score(y, p, average="macro")). A class absent from both does not drag the macro average down.
  present_classes,
  /// Every class 0..num_labels-1: sklearn with labels=range(num_labels).
  all_classes,
};

/// @brief Precision, recall, F1 and support of one class.
struct ClassScores {
  double precision = 0.0;   ///< tp / (tp + fp), 0 when nothing was predicted as this class
  double recall = 0.0;      ///< tp / (tp + fn), 0 when the class has no support
  double f1 = 0.0;          ///< 2 tp / (2 tp + fp + fn), 0 when that is 0 / 0
  std::size_t support = 0;  ///< number of true occurrences
};

/// @brief Everything compute_classification_metrics measures.
struct ClassificationMetrics {
  std::size_t num_labels = 0;                       ///< number of classes
  std::vector<std::string> label_names;             ///< name of each class (for the report)
  std::vector<std::vector<std::size_t>> confusion;  ///< confusion[true][predicted], num_labels x num_labels
  std::vector<ClassScores> per_class;               ///< scores of each class 0..num_labels-1
  std::vector<std::size_t> averaged_classes;        ///< the classes the averages and the report cover
  std::size_t total = 0;                            ///< number of examples
  std::size_t correct = 0;                          ///< number predicted right
  double accuracy = 0.0;                            ///< correct / total
  double macro_precision = 0.0;                     ///< unweighted mean over averaged_classes
  double macro_recall = 0.0;                        ///< unweighted mean over averaged_classes
  double macro_f1 = 0.0;                            ///< unweighted mean over averaged_classes
  double weighted_precision = 0.0;                  ///< support-weighted mean over averaged_classes
  double weighted_recall = 0.0;                     ///< support-weighted mean over averaged_classes
  double weighted_f1 = 0.0;                         ///< support-weighted mean over averaged_classes

  /// @brief The text of sklearn's classification_report(..., digits=digits, zero_division=0).
  [[nodiscard]] std::string report(int digits = 2) const;

  /// @brief Flat name -> value pairs for logs: accuracy, f1_macro, f1_weighted, precision_macro, ...
  [[nodiscard]] std::map<std::string, double> summary() const {
    return {{"accuracy", accuracy},
            {"f1_macro", macro_f1},
            {"f1_weighted", weighted_f1},
            {"precision_macro", macro_precision},
            {"recall_macro", macro_recall},
            {"precision_weighted", weighted_precision},
            {"recall_weighted", weighted_recall}};
  }
};

namespace metrics::detail {

// sklearn's precision, recall and F1 of counts with zero_division = 0 (support left at 0):
// tp / predicted, tp / actual, 2tp / (2tp + fp + fn) = 2tp / (predicted + actual).
inline ClassScores scores_of_counts(double tp, double predicted, double actual) {
  ClassScores s;
  s.precision = predicted == 0 ? 0.0 : tp / predicted;
  s.recall = actual == 0 ? 0.0 : tp / actual;
  s.f1 = predicted + actual == 0 ? 0.0 : 2.0 * tp / (predicted + actual);
  return s;
}

}  // namespace metrics::detail

/// @brief Index of the largest value of each row of a row-major [rows, num_labels] array of logits
///        (the first one on ties, like torch.argmax / numpy.argmax).
[[nodiscard]] inline std::vector<std::int64_t> argmax_rows(std::span<const float> logits, std::size_t num_labels) {
  if (num_labels == 0 || logits.size() % num_labels != 0) {
    throw tensor_error("argmax_rows: " + std::to_string(logits.size()) + " logits do not form rows of " +
                       std::to_string(num_labels) + " classes");
  }
  std::vector<std::int64_t> out;
  out.reserve(logits.size() / num_labels);
  for (std::size_t row = 0; row < logits.size(); row += num_labels) {
    const auto first = logits.begin() + static_cast<std::ptrdiff_t>(row);
    out.push_back(std::max_element(first, first + static_cast<std::ptrdiff_t>(num_labels)) - first);
  }
  return out;
}

/// @brief Scores predictions against labels (both ids in [0, num_labels)), with sklearn's
///        zero_division = 0 semantics. `label_names` (one per class, or empty for "0", "1", ...) name
///        the report's rows.
/// @throws option_error for mismatched lengths, no examples, ids out of range or a wrong number of names.
[[nodiscard]] inline ClassificationMetrics compute_classification_metrics(
    std::span<const std::int64_t> predictions, std::span<const std::int64_t> labels, std::size_t num_labels,
    std::vector<std::string> label_names = {}, AverageOver average_over = AverageOver::present_classes) {
  if (predictions.size() != labels.size()) {
    throw option_error("metrics: " + std::to_string(predictions.size()) + " predictions but " +
                       std::to_string(labels.size()) + " labels");
  }
  if (labels.empty()) throw option_error("metrics: no examples to score");
  if (num_labels == 0) throw option_error("metrics: num_labels must be at least 1");
  if (!label_names.empty() && label_names.size() != num_labels) {
    throw option_error("metrics: " + std::to_string(label_names.size()) + " label names for " +
                       std::to_string(num_labels) + " classes");
  }
  ClassificationMetrics m;
  m.num_labels = num_labels;
  if (label_names.empty()) {
    for (std::size_t i = 0; i < num_labels; ++i) label_names.push_back(std::to_string(i));
  }
  m.label_names = std::move(label_names);
  m.confusion.assign(num_labels, std::vector<std::size_t>(num_labels, 0));
  auto check = [&](std::int64_t id, std::size_t i, const char* what) {
    if (id < 0 || static_cast<std::size_t>(id) >= num_labels) {
      throw option_error("metrics: " + std::string(what) + " " + std::to_string(id) + " at index " + std::to_string(i) +
                         " is out of range; expected 0.." + std::to_string(num_labels - 1));
    }
    return static_cast<std::size_t>(id);
  };
  for (std::size_t i = 0; i < labels.size(); ++i) {
    ++m.confusion[check(labels[i], i, "label")][check(predictions[i], i, "prediction")];
  }

  m.total = labels.size();
  m.per_class.resize(num_labels);
  for (std::size_t c = 0; c < num_labels; ++c) {
    std::size_t predicted = 0;
    for (std::size_t t = 0; t < num_labels; ++t) predicted += m.confusion[t][c];
    std::size_t support = 0;
    for (std::size_t p = 0; p < num_labels; ++p) support += m.confusion[c][p];
    const auto tp = static_cast<double>(m.confusion[c][c]);
    auto& s = m.per_class[c];
    s = metrics::detail::scores_of_counts(tp, static_cast<double>(predicted), static_cast<double>(support));
    s.support = support;
    m.correct += m.confusion[c][c];
    if (average_over == AverageOver::all_classes || predicted > 0 || support > 0) m.averaged_classes.push_back(c);
  }
  m.accuracy = static_cast<double>(m.correct) / static_cast<double>(m.total);

  double weight_sum = 0.0;
  for (const auto c : m.averaged_classes) {
    const auto& s = m.per_class[c];
    const auto w = static_cast<double>(s.support);
    m.macro_precision += s.precision;
    m.macro_recall += s.recall;
    m.macro_f1 += s.f1;
    m.weighted_precision += w * s.precision;
    m.weighted_recall += w * s.recall;
    m.weighted_f1 += w * s.f1;
    weight_sum += w;
  }
  const auto n = static_cast<double>(m.averaged_classes.size());
  m.macro_precision /= n;
  m.macro_recall /= n;
  m.macro_f1 /= n;
  if (weight_sum > 0.0) {
    m.weighted_precision /= weight_sum;
    m.weighted_recall /= weight_sum;
    m.weighted_f1 /= weight_sum;
  }
  return m;
}

namespace metrics::detail {

// Python's len() of a UTF-8 string: code points, not bytes.
inline std::size_t display_width(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

inline std::string pad_left(std::string_view s, std::size_t width) {
  const auto w = display_width(s);
  return std::string(width > w ? width - w : 0, ' ') + std::string(s);
}

inline std::string fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

// classification_report's table: a right-aligned name column as wide as the widest of "weighted avg",
// `digits` and the names shown, then a space and four 9-wide right-aligned cells.
inline std::string report_header(std::size_t width) {
  return pad_left("", width) + " " + " " + pad_left("precision", 9) + " " + pad_left("recall", 9) + " " + pad_left("f1-score", 9) + " " +
         pad_left("support", 9) + "\n\n";
}

inline std::string report_row(std::size_t width, std::string_view name, const std::string& p, const std::string& r, const std::string& f,
                              std::size_t support) {
  return pad_left(name, width) + " " + " " + pad_left(p, 9) + " " + pad_left(r, 9) + " " + pad_left(f, 9) + " " +
         pad_left(std::to_string(support), 9) + "\n";
}

// A row of three scores.
inline std::string report_row(std::size_t width, std::string_view name, double p, double r, double f, std::size_t support, int digits) {
  return report_row(width, name, fixed(p, digits), fixed(r, digits), fixed(f, digits), support);
}

inline constexpr std::string_view report_last_heading = "weighted avg";

inline std::size_t report_min_width(int digits) {
  return std::max<std::size_t>(report_last_heading.size(), static_cast<std::size_t>(std::max(digits, 0)));
}

}  // namespace metrics::detail

inline std::string ClassificationMetrics::report(int digits) const {
  using metrics::detail::fixed;
  using metrics::detail::report_row;
  std::size_t width = metrics::detail::report_min_width(digits);
  for (const auto c : averaged_classes) width = std::max(width, metrics::detail::display_width(label_names[c]));
  std::string out = metrics::detail::report_header(width);
  std::size_t support_sum = 0;
  for (const auto c : averaged_classes) {
    const auto& s = per_class[c];
    out += report_row(width, label_names[c], s.precision, s.recall, s.f1, s.support, digits);
    support_sum += s.support;
  }
  out += "\n";
  out += report_row(width, "accuracy", "", "", fixed(accuracy, digits), support_sum);
  out += report_row(width, "macro avg", macro_precision, macro_recall, macro_f1, support_sum, digits);
  out += report_row(width, metrics::detail::report_last_heading, weighted_precision, weighted_recall, weighted_f1, support_sum, digits);
  return out;
}

}  // namespace ftlib
