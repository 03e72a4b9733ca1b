#pragma once
// config.json of DistilBERT and ALBERT checkpoints, read and written the way transformers does.
//
// Defaults are those of transformers' DistilBertConfig / AlbertConfig. Every key we do not
// interpret is kept in `extra` and written back unchanged, so a config survives load -> save.
// Errors name the file and the field, and say what was expected.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/core/error.hpp"
#include "ftlib/io/json_file.hpp"

namespace ftlib::hf {

/// @brief The activation functions a config may name (transformers' ACT2FN keys we support).
enum class Activation {
  GeluErf,    ///< "gelu", "gelu_python": x * Phi(x), exact erf form
  GeluTanh,   ///< "gelu_new", "gelu_pytorch_tanh", "gelu_fast": 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))
  QuickGelu,  ///< "quick_gelu": x * sigmoid(1.702x)
  Relu,       ///< "relu"
  Silu,       ///< "silu", "swish": x * sigmoid(x)
  Tanh,       ///< "tanh"
  Sigmoid,    ///< "sigmoid"
  Linear,     ///< "linear": identity
};

namespace detail {

struct ActivationName {
  std::string_view name;
  Activation kind;
};

inline constexpr std::array<ActivationName, 12> activation_names{{
    {"gelu", Activation::GeluErf},
    {"gelu_python", Activation::GeluErf},
    {"gelu_new", Activation::GeluTanh},
    {"gelu_pytorch_tanh", Activation::GeluTanh},
    {"gelu_fast", Activation::GeluTanh},
    {"quick_gelu", Activation::QuickGelu},
    {"relu", Activation::Relu},
    {"silu", Activation::Silu},
    {"swish", Activation::Silu},
    {"tanh", Activation::Tanh},
    {"sigmoid", Activation::Sigmoid},
    {"linear", Activation::Linear},
}};

inline std::string known_activation_list() {
  std::string out;
  for (const auto& a : activation_names) {
    if (!out.empty()) out += ", ";
    out += a.name;
  }
  return out;
}

/// @brief Reads typed fields from a config object, remembering which keys it interpreted.
class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& json, const std::filesystem::path& source) : json_(json), source_(source) {
    if (!json_.is_object()) fail("", std::string("expected a JSON object, got ") + json_.type_name());
  }

  [[noreturn]] void fail(std::string_view field, const std::string& message) const {
    throw parse_error(SourceLocation{source_.string(), {}, {}},
                      field.empty() ? message : "field '" + std::string(field) + "': " + message);
  }

  /// @brief The value of `key` if present (marks it as interpreted), else nullptr.
  const nlohmann::json* find(std::string_view key) {
    used_.insert(std::string(key));
    const auto it = json_.find(std::string(key));
    return it == json_.end() ? nullptr : &*it;
  }
  /// @brief Marks `key` as interpreted without reading it (dropped from `extra`).
  void drop(std::string_view key) { used_.insert(std::string(key)); }

  void read(std::string_view key, std::int64_t& out) {
    if (const auto* v = find(key)) {
      if (!v->is_number_integer()) fail(key, "expected an integer, got " + v->dump());
      out = v->get<std::int64_t>();
    }
  }
  void read(std::string_view key, double& out) {
    if (const auto* v = find(key)) {
      if (!v->is_number()) fail(key, "expected a number, got " + v->dump());
      out = v->get<double>();
    }
  }
  void read(std::string_view key, bool& out) {
    if (const auto* v = find(key)) {
      if (!v->is_boolean()) fail(key, "expected true or false, got " + v->dump());
      out = v->get<bool>();
    }
  }
  void read(std::string_view key, std::string& out) {
    if (const auto* v = find(key)) {
      if (!v->is_string()) fail(key, "expected a string, got " + v->dump());
      out = v->get<std::string>();
    }
  }

  /// @brief Every key not interpreted, as an object.
  [[nodiscard]] nlohmann::json unused() const {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : json_.items()) {
      if (!used_.contains(k)) out[k] = v;
    }
    return out;
  }

  [[nodiscard]] const std::filesystem::path& source() const noexcept { return source_; }

 private:
  const nlohmann::json& json_;
  const std::filesystem::path& source_;
  std::set<std::string, std::less<>> used_;
};

/// @brief Checks done on every config after reading, before writing.
class ConfigChecker {
 public:
  explicit ConfigChecker(const std::filesystem::path& source) : source_(source) {}
  [[noreturn]] void fail(std::string_view field, const std::string& message) const {
    throw parse_error(SourceLocation{source_.string(), {}, {}}, "field '" + std::string(field) + "': " + message);
  }
  void positive(std::string_view field, std::int64_t value) const {
    if (value <= 0) fail(field, "must be a positive integer, got " + std::to_string(value));
  }
  void non_negative(std::string_view field, std::int64_t value) const {
    if (value < 0) fail(field, "must be a non-negative integer, got " + std::to_string(value));
  }
  void probability(std::string_view field, double value) const {
    if (!(value >= 0.0 && value < 1.0)) fail(field, "must be a probability in [0, 1), got " + nlohmann::json(value).dump());
  }
  void positive(std::string_view field, double value) const {
    if (!(value > 0.0)) fail(field, "must be positive, got " + nlohmann::json(value).dump());
  }
  void activation(std::string_view field, std::string_view name) const {
    for (const auto& a : activation_names) {
      if (a.name == name) return;
    }
    fail(field, "unknown activation \"" + std::string(name) + "\" (expected one of " + known_activation_list() + ")");
  }
  void divisible(std::string_view field, std::int64_t value, std::string_view by_field, std::int64_t by) const {
    if (by > 0 && value % by != 0) {
      fail(field, std::to_string(value) + " is not a multiple of '" + std::string(by_field) + "' (" +
                      std::to_string(by) + ")");
    }
  }

 private:
  const std::filesystem::path& source_;
};

}  // namespace detail

/// @brief The Activation of a transformers activation name; parse_error at `where` for an unknown one.
[[nodiscard]] inline Activation parse_activation(std::string_view name, const SourceLocation& where) {
  for (const auto& a : detail::activation_names) {
    if (a.name == name) return a.kind;
  }
  throw parse_error(where, "unknown activation \"" + std::string(name) + "\" (expected one of " +
                               detail::known_activation_list() + ")");
}

/// @brief DistilBERT hyper-parameters (transformers' DistilBertConfig; LayerNorm eps is fixed at 1e-12).
struct DistilBertConfig {
  static constexpr std::string_view model_type = "distilbert";                                  ///< config.json model_type
  static constexpr std::string_view classifier_architecture = "DistilBertForSequenceClassification";  ///< architectures entry
  static constexpr std::string_view base_model_prefix = "distilbert";                           ///< state_dict prefix of the encoder
  static constexpr double layer_norm_eps = 1e-12;                                               ///< hard-coded in transformers

  std::int64_t vocab_size = 30522;               ///< word-piece vocabulary size
  std::int64_t dim = 768;                        ///< hidden size
  std::int64_t n_layers = 6;                     ///< transformer blocks
  std::int64_t n_heads = 12;                     ///< attention heads (dim % n_heads == 0)
  std::int64_t hidden_dim = 3072;                ///< FFN inner size
  std::int64_t max_position_embeddings = 512;    ///< position table rows
  std::string activation = "gelu";               ///< FFN activation (ACT2FN name)
  bool sinusoidal_pos_embds = false;             ///< fixed sinusoidal position table
  double dropout = 0.1;                          ///< hidden dropout
  double attention_dropout = 0.1;                ///< attention-probability dropout
  double seq_classif_dropout = 0.2;              ///< dropout before the classifier
  double qa_dropout = 0.1;                       ///< QA head dropout (unused here, kept for round trips)
  double initializer_range = 0.02;               ///< std of the normal init of new weights
  std::int64_t pad_token_id = 0;                 ///< embedding padding_idx

  /// @brief dim / n_heads.
  [[nodiscard]] std::int64_t head_dim() const noexcept { return n_heads > 0 ? dim / n_heads : 0; }
  /// @brief The parsed `activation`.
  [[nodiscard]] Activation activation_kind() const { return parse_activation(activation, SourceLocation{"activation", {}, {}}); }
};

/// @brief ALBERT hyper-parameters (transformers' AlbertConfig).
struct AlbertConfig {
  static constexpr std::string_view model_type = "albert";                                     ///< config.json model_type
  static constexpr std::string_view classifier_architecture = "AlbertForSequenceClassification";  ///< architectures entry
  static constexpr std::string_view base_model_prefix = "albert";                              ///< state_dict prefix of the encoder

  std::int64_t vocab_size = 30000;               ///< sentencepiece vocabulary size
  std::int64_t embedding_size = 128;             ///< factorised embedding size
  std::int64_t hidden_size = 4096;               ///< hidden size
  std::int64_t num_hidden_layers = 12;           ///< layer applications
  std::int64_t num_hidden_groups = 1;            ///< distinct parameter groups
  std::int64_t num_attention_heads = 64;         ///< attention heads (hidden_size % heads == 0)
  std::int64_t intermediate_size = 16384;        ///< FFN inner size
  std::int64_t inner_group_num = 1;              ///< layers per group
  std::int64_t max_position_embeddings = 512;    ///< position table rows
  std::int64_t type_vocab_size = 2;              ///< token type table rows
  std::string hidden_act = "gelu_new";           ///< FFN activation (ACT2FN name)
  double hidden_dropout_prob = 0.0;              ///< hidden dropout
  double attention_probs_dropout_prob = 0.0;     ///< attention-probability dropout
  double classifier_dropout_prob = 0.1;          ///< dropout before the classifier
  double initializer_range = 0.02;               ///< std of the normal init of new weights
  double layer_norm_eps = 1e-12;                 ///< LayerNorm epsilon
  std::int64_t pad_token_id = 0;                 ///< embedding padding_idx
  std::int64_t bos_token_id = 2;                 ///< [CLS] id, written back as transformers does
  std::int64_t eos_token_id = 3;                 ///< [SEP] id, written back as transformers does

  /// @brief hidden_size / num_attention_heads.
  [[nodiscard]] std::int64_t head_dim() const noexcept {
    return num_attention_heads > 0 ? hidden_size / num_attention_heads : 0;
  }
  /// @brief The parsed `hidden_act`.
  [[nodiscard]] Activation activation_kind() const { return parse_activation(hidden_act, SourceLocation{"hidden_act", {}, {}}); }
  /// @brief Which parameter group layer application `layer` (0-based) uses, as transformers computes it.
  [[nodiscard]] std::int64_t group_of_layer(std::int64_t layer) const noexcept {
    // transformers: int(i / (num_hidden_layers / num_hidden_groups)) in floating point.
    return static_cast<std::int64_t>(static_cast<double>(layer) /
                                     (static_cast<double>(num_hidden_layers) / static_cast<double>(num_hidden_groups)));
  }
};

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

namespace detail {

inline void read_arch(ConfigReader& r, DistilBertConfig& c) {
  r.read("vocab_size", c.vocab_size);
  r.read("dim", c.dim);
  r.read("n_layers", c.n_layers);
  r.read("n_heads", c.n_heads);
  r.read("hidden_dim", c.hidden_dim);
  r.read("max_position_embeddings", c.max_position_embeddings);
  r.read("activation", c.activation);
  r.read("sinusoidal_pos_embds", c.sinusoidal_pos_embds);
  r.read("dropout", c.dropout);
  r.read("attention_dropout", c.attention_dropout);
  r.read("seq_classif_dropout", c.seq_classif_dropout);
  r.read("qa_dropout", c.qa_dropout);
  r.read("initializer_range", c.initializer_range);
  r.read("pad_token_id", c.pad_token_id);
}

inline void check_arch(const ConfigChecker& k, const DistilBertConfig& c) {
  k.positive("vocab_size", c.vocab_size);
  k.positive("dim", c.dim);
  k.positive("n_layers", c.n_layers);
  k.positive("n_heads", c.n_heads);
  k.divisible("dim", c.dim, "n_heads", c.n_heads);
  k.positive("hidden_dim", c.hidden_dim);
  k.positive("max_position_embeddings", c.max_position_embeddings);
  k.activation("activation", c.activation);
  if (c.sinusoidal_pos_embds && c.dim % 2 != 0) k.fail("dim", "must be even with sinusoidal_pos_embds, got " + std::to_string(c.dim));
  k.probability("dropout", c.dropout);
  k.probability("attention_dropout", c.attention_dropout);
  k.probability("seq_classif_dropout", c.seq_classif_dropout);
  k.probability("qa_dropout", c.qa_dropout);
  k.positive("initializer_range", c.initializer_range);
  k.non_negative("pad_token_id", c.pad_token_id);
  if (c.pad_token_id >= c.vocab_size) k.fail("pad_token_id", std::to_string(c.pad_token_id) + " is not below vocab_size " + std::to_string(c.vocab_size));
}

inline void write_arch(nlohmann::json& j, const DistilBertConfig& c) {
  j["vocab_size"] = c.vocab_size;
  j["dim"] = c.dim;
  j["n_layers"] = c.n_layers;
  j["n_heads"] = c.n_heads;
  j["hidden_dim"] = c.hidden_dim;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["activation"] = c.activation;
  j["sinusoidal_pos_embds"] = c.sinusoidal_pos_embds;
  j["dropout"] = c.dropout;
  j["attention_dropout"] = c.attention_dropout;
  j["seq_classif_dropout"] = c.seq_classif_dropout;
  j["qa_dropout"] = c.qa_dropout;
  j["initializer_range"] = c.initializer_range;
  j["pad_token_id"] = c.pad_token_id;
}

inline void read_arch(ConfigReader& r, AlbertConfig& c) {
  r.read("vocab_size", c.vocab_size);
  r.read("embedding_size", c.embedding_size);
  r.read("hidden_size", c.hidden_size);
  r.read("num_hidden_layers", c.num_hidden_layers);
  r.read("num_hidden_groups", c.num_hidden_groups);
  r.read("num_attention_heads", c.num_attention_heads);
  r.read("intermediate_size", c.intermediate_size);
  r.read("inner_group_num", c.inner_group_num);
  r.read("max_position_embeddings", c.max_position_embeddings);
  r.read("type_vocab_size", c.type_vocab_size);
  r.read("hidden_act", c.hidden_act);
  r.read("hidden_dropout_prob", c.hidden_dropout_prob);
  r.read("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
  r.read("classifier_dropout_prob", c.classifier_dropout_prob);
  r.read("initializer_range", c.initializer_range);
  r.read("layer_norm_eps", c.layer_norm_eps);
  r.read("pad_token_id", c.pad_token_id);
  r.read("bos_token_id", c.bos_token_id);
  r.read("eos_token_id", c.eos_token_id);
  std::string position_embedding_type = "absolute";
  r.read("position_embedding_type", position_embedding_type);
  if (position_embedding_type != "absolute") {
    r.fail("position_embedding_type", "only \"absolute\" position embeddings are supported, got \"" +
                                          position_embedding_type + "\"");
  }
}

inline void check_arch(const ConfigChecker& k, const AlbertConfig& c) {
  k.positive("vocab_size", c.vocab_size);
  k.positive("embedding_size", c.embedding_size);
  k.positive("hidden_size", c.hidden_size);
  k.positive("num_hidden_layers", c.num_hidden_layers);
  k.positive("num_hidden_groups", c.num_hidden_groups);
  if (c.num_hidden_groups > c.num_hidden_layers) {
    k.fail("num_hidden_groups", std::to_string(c.num_hidden_groups) + " exceeds num_hidden_layers " +
                                    std::to_string(c.num_hidden_layers) + " (some groups would never run)");
  }
  k.positive("num_attention_heads", c.num_attention_heads);
  k.divisible("hidden_size", c.hidden_size, "num_attention_heads", c.num_attention_heads);
  k.positive("intermediate_size", c.intermediate_size);
  k.positive("inner_group_num", c.inner_group_num);
  k.positive("max_position_embeddings", c.max_position_embeddings);
  k.positive("type_vocab_size", c.type_vocab_size);
  k.activation("hidden_act", c.hidden_act);
  k.probability("hidden_dropout_prob", c.hidden_dropout_prob);
  k.probability("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
  k.probability("classifier_dropout_prob", c.classifier_dropout_prob);
  k.positive("initializer_range", c.initializer_range);
  k.positive("layer_norm_eps", c.layer_norm_eps);
  k.non_negative("pad_token_id", c.pad_token_id);
  if (c.pad_token_id >= c.vocab_size) k.fail("pad_token_id", std::to_string(c.pad_token_id) + " is not below vocab_size " + std::to_string(c.vocab_size));
}

inline void write_arch(nlohmann::json& j, const AlbertConfig& c) {
  j["vocab_size"] = c.vocab_size;
  j["embedding_size"] = c.embedding_size;
  j["hidden_size"] = c.hidden_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_hidden_groups"] = c.num_hidden_groups;
  j["num_attention_heads"] = c.num_attention_heads;
  j["intermediate_size"] = c.intermediate_size;
  j["inner_group_num"] = c.inner_group_num;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["type_vocab_size"] = c.type_vocab_size;
  j["hidden_act"] = c.hidden_act;
  j["hidden_dropout_prob"] = c.hidden_dropout_prob;
  j["attention_probs_dropout_prob"] = c.attention_probs_dropout_prob;
  j["classifier_dropout_prob"] = c.classifier_dropout_prob;
  j["initializer_range"] = c.initializer_range;
  j["layer_norm_eps"] = c.layer_norm_eps;
  j["pad_token_id"] = c.pad_token_id;
  j["bos_token_id"] = c.bos_token_id;
  j["eos_token_id"] = c.eos_token_id;
  j["position_embedding_type"] = "absolute";
}

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
    if (!v->is_number_integer() || v->get<std::int64_t>() <= 0) r.fail("num_labels", "expected a positive integer, got " + v->dump());
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
template <class Arch>
struct ModelConfig {
  Arch arch;                               ///< hyper-parameters
  ClassificationLabels labels;             ///< id2label and problem_type
  std::vector<std::string> architectures;  ///< e.g. {"DistilBertForSequenceClassification"}; may be empty
  nlohmann::json extra = nlohmann::json::object();  ///< uninterpreted keys, written back unchanged

  /// @brief Parses and validates a config object; errors name `source` and the field.
  [[nodiscard]] static ModelConfig from_json(const nlohmann::json& json, const std::filesystem::path& source) {
    detail::ConfigReader r(json, source);
    ModelConfig config;
    if (const auto* v = r.find("model_type"); v != nullptr && !v->is_null()) {
      if (!v->is_string() || v->get<std::string>() != Arch::model_type) {
        r.fail("model_type", "expected \"" + std::string(Arch::model_type) + "\", got " + v->dump());
      }
    }
    detail::read_arch(r, config.arch);
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
    const detail::ConfigChecker k(source);
    detail::check_arch(k, arch);
    if (labels.id2label.empty()) k.fail("id2label", "a classifier needs at least one label");
    std::set<std::string> names(labels.id2label.begin(), labels.id2label.end());
    if (names.size() != labels.id2label.size()) k.fail("id2label", "label names must be distinct");
  }

  /// @brief The config as transformers' save_pretrained writes it (model_type, torch_dtype "float32",
  ///        id2label/label2id unless they are the default two LABEL_ names).
  [[nodiscard]] nlohmann::json to_json() const {
    nlohmann::json j = extra.is_object() ? extra : nlohmann::json::object();
    detail::write_arch(j, arch);
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

/// @brief A DistilBERT config.json.
using DistilBertModelConfig = ModelConfig<DistilBertConfig>;
/// @brief An ALBERT config.json.
using AlbertModelConfig = ModelConfig<AlbertConfig>;

/// @brief "distilbert" or "albert" from a config.json's model_type (or, when absent, its architectures);
///        parse_error naming the file otherwise.
[[nodiscard]] inline std::string read_model_type(const std::filesystem::path& config_json) {
  const nlohmann::json j = io::read_json_file(config_json);
  const SourceLocation where{config_json.string(), {}, {}};
  if (!j.is_object()) throw parse_error(where, std::string("expected a JSON object, got ") + j.type_name());
  if (const auto it = j.find("model_type"); it != j.end()) {
    if (it->is_string()) {
      const auto type = it->get<std::string>();
      if (type == DistilBertConfig::model_type || type == AlbertConfig::model_type) return type;
    }
    throw parse_error(where, "field 'model_type': " + it->dump() +
                                 " is not a supported model type (expected \"distilbert\" or \"albert\")");
  }
  if (const auto it = j.find("architectures"); it != j.end() && it->is_array() && !it->empty() && (*it)[0].is_string()) {
    const auto name = (*it)[0].get<std::string>();
    if (name.starts_with("DistilBert")) return std::string(DistilBertConfig::model_type);
    if (name.starts_with("Albert")) return std::string(AlbertConfig::model_type);
  }
  throw parse_error(where, "no 'model_type' field (expected \"distilbert\" or \"albert\"), and 'architectures' "
                           "names no DistilBert*/Albert* class");
}

}  // namespace ftlib::hf
