#pragma once
// How the `ftlib` tool reaches a backend: each backend is a module (libftlib_backend_<name>.so) that
// the tool opens only when a command needs it, so that `ftlib --help`, `tokenize` and `inspect` do
// not pay LibTorch's start-up (docs/benchmarks.md, "Tool start-up"). A module exports one C entry
// point returning its BackendModule; the tool and its modules are built together, so the C++
// types crossing the boundary are the same.

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/hf/checkpoint.hpp"
#include "session.hpp"

namespace ftlib::cli {

/// @brief Bumped whenever BackendModule or the types it passes change.
inline constexpr int backend_interface_version = 2;

/// @brief What a backend module offers the tool.
struct BackendModule {
  int interface_version = backend_interface_version;  ///< must equal the tool's
  const char* name = "";                              ///< "eigen", "libtorch"
  /// A model + tokenizer + Trainer for `spec` (from_pretrained or from config.json).
  std::unique_ptr<Session> (*make_session)(const ModelSpec& spec, AutoTokenizer tokenizer, TrainingArguments args) = nullptr;
  /// The parameters (HF names, shapes) a classifier of the parsed config.json `config` registers.
  std::vector<hf::ExpectedParameter> (*expected_parameters)(const nlohmann::json& config,
                                                            const std::filesystem::path& source) = nullptr;
};

/// @brief The module of backend `name`, opened on first use (option_error naming --backend when this
///        build of the tool has no such module, or it cannot be loaded).
[[nodiscard]] const BackendModule& backend_module(std::string_view name);

/// @brief Whether the module of backend `name` is installed beside the tool.
[[nodiscard]] bool has_backend_module(std::string_view name);

}  // namespace ftlib::cli

/// The C entry point every backend module defines.
extern "C" const ftlib::cli::BackendModule* ftlib_backend_module();
