#pragma once
// An architecture's config.json as transformers reads and writes it: the hyper-parameters (declared
// once in its spec, arch/<name>.hpp), the classification labels, and every key ftlib does not
// interpret, kept in `extra` and written back unchanged so that a config survives load -> save.
// Errors name the file and the field, and say what was expected.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/arch/fields.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/core/limits.hpp"
#include "ftlib/core/problem_type.hpp"
#include "ftlib/io/json_file.hpp"

namespace ftlib::arch {

/// @brief The classification labels of a config (id2label), and its problem type.
struct ClassificationLabels {
  std::vector<std::string> id2label{"LABEL_0", "LABEL_1"};  ///< label names by id; num_labels = size
  std::string problem_type;  ///< "single_label_classification", "multi_label_classification", "regression" or empty

  /// @brief LABEL_0 .. LABEL_{n-1}, transformers' default names.
  [[nodiscard]] static ClassificationLabels defaults(std::int64_t num_labels) {
    ClassificationLabels labels;
    labels.id2label.clear();
    for (std::int64_t i = 0; i < num_labels; ++i) labels.id2label.push_back("LABEL_" + std::to_string(i));
    return labels;
  }
  /// @brief Label names given in id order.
  [[nodiscard]] static ClassificationLabels from_names(std::vector<std::string> names) {
    ClassificationLabels labels;
    labels.id2label = std::move(names);
    return labels;
  }
  /// @brief id2label.size().
  [[nodiscard]] std::int64_t num_labels() const noexcept { return static_cast<std::int64_t>(id2label.size()); }
  /// @brief name -> id.
  [[nodiscard]] std::map<std::string, std::int64_t> label2id() const {
    std::map<std::string, std::int64_t> out;
    for (std::size_t i = 0; i < id2label.size(); ++i) out.emplace(id2label[i], static_cast<std::int64_t>(i));
    return out;
  }
  /// @brief Whether these are exactly LABEL_0.. LABEL_{n-1}.
  [[nodiscard]] bool are_default_names() const {
    for (std::size_t i = 0; i < id2label.size(); ++i) {
      if (id2label[i] != "LABEL_" + std::to_string(i)) return false;
    }
    return true;
  }
};

/// @brief Why `labels`' problem type cannot drive a head of their size (regression has one output,
///        single-label classification at least two), or nullopt when it can.
[[nodiscard]] inline std::optional<std::string> problem_type_mismatch(const ClassificationLabels& labels) {
  const auto type = resolve_problem_type(labels.problem_type, labels.num_labels());
  const auto n = std::to_string(labels.num_labels());
  if (type == ProblemType::regression && labels.num_labels() != 1)
    return "regression has one output (num_labels 1), but the head has " + n +
           " labels; a classifier head does not fit regression (train a new head with num_labels 1)";
  if (type == ProblemType::single_label_classification && labels.num_labels() < 2)
    return "single_label_classification needs at least 2 labels, but the head has " + n +
           " (a single output is regression; a single yes/no label is multi_label_classification)";
  return std::nullopt;
}

namespace detail {

inline ClassificationLabels read_labels(ConfigReader& r) {
  ClassificationLabels labels;
  std::vector<std::string> from_id2label;
  bool have_id2label = false;
  if (const auto* v = r.find("id2label"); v != nullptr && !v->is_null()) {
    if (!v->is_object()) r.fail("id2label", "expected an object {\"0\": \"name\", ...}, got " + v->dump());
    std::map<std::int64_t, std::string> by_id;
    for (const auto& [key, name] : v->items()) {
      std::int64_t id = -1;
      std::size_t used = 0;
      try {
        id = std::stoll(key, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != key.size() || key.empty() || id < 0) r.fail("id2label", "key \"" + key + "\" is not a label id (0, 1, ...)");
      if (id >= max_num_labels) r.fail("id2label", "label id " + key + " is more than " + std::to_string(max_num_labels) + " labels allow");
      if (!name.is_string()) r.fail("id2label", "label " + key + " is not a string: " + name.dump());
      if (!by_id.emplace(id, name.get<std::string>()).second) r.fail("id2label", "label id " + key + " appears twice");
    }
    std::int64_t expected = 0;
    for (const auto& [id, name] : by_id) {
      if (id != expected) r.fail("id2label", "label ids must be 0.." + std::to_string(by_id.size() - 1) + ", id " + std::to_string(expected) + " is missing");
      from_id2label.push_back(name);
      ++expected;
    }
    have_id2label = true;
  }
  std::optional<std::int64_t> num_labels;
  if (const auto* v = r.find("num_labels"); v != nullptr && !v->is_null()) {
    const bool in_range = v->is_number_integer() && (v->is_number_unsigned() ? v->get<std::uint64_t>() <= std::uint64_t{max_num_labels}
                                                                               : v->get<std::int64_t>() > 0 && v->get<std::int64_t>() <= max_num_labels);
    if (!in_range || v->get<std::int64_t>() <= 0)
      r.fail("num_labels", "expected a positive integer up to " + std::to_string(max_num_labels) + ", got " + v->dump());
    num_labels = v->get<std::int64_t>();
  }
  std::map<std::string, std::int64_t> label2id;
  bool have_label2id = false;
  if (const auto* v = r.find("label2id"); v != nullptr && !v->is_null()) {
    if (!v->is_object()) r.fail("label2id", "expected an object {\"name\": 0, ...}, got " + v->dump());
    for (const auto& [name, id] : v->items()) {
      if (!id.is_number_integer() || id.get<std::int64_t>() < 0) r.fail("label2id", "id of \"" + name + "\" is not a label id: " + id.dump());
      label2id.emplace(name, id.get<std::int64_t>());
    }
    have_label2id = true;
  }

  if (have_id2label) {
    labels.id2label = std::move(from_id2label);
  } else if (have_label2id) {
    std::vector<std::string> names(label2id.size());
    std::vector<bool> filled(label2id.size(), false);
    for (const auto& [name, id] : label2id) {
      if (id >= static_cast<std::int64_t>(names.size()) || filled[static_cast<std::size_t>(id)]) {
        r.fail("label2id", "ids must be 0.." + std::to_string(names.size() - 1) + " each used once; \"" + name + "\" has " + std::to_string(id));
      }
      names[static_cast<std::size_t>(id)] = name;
      filled[static_cast<std::size_t>(id)] = true;
    }
    labels.id2label = std::move(names);
  } else if (num_labels) {
    labels = ClassificationLabels::defaults(*num_labels);
  }
  if (num_labels && *num_labels != labels.num_labels()) {
    r.fail("num_labels", std::to_string(*num_labels) + " disagrees with the " + std::to_string(labels.num_labels()) +
                             " labels of id2label/label2id");
  }
  if (have_id2label && have_label2id && label2id != labels.label2id()) {
    r.fail("label2id", "is not the inverse of id2label");
  }
  if (labels.id2label.empty()) r.fail("id2label", "a classifier needs at least one label");

  if (const auto* v = r.find("problem_type"); v != nullptr && !v->is_null()) {
    if (!v->is_string()) r.fail("problem_type", "expected a string, got " + v->dump());
    labels.problem_type = v->get<std::string>();
    if (labels.problem_type != "single_label_classification" && labels.problem_type != "multi_label_classification" &&
        labels.problem_type != "regression") {
      r.fail("problem_type", "\"" + labels.problem_type +
                                 "\" is not one of single_label_classification, multi_label_classification, regression");
    }
  }
  return labels;
}

}  // namespace detail

/// @brief A whole config.json: architecture hyper-parameters, labels, and everything else kept verbatim.
template <Architecture Arch>
struct ModelConfig {
  using Architecture = Arch;               ///< the architecture spec

  Arch arch;                               ///< hyper-parameters
  ClassificationLabels labels;             ///< id2label and problem_type
  std::vector<std::string> architectures;  ///< e.g. {"DistilBertForSequenceClassification"}; may be empty
  nlohmann::json extra = nlohmann::json::object();  ///< uninterpreted keys, written back unchanged

  /// @brief Parses and validates a config object; errors name `source` and the field.
  [[nodiscard]] static ModelConfig from_json(const nlohmann::json& json, const std::filesystem::path& source) {
    ConfigReader r(json, source);
    ModelConfig config;
    if (const auto* v = r.find("model_type"); v != nullptr && !v->is_null()) {
      if (!v->is_string() || v->get<std::string>() != Arch::model_type) {
        r.fail("model_type", "expected \"" + std::string(Arch::model_type) + "\", got " + v->dump());
      }
    }
    read_fields(r, config.arch);
    config.labels = detail::read_labels(r);
    if (const auto* v = r.find("architectures"); v != nullptr && !v->is_null()) {
      if (!v->is_array()) r.fail("architectures", "expected an array of class names, got " + v->dump());
      for (const auto& a : *v) {
        if (!a.is_string()) r.fail("architectures", "expected class names (strings), got " + a.dump());
        config.architectures.push_back(a.get<std::string>());
      }
    }
    // Our weights are float32 in memory and on save: the stored dtype is not carried over.
    r.drop("torch_dtype");
    r.drop("dtype");
    config.extra = r.unused();
    config.validate(source);
    return config;
  }

  /// @brief Reads and validates a config.json file.
  [[nodiscard]] static ModelConfig load(const std::filesystem::path& config_json) {
    return from_json(io::read_json_file(config_json), config_json);
  }

  /// @brief Throws parse_error naming `source` and the field when a value is out of range.
  void validate(const std::filesystem::path& source = "config") const {
    const ConfigChecker k(source);
    check_fields(k, arch);
    if (labels.id2label.empty()) k.fail("id2label", "a classifier needs at least one label");
    std::set<std::string> names(labels.id2label.begin(), labels.id2label.end());
    if (names.size() != labels.id2label.size()) k.fail("id2label", "label names must be distinct");
    if (const auto why = problem_type_mismatch(labels)) k.fail("problem_type", *why);
  }

  /// @brief The config as transformers' save_pretrained writes it (model_type, torch_dtype "float32",
  ///        id2label/label2id unless they are the default two LABEL_ names).
  [[nodiscard]] nlohmann::json to_json() const {
    nlohmann::json j = extra.is_object() ? extra : nlohmann::json::object();
    write_fields(j, arch);
    if (!(labels.num_labels() == 2 && labels.are_default_names())) {
      nlohmann::json id2label = nlohmann::json::object();
      for (std::size_t i = 0; i < labels.id2label.size(); ++i) id2label[std::to_string(i)] = labels.id2label[i];
      j["id2label"] = std::move(id2label);
      j["label2id"] = labels.label2id();
    }
    if (!labels.problem_type.empty()) j["problem_type"] = labels.problem_type;
    if (!architectures.empty()) j["architectures"] = architectures;
    j["model_type"] = Arch::model_type;
    j["torch_dtype"] = "float32";
    return j;
  }

  /// @brief Validates, then writes config.json (indent 2, sorted keys) atomically.
  void save(const std::filesystem::path& config_json) const {
    validate(config_json);
    io::write_json_file(config_json, to_json(), io::JsonStyle::transformers);
  }

  /// @brief labels.id2label.size().
  [[nodiscard]] std::int64_t num_labels() const noexcept { return labels.num_labels(); }
};

}  // namespace ftlib::arch
