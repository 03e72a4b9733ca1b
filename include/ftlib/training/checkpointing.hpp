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

#include "ftlib/batch.hpp"
#include "ftlib/error.hpp"
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

inline constexpr std::string_view temp_prefix = ".tmp-checkpoint-";

// Removes temporary directories a crashed save left behind.
inline void remove_stale_temporaries(const std::filesystem::path& output_dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(output_dir, ec)) return;
  std::vector<std::filesystem::path> stale;
  for (const auto& entry : std::filesystem::directory_iterator(output_dir, ec)) {
    if (entry.path().filename().string().rfind(temp_prefix, 0) == 0) stale.push_back(entry.path());
  }
  for (const auto& p : stale) std::filesystem::remove_all(p, ec);
}

inline void write_json(const std::filesystem::path& path, const nlohmann::json& j) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw io_error(path, "cannot open for writing");
  out << j.dump(2) << '\n';
  out.flush();
  if (!out) throw io_error(path, "write failed (disk full?)");
}

inline nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error(path, "cannot open (is this a checkpoint-<step> directory written by ftlib?)");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw parse_error(SourceLocation{path.string(), {}, {}}, std::string("invalid JSON: ") + e.what());
  }
}

// Fills a temporary sibling of `final_dir` with `fill(tmp)`, then renames it into place (replacing
// an older directory of the same name). On any exception the temporary is removed and final_dir is
// untouched.
template <class Fill>
void write_directory_atomically(const std::filesystem::path& final_dir, Fill&& fill) {
  namespace fs = std::filesystem;
  const fs::path parent = final_dir.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw io_error(parent, "cannot create directory: " + ec.message());
  const fs::path tmp = parent / (std::string(temp_prefix) + final_dir.filename().string());
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw io_error(tmp, "cannot create directory: " + ec.message());
  try {
    fill(tmp);
    if (fs::exists(final_dir)) {
      const fs::path old = parent / (std::string(temp_prefix) + "old-" + final_dir.filename().string());
      fs::remove_all(old, ec);
      fs::rename(final_dir, old);
      fs::rename(tmp, final_dir);
      fs::remove_all(old, ec);
    } else {
      fs::rename(tmp, final_dir);
    }
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

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
