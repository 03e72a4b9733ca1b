#pragma once
// Checkpoint directories: output_dir/checkpoint-<step>/ holds config.json + model.safetensors
// (the model's save_pretrained), the tokenizer files, optimizer.safetensors (AdamW moments and
// step counts) and trainer_state.json (position, best metric, schedule, RNG, log history). A
// checkpoint is filled under a hidden temporary name and renamed into place, so a crash mid-save
// leaves either the previous state or the complete new one, never a partial checkpoint-<step>.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/core/batch.hpp"
#include "ftlib/core/host_tensor.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/io/atomic_file.hpp"
#include "ftlib/io/json_file.hpp"
#include "ftlib/hf/safetensors.hpp"
#include "ftlib/models/model_concept.hpp"
#include "ftlib/optim/adamw.hpp"

namespace ftlib::training {

/// @brief "checkpoint-<step>".
[[nodiscard]] inline std::string checkpoint_name(std::int64_t step) { return "checkpoint-" + std::to_string(step); }

/// @brief The step of a "checkpoint-<step>" directory name, if it is one.
[[nodiscard]] inline std::optional<std::int64_t> checkpoint_step(const std::filesystem::path& dir) {
  const std::string name = dir.filename().string();
  constexpr std::string_view prefix = "checkpoint-";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  std::int64_t step = 0;
  const char* first = name.data() + prefix.size();
  const char* last = name.data() + name.size();
  const auto [ptr, ec] = std::from_chars(first, last, step);
  if (ec != std::errc() || ptr != last) return std::nullopt;
  return step;
}

/// @brief The checkpoint-<step> directories under `output_dir`, by step.
[[nodiscard]] inline std::vector<std::pair<std::int64_t, std::filesystem::path>> list_checkpoints(
    const std::filesystem::path& output_dir) {
  std::vector<std::pair<std::int64_t, std::filesystem::path>> out;
  std::error_code ec;
  if (!std::filesystem::is_directory(output_dir, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(output_dir, ec)) {
    if (!entry.is_directory()) continue;
    if (const auto step = checkpoint_step(entry.path())) out.emplace_back(*step, entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// @brief The newest complete checkpoint under `output_dir` (one with trainer_state.json), if any.
[[nodiscard]] inline std::optional<std::filesystem::path> last_checkpoint(const std::filesystem::path& output_dir) {
  auto all = list_checkpoints(output_dir);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (std::filesystem::exists(it->second / "trainer_state.json")) return it->second;
  }
  return std::nullopt;
}

namespace detail {

[[nodiscard]] inline bool all_finite(const HostTensor& t) {
  return std::all_of(t.data.begin(), t.data.end(), [](float v) { return std::isfinite(v); });
}

}  // namespace detail

/// @brief Every parameter value of `model` as float32 host tensors (by HF name).
template <SequenceClassifier Model>
[[nodiscard]] std::map<std::string, HostTensor> snapshot_parameters(Model& model) {
  using Ops = ParamOps<typename Model::Tensor>;
  std::map<std::string, HostTensor> out;
  for (const auto& p : model.parameters()) out.emplace(p.name, Ops::to_host(p.value));
  return out;
}

/// @brief Copies host tensors into the model's parameters (exactly: t = 0, then t += 1 * (saved - t)).
///        Every trainable parameter must be present with its shape; tensor_error naming it otherwise.
template <SequenceClassifier Model>
void assign_parameters(Model& model, const std::map<std::string, HostTensor>& values, const std::string& source) {
  using Ops = ParamOps<typename Model::Tensor>;
  for (auto& p : model.parameters()) {
    const auto it = values.find(p.name);
    if (it == values.end()) throw tensor_error(SourceLocation{source, {}, {}}, "tensor '" + p.name + "' is missing");
    const HostTensor current = Ops::to_host(p.value);
    if (current.shape != it->second.shape)
      throw tensor_error(SourceLocation{source, {}, {}}, "tensor '" + p.name + "' has shape " + hf::shape_to_string(it->second.shape) +
                                                           ", the model expects " + hf::shape_to_string(current.shape));
    Ops::scale(p.value, 0.0);
    Ops::lerp(p.value, Ops::from_host(it->second, p.value), 1.0);
  }
}

/// @brief Every tensor of a safetensors file as float32 host tensors.
[[nodiscard]] inline std::map<std::string, HostTensor> load_host_tensors(const std::filesystem::path& path) {
  const auto file = hf::SafetensorsFile::open(path);
  std::map<std::string, HostTensor> out;
  for (const auto& info : file.tensors()) out.emplace(info.name, file.to_float32(info.name));
  return out;
}

}  // namespace ftlib::training
