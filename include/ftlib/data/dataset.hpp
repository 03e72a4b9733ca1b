#pragma once
// TextClassificationDataset: rows of (text, optional text_pair, label id) read from CSV, TSV or
// JSONL, with the label map (id2label) a saved model's config.json needs. The readers stream the
// file through a fixed buffer and each text is stored once, in a string sized to fit. See docs/data.md.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/data/csv.hpp"
#include "ftlib/data/jsonl.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/core/limits.hpp"
#include "ftlib/core/problem_type.hpp"

namespace ftlib {

/// @brief The file formats a dataset can be read from.
enum class DataFormat {
  automatic,  ///< from the extension: .csv, .tsv/.tab, .jsonl/.ndjson/.json
  csv,        ///< RFC 4180, comma-separated, header row
  tsv,        ///< like csv with a tab delimiter (quotes still allowed)
  jsonl,      ///< one JSON object per line
};

/// @brief How the label column's values become ids.
enum class LabelMode {
  automatic,  ///< integer if every label is an integer (or label_offset is set), else string
  integer,    ///< id = value - label_offset, checked against num_labels
  string,     ///< each distinct string gets an id (label_order), or ids come from a given label2id
};

/// @brief The id order of string labels when no label2id is given.
enum class LabelOrder {
  sorted,      ///< byte-wise sorted, like sorted(set(labels)) in Python
  first_seen,  ///< in order of first appearance in the file
};

/// @brief The format name for messages and flags: "auto", "csv", "tsv", "jsonl".
[[nodiscard]] constexpr std::string_view to_string(DataFormat format) noexcept {
  switch (format) {
    case DataFormat::automatic: return "auto";
    case DataFormat::csv: return "csv";
    case DataFormat::tsv: return "tsv";
    case DataFormat::jsonl: return "jsonl";
  }
  return "?";
}

/// @brief Parses "auto", "csv", "tsv" or "jsonl" (e.g. a --format flag).
/// @throws option_error listing the valid names.
[[nodiscard]] inline DataFormat parse_data_format(std::string_view name) {
  if (name == "auto") return DataFormat::automatic;
  if (name == "csv") return DataFormat::csv;
  if (name == "tsv") return DataFormat::tsv;
  if (name == "jsonl") return DataFormat::jsonl;
  throw option_error("unknown data format '" + std::string(name) + "'; expected one of: auto, csv, tsv, jsonl");
}

/// @brief The format a file's extension implies.
/// @throws option_error for an extension it does not know.
[[nodiscard]] inline DataFormat data_format_from_path(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".csv") return DataFormat::csv;
  if (ext == ".tsv" || ext == ".tab") return DataFormat::tsv;
  if (ext == ".jsonl" || ext == ".ndjson" || ext == ".json") return DataFormat::jsonl;
  throw option_error(path.string() + ": cannot tell the data format from the extension '" + ext +
                     "'; expected .csv, .tsv, .tab, .jsonl, .ndjson or .json, or give the format explicitly");
}

/// @brief How TextClassificationDataset::load reads a file and turns labels into ids.
struct DatasetOptions {
  DataFormat format = DataFormat::automatic;     ///< file format; automatic = by extension
  std::string text_column = "text";               ///< column (CSV/TSV header name, JSONL key) of the text
  std::optional<std::string> text_pair_column;    ///< column of the second text of a pair, if any
  std::string label_column = "label";             ///< column of the label
  bool require_labels = true;                     ///< false: a missing label column gives an unlabelled dataset
  LabelMode label_mode = LabelMode::automatic;    ///< how labels become ids
  /// Subtracted from integer labels: 1 maps stars 1..5 to ids 0..4 (what the notebook's `stars - 1` does).
  std::int64_t label_offset = 0;
  /// Number of classes; integer labels must lie in [0, num_labels) after the offset. Unset: the
  /// size of label2id / label_names if given, else (largest id + 1) for integers, distinct count for strings.
  std::optional<std::size_t> num_labels;
  LabelOrder label_order = LabelOrder::sorted;    ///< id order of string labels without label2id
  /// A label map to impose (e.g. the train set's, or a saved model's config.json): string labels are
  /// looked up in it, unknown ones are an error. Ids must be 0..n-1.
  std::optional<std::map<std::string, std::int64_t>> label2id;
  /// Names for integer label ids (id2label); default "LABEL_<id>" as transformers' configs have.
  std::vector<std::string> label_names;
  /// What a label is: a class (single-label, the default), a set of labels (multi-label: the label
  /// column names them, split at label_separator, or label_columns hold one 0/1 column per label),
  /// or a number (regression: the label column holds it).
  ProblemType problem_type = ProblemType::single_label_classification;
  /// Multi-label: what separates the labels of a cell ("toys;books"); a JSONL value may also be a list.
  std::string label_separator = ";";
  /// Multi-label: one column (or JSONL key) per label holding 1/0 (or a target in [0, 1]); the column
  /// names are the labels. Empty: the label column names each row's labels.
  std::vector<std::string> label_columns;

  /// @brief Sets format.
  DatasetOptions& with_format(DataFormat v) { format = v; return *this; }
  /// @brief Sets text_column.
  DatasetOptions& with_text_column(std::string v) { text_column = std::move(v); return *this; }
  /// @brief Sets text_pair_column.
  DatasetOptions& with_text_pair_column(std::string v) { text_pair_column = std::move(v); return *this; }
  /// @brief Sets label_column.
  DatasetOptions& with_label_column(std::string v) { label_column = std::move(v); return *this; }
  /// @brief Sets require_labels.
  DatasetOptions& with_require_labels(bool v) { require_labels = v; return *this; }
  /// @brief Sets label_mode.
  DatasetOptions& with_label_mode(LabelMode v) { label_mode = v; return *this; }
  /// @brief Sets label_offset.
  DatasetOptions& with_label_offset(std::int64_t v) { label_offset = v; return *this; }
  /// @brief Sets num_labels.
  DatasetOptions& with_num_labels(std::size_t v) { num_labels = v; return *this; }
  /// @brief Sets label_order.
  DatasetOptions& with_label_order(LabelOrder v) { label_order = v; return *this; }
  /// @brief Imposes a label map.
  DatasetOptions& with_label2id(std::map<std::string, std::int64_t> v) { label2id = std::move(v); return *this; }
  /// @brief Sets label_names.
  DatasetOptions& with_label_names(std::vector<std::string> v) { label_names = std::move(v); return *this; }
  /// @brief Sets problem_type.
  DatasetOptions& with_problem_type(ProblemType v) { problem_type = v; return *this; }
  /// @brief Sets label_separator.
  DatasetOptions& with_label_separator(std::string v) { label_separator = std::move(v); return *this; }
  /// @brief Sets label_columns.
  DatasetOptions& with_label_columns(std::vector<std::string> v) { label_columns = std::move(v); return *this; }
};

namespace detail {
struct DatasetLoader;
}  // namespace detail

/// @brief One row of a dataset, viewing the dataset's storage.
struct Example {
  std::string_view text;                      ///< the (first) text
  std::optional<std::string_view> text_pair;  ///< the second text of a pair
  std::int64_t label = -1;                    ///< label id, -1 when the dataset is unlabelled
  std::size_t line = 0;                       ///< line in the source file where the row starts (0 in memory)
};

/// @brief What a DataLoader needs from a dataset: indexed texts, optional pairs and label ids.
template <class D>
concept ClassificationDataset = requires(const D& d, std::size_t i) {
  { d.size() } -> std::convertible_to<std::size_t>;
  { d.text(i) } -> std::convertible_to<std::string_view>;
  { d.text_pair(i) } -> std::same_as<std::optional<std::string_view>>;
  { d.label(i) } -> std::convertible_to<std::int64_t>;
  { d.has_labels() } -> std::convertible_to<bool>;
  { d.num_labels() } -> std::convertible_to<std::size_t>;
};

/// @brief Rows of (text, optional text_pair, label id) with their label names.
class TextClassificationDataset {
 public:
  TextClassificationDataset() = default;

  /// @brief Reads a CSV, TSV or JSONL file (see DatasetOptions and docs/data.md).
  /// @throws parse_error with file:line:column for malformed files and bad labels,
  ///         option_error for inconsistent options, io_error when the file cannot be read.
  [[nodiscard]] static TextClassificationDataset load(const std::filesystem::path& path,
                                                      const DatasetOptions& options = {});

  /// @brief A dataset from memory. `labels` is empty (unlabelled) or one id in [0, id2label.size())
  ///        per text; `text_pairs` is empty or one per text.
  /// @throws option_error when sizes or ids do not match.
  [[nodiscard]] static TextClassificationDataset from_memory(std::vector<std::string> texts,
                                                             std::vector<std::int64_t> labels,
                                                             std::vector<std::string> id2label,
                                                             std::vector<std::string> text_pairs = {}) {
    if (!labels.empty() && labels.size() != texts.size()) {
      throw option_error("in-memory dataset: " + std::to_string(texts.size()) + " texts but " +
                         std::to_string(labels.size()) + " labels");
    }
    if (!text_pairs.empty() && text_pairs.size() != texts.size()) {
      throw option_error("in-memory dataset: " + std::to_string(texts.size()) + " texts but " +
                         std::to_string(text_pairs.size()) + " text pairs");
    }
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= id2label.size()) {
        throw option_error("in-memory dataset: label " + std::to_string(labels[i]) + " of row " + std::to_string(i) +
                           " is out of range; expected 0.." + std::to_string(static_cast<std::int64_t>(id2label.size()) - 1));
      }
    }
    TextClassificationDataset d;
    d.texts_ = std::move(texts);
    d.text_pairs_ = std::move(text_pairs);
    d.labels_ = std::move(labels);
    d.id2label_ = std::move(id2label);
    d.source_ = "<memory>";
    return d;
  }

  /// @brief A multi-label or regression dataset from memory: `targets` is empty (unlabelled) or
  ///        row-major [texts.size(), id2label.size()] (0/1 or soft targets per label; the value for regression).
  /// @throws option_error when sizes do not match, a target is not finite, or (multi-label) not in [0, 1].
  [[nodiscard]] static TextClassificationDataset from_memory_targets(std::vector<std::string> texts, std::vector<float> targets,
                                                                     std::vector<std::string> id2label, ProblemType problem_type) {
    if (has_class_ids(problem_type)) throw option_error("in-memory dataset: class ids go through from_memory, not float targets");
    if (problem_type == ProblemType::regression && id2label.size() != 1)
      throw option_error("in-memory dataset: regression has one output, got " + std::to_string(id2label.size()) + " label names");
    if (!targets.empty() && targets.size() != texts.size() * id2label.size())
      throw option_error("in-memory dataset: " + std::to_string(targets.size()) + " targets for " + std::to_string(texts.size()) +
                         " texts x " + std::to_string(id2label.size()) + " labels");
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const bool bad = !std::isfinite(targets[i]) ||
                       (problem_type == ProblemType::multi_label_classification && (targets[i] < 0.0F || targets[i] > 1.0F));
      if (bad) throw option_error("in-memory dataset: target " + std::to_string(targets[i]) + " of row " + std::to_string(i / id2label.size()) +
                                  " is not " + (problem_type == ProblemType::regression ? "a finite number" : "in [0, 1]"));
    }
    TextClassificationDataset d;
    d.texts_ = std::move(texts);
    d.label_values_ = std::move(targets);
    d.id2label_ = std::move(id2label);
    d.problem_type_ = problem_type;
    d.source_ = "<memory>";
    return d;
  }

  /// @brief Number of rows.
  [[nodiscard]] std::size_t size() const noexcept { return texts_.size(); }
  /// @brief True without rows.
  [[nodiscard]] bool empty() const noexcept { return texts_.empty(); }
  /// @brief True when rows have a second text.
  [[nodiscard]] bool has_text_pair() const noexcept { return !text_pairs_.empty(); }
  /// @brief True when rows have labels (class ids, or float targets for multi-label and regression).
  [[nodiscard]] bool has_labels() const noexcept { return !labels_.empty() || !label_values_.empty(); }
  /// @brief What the labels are (DatasetOptions::problem_type).
  [[nodiscard]] ProblemType problem_type() const noexcept { return problem_type_; }
  /// @brief Multi-label and regression: every row's targets, row-major [size(), num_labels()] (0/1, or
  ///        soft, per label; the value for regression); empty for single-label or unlabelled data.
  [[nodiscard]] const std::vector<float>& label_values() const noexcept { return label_values_; }
  /// @brief Row i's float targets (num_labels() of them), empty when there are none.
  [[nodiscard]] std::span<const float> label_values(std::size_t i) const {
    if (label_values_.empty()) return {};
    const std::size_t n = id2label_.size();
    return std::span<const float>(label_values_).subspan(i * n, n);
  }
  /// @brief Text of row i.
  [[nodiscard]] std::string_view text(std::size_t i) const { return texts_.at(i); }
  /// @brief Second text of row i, if the dataset has pairs.
  [[nodiscard]] std::optional<std::string_view> text_pair(std::size_t i) const {
    if (text_pairs_.empty()) return std::nullopt;
    return std::string_view(text_pairs_.at(i));
  }
  /// @brief Label id of row i, or -1 for an unlabelled dataset (and for float targets: label_values(i)).
  [[nodiscard]] std::int64_t label(std::size_t i) const { return labels_.empty() ? -1 : labels_.at(i); }
  /// @brief Line in the source file where row i starts (0 for in-memory datasets).
  [[nodiscard]] std::size_t source_line(std::size_t i) const { return lines_.empty() ? 0 : lines_.at(i); }
  /// @brief Row i.
  [[nodiscard]] Example operator[](std::size_t i) const { return Example{text(i), text_pair(i), label(i), source_line(i)}; }

  /// @brief All label ids (empty when unlabelled).
  [[nodiscard]] const std::vector<std::int64_t>& labels() const noexcept { return labels_; }
  /// @brief Number of classes (the size of id2label).
  [[nodiscard]] std::size_t num_labels() const noexcept { return id2label_.size(); }
  /// @brief Name of each id, for config.json's id2label.
  [[nodiscard]] const std::vector<std::string>& id2label() const noexcept { return id2label_; }
  /// @brief Id of each name, for config.json's label2id (and for loading a validation set with the same ids).
  [[nodiscard]] std::map<std::string, std::int64_t> label2id() const {
    std::map<std::string, std::int64_t> out;
    for (std::size_t i = 0; i < id2label_.size(); ++i) out.emplace(id2label_[i], static_cast<std::int64_t>(i));
    return out;
  }
  /// @brief Rows per label id (size num_labels()); multi-label: rows where the label is true (>= 0.5).
  [[nodiscard]] std::vector<std::size_t> label_counts() const {
    std::vector<std::size_t> counts(id2label_.size(), 0);
    for (const auto id : labels_) ++counts[static_cast<std::size_t>(id)];
    if (problem_type_ == ProblemType::multi_label_classification) {
      for (std::size_t i = 0; i < label_values_.size(); ++i) counts[i % counts.size()] += label_values_[i] >= 0.5F;
    }
    return counts;
  }
  /// @brief The file the rows came from ("<memory>" for in-memory datasets).
  [[nodiscard]] const std::string& source() const noexcept { return source_; }

 private:
  friend struct detail::DatasetLoader;

  std::vector<std::string> texts_;
  std::vector<std::string> text_pairs_;
  std::vector<std::int64_t> labels_;
  std::vector<float> label_values_;
  ProblemType problem_type_ = ProblemType::single_label_classification;
  std::vector<std::size_t> lines_;
  std::vector<std::string> id2label_;
  std::string source_;
};

static_assert(ClassificationDataset<TextClassificationDataset>);

/// @brief scikit-learn's compute_class_weight("balanced"): n_rows / (n_classes * rows of the class), from
///        the rows per class (label_counts()); weights the single-label cross-entropy so every class counts alike.
/// @throws option_error naming the class that has no rows (by `names` when given, else by id): its weight
///         would be infinite.
[[nodiscard]] inline std::vector<double> balanced_class_weights(std::span<const std::size_t> counts,
                                                                std::span<const std::string> names = {}) {
  std::size_t total = 0;
  for (const auto c : counts) total += c;
  std::vector<double> weights;
  for (std::size_t c = 0; c < counts.size(); ++c) {
    if (counts[c] == 0) {
      const std::string which = c < names.size() ? "label '" + names[c] + "'" : "class " + std::to_string(c);
      throw option_error(SourceLocation{"class_weights", {}, {}},
                         "balanced: " + which + " has no rows, so its weight would be infinite; give the weights explicitly");
    }
    weights.push_back(static_cast<double>(total) / (static_cast<double>(counts.size()) * static_cast<double>(counts[c])));
  }
  return weights;
}

namespace detail {

// Builds a TextClassificationDataset from a file (the implementation of load()).
struct DatasetLoader {
  // Raw label values are kept until the whole file is read: automatic mode and sorted string ids
  // need to see every label first.
  struct RawLabel {
    std::string value;
    std::size_t line;
    std::optional<std::size_t> column;
  };

  const DatasetOptions& options;
  std::string file;
  std::string label_where;  // "column 'stars' (field 2)" or "key 'label'"
  TextClassificationDataset out{};
  std::vector<RawLabel> raw_labels{};
  std::vector<RawLabel> raw_columns{};  // multi-label from label_columns: row-major, one per column

  [[noreturn]] void fail(std::size_t line, std::optional<std::size_t> column, const std::string& message) const {
    throw parse_error(SourceLocation{file, line, column}, message);
  }

  static std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + ("'" + n + "'");
    return out;
  }

  // One column in two roles is a slip in the options, never a useful dataset.
  void check_distinct_columns() const {
    auto same = [&](const std::string& a, const char* a_name, const std::string& b, const char* b_name) {
      if (a == b) throw option_error(file + ": " + a_name + " and " + b_name + " are both '" + a + "'");
    };
    if (options.label_columns.empty()) same(options.text_column, "text_column", options.label_column, "label_column");
    if (!options.label_columns.empty() && options.problem_type != ProblemType::multi_label_classification)
      throw option_error(file + ": label_columns (one 0/1 column per label) are for multi_label_classification, not " +
                         std::string(to_string(options.problem_type)));
    std::set<std::string> seen;
    for (const auto& c : options.label_columns) {
      same(options.text_column, "text_column", c, "a label column");
      if (options.text_pair_column) same(*options.text_pair_column, "text_pair_column", c, "a label column");
      if (!seen.insert(c).second) throw option_error(file + ": label column '" + c + "' is given twice");
    }
    if (options.problem_type == ProblemType::multi_label_classification && options.label_columns.empty() &&
        options.label_separator.empty())
      throw option_error(file + ": label_separator must not be empty (multi-label cells are split at it)");
    if (options.text_pair_column) {
      same(options.text_column, "text_column", *options.text_pair_column, "text_pair_column");
      same(*options.text_pair_column, "text_pair_column", options.label_column, "label_column");
    }
  }

  void load_csv(const std::filesystem::path& path, CsvOptions csv) {
    CsvReader reader(path, std::move(csv));
    const auto& header = reader.header();
    auto column = [&](const std::string& name, const char* option, bool required) -> std::optional<std::size_t> {
      auto index = reader.column_index(name);
      if (!index && required) {
        fail(reader.header_line(), std::nullopt,
             "missing column '" + name + "' (" + option + "); the header has columns: " + join(header));
      }
      if (index) {
        const auto again = std::find(header.begin() + static_cast<std::ptrdiff_t>(*index) + 1, header.end(), name);
        if (again != header.end())
          fail(reader.header_line(), std::nullopt,
               "column '" + name + "' (" + option + ") appears twice in the header (columns " + std::to_string(*index + 1) +
                   " and " + std::to_string(again - header.begin() + 1) + "); which one is meant?");
      }
      return index;
    };
    const auto text_index = *column(options.text_column, "text_column", true);
    std::optional<std::size_t> pair_index;
    if (options.text_pair_column) pair_index = column(*options.text_pair_column, "text_pair_column", true);
    const bool by_columns = !options.label_columns.empty();
    const auto label_index = by_columns ? std::nullopt : column(options.label_column, "label_column", options.require_labels);
    if (label_index) {
      label_where = "column '" + options.label_column + "' (field " + std::to_string(*label_index + 1) + ")";
    }
    // Multi-label columns: all of them, or (unlabelled data allowed) none.
    std::vector<std::size_t> column_indices;
    bool any_label_column = false;
    for (const auto& c : options.label_columns) any_label_column = any_label_column || reader.column_index(c).has_value();
    if (by_columns && (options.require_labels || any_label_column)) {
      for (const auto& c : options.label_columns) column_indices.push_back(*column(c, "label_columns", true));
    }

    CsvRow row;
    while (reader.next(row)) {
      out.lines_.push_back(row.line);
      // Copies sized to fit: the row's own strings keep their capacity for the next record.
      out.texts_.emplace_back(row.fields[text_index]);
      if (pair_index) out.text_pairs_.emplace_back(row.fields[*pair_index]);
      if (label_index) {
        const auto& at = row.positions[*label_index];
        raw_labels.push_back(RawLabel{row.fields[*label_index], at.line, at.column});
      }
      for (const auto index : column_indices) {
        const auto& at = row.positions[index];
        raw_columns.push_back(RawLabel{row.fields[index], at.line, at.column});
      }
    }
    if (out.texts_.empty()) fail(reader.header_line(), std::nullopt, "no data rows after the header");
  }

  static std::string keys_of(const nlohmann::json& object) {
    std::string out;
    for (const auto& item : object.items()) out += (out.empty() ? "'" : ", '") + item.key() + "'";
    return out.empty() ? "(none)" : out;
  }

  std::string json_text(const JsonlRecord& record, const std::string& key, const char* option) const {
    const auto it = record.value.find(key);
    if (it == record.value.end()) {
      fail(record.line, std::nullopt,
           "missing key '" + key + "' (" + option + "); this object has keys: " + keys_of(record.value));
    }
    if (!it->is_string()) {
      fail(record.line, std::nullopt,
           "key '" + key + "' (" + option + ") must be a string, got " + std::string(it->type_name()));
    }
    return it->get<std::string>();
  }

  void load_jsonl(const std::filesystem::path& path) {
    JsonlReader reader(path);
    JsonlRecord record;
    label_where = "key '" + options.label_column + "'";
    std::optional<bool> labelled;  // decided by the first row when labels are optional
    while (reader.next(record)) {
      out.lines_.push_back(record.line);
      out.texts_.push_back(json_text(record, options.text_column, "text_column"));
      if (options.text_pair_column) {
        out.text_pairs_.push_back(json_text(record, *options.text_pair_column, "text_pair_column"));
      }
      if (!options.label_columns.empty()) {
        load_json_label_columns(record, labelled);
        continue;
      }
      const auto it = record.value.find(options.label_column);
      if (!labelled) labelled = options.require_labels || it != record.value.end();
      if (!*labelled) continue;
      if (it == record.value.end()) {
        fail(record.line, std::nullopt,
             "missing key '" + options.label_column + "' (label_column); this object has keys: " + keys_of(record.value));
      }
      raw_labels.push_back(RawLabel{json_label(record, *it), record.line, std::nullopt});
    }
  }

  // A JSONL label as the text a CSV cell would hold: regression keeps a number's digits, multi-label
  // joins a list of names with the separator, single-label takes strings and integers.
  std::string json_label(const JsonlRecord& record, const nlohmann::json& v) const {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return {};
    if (options.problem_type == ProblemType::regression) {
      if (!v.is_number()) fail(record.line, std::nullopt, "label in " + label_where + " must be a number (regression), got " + std::string(v.type_name()));
      return v.dump();
    }
    if (options.problem_type == ProblemType::multi_label_classification) {
      if (!v.is_array())
        fail(record.line, std::nullopt, "label in " + label_where + " must be a list of label names or a string (multi-label), got " +
                                            std::string(v.type_name()));
      std::string joined;
      for (const auto& name : v) {
        if (!name.is_string()) fail(record.line, std::nullopt, "labels in " + label_where + " must be strings, got " + name.dump());
        const auto text = name.get<std::string>();
        if (text.find(options.label_separator) != std::string::npos)
          fail(record.line, std::nullopt, "label '" + text + "' in " + label_where + " contains the separator '" + options.label_separator + "'");
        joined += (joined.empty() ? "" : options.label_separator) + text;
      }
      return joined;
    }
    if (v.is_number_integer()) return v.dump();
    if (v.is_number_float()) {
      const double d = v.get<double>();
      // The range test comes first: casting a double outside int64's range is undefined.
      if (!(d >= -9.0e18 && d <= 9.0e18) || d != static_cast<double>(static_cast<std::int64_t>(d)))
        fail(record.line, std::nullopt, "label " + v.dump() + " in " + label_where + " is not an integer");
      return std::to_string(static_cast<std::int64_t>(d));
    }
    fail(record.line, std::nullopt, "label in " + label_where + " must be a string or an integer, got " + std::string(v.type_name()));
  }

  void load_json_label_columns(const JsonlRecord& record, std::optional<bool>& labelled) {
    bool any = false;
    for (const auto& c : options.label_columns) any = any || record.value.contains(c);
    if (!labelled) labelled = options.require_labels || any;
    if (!*labelled) return;
    for (const auto& c : options.label_columns) {
      const auto it = record.value.find(c);
      if (it == record.value.end())
        fail(record.line, std::nullopt, "missing key '" + c + "' (label_columns); this object has keys: " + keys_of(record.value));
      if (!it->is_number() && !it->is_boolean())
        fail(record.line, std::nullopt, "key '" + c + "' (label_columns) must be 0/1 or a target in [0, 1], got " + it->dump());
      raw_columns.push_back(RawLabel{it->is_boolean() ? (it->get<bool>() ? "1" : "0") : it->dump(), record.line, std::nullopt});
    }
  }

  static std::string_view trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
  }

  static std::optional<std::int64_t> parse_integer(std::string_view s) {
    s = trim(s);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return value;
  }

  void check_not_empty(const RawLabel& raw) const {
    if (trim(raw.value).empty()) fail(raw.line, raw.column, "empty label in " + label_where);
  }

  LabelMode decide_mode() const {
    if (options.label_mode != LabelMode::automatic) return options.label_mode;
    if (options.label_offset != 0) return LabelMode::integer;
    const RawLabel* integer = nullptr;
    const RawLabel* other = nullptr;
    bool all_in_map = options.label2id.has_value();
    for (const auto& raw : raw_labels) {
      check_not_empty(raw);
      if (all_in_map && !options.label2id->contains(raw.value)) all_in_map = false;
      if (parse_integer(raw.value)) {
        if (!integer) integer = &raw;
      } else if (!other) {
        other = &raw;
      }
    }
    if (all_in_map) return LabelMode::string;
    if (integer && other) {
      fail(other->line, other->column,
           "label '" + other->value + "' in " + label_where + " is not an integer, but the label on line " +
               std::to_string(integer->line) + " is ('" + integer->value +
               "'); set the label mode (integer or string) explicitly if this is intended");
    }
    return other ? LabelMode::string : LabelMode::integer;
  }

  std::string range_text(std::size_t n) const {
    const auto first = options.label_offset;
    const auto last = static_cast<std::int64_t>(n) - 1 + options.label_offset;
    std::string text = "expected " + std::to_string(first) + ".." + std::to_string(last) + " (num_labels " + std::to_string(n);
    if (options.label_offset != 0) text += ", label_offset " + std::to_string(options.label_offset);
    return text + ")";
  }

  void resolve_integer() {
    std::optional<std::size_t> n = options.num_labels;
    if (!n && options.label2id) n = options.label2id->size();
    if (!n && !options.label_names.empty()) n = options.label_names.size();
    std::int64_t largest = -1;
    const RawLabel* largest_label = nullptr;
    out.labels_.reserve(raw_labels.size());
    for (const auto& raw : raw_labels) {
      check_not_empty(raw);
      const auto value = parse_integer(raw.value);
      if (!value) {
        fail(raw.line, raw.column, "label '" + raw.value + "' in " + label_where + " is not an integer");
      }
      std::int64_t id = 0;
      if (__builtin_sub_overflow(*value, options.label_offset, &id)) id = -1;  // out of any range: reported below
      if (id < 0 || (n && id >= static_cast<std::int64_t>(*n)) || id >= max_num_labels) {
        std::string message = "label " + std::to_string(*value) + " in " + label_where + " is out of range: ";
        if (n) {
          message += range_text(*n);
        } else {
          message += "ids (label - label_offset " + std::to_string(options.label_offset) + ") must be in 0.." +
                     std::to_string(max_num_labels - 1);
        }
        fail(raw.line, raw.column, message);
      }
      if (id > largest) {
        largest = id;
        largest_label = &raw;
      }
      out.labels_.push_back(id);
    }
    const std::size_t count = n ? *n : static_cast<std::size_t>(largest + 1);
    if (!n && largest_label != nullptr) check_classes_are_dense(count, *largest_label);
    if (!options.label_names.empty()) {
      if (options.label_names.size() != count) {
        throw option_error("label_names has " + std::to_string(options.label_names.size()) + " names but there are " +
                           std::to_string(count) + " labels");
      }
      out.id2label_ = options.label_names;
    } else if (options.label2id) {
      out.id2label_ = invert(*options.label2id);
    } else {
      for (std::size_t i = 0; i < count; ++i) out.id2label_.push_back("LABEL_" + std::to_string(i));
    }
  }

  // Inferred from the data, the number of classes is the largest id + 1: one stray large label would
  // size the classifier (label 100000 -> 100001 classes), so most classes must actually occur.
  void check_classes_are_dense(std::size_t count, const RawLabel& largest) const {
    std::set<std::int64_t> distinct(out.labels_.begin(), out.labels_.end());
    if (count <= 16 || distinct.size() * 2 >= count) return;
    fail(largest.line, largest.column,
         "label " + largest.value + " in " + label_where + " makes " + std::to_string(count) + " classes (ids 0.." +
             std::to_string(count - 1) + "), but only " + std::to_string(distinct.size()) +
             " distinct labels occur; integer labels must be class ids (is a label offset missing, or is this not the "
             "label column?). Set num_labels explicitly if so many classes are intended");
  }

  static std::vector<std::string> invert(const std::map<std::string, std::int64_t>& label2id) {
    std::vector<std::string> names(label2id.size());
    std::vector<bool> seen(label2id.size(), false);
    for (const auto& [name, id] : label2id) {
      if (id < 0 || static_cast<std::size_t>(id) >= names.size() || seen[static_cast<std::size_t>(id)]) {
        throw option_error("label2id must map its " + std::to_string(names.size()) + " names to the ids 0.." +
                           std::to_string(static_cast<std::int64_t>(names.size()) - 1) + " once each; '" + name +
                           "' has id " + std::to_string(id));
      }
      names[static_cast<std::size_t>(id)] = name;
      seen[static_cast<std::size_t>(id)] = true;
    }
    return names;
  }

  void resolve_string() {
    std::map<std::string, std::int64_t> label2id;
    if (options.label2id) {
      out.id2label_ = invert(*options.label2id);
      label2id = *options.label2id;
    } else {
      std::vector<std::string> names;
      for (const auto& raw : raw_labels) {
        check_not_empty(raw);
        if (label2id.emplace(raw.value, 0).second) names.push_back(raw.value);
      }
      if (options.label_order == LabelOrder::sorted) std::sort(names.begin(), names.end());
      for (std::size_t i = 0; i < names.size(); ++i) label2id[names[i]] = static_cast<std::int64_t>(i);
      if (options.num_labels && *options.num_labels != names.size()) {
        throw option_error(file + ": num_labels is " + std::to_string(*options.num_labels) + " but the " + label_where +
                           " has " + std::to_string(names.size()) + " distinct labels: " + join(names) +
                           "; give label2id to fix the ids of labels a split lacks");
      }
      out.id2label_ = std::move(names);
    }
    out.labels_.reserve(raw_labels.size());
    for (const auto& raw : raw_labels) {
      check_not_empty(raw);
      const auto it = label2id.find(raw.value);
      if (it == label2id.end()) {
        fail(raw.line, raw.column,
             "unknown label '" + raw.value + "' in " + label_where + "; the given label2id has: " + join(out.id2label_));
      }
      out.labels_.push_back(it->second);
    }
  }

  // A finite number that fits a float, else nullopt ("nan", "inf", "1e39", "3 stars" are not).
  static std::optional<float> parse_number(std::string_view s) {
    s = trim(s);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    double value = 0.0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(value) ||
        std::abs(value) > static_cast<double>(std::numeric_limits<float>::max()))
      return std::nullopt;
    return static_cast<float>(value);
  }

  void resolve_regression() {
    if (!options.label_names.empty() && options.label_names.size() != 1)
      throw option_error(file + ": regression has one output, but label_names has " + std::to_string(options.label_names.size()) + " names");
    out.id2label_ = options.label_names.empty() ? std::vector<std::string>{"LABEL_0"} : options.label_names;
    out.label_values_.reserve(raw_labels.size());
    for (const auto& raw : raw_labels) {
      check_not_empty(raw);
      const auto value = parse_number(raw.value);
      if (!value) fail(raw.line, raw.column, "label '" + raw.value + "' in " + label_where + " is not a number (regression takes numeric labels)");
      out.label_values_.push_back(*value);
    }
  }

  // The names of a multi-label cell: split at the separator, trimmed, empty pieces dropped.
  std::vector<std::string> split_names(std::string_view cell) const {
    std::vector<std::string> names;
    const std::string_view sep = options.label_separator;
    for (std::size_t start = 0;;) {
      const auto end = cell.find(sep, start);
      const auto piece = trim(cell.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
      if (!piece.empty()) names.emplace_back(piece);
      if (end == std::string_view::npos) break;
      start = end + sep.size();
    }
    return names;
  }

  // The label names of multi-label data without a given map: label_names, else every name that
  // occurs (sorted or in order of appearance).
  std::vector<std::string> multi_label_names(const std::vector<std::vector<std::string>>& rows) const {
    if (options.label2id) return invert(*options.label2id);
    if (!options.label_names.empty()) return options.label_names;
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (const auto& row : rows)
      for (const auto& n : row)
        if (seen.insert(n).second) names.push_back(n);
    if (options.label_order == LabelOrder::sorted) std::sort(names.begin(), names.end());
    return names;
  }

  void resolve_multi_label_names() {
    std::vector<std::vector<std::string>> rows;
    rows.reserve(raw_labels.size());
    for (const auto& raw : raw_labels) rows.push_back(split_names(raw.value));
    out.id2label_ = multi_label_names(rows);
    if (out.id2label_.empty())
      fail(raw_labels.front().line, raw_labels.front().column,
           "no row names a label in " + label_where + " (multi-label cells list labels separated by '" + options.label_separator + "')");
    if (options.num_labels && *options.num_labels != out.id2label_.size())
      throw option_error(file + ": num_labels is " + std::to_string(*options.num_labels) + " but the " + label_where + " names " +
                         std::to_string(out.id2label_.size()) + " labels: " + join(out.id2label_));
    std::map<std::string, std::size_t> id;
    for (std::size_t i = 0; i < out.id2label_.size(); ++i) id.emplace(out.id2label_[i], i);
    const std::size_t k = out.id2label_.size();
    out.label_values_.assign(rows.size() * k, 0.0F);
    for (std::size_t r = 0; r < rows.size(); ++r) {
      for (const auto& name : rows[r]) {
        const auto it = id.find(name);
        if (it == id.end())
          fail(raw_labels[r].line, raw_labels[r].column,
               "unknown label '" + name + "' in " + label_where + "; the labels are: " + join(out.id2label_));
        out.label_values_[r * k + it->second] = 1.0F;
      }
    }
  }

  // Multi-label from one 0/1 column per label; with a given label map, the columns must be its labels.
  void resolve_multi_label_columns() {
    const auto& columns = options.label_columns;
    const std::size_t k = columns.size();
    std::vector<std::size_t> column_of(k);  // label id -> position in label_columns
    if (options.label2id) {
      out.id2label_ = invert(*options.label2id);
      if (out.id2label_.size() != k)
        throw option_error(file + ": " + std::to_string(k) + " label columns for the " + std::to_string(out.id2label_.size()) +
                           " labels " + join(out.id2label_));
      for (std::size_t i = 0; i < k; ++i) {
        const auto it = std::find(columns.begin(), columns.end(), out.id2label_[i]);
        if (it == columns.end())
          throw option_error(file + ": label '" + out.id2label_[i] + "' has no label column; the label columns are " + join(columns));
        column_of[i] = static_cast<std::size_t>(it - columns.begin());
      }
    } else {
      out.id2label_ = columns;
      for (std::size_t i = 0; i < k; ++i) column_of[i] = i;
    }
    const std::size_t rows = raw_columns.size() / k;
    out.label_values_.assign(rows * k, 0.0F);
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t i = 0; i < k; ++i) {
        const RawLabel& raw = raw_columns[r * k + column_of[i]];
        const auto value = parse_number(raw.value);
        if (!value || *value < 0.0F || *value > 1.0F)
          fail(raw.line, raw.column, "value '" + raw.value + "' in label column '" + columns[column_of[i]] +
                                         "' is not 0/1 (or a target in [0, 1])");
        out.label_values_[r * k + i] = *value;
      }
    }
  }

  void resolve_float_targets() {
    out.problem_type_ = options.problem_type;
    const bool labelled = !raw_labels.empty() || !raw_columns.empty();
    if (options.problem_type == ProblemType::regression) {
      resolve_regression();
    } else if (!options.label_columns.empty()) {
      if (labelled) resolve_multi_label_columns();
      else out.id2label_ = options.label2id ? invert(*options.label2id) : options.label_columns;
    } else if (labelled) {
      resolve_multi_label_names();
    } else {
      out.id2label_ = multi_label_names({});
    }
    raw_labels = {};
    raw_columns = {};
  }

  void resolve_labels() {
    if (!has_class_ids(options.problem_type)) {
      resolve_float_targets();
      return;
    }
    if (raw_labels.empty()) {
      // Unlabelled: keep whatever names the options give, so predictions can still be named.
      if (options.label2id) {
        out.id2label_ = invert(*options.label2id);
      } else if (!options.label_names.empty()) {
        out.id2label_ = options.label_names;
      } else if (options.num_labels) {
        for (std::size_t i = 0; i < *options.num_labels; ++i) out.id2label_.push_back("LABEL_" + std::to_string(i));
      }
      return;
    }
    if (decide_mode() == LabelMode::integer) {
      resolve_integer();
    } else {
      resolve_string();
    }
    raw_labels.clear();
    raw_labels.shrink_to_fit();
  }
};

}  // namespace detail

inline TextClassificationDataset TextClassificationDataset::load(const std::filesystem::path& path,
                                                                 const DatasetOptions& options) {
  const DataFormat format = options.format == DataFormat::automatic ? data_format_from_path(path) : options.format;
  detail::DatasetLoader loader{options, path.string(), {}};
  loader.check_distinct_columns();
  loader.out.source_ = path.string();
  switch (format) {
    case DataFormat::csv: loader.load_csv(path, CsvOptions{}); break;
    case DataFormat::tsv: loader.load_csv(path, CsvOptions::tsv()); break;
    case DataFormat::jsonl: loader.load_jsonl(path); break;
    case DataFormat::automatic: break;  // resolved above
  }
  loader.resolve_labels();
  return std::move(loader.out);
}

}  // namespace ftlib
