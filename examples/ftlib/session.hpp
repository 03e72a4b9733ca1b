#pragma once
// The tool's runtime face of one Trainer instantiation. The tool picks the architecture (model_type)
// x backend (libtorch, eigen) at run time; each backend's instantiations live in one translation
// unit (backend_eigen.cpp, backend_libtorch.cpp), built as a module the tool opens on demand
// (backend_module.hpp), behind this small interface.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ftlib/callbacks/jsonl_logger.hpp"
#include "ftlib/callbacks/progress_bar.hpp"
#include "ftlib/callbacks/tensorboard_logger.hpp"
#include "ftlib/core/problem_type.hpp"
#include "ftlib/data/dataset.hpp"
#include "ftlib/distributed/launch_environment.hpp"
#include "ftlib/models/model_options.hpp"
#include "ftlib/tokenizers/auto_tokenizer.hpp"
#include "ftlib/training/evaluation.hpp"
#include "ftlib/training/trainer.hpp"
#include "ftlib/training/training_arguments.hpp"

namespace ftlib::cli {

/// @brief Which model to build and where it runs.
struct ModelSpec {
  std::filesystem::path dir;                 ///< checkpoint directory (config.json [+ model.safetensors])
  std::string model_type;                    ///< config.json's model_type (arch/registry.hpp)
  bool from_scratch = false;                 ///< no model.safetensors: random init from config.json
  int threads = 0;                           ///< CPU compute threads (0: the libraries' default)
  ModelOptions options;                      ///< device, precision, seed (init of new weights, dropout)
  /// evaluate/predict: every tensor of the classifier must come from the checkpoint (a missing one
  /// would be random); train keeps transformers' fresh head for pretrained encoders.
  bool inference = false;
  bool allow_nonfinite_weights = false;      ///< load weights holding NaN/inf anyway (reported either way)
  distributed::LaunchEnvironment launch;     ///< this process's place in a data-parallel run (torchrun's variables)
  distributed::DistributedOptions distributed;  ///< its collectives' timeout, buckets, replica check
};

/// @brief The tool's Trainer callbacks; each may be absent (null).
struct RunCallbacks {
  ProgressBar* progress = nullptr;
  JsonlLogger* log = nullptr;
  TensorBoardLogger* tensorboard = nullptr;
};

/// @brief One model + tokenizer + Trainer, whatever the backend.
class Session {
 public:
  virtual ~Session() = default;
  /// @brief Trains (validation may be null).
  virtual TrainResult fit(const TextClassificationDataset& train, const TextClassificationDataset* validation,
                          const RunCallbacks& callbacks) = 0;
  /// @brief Loss and metrics on a labelled dataset.
  virtual EvalResult evaluate(const TextClassificationDataset& data) = 0;
  /// @brief Labels, probabilities and logits of texts.
  virtual Predictions predict(const std::vector<std::string>& texts) = 0;
  /// @brief save_pretrained + tokenizer files.
  virtual void save(const std::filesystem::path& dir) = 0;
  /// @brief The model's id2label.
  [[nodiscard]] virtual std::vector<std::string> id2label() const = 0;
  /// @brief The model's problem type (what its loss and predictions are).
  [[nodiscard]] virtual ProblemType problem_type() const = 0;
  /// @brief What was loaded (missing/unexpected weights), empty when clean.
  [[nodiscard]] virtual std::string load_report() const = 0;
  /// @brief Whether this process prints and writes (rank 0 of a data-parallel run, or the only one).
  [[nodiscard]] virtual bool is_main_process() const = 0;
};

/// @brief "a, b, c".
inline std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

/// @brief The first `n` names joined, then "and K more".
inline std::string join_first(const std::vector<std::string>& names, std::size_t n) {
  if (names.size() <= n) return join_names(names);
  return join_names(std::vector<std::string>(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(n))) + ", and " +
         std::to_string(names.size() - n) + " more";
}


}  // namespace ftlib::cli
