#pragma once
// The one list of architectures ftlib supports. Everything that turns a checkpoint's model_type
// into code — read_model_type, AutoTokenizer, the checkpoint loaders, the ftlib tool — iterates
// this list, so an architecture is added here once (plus its spec and a model file per backend;
// docs/architecture.md, "Add an architecture").

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "ftlib/arch/albert.hpp"
#include "ftlib/arch/bert.hpp"
#include "ftlib/arch/distilbert.hpp"
#include "ftlib/arch/fields.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/io/json_file.hpp"

namespace ftlib::arch {

/// @brief A list of architecture specs.
template <Architecture... A>
struct ArchitectureList {};

/// @brief Every architecture ftlib supports, in the order messages list them.
using SupportedArchitectures = ArchitectureList<DistilBertConfig, AlbertConfig, BertConfig>;

namespace detail {

template <class F, Architecture... A>
void for_each(ArchitectureList<A...>, F& f) {
  (f(std::type_identity<A>{}), ...);
}

template <class F, Architecture A, Architecture... Rest>
decltype(auto) dispatch(std::string_view model_type, F& f, const SourceLocation& where, const std::string& supported) {
  if (model_type == A::model_type) return f(std::type_identity<A>{});
  if constexpr (sizeof...(Rest) > 0) {
    return dispatch<F, Rest...>(model_type, f, where, supported);
  } else {
    throw parse_error(where, "\"" + std::string(model_type) + "\" is not a supported model type (supported: " + supported + ")");
  }
}

template <class F, Architecture... A>
decltype(auto) dispatch(ArchitectureList<A...>, std::string_view model_type, F& f, const SourceLocation& where,
                        const std::string& supported) {
  return dispatch<F, A...>(model_type, f, where, supported);
}

// The class-name stem of an architecture: "DistilBert" for DistilBertForSequenceClassification.
template <Architecture A>
[[nodiscard]] std::string_view class_stem() {
  constexpr std::string_view suffix = "ForSequenceClassification";
  std::string_view name = A::classifier_architecture;
  if (name.ends_with(suffix)) name.remove_suffix(suffix.size());
  return name;
}

}  // namespace detail

/// @brief Calls f(std::type_identity<A>{}) for every supported architecture A.
template <class F>
void for_each_architecture(F&& f) {
  detail::for_each(SupportedArchitectures{}, f);
}

/// @brief "\"distilbert\", \"albert\"": the supported model types, for messages.
[[nodiscard]] inline std::string supported_model_types() {
  std::string out;
  for_each_architecture([&](auto a) {
    if (!out.empty()) out += ", ";
    out += "\"" + std::string(decltype(a)::type::model_type) + "\"";
  });
  return out;
}

/// @brief Calls f(std::type_identity<A>{}) for the architecture whose model_type is `model_type` and
///        returns its result (every call must return the same type); parse_error at `where` listing
///        the supported types otherwise.
template <class F>
decltype(auto) visit_architecture(std::string_view model_type, F&& f, const SourceLocation& where = {"model_type", {}, {}}) {
  return detail::dispatch(SupportedArchitectures{}, model_type, f, where, supported_model_types());
}

/// @brief Whether `model_type` names a supported architecture.
[[nodiscard]] inline bool is_supported_model_type(std::string_view model_type) {
  bool found = false;
  for_each_architecture([&](auto a) { found = found || model_type == decltype(a)::type::model_type; });
  return found;
}

/// @brief The tokenizer kind of a supported model_type, if it is one.
[[nodiscard]] inline std::optional<TokenizerKind> tokenizer_kind_of(std::string_view model_type) {
  std::optional<TokenizerKind> kind;
  for_each_architecture([&](auto a) {
    using A = typename decltype(a)::type;
    if (model_type == A::model_type) kind = A::tokenizer;
  });
  return kind;
}

/// @brief The model_type of a parsed config.json: its "model_type", or (when absent) the architecture
///        whose class names its "architectures" entry starts with; parse_error naming `source` otherwise.
[[nodiscard]] inline std::string model_type_of(const nlohmann::json& config, const std::filesystem::path& source) {
  const SourceLocation where{source.string(), {}, {}};
  if (!config.is_object()) throw parse_error(where, std::string("expected a JSON object, got ") + config.type_name());
  if (const auto it = config.find("model_type"); it != config.end()) {
    if (it->is_string() && is_supported_model_type(it->get<std::string>())) return it->get<std::string>();
    throw parse_error(where, "field 'model_type': " + it->dump() + " is not a supported model type (supported: " +
                                 supported_model_types() + ")");
  }
  if (const auto it = config.find("architectures"); it != config.end() && it->is_array() && !it->empty() && (*it)[0].is_string()) {
    const auto name = (*it)[0].get<std::string>();
    std::string best;
    std::size_t best_stem = 0;
    for_each_architecture([&](auto a) {
      using A = typename decltype(a)::type;
      const std::string_view stem = detail::class_stem<A>();
      if (name.starts_with(stem) && stem.size() > best_stem) {
        best = A::model_type;
        best_stem = stem.size();
      }
    });
    if (!best.empty()) return best;
  }
  throw parse_error(where, "no 'model_type' field (supported: " + supported_model_types() +
                               "), and 'architectures' names no class of a supported architecture");
}

/// @brief model_type_of a config.json file.
[[nodiscard]] inline std::string read_model_type(const std::filesystem::path& config_json) {
  return model_type_of(io::read_json_file(config_json), config_json);
}

}  // namespace ftlib::arch
