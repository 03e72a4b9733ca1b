#pragma once
// TrainingArguments: what the Trainer reads, named and defaulted like transformers' TrainingArguments
// (so `--learning-rate`, `--per-device-train-batch-size`, ... mean what a transformers user expects).
// Precision and device are the model's (ModelOptions), the progress bar is a callback.

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ftlib/core/error.hpp"
#include "ftlib/metrics/metric_lookup.hpp"

namespace ftlib {

/// @brief What the Trainer does when a training loss (or gradient norm) is NaN or infinite.
enum class NonFiniteLoss {
  error,  ///< stop with an error naming the step (default); nothing is saved from the bad step
  skip,   ///< drop that optimizer step (gradients discarded, weights and moments untouched) and go on
};

/// @brief Hyper-parameters and bookkeeping of a training run (transformers' TrainingArguments names).
struct TrainingArguments {
  // --- optimisation ---------------------------------------------------------------------------
  double learning_rate = 5e-5;          ///< peak learning rate of AdamW
  double weight_decay = 0.0;            ///< decoupled weight decay of AdamW
  double adam_beta1 = 0.9;              ///< AdamW beta1
  double adam_beta2 = 0.999;            ///< AdamW beta2
  double adam_epsilon = 1e-8;           ///< AdamW eps
  /// transformers' Trainer leaves biases and LayerNorm weights out of weight decay: false (the
  /// default) does the same. true decays every parameter, as the Python notebook's plain AdamW does.
  bool decay_bias_and_layer_norm = false;
  double max_grad_norm = 1.0;           ///< gradient clipping threshold (0 or less: no clipping)
  std::int64_t gradient_accumulation_steps = 1;  ///< micro-batches per optimizer step
  std::string lr_scheduler_type = "linear";      ///< linear, cosine, constant, constant_with_warmup, polynomial, ...
  std::int64_t warmup_steps = 0;        ///< linear warmup steps (wins over warmup_ratio when > 0)
  double warmup_ratio = 0.0;            ///< warmup as a fraction of the total steps

  // --- length of the run ----------------------------------------------------------------------
  std::int64_t per_device_train_batch_size = 8;  ///< rows per training micro-batch
  std::int64_t per_device_eval_batch_size = 8;   ///< rows per evaluation / prediction batch
  double num_train_epochs = 3.0;        ///< epochs (fractions allowed) when max_steps <= 0
  std::int64_t max_steps = -1;          ///< optimizer steps; > 0 overrides num_train_epochs

  // --- data -----------------------------------------------------------------------------------
  std::int64_t max_length = 512;        ///< tokens per row after truncation (incl. [CLS]/[SEP])
  bool shuffle = true;                  ///< shuffle the training rows each epoch (seeded)
  bool group_by_length = false;         ///< batch rows of similar length together (less padding)
  bool pad_to_max_length = false;       ///< pad every batch to max_length instead of its longest row
  std::int64_t seed = 42;               ///< seeds data order (and the model's dropout when it supports it)
  std::int64_t dataloader_num_threads = 0;  ///< tokenizer threads; 0 = all hardware threads

  // --- evaluation, early stopping, best model ------------------------------------------------
  /// Evaluate on the validation set every eval_steps optimizer steps; 0 = at the end of each epoch.
  std::int64_t eval_steps = 0;
  /// Stop after this many evaluations without improvement; unset = no early stopping.
  std::optional<std::int64_t> early_stopping_patience;
  double early_stopping_threshold = 0.0;  ///< an improvement must exceed this to reset the patience
  std::string metric_for_best_model = "eval_loss";  ///< eval_loss, eval_accuracy, eval_f1_macro, ...
  /// Whether a larger metric is better; unset = false for names ending in "loss", true otherwise.
  std::optional<bool> greater_is_better;
  bool load_best_model_at_end = false;  ///< restore the best evaluated weights when training ends
  /// Multi-label: a label is predicted when its sigmoid probability is >= this (metrics and predict).
  double multi_label_threshold = 0.5;

  // --- logging --------------------------------------------------------------------------------
  std::int64_t logging_steps = 500;     ///< log mean loss, lr and grad norm every this many steps

  // --- checkpoints ----------------------------------------------------------------------------
  std::filesystem::path output_dir;     ///< where checkpoint-<step>/ go; empty = no checkpoints
  /// Save a checkpoint every save_steps optimizer steps; 0 = at every evaluation (and at the end
  /// of each epoch when there is no validation set). Needs output_dir.
  std::int64_t save_steps = 0;
  /// Keep at most this many checkpoints; the best one is never deleted (with 1, the best and the newest stay).
  std::optional<std::int64_t> save_total_limit;
  /// A checkpoint-<step>/ directory to continue from, or "last": the newest complete checkpoint in
  /// output_dir (transformers' resume_from_checkpoint=True).
  std::optional<std::filesystem::path> resume_from_checkpoint;
  /// A fresh run into an output_dir that holds checkpoints of an earlier run is refused (their steps
  /// would mix with this run's in rotation and resume); true deletes those checkpoints first.
  bool overwrite_output_dir = false;

  // --- robustness -----------------------------------------------------------------------------
  NonFiniteLoss on_nonfinite_loss = NonFiniteLoss::error;  ///< NaN/inf loss: stop (default) or skip the step

  /// @brief Whether a larger value of metric_for_best_model is better (greater_is_better, or by name).
  [[nodiscard]] bool metric_greater_is_better() const {
    if (greater_is_better) return *greater_is_better;
    return default_metric_mode(metric_for_best_model) == MetricMode::max;
  }

  /// @brief The warmup steps for a run of `total_steps`: warmup_steps if > 0, else ceil(warmup_ratio * total).
  [[nodiscard]] std::int64_t warmup_steps_for(std::int64_t total_steps) const {
    if (warmup_steps > 0) return warmup_steps;
    return static_cast<std::int64_t>(std::ceil(warmup_ratio * static_cast<double>(total_steps)));
  }

  /// @brief Whether resume_from_checkpoint is "last" (the newest complete checkpoint in output_dir).
  [[nodiscard]] bool resumes_from_last_checkpoint() const {
    return resume_from_checkpoint && *resume_from_checkpoint == std::filesystem::path("last");
  }

  /// @brief Every field by its name, as transformers' TrainingArguments.to_dict() lists them (unset
  ///        optionals are null); run_settings.json and report.html show it.
  [[nodiscard]] nlohmann::json to_json() const {
    const auto optional = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
    return {{"learning_rate", learning_rate},
            {"weight_decay", weight_decay},
            {"adam_beta1", adam_beta1},
            {"adam_beta2", adam_beta2},
            {"adam_epsilon", adam_epsilon},
            {"decay_bias_and_layer_norm", decay_bias_and_layer_norm},
            {"max_grad_norm", max_grad_norm},
            {"gradient_accumulation_steps", gradient_accumulation_steps},
            {"lr_scheduler_type", lr_scheduler_type},
            {"warmup_steps", warmup_steps},
            {"warmup_ratio", warmup_ratio},
            {"per_device_train_batch_size", per_device_train_batch_size},
            {"per_device_eval_batch_size", per_device_eval_batch_size},
            {"num_train_epochs", num_train_epochs},
            {"max_steps", max_steps},
            {"max_length", max_length},
            {"shuffle", shuffle},
            {"group_by_length", group_by_length},
            {"pad_to_max_length", pad_to_max_length},
            {"seed", seed},
            {"dataloader_num_threads", dataloader_num_threads},
            {"eval_steps", eval_steps},
            {"early_stopping_patience", optional(early_stopping_patience)},
            {"early_stopping_threshold", early_stopping_threshold},
            {"metric_for_best_model", metric_for_best_model},
            {"greater_is_better", metric_greater_is_better()},
            {"load_best_model_at_end", load_best_model_at_end},
            {"multi_label_threshold", multi_label_threshold},
            {"logging_steps", logging_steps},
            {"output_dir", output_dir.string()},
            {"save_steps", save_steps},
            {"save_total_limit", optional(save_total_limit)},
            {"resume_from_checkpoint", resume_from_checkpoint ? nlohmann::json(resume_from_checkpoint->string()) : nlohmann::json(nullptr)},
            {"overwrite_output_dir", overwrite_output_dir},
            {"on_nonfinite_loss", on_nonfinite_loss == NonFiniteLoss::skip ? "skip" : "error"}};
  }

  /// @brief Throws option_error naming the field (`learning_rate`, ...) of the first bad value.
  void validate() const {
    const auto fail = [](std::string_view flag, const std::string& what) {
      throw option_error(SourceLocation{std::string(flag), {}, {}}, what);
    };
    const auto finite = [](double v) { return std::isfinite(v); };
    if (!finite(learning_rate) || learning_rate < 0) fail("learning_rate", "must be a finite number >= 0, got " + std::to_string(learning_rate));
    if (!finite(weight_decay) || weight_decay < 0) fail("weight_decay", "must be a finite number >= 0, got " + std::to_string(weight_decay));
    if (!(adam_beta1 >= 0 && adam_beta1 < 1)) fail("adam_beta1", "must be in [0, 1), got " + std::to_string(adam_beta1));
    if (!(adam_beta2 >= 0 && adam_beta2 < 1)) fail("adam_beta2", "must be in [0, 1), got " + std::to_string(adam_beta2));
    if (!(adam_epsilon >= 0) || !finite(adam_epsilon)) fail("adam_epsilon", "must be a finite number >= 0, got " + std::to_string(adam_epsilon));
    if (!finite(max_grad_norm)) fail("max_grad_norm", "must be finite (0 or less disables clipping)");
    if (gradient_accumulation_steps < 1) fail("gradient_accumulation_steps", "must be >= 1, got " + std::to_string(gradient_accumulation_steps));
    if (warmup_steps < 0) fail("warmup_steps", "must be >= 0, got " + std::to_string(warmup_steps));
    if (!(warmup_ratio >= 0 && warmup_ratio <= 1)) fail("warmup_ratio", "must be in [0, 1], got " + std::to_string(warmup_ratio));
    if (per_device_train_batch_size < 1) fail("per_device_train_batch_size", "must be >= 1, got " + std::to_string(per_device_train_batch_size));
    if (per_device_eval_batch_size < 1) fail("per_device_eval_batch_size", "must be >= 1, got " + std::to_string(per_device_eval_batch_size));
    if (max_steps <= 0 && !(num_train_epochs > 0 && finite(num_train_epochs)))
      fail("num_train_epochs", "must be > 0 when max_steps is not set, got " + std::to_string(num_train_epochs));
    if (max_length < 2) fail("max_length", "must be >= 2 (room for [CLS] and [SEP]), got " + std::to_string(max_length));
    if (eval_steps < 0) fail("eval_steps", "must be >= 0 (0 = every epoch), got " + std::to_string(eval_steps));
    if (save_steps < 0) fail("save_steps", "must be >= 0 (0 = at every evaluation), got " + std::to_string(save_steps));
    if (logging_steps < 0) fail("logging_steps", "must be >= 0 (0 = no step logs), got " + std::to_string(logging_steps));
    if (dataloader_num_threads < 0) fail("dataloader_num_threads", "must be >= 0, got " + std::to_string(dataloader_num_threads));
    if (early_stopping_patience && *early_stopping_patience < 1)
      fail("early_stopping_patience", "must be >= 1, got " + std::to_string(*early_stopping_patience));
    if (!(early_stopping_threshold >= 0) || !finite(early_stopping_threshold))
      fail("early_stopping_threshold", "must be a finite number >= 0, got " + std::to_string(early_stopping_threshold));
    if (save_total_limit && *save_total_limit < 1) fail("save_total_limit", "must be >= 1, got " + std::to_string(*save_total_limit));
    if (!(multi_label_threshold > 0 && multi_label_threshold < 1))
      fail("multi_label_threshold", "must be in (0, 1), got " + std::to_string(multi_label_threshold));
    if (metric_for_best_model.empty()) fail("metric_for_best_model", "must name a metric such as eval_loss");
    if (resume_from_checkpoint && !resumes_from_last_checkpoint() && !std::filesystem::is_directory(*resume_from_checkpoint))
      fail("resume_from_checkpoint", resume_from_checkpoint->string() + " is not a directory (expected output_dir/checkpoint-<step>, or \"last\")");
    if (resumes_from_last_checkpoint() && output_dir.empty())
      fail("resume_from_checkpoint", "\"last\" means the newest checkpoint in output_dir, but output_dir is not set");
  }
};

}  // namespace ftlib
