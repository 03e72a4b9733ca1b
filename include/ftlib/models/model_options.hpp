#pragma once
// ModelOptions: how a model is built and run, the same type for every backend and architecture
// (a backend refuses, with an error naming the field, what it cannot do: the Eigen backend runs
// float32 on the CPU). Precision and device live here, not in TrainingArguments: they are
// properties of the model, as in transformers (`model.to(device)`, `torch_dtype`).

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ftlib/core/error.hpp"
#include "ftlib/core/problem_type.hpp"

namespace ftlib {

/// @brief Arithmetic precision of forward/backward: float32, or autocast to bfloat16 / float16.
enum class Precision { fp32, bf16, fp16 };

/// @brief "fp32", "bf16" or "fp16".
[[nodiscard]] inline std::string to_string(Precision precision) {
  switch (precision) {
    case Precision::bf16: return "bf16";
    case Precision::fp16: return "fp16";
    case Precision::fp32: break;
  }
  return "fp32";
}

/// @brief Parses "fp32"/"float32"/"no", "bf16"/"bfloat16", "fp16"/"float16".
[[nodiscard]] inline Precision parse_precision(const std::string& text) {
  if (text == "fp32" || text == "float32" || text == "no") return Precision::fp32;
  if (text == "bf16" || text == "bfloat16") return Precision::bf16;
  if (text == "fp16" || text == "float16") return Precision::fp16;
  throw option_error(SourceLocation{"precision", {}, {}}, "unknown precision '" + text + "': expected fp32, bf16 or fp16");
}

/// @brief How self-attention is computed.
enum class AttentionBackend {
  automatic,         ///< the backend's fastest exact path (LibTorch >= 2.0: scaled_dot_product_attention)
  explicit_softmax,  ///< softmax(q k^T * d^-0.5 + bias) v, written out (the reference's order)
  sdpa,              ///< LibTorch's scaled_dot_product_attention; an error where there is none
};

/// @brief Dynamic loss scaling (torch.cuda.amp.GradScaler's defaults), for float16 training.
struct GradScalerOptions {
  double init_scale = 65536.0;          ///< first loss scale
  double growth_factor = 2.0;           ///< scale *= growth_factor after growth_interval clean steps
  double backoff_factor = 0.5;          ///< scale *= backoff_factor after a step with inf/NaN gradients
  std::int64_t growth_interval = 2000;  ///< clean steps between growths
  bool enabled = true;                  ///< false: scale 1, never skips (fp32 / bf16)

  /// @brief Throws option_error naming the bad field.
  void validate() const {
    const auto fail = [](const char* field, const std::string& what) {
      throw option_error(SourceLocation{std::string("loss_scaling.") + field, {}, {}}, what);
    };
    if (!(init_scale > 0.0 && std::isfinite(init_scale))) fail("init_scale", "must be a finite value > 0, got " + std::to_string(init_scale));
    if (!(growth_factor > 1.0)) fail("growth_factor", "must be > 1, got " + std::to_string(growth_factor));
    if (!(backoff_factor > 0.0 && backoff_factor < 1.0)) fail("backoff_factor", "must be in (0, 1), got " + std::to_string(backoff_factor));
    if (growth_interval < 1) fail("growth_interval", "must be >= 1, got " + std::to_string(growth_interval));
  }
};

/// @brief Options of a model: where and how it runs, and (for from_pretrained / from_config) what to
///        change in its config. Every backend's from_pretrained(dir, options), from_config(config,
///        options) and constructor take this type; each field has the same default everywhere.
struct ModelOptions {
  std::string device = "cpu";                         ///< "cpu", "cuda", "cuda:N" (Eigen: cpu only)
  Precision precision = Precision::fp32;              ///< autocast precision (Eigen: fp32 only; fp16 needs CUDA)
  AttentionBackend attention = AttentionBackend::automatic;  ///< how attention is computed
  /// Compute on the real tokens only (the padding is dropped from every token-wise operation and
  /// attention runs per sequence); false computes every padded position, as HuggingFace does. The
  /// results agree within float32 rounding either way.
  bool unpadded = true;
  std::uint64_t seed = 42;                            ///< seeds the init of new weights and the dropout stream
  /// Dynamic loss scaling. Unset: on with GradScaler's defaults for fp16, off otherwise.
  std::optional<GradScalerOptions> loss_scaling;
  std::optional<std::int64_t> num_labels;             ///< a head of this size (labels LABEL_i unless id2label is given)
  std::optional<std::vector<std::string>> id2label;   ///< label names in id order (sets num_labels)
  std::optional<double> dropout;                      ///< replaces every dropout probability of the config
  bool ignore_mismatched_sizes = false;               ///< from_pretrained: re-initialise (and report) tensors whose shape differs
  /// Replaces config.json's problem_type (unset: the config's, else transformers' rule: regression for
  /// one label, single-label classification otherwise). Saved into config.json with the model.
  std::optional<ProblemType> problem_type;
  /// Single-label only: the weight of each class in the cross-entropy, torch's `weight=` (the mean
  /// divides by the sum of the weights of the rows' classes). One per label, finite, >= 0, not all 0.
  std::optional<std::vector<double>> class_weights;

  /// @brief Sets device.
  ModelOptions& with_device(std::string d) { device = std::move(d); return *this; }
  /// @brief Sets precision.
  ModelOptions& with_precision(Precision p) { precision = p; return *this; }
  /// @brief Sets attention.
  ModelOptions& with_attention(AttentionBackend a) { attention = a; return *this; }
  /// @brief Sets unpadded.
  ModelOptions& with_unpadded(bool v = true) { unpadded = v; return *this; }
  /// @brief Sets seed.
  ModelOptions& with_seed(std::uint64_t s) { seed = s; return *this; }
  /// @brief Sets loss_scaling (e.g. to force a scale on fp32, or to tune fp16's scaler).
  ModelOptions& with_loss_scaling(GradScalerOptions o) { loss_scaling = o; return *this; }
  /// @brief Sets num_labels.
  ModelOptions& with_num_labels(std::int64_t n) { num_labels = n; return *this; }
  /// @brief Sets id2label.
  ModelOptions& with_id2label(std::vector<std::string> names) { id2label = std::move(names); return *this; }
  /// @brief Sets dropout.
  ModelOptions& with_dropout(double p) { dropout = p; return *this; }
  /// @brief Sets ignore_mismatched_sizes.
  ModelOptions& with_ignore_mismatched_sizes(bool v = true) { ignore_mismatched_sizes = v; return *this; }
  /// @brief Sets problem_type.
  ModelOptions& with_problem_type(ProblemType t) { problem_type = t; return *this; }
  /// @brief Sets class_weights.
  ModelOptions& with_class_weights(std::vector<double> w) { class_weights = std::move(w); return *this; }

  /// @brief Throws option_error naming the field of the first bad value.
  void validate() const {
    if (num_labels && *num_labels <= 0)
      throw option_error(SourceLocation{"num_labels", {}, {}}, "must be > 0, got " + std::to_string(*num_labels));
    if (id2label && id2label->empty())
      throw option_error(SourceLocation{"id2label", {}, {}}, "a classifier needs at least one label");
    if (num_labels && id2label && *num_labels != static_cast<std::int64_t>(id2label->size()))
      throw option_error(SourceLocation{"num_labels", {}, {}}, std::to_string(*num_labels) + " disagrees with the " +
                                                                  std::to_string(id2label->size()) + " names given in id2label");
    if (dropout && !(*dropout >= 0.0 && *dropout < 1.0))
      throw option_error(SourceLocation{"dropout", {}, {}}, "must be in [0, 1), got " + std::to_string(*dropout));
    if (loss_scaling) loss_scaling->validate();
    if (class_weights) {
      const auto fail = [](const std::string& what) { throw option_error(SourceLocation{"class_weights", {}, {}}, what); };
      if (class_weights->empty()) fail("needs one weight per label, got none");
      bool any_positive = false;
      for (std::size_t i = 0; i < class_weights->size(); ++i) {
        const double w = (*class_weights)[i];
        if (!std::isfinite(w) || w < 0.0)
          fail("weight " + std::to_string(i) + " is " + std::to_string(w) + "; weights must be finite and >= 0");
        any_positive = any_positive || w > 0.0;
      }
      if (!any_positive) fail("every weight is 0: the loss would be 0 / 0");
      // Their count and problem type are checked against the model's configured labels (LossSpec::of).
    }
  }
};

}  // namespace ftlib
