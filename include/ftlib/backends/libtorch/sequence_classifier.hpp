#pragma once
// The LibTorch backend's sequence classifier, whatever the architecture: SequenceClassifier<Arch>
// holds the module tree of ArchitectureModule<Arch> (each model file, e.g. distilbert.hpp, names
// it) and implements everything else once: the SequenceClassifier surface the Trainer drives
// (forward_backward, forward, parameters, clipping, save_pretrained), from_pretrained /
// from_config with transformers' loading of checkpoints, device, precision and loss scaling.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/module.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "ftlib/backends/libtorch/autocast.hpp"
#include "ftlib/backends/libtorch/batch_tensors.hpp"
#include "ftlib/backends/libtorch/generator.hpp"
#include "ftlib/backends/libtorch/layers.hpp"
#include "ftlib/backends/libtorch/param_ops.hpp"
#include "ftlib/core/batch.hpp"
#include "ftlib/core/host_tensor.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/io/atomic_file.hpp"
#include "ftlib/hf/checkpoint.hpp"
#include "ftlib/arch/fields.hpp"
#include "ftlib/arch/model_config.hpp"
#include "ftlib/hf/safetensors.hpp"
#include "ftlib/models/model_concept.hpp"
#include "ftlib/models/loss_spec.hpp"
#include "ftlib/models/model_options.hpp"
#include "ftlib/models/pretrained.hpp"

namespace ftlib::libtorch {

// The backend-free option types, under this backend's name too (ftlib::libtorch::ModelOptions).
using ftlib::AttentionBackend;
using ftlib::GradScalerOptions;
using ftlib::ModelOptions;
using ftlib::Precision;

/// @brief What loading a checkpoint found (hf::LoadReport: loaded, missing_keys, unexpected_keys,
///        mismatched), named as transformers reports it; hf::format_load_report prints its warnings.
using LoadReport = hf::LoadReport;

/// @brief The encoder's outputs for a batch: last_hidden_state [B, T, H] and, where the architecture
///        has a pooler, the pooler output [B, H] (undefined otherwise).
struct EncoderOutput {
  torch::Tensor last_hidden_state;  ///< [B, T, hidden]
  torch::Tensor pooler_output;      ///< [B, hidden], or undefined
};

namespace detail {

[[nodiscard]] inline bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

[[nodiscard]] inline std::vector<std::int64_t> shape_of(const torch::Tensor& t) {
  return {t.sizes().begin(), t.sizes().end()};
}

/// transformers' init of a new weight: LayerNorm 1/0, biases 0, everything else N(0, std) with an
/// embedding's padding row zeroed.
inline void init_like_transformers(const std::string& name, torch::Tensor& value, double std, std::int64_t pad_token_id,
                                   at::Generator& generator) {
  const torch::NoGradGuard no_grad;
  if (!value.is_cpu()) {  // the seeded generator is a CPU one: draw on the host, then copy over
    torch::Tensor host = torch::empty(value.sizes(), torch::kFloat);
    init_like_transformers(name, host, std, pad_token_id, generator);
    value.copy_(host);
    return;
  }
  const bool layer_norm = name.find("LayerNorm") != std::string::npos || name.find("layer_norm") != std::string::npos;
  if (ends_with(name, ".bias")) {
    value.zero_();
  } else if (layer_norm) {
    value.fill_(1.0);
  } else {
    value.normal_(0.0, std, generator);
    if (ends_with(name, "word_embeddings.weight") && pad_token_id >= 0 && pad_token_id < value.size(0))
      value[pad_token_id].zero_();
  }
}

/// @brief Parses a device name ("cpu", "cuda", "cuda:1"); option_error naming the field otherwise.
[[nodiscard]] inline torch::Device parse_device(const std::string& name) {
  try {
    return torch::Device(name);
  } catch (const c10::Error&) {
    throw option_error(SourceLocation{"device", {}, {}}, "'" + name + "' is not a device; expected cpu, cuda or cuda:N");
  }
}

/// @brief The torch::nn module tree of architecture Arch: each model file specialises it with
///        `using type = <module holder>;` whose named_parameters() are HuggingFace's state_dict names and
///        which offers forward(input_ids, token_type_ids, ctx) -> logits and encode(...) -> {hidden, pooled}.
template <arch::Architecture Arch>
struct ArchitectureModule;

}  // namespace detail

/// @brief The LibTorch sequence classifier of architecture Arch (HuggingFace's
///        <Arch>ForSequenceClassification; state_dict names are transformers'). Satisfies
///        ftlib::SequenceClassifier, SeedableModel, RngStateModel and LossScalingModel.
template <arch::Architecture Arch>
class SequenceClassifier {
 public:
  using Tensor = torch::Tensor;                               ///< the backend's tensor type
  using Architecture = Arch;                                  ///< the backend-free spec
  using Config = arch::ModelConfig<Arch>;                       ///< the whole config.json
  using Module = typename detail::ArchitectureModule<Arch>::type;  ///< the torch::nn module holder (HF names)
  using RngState = libtorch::RngState;                        ///< the dropout stream's position
  using LossScalerState = GradScalerState;                    ///< the loss scaler's scale and growth tracker

  /// @brief A freshly initialised model (weights as transformers initialises them, seeded) of `config`
  ///        with `options`' label and dropout overrides applied.
  explicit SequenceClassifier(Config config, const ModelOptions& options = {})
      : config_(configure(std::move(config), options)),
        options_(options),
        loss_(LossSpec::of(config_.labels, options)),
        device_(detail::parse_device(options.device)),
        dropout_rng_(options.seed),
        scaler_(make_scaler(options)) {
    config_.validate();
    check_precision(options_.precision, device_);
    (void)detail::resolve_sdpa(options_.attention);  // fails early when sdpa is asked for and absent
    module_ = Module(config_.arch, config_.num_labels());
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options_.seed);
    for (auto& item : module_->named_parameters(/*recurse=*/true)) {
      if (!item.value().requires_grad()) continue;  // the fixed sinusoidal table keeps its values
      detail::init_like_transformers(item.key(), item.value(), config_.arch.initializer_range, config_.arch.pad_token_id, generator);
    }
    if (!device_.is_cpu()) module_->to(device_);
    dropout_rng_.attach(device_);
    module_->train(true);
  }

  /// @brief SequenceClassifier(config, options).
  [[nodiscard]] static SequenceClassifier from_config(Config config, const ModelOptions& options = {}) {
    return SequenceClassifier(std::move(config), options);
  }

  /// @brief Loads a checkpoint directory (config.json + model.safetensors or pytorch_model.bin,
  ///        F32/F16/BF16), in eval
  ///        mode. A pretrained non-classifier checkpoint keeps its encoder; the head is initialised
  ///        as transformers does and listed in load_report().missing_keys.
  [[nodiscard]] static SequenceClassifier from_pretrained(const std::filesystem::path& dir, const ModelOptions& options = {}) {
    Config config = load_pretrained_config<Arch>(dir);
    const hf::CheckpointWeights weights = open_pretrained_weights(dir);
    ModelOptions on_cpu = options;
    on_cpu.device = "cpu";               // load into host memory, then move once
    on_cpu.precision = Precision::fp32;  // fp16 is refused on the CPU: set once on the device
    SequenceClassifier model(std::move(config), on_cpu);
    model.load_weights(weights, options.ignore_mismatched_sizes);
    model.to(detail::parse_device(options.device));
    model.set_precision(options.precision);
    model.set_training(false);  // like transformers' from_pretrained: eval mode until set_training(true)
    return model;
  }

  /// @brief Copies the tensors of a safetensors file into the model, matching names as transformers
  ///        does (hf::plan_checkpoint_load: a bare encoder checkpoint without the base-model prefix is
  ///        accepted); initialises what is missing; fills load_report().
  ///        tensor_error naming the tensor on a shape mismatch (unless ignore_mismatched_sizes).
  void load_safetensors(const std::filesystem::path& path, bool ignore_mismatched_sizes = false) {
    load_weights(hf::SafetensorsFile::open(path), ignore_mismatched_sizes);
  }

  /// @brief load_safetensors from an open weights file (SafetensorsFile, PytorchCheckpointFile, CheckpointWeights).
  template <class File>
  void load_weights(const File& file, bool ignore_mismatched_sizes) {
    std::vector<hf::ExpectedParameter> expected;
    std::map<std::string, torch::Tensor> own;
    for (auto& item : module_->named_parameters(true)) {
      expected.push_back(hf::ExpectedParameter{item.key(), detail::shape_of(item.value()), item.value().requires_grad()});
      own.emplace(item.key(), item.value());
    }
    LoadReport report = plan_pretrained_load<Arch>(expected, file, ignore_mismatched_sizes);
    const torch::NoGradGuard no_grad;
    for (const auto& loaded : report.loaded) {
      torch::Tensor& target = own.at(loaded.name);
      if (target.is_cpu() && target.scalar_type() == torch::kFloat && target.is_contiguous()) {
        // Straight from the mapping into the parameter (F16/BF16 upcast exactly on the way).
        file.copy_float32(loaded.checkpoint_name,
                          std::span<float>(target.data_ptr<float>(), static_cast<std::size_t>(target.numel())));
      } else {
        torch::Tensor host = torch::empty(target.sizes(), torch::kFloat);
        file.copy_float32(loaded.checkpoint_name, std::span<float>(host.data_ptr<float>(), static_cast<std::size_t>(host.numel())));
        target.copy_(host);
      }
    }
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options_.seed);
    const auto init_fresh = [&](const std::string& name) {
      torch::Tensor& value = own.at(name);
      if (value.requires_grad())  // a fixed sinusoidal table keeps its computed values
        detail::init_like_transformers(name, value, config_.arch.initializer_range, config_.arch.pad_token_id, generator);
    };
    for (const auto& name : report.missing_keys) init_fresh(name);
    for (const auto& mismatch : report.mismatched) init_fresh(mismatch.name);
    report_ = std::move(report);
  }

  /// @brief Seeds this model's dropout stream (CPU, and CUDA when on a CUDA device); other models and
  ///        LibTorch's global generators are not affected. The Trainer calls it at the start of a fresh fit().
  void set_seed(std::uint64_t seed) { dropout_rng_.set_seed(seed); }
  /// @brief The position of the dropout stream, for checkpoints (JSON-storable).
  [[nodiscard]] RngState rng_state() const { return dropout_rng_.state(); }
  /// @brief Restores a position saved by rng_state(), so that a resumed run draws the same masks.
  void set_rng_state(const RngState& state) { dropout_rng_.set_state(state); }

  /// @brief The loss scaler (enabled for fp16 unless ModelOptions::loss_scaling says otherwise).
  [[nodiscard]] const GradScaler& grad_scaler() const noexcept { return scaler_; }
  /// @brief The scaler's scale and growth tracker, for checkpoints.
  [[nodiscard]] GradScalerState loss_scaler_state() const noexcept { return scaler_.state(); }
  /// @brief Restores a state saved by loss_scaler_state() (ignored when scaling is off).
  void set_loss_scaler_state(const GradScalerState& state) { scaler_.load_state(state); }
  /// @brief True when the last unscale (in clip_grad_norm or parameters()) found inf/NaN in the
  ///        loss-scaled gradients: they were dropped, the scale lowered, and the step is to be skipped.
  [[nodiscard]] bool gradient_overflow() const noexcept { return overflow_; }

  // --- the SequenceClassifier concept ---------------------------------------------------------

  /// @brief Dropout on (true) or off (false).
  void set_training(bool training) { module_->train(training); }

  /// @brief Forward in the current mode, the loss of the problem type (loss_spec()), then accumulates
  ///        scale * d(loss)/d(param) into the gradients. Returns the unscaled loss. With loss scaling on, the gradients hold
  ///        scale * grad_scaler().scale() * d(loss)/d(param) until clip_grad_norm or parameters() unscales them.
  double forward_backward(const Batch& batch, double scale = 1.0) {
    if (!batch.has_labels()) throw tensor_error("forward_backward needs a batch with labels");
    loss_.check_labels(batch);
    const BatchTensors t = to_tensors(batch, device_, limits(), options_.unpadded);
    torch::Tensor loss;
    {
      const DropoutGenerator::Scope rng(dropout_rng_, device_, module_->is_training());
      const AutocastGuard autocast(device_, options_.precision);
      const torch::Tensor logits = run(t, nullptr);
      loss = compute_loss(logits.to(torch::kFloat), t);
    }
    if (scaler_.enabled()) {
      overflow_ = false;
      grads_scaled_ = true;
      scale *= scaler_.scale();
    }
    (scale == 1.0 ? loss : loss * scale).backward();
    return loss.item<double>();
  }

  /// @brief No gradients: logits (host) and, when the batch has labels, the loss.
  ForwardOutput forward(const Batch& batch) {
    if (batch.has_labels()) loss_.check_labels(batch);
    const BatchTensors t = to_tensors(batch, device_, limits(), options_.unpadded);
    const torch::NoGradGuard no_grad;
    const DropoutGenerator::Scope rng(dropout_rng_, device_, module_->is_training());
    const AutocastGuard autocast(device_, options_.precision);
    const torch::Tensor logits = run(t, nullptr).to(torch::kFloat);
    ForwardOutput out;
    if (batch.has_labels()) {
      const torch::Tensor loss = compute_loss(logits, t);
      out.loss = loss.item<double>();
      out.has_loss = true;
    }
    out.logits = ParamOps<torch::Tensor>::to_host(logits);
    return out;
  }

  /// @brief Drops every gradient (torch's zero_grad(set_to_none=true)).
  void zero_grad() {
    for (auto& p : module_->parameters(true)) {
      if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
    }
    grads_scaled_ = false;
  }

  /// @brief Scales the gradients so that their global 2-norm is at most max_norm
  ///        (torch::nn::utils::clip_grad_norm_); returns the norm before clipping. With loss scaling
  ///        it first unscales (once per optimizer step, updating the scale); on overflow it drops the
  ///        gradients and returns +inf (gradient_overflow() is then true).
  double clip_grad_norm(double max_norm) {
    if (unscale_gradients()) return std::numeric_limits<double>::infinity();
    return torch::nn::utils::clip_grad_norm_(module_->parameters(true), max_norm);
  }

  /// @brief With loss scaling: divides the accumulated gradients by the scale, checks them for
  ///        inf/NaN and updates the scaler, once per optimizer step (later calls until the next
  ///        forward_backward repeat the answer). On overflow the gradients are dropped, so that an
  ///        optimizer step skips every parameter. Returns gradient_overflow(). No-op without scaling.
  bool unscale_gradients() {
    if (!grads_scaled_) return overflow_;
    grads_scaled_ = false;
    overflow_ = scaler_.unscale(gradient_refs());
    scaler_.update(overflow_);
    if (overflow_) zero_grad();
    return overflow_;
  }

  /// @brief Every parameter under its HF name: value (a detached alias, safe for in-place updates), the
  ///        current gradient, and whether backward reached it (never for a fixed table). Call after backward;
  ///        loss-scaled gradients are unscaled first (unscale_gradients).
  [[nodiscard]] std::vector<ParameterRef<torch::Tensor>> parameters() {
    (void)unscale_gradients();
    return gradient_refs();
  }

  /// @brief Writes config.json and model.safetensors (float32, HF names) so that transformers'
  ///        from_pretrained(dir) reads them back; atomic (temporary names, then rename).
  void save_pretrained(const std::filesystem::path& dir) const {
    const Config config = config_for_saving(config_);
    config.validate(dir / "config.json");
    std::vector<torch::Tensor> host;  // keeps the bytes alive while writing
    std::vector<hf::TensorToWrite> tensors;
    for (const auto& item : module_->named_parameters(true)) {
      host.push_back(item.value().detach().to(torch::kCPU, torch::kFloat).contiguous());
    }
    std::size_t i = 0;
    for (const auto& item : module_->named_parameters(true)) {
      const torch::Tensor& t = host[i++];
      tensors.push_back(hf::TensorToWrite{
          item.key(), hf::DType::F32, detail::shape_of(t),
          std::as_bytes(std::span<const float>(t.data_ptr<float>(), static_cast<std::size_t>(t.numel())))});
    }
    io::write_into_directory(dir, [&](const std::filesystem::path& target) {
      hf::write_safetensors(target / "model.safetensors", tensors, hf::transformers_metadata());
      config.save(target / "config.json");
    });
  }

  /// @brief Size of the classifier's output.
  [[nodiscard]] std::int64_t num_labels() const { return config_.num_labels(); }

  // --- beyond the concept -----------------------------------------------------------------------

  /// @brief Logits [B, num_labels] on the device, in the current mode and autocast precision; keeps
  ///        the autograd graph when grad mode is on. `trace` (optional) receives the intermediates.
  [[nodiscard]] torch::Tensor logits(const Batch& batch, Trace* trace = nullptr) {
    const BatchTensors t = to_tensors(batch, device_, limits(), options_.unpadded);
    const DropoutGenerator::Scope rng(dropout_rng_, device_, module_->is_training());
    const AutocastGuard autocast(device_, options_.precision);
    return run(t, trace);
  }

  /// @brief The encoder's outputs (no gradients), e.g. to compare with transformers' AutoModel.
  [[nodiscard]] EncoderOutput encode(const Batch& batch) {
    const BatchTensors t = to_tensors(batch, device_, limits(), options_.unpadded);
    const torch::NoGradGuard no_grad;
    const DropoutGenerator::Scope rng(dropout_rng_, device_, module_->is_training());
    const AutocastGuard autocast(device_, options_.precision);
    const detail::AttentionContext ctx =
        detail::make_attention_context(t.attention_mask, t.layout, options_.attention, module_->is_training(), nullptr);
    auto [hidden, pooled] = module_->encode(t.input_ids, t.token_type_ids, ctx);
    return EncoderOutput{detail::to_padded(hidden, ctx), std::move(pooled)};
  }

  /// @brief Every tensor of the model (trainable or not) as float32 host tensors, by HF name.
  [[nodiscard]] std::map<std::string, HostTensor> state_dict() const {
    std::map<std::string, HostTensor> out;
    for (const auto& item : module_->named_parameters(true)) out.emplace(item.key(), ParamOps<torch::Tensor>::to_host(item.value()));
    return out;
  }

  /// @brief Moves the parameters (and later batches) to `device`.
  void to(const torch::Device& device) {
    check_precision(options_.precision, device);
    if (device != device_) module_->to(device);
    dropout_rng_.attach(device);
    device_ = device;
    options_.device = device.str();
  }
  /// @brief Where parameters and activations live.
  [[nodiscard]] torch::Device device() const noexcept { return device_; }
  /// @brief Sets the autocast precision (fp16 needs CUDA). Without explicit ModelOptions::loss_scaling,
  ///        a change of precision turns loss scaling on (fp16) or off and restarts it.
  void set_precision(Precision precision) {
    check_precision(precision, device_);
    const bool changed = precision != options_.precision;
    options_.precision = precision;
    if (changed && !options_.loss_scaling) {
      scaler_ = make_scaler(options_);
      grads_scaled_ = false;
      overflow_ = false;
    }
  }
  /// @brief The autocast precision.
  [[nodiscard]] Precision precision() const noexcept { return options_.precision; }
  /// @brief Runs later batches on their real tokens only (true) or on every padded position (false,
  ///        HuggingFace's computation); see ModelOptions::unpadded.
  void set_unpadded(bool unpadded) noexcept { options_.unpadded = unpadded; }
  /// @brief Whether batches run unpadded.
  [[nodiscard]] bool unpadded() const noexcept { return options_.unpadded; }
  /// @brief Chooses explicit-softmax or fused attention (sdpa needs LibTorch >= 2.0).
  void set_attention_backend(AttentionBackend backend) {
    (void)detail::resolve_sdpa(backend);
    options_.attention = backend;
  }
  /// @brief The attention choice.
  [[nodiscard]] AttentionBackend attention_backend() const noexcept { return options_.attention; }
  /// @brief The configuration (architecture, labels, extra keys).
  [[nodiscard]] const Config& config() const noexcept { return config_; }
  /// @brief The loss it trains with: problem type and class weights.
  [[nodiscard]] const LossSpec& loss_spec() const noexcept { return loss_; }
  /// @brief Loaded / missing / unexpected / mismatched names of the last load (empty for a fresh model).
  [[nodiscard]] const LoadReport& load_report() const noexcept { return report_; }
  /// @brief The torch::nn module tree (state_dict names are HF's).
  [[nodiscard]] Module& module() noexcept { return module_; }
  /// @brief The torch::nn module tree (state_dict names are HF's).
  [[nodiscard]] const Module& module() const noexcept { return module_; }
  /// @brief The batch limits derived from the config (vocabulary, positions, labels).
  [[nodiscard]] BatchLimits limits() const {
    BatchLimits l;
    l.vocab_size = config_.arch.vocab_size;
    l.max_position_embeddings = config_.arch.max_position_embeddings;
    l.type_vocab_size = config_.arch.token_type_count();
    l.num_labels = config_.num_labels();
    return l;
  }

 private:
  [[nodiscard]] static GradScaler make_scaler(const ModelOptions& options) {
    if (options.loss_scaling) return GradScaler(*options.loss_scaling);
    GradScalerOptions defaults;
    defaults.enabled = options.precision == Precision::fp16;
    return GradScaler(defaults);
  }

  [[nodiscard]] std::vector<ParameterRef<torch::Tensor>> gradient_refs() const {
    std::vector<ParameterRef<torch::Tensor>> out;
    for (const auto& item : module_->named_parameters(true)) {
      const torch::Tensor& p = item.value();
      const torch::Tensor& g = p.grad();
      // A fixed table (DistilBERT's sinusoidal positions) is listed with has_grad = false, as in every backend.
      out.push_back(ParameterRef<torch::Tensor>{item.key(), p.detach(), g, p.requires_grad() && g.defined()});
    }
    return out;
  }

  // The loss of float32 logits [B, num_labels] against the batch's labels, as transformers computes it
  // (regression: MSE of the single output; multi-label: BCE-with-logits; single-label: cross-entropy).
  [[nodiscard]] torch::Tensor compute_loss(const torch::Tensor& logits, const BatchTensors& t) const {
    switch (loss_.problem_type) {
      case ProblemType::multi_label_classification:
        return at::binary_cross_entropy_with_logits(logits, t.label_values);
      case ProblemType::regression:
        return at::mse_loss(logits, t.label_values);
      case ProblemType::single_label_classification: break;
    }
    if (loss_.class_weights.empty()) return at::cross_entropy_loss(logits, t.labels);
    const torch::Tensor weight = torch::tensor(loss_.class_weights, torch::kDouble).to(logits.device(), torch::kFloat);
    return at::cross_entropy_loss(logits, t.labels, weight);
  }

  torch::Tensor run(const BatchTensors& t, Trace* trace) {
    const detail::AttentionContext ctx =
        detail::make_attention_context(t.attention_mask, t.layout, options_.attention, module_->is_training(), trace);
    return module_->forward(t.input_ids, t.token_type_ids, ctx);
  }

  Config config_;
  ModelOptions options_;
  LossSpec loss_;
  torch::Device device_;
  Module module_{nullptr};
  LoadReport report_;
  DropoutGenerator dropout_rng_;
  GradScaler scaler_;
  bool grads_scaled_ = false;  // the gradients hold loss-scaled values not yet unscaled
  bool overflow_ = false;      // the last unscale found inf/NaN
};

}  // namespace ftlib::libtorch
