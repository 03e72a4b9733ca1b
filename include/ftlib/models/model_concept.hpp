#pragma once
// What the Trainer needs from a backend's model: the SequenceClassifier concept, and the optional
// abilities it uses when a model has them (each a named concept). Every backend's
// SequenceClassifier<Arch> (backends/<backend>/) satisfies SequenceClassifier.

#include <concepts>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ftlib/core/batch.hpp"
#include "ftlib/core/host_tensor.hpp"
#include "ftlib/core/parameter.hpp"

namespace ftlib {

/// @brief Logits (and the loss when the batch has labels) of one forward pass, in host memory.
struct ForwardOutput {
  HostTensor logits;         ///< [batch_size, num_labels]
  double loss = 0.0;         ///< mean cross-entropy; meaningful only when has_loss
  bool has_loss = false;
};

/// @brief The model side of the training loop.
///
/// - `set_training(bool)`: dropout on or off.
/// - `forward_backward(batch, scale)`: forward in the current mode, mean cross-entropy over the
///   batch, then *accumulate* `scale * d(loss)/d(param)` into the gradients (scale = 1/accumulation
///   steps, or the loss scale). Returns the unscaled loss.
/// - `forward(batch)`: no gradients; logits and, when the batch has labels, the loss.
/// - `zero_grad()`, `clip_grad_norm(max_norm)` (returns the total norm before clipping, torch's rule),
///   `parameters()` (the view AdamW walks), `save_pretrained(dir)` (config.json + model.safetensors).
template <class M>
concept SequenceClassifier = requires(M& model, const M& const_model, const Batch& batch,
                                      double scale, bool training, const std::filesystem::path& dir) {
  typename M::Tensor;
  { model.set_training(training) };
  { model.forward_backward(batch, scale) } -> std::convertible_to<double>;
  { model.forward(batch) } -> std::same_as<ForwardOutput>;
  { model.zero_grad() };
  { model.clip_grad_norm(scale) } -> std::convertible_to<double>;
  { model.parameters() } -> std::same_as<std::vector<ParameterRef<typename M::Tensor>>>;
  { const_model.save_pretrained(dir) };
  { const_model.num_labels() } -> std::convertible_to<std::int64_t>;
};

/// @brief Optional: a model with its own random stream (dropout masks) that the Trainer seeds with
///        TrainingArguments::seed at the start of a fresh fit(), so that a run is reproducible.
template <class M>
concept SeedableModel = requires(M& model, std::uint64_t seed) { model.set_seed(seed); };

/// @brief Optional: a model whose random stream's position (M::RngState, JSON-storable) the Trainer
///        saves in each checkpoint and restores on resume, so that a resumed run draws the same masks.
template <class M>
concept RngStateModel = requires(M& model, const M& const_model) {
  typename M::RngState;
  { const_model.rng_state() } -> std::same_as<typename M::RngState>;
  model.set_rng_state(const_model.rng_state());
};

/// @brief Optional: a model with dynamic loss scaling (float16). gradient_overflow() says the last
///        step's scaled gradients overflowed (the Trainer then skips the step, GradScaler's rule); the
///        scaler's state (M::LossScalerState, JSON-storable) goes into checkpoints.
template <class M>
concept LossScalingModel = requires(M& model, const M& const_model) {
  typename M::LossScalerState;
  { const_model.gradient_overflow() } -> std::convertible_to<bool>;
  { const_model.loss_scaler_state() } -> std::same_as<typename M::LossScalerState>;
  model.set_loss_scaler_state(const_model.loss_scaler_state());
};

}  // namespace ftlib
