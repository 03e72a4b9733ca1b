#pragma once
// Checkpoints: output_dir/checkpoint-<step>/ holds config.json + model.safetensors (the model's
// save_pretrained), the tokenizer files, optimizer.safetensors (AdamW moments and step counts) and
// trainer_state.json (position, best metric, schedule, RNG, log history). A checkpoint is filled
// under a hidden temporary name and swapped into place, so a crash mid-save leaves either the
// previous state or the complete new one, never a partial checkpoint-<step>. CheckpointManager
// writes, rotates and resumes them and keeps the best weights.

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

#include "ftlib/core/error.hpp"
#include "ftlib/core/host_tensor.hpp"
#include "ftlib/core/trainer_state.hpp"
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


/// @brief Writes, rotates and resumes from output_dir/checkpoint-<step>/ directories, and keeps the
///        best evaluated weights (in memory, and on disk where the best checkpoint is).
class CheckpointManager {
 public:
  /// @brief Checkpoints under `output_dir` (empty: none are written), keeping at most
  ///        `save_total_limit` of them (the best one always stays). `writes` false: this process only
  ///        resumes from them (the other processes of a data-parallel run; the main one writes).
  CheckpointManager(std::filesystem::path output_dir, std::optional<std::int64_t> save_total_limit, bool writes = true)
      : output_dir_(std::move(output_dir)), save_total_limit_(save_total_limit), writes_(writes) {
    if (enabled()) io::remove_stale_temporaries(output_dir_);
  }

  /// @brief Whether this process writes checkpoints.
  [[nodiscard]] bool enabled() const noexcept { return writes_ && !output_dir_.empty(); }
  /// @brief The newest checkpoint this run wrote.
  [[nodiscard]] const std::optional<std::filesystem::path>& last_saved() const noexcept { return last_saved_; }

  /// @brief Writes checkpoint-<state.global_step>/: the model (save_pretrained), the tokenizer files,
  ///        optimizer.safetensors, and trainer_state.json = state + `extra` (schedule, data fingerprint)
  ///        + the model's RNG and loss-scaler state; then deletes checkpoints over the limit. Refuses
  ///        (error) to write non-finite weights or moments: a checkpoint must be resumable.
  template <SequenceClassifier Model, class Tok, class Optimizer>
  std::filesystem::path save(Model& model, const Tok& tokenizer, const Optimizer& optimizer, const TrainerState& state,
                             const nlohmann::json& extra) {
    namespace fs = std::filesystem;
    using Ops = ParamOps<typename Model::Tensor>;
    const auto optimizer_state = optimizer.state_dict();
    for (const auto& [name, t] : optimizer_state) {
      if (!detail::all_finite(t))
        throw error("step " + std::to_string(state.global_step) + ": optimizer state '" + name +
                    "' is not finite; refusing to write a corrupt checkpoint");
    }
    for (const auto& p : model.parameters()) {
      if (!detail::all_finite(Ops::to_host(p.value)))
        throw error("step " + std::to_string(state.global_step) + ": parameter '" + p.name +
                    "' is not finite; refusing to write a corrupt checkpoint");
    }
    const fs::path dir = output_dir_ / checkpoint_name(state.global_step);
    io::replace_directory_atomically(dir, [&](const fs::path& tmp) {
      model.save_pretrained(tmp);
      tokenizer.save(tmp);
      hf::save_safetensors(tmp / "optimizer.safetensors", optimizer_state, {{"format", "ftlib-adamw"}});
      nlohmann::json j = state.to_json();
      for (const auto& [key, value] : extra.items()) j[key] = value;
      if constexpr (RngStateModel<Model>) j["model_rng_state"] = model.rng_state();
      if constexpr (LossScalingModel<Model>) j["model_loss_scaler_state"] = model.loss_scaler_state();
      io::write_json_file(tmp / "trainer_state.json", j);
    });
    last_saved_ = dir;
    rotate(state);
    return dir;
  }

  /// @brief Before a fresh (not resumed) run: checkpoints of an earlier run in output_dir would be
  ///        rotated and resumed as if they were this run's, so they are refused (option_error naming
  ///        output_dir), or deleted when `overwrite` (transformers' overwrite_output_dir).
  void prepare_fresh_run(bool overwrite) const {
    if (!enabled()) return;
    const auto earlier = list_checkpoints(output_dir_);
    if (earlier.empty()) return;
    if (!overwrite) {
      std::string names;
      for (std::size_t i = 0; i < earlier.size() && i < 3; ++i) names += (i ? ", " : "") + earlier[i].second.filename().string();
      if (earlier.size() > 3) names += ", ...";
      throw option_error(SourceLocation{"output_dir", {}, {}},
                         output_dir_.string() + " holds checkpoints of an earlier run (" + names +
                             "); resume it (resume_from_checkpoint, e.g. \"last\"), write to another output_dir, or "
                             "set overwrite_output_dir to delete them first");
    }
    for (const auto& [step, path] : earlier) {
      std::error_code ec;
      std::filesystem::remove(path / "trainer_state.json", ec);
      std::filesystem::remove_all(path, ec);
      if (ec) throw io_error(path, "cannot delete this earlier checkpoint (overwrite_output_dir): " + ec.message());
    }
  }

  /// @brief The checkpoint `requested` names: itself, or for "last" the newest complete one in
  ///        output_dir (option_error when there is none).
  [[nodiscard]] std::filesystem::path resolve(const std::filesystem::path& requested) const {
    if (requested != std::filesystem::path("last")) return requested;
    if (auto last = last_checkpoint(output_dir_)) return *last;
    throw option_error(SourceLocation{"resume_from_checkpoint", {}, {}},
                       "\"last\": " + output_dir_.string() + " holds no complete checkpoint-<step> to resume from");
  }

  /// @brief Restores model, optimizer and the model's RNG / loss-scaler state from `dir` and returns
  ///        its TrainerState. option_error naming resume_from_checkpoint when `dir` was written for
  ///        other data or batching (`fingerprint`), with other hyper-parameters (`hyperparameters`,
  ///        compared key by key with what `dir` recorded) or for a run of another length. With
  ///        `keep_best`, the best checkpoint's weights become the best weights; option_error when that
  ///        checkpoint is not beside `dir` (the run would silently end on the last weights instead).
  template <SequenceClassifier Model, class Optimizer>
  TrainerState resume(const std::filesystem::path& dir, Model& model, Optimizer& optimizer, const nlohmann::json& fingerprint,
                      const nlohmann::json& hyperparameters, std::int64_t max_steps, bool keep_best) {
    const auto state_path = dir / "trainer_state.json";
    if (!std::filesystem::exists(state_path))
      throw option_error(SourceLocation{"resume_from_checkpoint", {}, {}},
                         dir.string() + " is not a complete checkpoint (no trainer_state.json)");
    const nlohmann::json j = io::read_json_file(state_path);
    // Each process's share of the data order depends on the number of processes: a resume with
    // another number would train on other rows than the run it continues.
    const auto processes = [](const nlohmann::json& data) { return data.is_object() ? data.value("world_size", std::int64_t{1}) : 1; };
    if (const auto it = j.find("data"); it != j.end() && processes(*it) != processes(fingerprint)) {
      throw option_error(SourceLocation{"resume_from_checkpoint", {}, {}},
                         dir.string() + " was written by a run on " + std::to_string(processes(*it)) + " process(es); this run has " +
                             std::to_string(processes(fingerprint)) + ". Resume with the same number of processes (torchrun's or "
                             "--nproc-per-node's): each process's share of the data order depends on it");
    }
    if (const auto it = j.find("data"); it == j.end() || *it != fingerprint) {
      throw option_error(SourceLocation{"resume_from_checkpoint", {}, {}},
                         dir.string() + " was written for different data or batching (" +
                             (it == j.end() ? std::string("no data fingerprint") : it->dump()) + ") than this run (" +
                             fingerprint.dump() + "); resume with the same training file, batch size, accumulation, seed, "
                             "shuffle, group-by-length and max length");
    }
    if (const auto it = j.find("hyperparameters"); it != j.end() && it->is_object()) {
      for (const auto& [key, value] : hyperparameters.items()) {
        const auto saved = it->find(key);
        if (saved != it->end() && *saved != value)
          throw option_error(SourceLocation{"resume_from_checkpoint", {}, {}},
                             key + " is " + value.dump() + " in this run but " + saved->dump() + " in " + state_path.string() +
                                 "; an exact resume needs the run's own hyper-parameters (start a new run to change them)");
      }
    }
    TrainerState loaded = TrainerState::from_json(j, state_path);
    if (loaded.max_steps != max_steps)
      throw option_error(SourceLocation{"resume_from_checkpoint", {}, {}},
                         dir.string() + " belongs to a run of " + std::to_string(loaded.max_steps) +
                             " steps, this one has " + std::to_string(max_steps) +
                             " (keep num_train_epochs / max_steps as they were)");
    assign_parameters(model, load_host_tensors(dir / "model.safetensors"), (dir / "model.safetensors").string());
    auto params = model.parameters();
    optimizer.load_state_dict(load_host_tensors(dir / "optimizer.safetensors"), params);
    if constexpr (RngStateModel<Model>) {
      if (j.contains("model_rng_state")) model.set_rng_state(j.at("model_rng_state").get<typename Model::RngState>());
    }
    if constexpr (LossScalingModel<Model>) {
      if (j.contains("model_loss_scaler_state"))
        model.set_loss_scaler_state(j.at("model_loss_scaler_state").get<typename Model::LossScalerState>());
    }
    best_weights_.clear();
    if (keep_best && loaded.best_step) {
      const auto best_dir = dir.parent_path() / checkpoint_name(*loaded.best_step);
      if (!std::filesystem::exists(best_dir / "model.safetensors")) {
        throw option_error(SourceLocation{"resume_from_checkpoint", {}, {}},
                           "the best model of this run (step " + std::to_string(*loaded.best_step) + ") is not on disk: " +
                               (best_dir / "model.safetensors").string() +
                               " is missing, so load_best_model_at_end could not restore it; copy that checkpoint back "
                               "beside " + dir.filename().string() + ", or resume without load_best_model_at_end "
                               "(--no-load-best-model-at-end) to end on the last weights");
      }
      {
        // Read into memory without disturbing the current weights.
        best_weights_ = load_host_tensors(best_dir / "model.safetensors");
        const auto current = model.parameters();
        std::erase_if(best_weights_, [&](const auto& kv) {
          return std::none_of(current.begin(), current.end(), [&](const auto& p) { return p.name == kv.first; });
        });
      }
    }
    return loaded;
  }

  /// @brief Remembers the model's current weights as the best ones (in memory).
  template <SequenceClassifier Model>
  void keep_best(Model& model) {
    best_weights_ = snapshot_parameters(model);
  }
  /// @brief Loads the best weights back into the model; false when none were kept.
  template <SequenceClassifier Model>
  bool restore_best(Model& model, std::int64_t best_step) const {
    if (best_weights_.empty()) return false;
    assign_parameters(model, best_weights_, "best model (step " + std::to_string(best_step) + ")");
    return true;
  }

 private:
  // save_total_limit: delete the oldest checkpoints, never the best one or the newest.
  void rotate(const TrainerState& state) const {
    if (!save_total_limit_) return;
    auto all = list_checkpoints(output_dir_);
    std::size_t keep = static_cast<std::size_t>(*save_total_limit_);
    std::erase_if(all, [&](const auto& c) { return state.best_step && c.first == *state.best_step; });
    if (state.best_step && keep > 1) --keep;
    while (all.size() > std::max<std::size_t>(keep, 1)) {
      // The completeness marker goes first: a deletion cut short leaves no checkpoint that looks complete.
      std::error_code ec;
      std::filesystem::remove(all.front().second / "trainer_state.json", ec);
      std::filesystem::remove_all(all.front().second, ec);
      all.erase(all.begin());
    }
  }

  std::filesystem::path output_dir_;
  std::optional<std::int64_t> save_total_limit_;
  bool writes_ = true;
  std::optional<std::filesystem::path> last_saved_;
  std::map<std::string, HostTensor> best_weights_;
};

}  // namespace ftlib::training
