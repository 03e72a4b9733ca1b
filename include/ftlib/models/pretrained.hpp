#pragma once
// The backend-free half of from_pretrained / from_config, shared by every backend: the config a
// model is built from (ModelOptions' label and dropout overrides applied), the checkpoint's weights
// file, and transformers' matching of checkpoint tensors to the parameters the backend registered.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "ftlib/arch/fields.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/hf/checkpoint.hpp"
#include "ftlib/hf/checkpoint_weights.hpp"
#include "ftlib/arch/model_config.hpp"
#include "ftlib/hf/safetensors.hpp"
#include "ftlib/models/model_options.hpp"

namespace ftlib {

/// @brief `config` with the label, problem type and dropout overrides of `options` applied (validated
///        first). A problem type that does not fit the head (regression on several labels, single-label
///        on one) is refused naming problem_type.
template <arch::Architecture A>
[[nodiscard]] arch::ModelConfig<A> configure(arch::ModelConfig<A> config, const ModelOptions& options) {
  options.validate();
  const std::string problem_type = config.labels.problem_type;
  if (options.id2label) {
    config.labels = arch::ClassificationLabels::from_names(*options.id2label);
    config.labels.problem_type = problem_type;
  } else if (options.num_labels && *options.num_labels != config.num_labels()) {
    config.labels = arch::ClassificationLabels::defaults(*options.num_labels);
    config.labels.problem_type = problem_type;
  }
  if (options.problem_type) config.labels.problem_type = std::string(to_string(*options.problem_type));
  if (options.dropout) arch::set_dropout(config.arch, *options.dropout);
  if (const auto why = arch::problem_type_mismatch(config.labels))
    throw option_error(SourceLocation{"problem_type", {}, {}}, *why);
  return config;
}

/// @brief <dir>/config.json, naming the classifier as its architecture (ModelOptions not yet applied).
template <arch::Architecture A>
[[nodiscard]] arch::ModelConfig<A> load_pretrained_config(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw io_error(dir, "is not a checkpoint directory (expected config.json and model.safetensors in it)");
  arch::ModelConfig<A> config = arch::ModelConfig<A>::load(dir / "config.json");
  config.architectures = {std::string(A::classifier_architecture)};
  return config;
}

/// @brief The config save_pretrained writes: the classifier as architecture, and the problem type the
///        model trains with (what transformers' first forward with labels writes into its config).
template <arch::Architecture A>
[[nodiscard]] arch::ModelConfig<A> config_for_saving(arch::ModelConfig<A> config) {
  config.architectures = {std::string(A::classifier_architecture)};
  config.labels.problem_type = std::string(to_string(resolve_problem_type(config.labels.problem_type, config.num_labels())));
  return config;
}

/// @brief The weights of checkpoint directory `dir`: model.safetensors, else pytorch_model.bin.
[[nodiscard]] inline hf::CheckpointWeights open_pretrained_weights(const std::filesystem::path& dir) {
  return hf::CheckpointWeights::open_directory(dir);
}

/// @brief A checkpoint tensor holding NaN or infinite values.
struct NonFiniteTensor {
  std::string name;         ///< tensor name in the file
  std::int64_t count = 0;   ///< how many of its values are not finite
  std::int64_t numel = 0;   ///< how many values it has
};

/// @brief The tensors among `names` (checkpoint names, e.g. a LoadReport's loaded tensors) of `file` that
///        hold NaN or infinite values, in the order given. A checkpoint with such weights computes NaN
///        logits that look like predictions; callers refuse it (the tool unless --allow-nonfinite-weights).
template <class File>
[[nodiscard]] std::vector<NonFiniteTensor> nonfinite_tensors(const File& file, std::span<const std::string> names) {
  std::vector<NonFiniteTensor> out;
  std::vector<float> values;
  for (const auto& name : names) {
    const auto& info = file.info(name);
    values.resize(static_cast<std::size_t>(info.numel()));
    file.copy_float32(name, values);
    const auto bad = std::count_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
    if (bad > 0) out.push_back({name, static_cast<std::int64_t>(bad), info.numel()});
  }
  return out;
}

/// @brief transformers' matching of `file`'s tensors to the parameters a backend registered for
///        architecture A (hf::plan_checkpoint_load with A's base-model prefix).
template <arch::Architecture A, class File>
[[nodiscard]] hf::LoadReport plan_pretrained_load(std::span<const hf::ExpectedParameter> expected, const File& file,
                                                  bool ignore_mismatched_sizes) {
  return hf::plan_checkpoint_load(expected, file, hf::LoadOptions{std::string(A::base_model_prefix), ignore_mismatched_sizes});
}

}  // namespace ftlib
