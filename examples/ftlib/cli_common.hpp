#pragma once
// What train, evaluate and predict share: --backend/--device, model directory resolution,
// label handling, reports and metrics.json.

#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "ftlib/arch/model_config.hpp"
#include "ftlib/io/json_file.hpp"
#include "session.hpp"

namespace ftlib::cli {

/// @brief Thrown by a command to end the tool with `code` (the launcher of --nproc-per-node returns
///        its workers' status this way); main() returns it.
struct ExitRequest {
  int code = 0;
};

/// @brief How the model is loaded and run: --backend, --device, --threads, --allow-nonfinite-weights.
struct BackendFlags {
  std::string backend = default_backend();  ///< libtorch (when built) or eigen
  std::string device = "cpu";               ///< cpu, cuda, cuda:N
  int threads = 0;                          ///< compute threads; 0: OMP_NUM_THREADS or all cores
  bool allow_nonfinite_weights = false;     ///< load a checkpoint whose weights hold NaN/inf (with a warning)
  bool padded_execution = false;            ///< compute every padded position (ModelOptions::unpadded = false)
  /// @brief libtorch when the tool was built with it, else eigen.
  static std::string default_backend();
};

/// @brief Adds --backend, --device, --threads, --allow-nonfinite-weights and --padded-execution to a subcommand.
void add_backend_flags(CLI::App& cmd, BackendFlags& flags);

/// @brief The model options of --device (and --bf16 / --fp16 for train): option_error naming the flag
///        for combinations no backend runs (both precisions; fp16 off CUDA).
[[nodiscard]] ModelOptions model_options(const BackendFlags& flags, bool bf16 = false, bool fp16 = false);

/// @brief The flag of the tool that sets a library field (TrainingArguments / ModelOptions name), or
///        empty when the tool has none: messages of the library name fields, the tool's name flags.
[[nodiscard]] std::string flag_of_field(const std::string& field);

/// @brief A local directory as it is, else a HuggingFace hub name resolved through the cache/download.
[[nodiscard]] std::filesystem::path resolve_model_dir(const std::string& name_or_path);

/// @brief "distilbert" or "albert" from <dir>/config.json.
[[nodiscard]] std::string model_type_of(const std::filesystem::path& dir);

/// @brief A session of the chosen backend.
[[nodiscard]] std::unique_ptr<Session> make_session(const BackendFlags& flags, const ModelSpec& spec,
                                                    AutoTokenizer tokenizer, TrainingArguments args);

/// @brief The tokenizer of a model directory, or of an explicit vocab.txt / spiece.model / directory.
[[nodiscard]] AutoTokenizer load_tokenizer(const std::filesystem::path& model_dir, const std::string& explicit_path);

/// @brief Where a file's labels are and how they read: --label-column, --label-offset, --label-separator,
///        --label-columns (train and evaluate share them).
struct LabelFlags {
  std::string text_column = "text";           ///< column (or JSONL key) of the text
  std::string label_column = "label";         ///< column of the label (single-label, regression, multi-label names)
  std::optional<std::int64_t> label_offset;   ///< subtracted from integer labels
  std::string label_separator = ";";          ///< multi-label: separates the names in a cell
  std::vector<std::string> label_columns;     ///< multi-label: one 0/1 column per label
};

/// @brief Adds --text-column, --label-column, --label-offset, --label-separator and --label-columns.
void add_label_flags(CLI::App& cmd, LabelFlags& flags);

/// @brief The dataset options of `flags` for labels of `problem_type` (no label map yet).
[[nodiscard]] DatasetOptions dataset_options(const LabelFlags& flags, ProblemType problem_type);

/// @brief Loads a labelled dataset of `problem_type` with the model's label map `id2label` (or, single-label,
///        integer labels with an offset).
[[nodiscard]] TextClassificationDataset load_labelled(const std::filesystem::path& path, const LabelFlags& flags,
                                                      ProblemType problem_type, const std::vector<std::string>& id2label);

/// @brief The labels (id2label, problem_type) of the config.json in `dir` of model type `type`.
[[nodiscard]] arch::ClassificationLabels model_labels(const std::filesystem::path& dir, const std::string& type);

/// @brief Prints the evaluation by problem type: accuracy, macro-F1, the confusion matrix and the
///        classification report; multi-label F1s and the per-label report; regression errors and correlations.
void print_report(std::ostream& out, const std::string& title, const EvalResult& result);

/// @brief {"loss", "accuracy", "f1_macro", ..., "confusion_matrix", "num_examples"} of an evaluation.
[[nodiscard]] nlohmann::json metrics_json(const EvalResult& result);

}  // namespace ftlib::cli
