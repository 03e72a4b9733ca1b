#pragma once
// How an architecture declares its config.json fields once: each spec (arch/distilbert.hpp, ...)
// lists its fields as (JSON name, member, rule); reading, validation and writing all iterate that
// one list, so a field cannot be read but forgotten when writing, or written but never checked.
// Also the Architecture concept every spec satisfies.

#include <cmath>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "ftlib/arch/activation.hpp"
#include "ftlib/core/error.hpp"

namespace ftlib::arch {

/// @brief Which tokenizer an architecture's checkpoints ship.
enum class TokenizerKind {
  wordpiece,      ///< vocab.txt (BERT, DistilBERT)
  sentencepiece,  ///< spiece.model (ALBERT)
};

/// @brief What a field's value must satisfy.
enum class Rule {
  any,           ///< anything of the right JSON type
  positive,      ///< integer > 0
  non_negative,  ///< integer >= 0
  probability,   ///< number in [0, 1) (a dropout probability); null allowed for optional fields
  positive_real, ///< number > 0 (an epsilon, a standard deviation)
  activation,    ///< a name parse_activation knows
};

/// @brief One config.json field of architecture config `Config`: its JSON name, the member holding it,
///        and the rule its value must satisfy. T is std::int64_t, double, bool, std::string or
///        std::optional<double> (a field that may be null, such as BERT's classifier_dropout).
template <class Config, class T>
struct Field {
  std::string_view name;  ///< key in config.json
  T Config::*member;      ///< where the value lives
  Rule rule = Rule::any;  ///< what it must satisfy
};

/// @brief Field{name, member, rule} with the types deduced.
template <class Config, class T>
[[nodiscard]] constexpr Field<Config, T> field(std::string_view name, T Config::*member, Rule rule = Rule::any) {
  return {name, member, rule};
}

/// @brief Reads typed fields from a config object, remembering which keys it interpreted; errors are
///        parse_errors naming the source file and the field.
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
      if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
        fail(key, "expected an integer, got " + v->dump() + " (too large)");
      out = v->get<std::int64_t>();
    }
  }
  void read(std::string_view key, double& out) {
    if (const auto* v = find(key)) {
      if (!v->is_number()) fail(key, "expected a number, got " + v->dump());
      out = v->get<double>();
    }
  }
  void read(std::string_view key, std::optional<double>& out) {
    if (const auto* v = find(key)) {
      if (v->is_null()) {
        out.reset();
        return;
      }
      if (!v->is_number()) fail(key, "expected a number or null, got " + v->dump());
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

/// @brief Checks values after reading and before writing; parse_error naming the source and field.
class ConfigChecker {
 public:
  explicit ConfigChecker(const std::filesystem::path& source) : source_(source) {}

  [[noreturn]] void fail(std::string_view field, const std::string& message) const {
    throw parse_error(SourceLocation{source_.string(), {}, {}}, "field '" + std::string(field) + "': " + message);
  }

  void check(std::string_view field, std::int64_t value, Rule rule) const {
    if (rule == Rule::positive && value <= 0) fail(field, "must be a positive integer, got " + std::to_string(value));
    // Every size indexes 32-bit-safe loops and tables; anything larger is a damaged file, not a model.
    if ((rule == Rule::positive || rule == Rule::non_negative) && value > max_size)
      fail(field, std::to_string(value) + " is larger than any model's (at most " + std::to_string(max_size) + ")");
    if (rule == Rule::non_negative && value < 0) fail(field, "must be a non-negative integer, got " + std::to_string(value));
  }
  void check(std::string_view field, double value, Rule rule) const {
    if (rule == Rule::probability && !(value >= 0.0 && value < 1.0))
      fail(field, "must be a probability in [0, 1), got " + nlohmann::json(value).dump());
    if (rule == Rule::positive_real && !(value > 0.0)) fail(field, "must be positive, got " + nlohmann::json(value).dump());
  }
  void check(std::string_view field, const std::optional<double>& value, Rule rule) const {
    if (value) check(field, *value, rule);
  }
  void check(std::string_view field, const std::string& value, Rule rule) const {
    if (rule == Rule::activation && !is_known_activation(value))
      fail(field, "unknown activation \"" + value + "\" (expected one of " + known_activation_names() + ")");
  }
  void check(std::string_view, bool, Rule) const {}

  /// @brief `value` must be a multiple of `by` (e.g. the hidden size of the number of heads).
  void divisible(std::string_view field, std::int64_t value, std::string_view by_field, std::int64_t by) const {
    if (by > 0 && value % by != 0)
      fail(field, std::to_string(value) + " is not a multiple of '" + std::string(by_field) + "' (" + std::to_string(by) + ")");
  }
  /// @brief The sizes must describe a model that fits in this machine's memory (checked before
  ///        anything is allocated): `parameters` is the spec's estimate, `sizes` names the fields it
  ///        comes from with their values ("vocab_size 30522, dim 768, ...").
  void fits_in_memory(double parameters, const std::string& sizes) const {
    const double bytes = 4.0 * parameters;  // float32 weights alone; training needs about 4x that
    const double memory = physical_memory_bytes();
    if (memory > 0 && bytes > memory) {
      throw parse_error(SourceLocation{source_.string(), {}, {}},
                        "the config describes a model of about " + gib(bytes) + " GiB of float32 weights (" + sizes +
                            "), more than this machine's " + gib(memory) + " GiB of memory; check those fields");
    }
  }

  /// @brief pad_token_id must index the vocabulary.
  void pad_token_in_vocabulary(std::int64_t pad_token_id, std::int64_t vocab_size) const {
    if (pad_token_id >= vocab_size)
      fail("pad_token_id", std::to_string(pad_token_id) + " is not below vocab_size " + std::to_string(vocab_size));
  }

  /// @brief The largest size field accepted (2^31 - 1).
  static constexpr std::int64_t max_size = 2147483647;

 private:
  static double physical_memory_bytes() {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page_size = ::sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page_size > 0 ? static_cast<double>(pages) * static_cast<double>(page_size) : 0.0;
  }
  static std::string gib(double bytes) {
    const double g = bytes / (1024.0 * 1024.0 * 1024.0);
    return g >= 1e6 ? nlohmann::json(g).dump() : std::to_string(static_cast<long long>(std::ceil(g)));
  }

  const std::filesystem::path& source_;
};

/// @brief A backend-free architecture spec: config.json's hyper-parameters declared once (fields()),
///        the names transformers gives it, the tokenizer its checkpoints ship, its dropout knobs and
///        its cross-field rules. Registered in arch/registry.hpp.
template <class C>
concept Architecture = std::default_initializable<C> && requires(const C& config, const ConfigChecker& checker) {
  { C::model_type } -> std::convertible_to<std::string_view>;               // config.json model_type
  { C::classifier_architecture } -> std::convertible_to<std::string_view>;  // architectures entry of the classifier
  { C::base_model_prefix } -> std::convertible_to<std::string_view>;        // state_dict prefix of the encoder
  { C::tokenizer } -> std::convertible_to<TokenizerKind>;
  C::fields();          // std::tuple of Field<C, T>
  C::dropout_fields();  // std::tuple of member pointers set by a dropout override
  config.check(checker);  // rules between fields (divisibility, pad < vocab, ...)
  { config.vocab_size } -> std::convertible_to<std::int64_t>;
  { config.max_position_embeddings } -> std::convertible_to<std::int64_t>;
  { config.initializer_range } -> std::convertible_to<double>;
  { config.pad_token_id } -> std::convertible_to<std::int64_t>;
  { config.token_type_count() } -> std::convertible_to<std::int64_t>;  // 0: token types are ignored
  { config.summary() } -> std::convertible_to<std::string>;               // one line of sizes (ftlib inspect)
};

/// @brief Reads every declared field of `config` that `reader`'s object has.
template <Architecture C>
void read_fields(ConfigReader& reader, C& config) {
  std::apply([&](const auto&... f) { (reader.read(f.name, config.*(f.member)), ...); }, C::fields());
}

/// @brief Checks every declared field's rule, then the spec's cross-field rules.
template <Architecture C>
void check_fields(const ConfigChecker& checker, const C& config) {
  std::apply([&](const auto&... f) { (checker.check(f.name, config.*(f.member), f.rule), ...); }, C::fields());
  config.check(checker);
}

/// @brief Writes every declared field into `json` (an unset optional as null, as transformers writes it).
template <Architecture C>
void write_fields(nlohmann::json& json, const C& config) {
  const auto put = [&](std::string_view name, const auto& value) {
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(value)>, std::optional<double>>) {
      json[std::string(name)] = value ? nlohmann::json(*value) : nlohmann::json(nullptr);
    } else {
      json[std::string(name)] = value;
    }
  };
  std::apply([&](const auto&... f) { (put(f.name, config.*(f.member)), ...); }, C::fields());
}

/// @brief Sets every dropout probability of `config` to `p` (the tool's --dropout, ModelOptions::dropout).
template <Architecture C>
void set_dropout(C& config, double p) {
  std::apply([&](auto... member) { ((config.*member = p), ...); }, C::dropout_fields());
}

}  // namespace ftlib::arch
