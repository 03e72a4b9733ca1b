#pragma once
// The activation functions a config.json may name (transformers' ACT2FN keys ftlib supports), in
// one enum that the config readers and both backends share.

#include <array>
#include <string>
#include <string_view>

#include "ftlib/core/error.hpp"

namespace ftlib {

/// @brief An element-wise activation function.
enum class Activation {
  gelu_erf,    ///< "gelu", "gelu_python": x * Phi(x), exact erf form
  gelu_tanh,   ///< "gelu_new", "gelu_pytorch_tanh", "gelu_fast": 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))
  quick_gelu,  ///< "quick_gelu": x * sigmoid(1.702x)
  relu,        ///< "relu"
  silu,        ///< "silu", "swish": x * sigmoid(x)
  tanh,        ///< "tanh"
  sigmoid,     ///< "sigmoid"
  identity,    ///< "linear"
};

namespace detail {

struct ActivationName {
  std::string_view name;
  Activation kind;
};

inline constexpr std::array<ActivationName, 12> activation_names{{
    {"gelu", Activation::gelu_erf},
    {"gelu_python", Activation::gelu_erf},
    {"gelu_new", Activation::gelu_tanh},
    {"gelu_pytorch_tanh", Activation::gelu_tanh},
    {"gelu_fast", Activation::gelu_tanh},
    {"quick_gelu", Activation::quick_gelu},
    {"relu", Activation::relu},
    {"silu", Activation::silu},
    {"swish", Activation::silu},
    {"tanh", Activation::tanh},
    {"sigmoid", Activation::sigmoid},
    {"linear", Activation::identity},
}};

}  // namespace detail

/// @brief "gelu, gelu_python, ...": every name parse_activation accepts, for messages.
[[nodiscard]] inline std::string known_activation_names() {
  std::string out;
  for (const auto& a : detail::activation_names) {
    if (!out.empty()) out += ", ";
    out += a.name;
  }
  return out;
}

/// @brief Whether `name` is an activation ftlib knows.
[[nodiscard]] inline bool is_known_activation(std::string_view name) {
  for (const auto& a : detail::activation_names) {
    if (a.name == name) return true;
  }
  return false;
}

/// @brief The Activation of a transformers activation name; parse_error at `where` for an unknown one.
[[nodiscard]] inline Activation parse_activation(std::string_view name, const SourceLocation& where) {
  for (const auto& a : detail::activation_names) {
    if (a.name == name) return a.kind;
  }
  throw parse_error(where, "unknown activation \"" + std::string(name) + "\" (expected one of " + known_activation_names() + ")");
}

}  // namespace ftlib
