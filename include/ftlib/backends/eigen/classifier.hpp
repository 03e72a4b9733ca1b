#pragma once
// The Eigen backend's sequence classifier, whatever the architecture: BasicSequenceClassifier<Arch, S>
// is specialised by each model file (distilbert.hpp, albert.hpp) with its layers, forward and
// backward; everything else — config and options, the named parameters, the init and dropout
// streams, train/eval mode, from_pretrained / from_config / save_pretrained, the SequenceClassifier
// surface the Trainer drives — is written once here, in detail::ClassifierShell.

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ftlib/arch/fields.hpp"
#include "ftlib/backends/eigen/layers.hpp"
#include "ftlib/backends/eigen/parameters.hpp"
#include "ftlib/backends/eigen/tensor.hpp"
#include "ftlib/core/batch.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/core/host_tensor.hpp"
#include "ftlib/core/token_layout.hpp"
#include "ftlib/hf/checkpoint.hpp"
#include "ftlib/arch/model_config.hpp"
#include "ftlib/models/model_concept.hpp"
#include "ftlib/models/loss_spec.hpp"
#include "ftlib/models/model_options.hpp"
#include "ftlib/models/pretrained.hpp"

namespace ftlib::eigen {

// The backend-free option types, under this backend's name too (ftlib::eigen::ModelOptions).
using ftlib::AttentionBackend;
using ftlib::ModelOptions;
using ftlib::Precision;

/// @brief The Eigen sequence classifier of architecture Arch at scalar type S (float trains; double gives a
///        sharp reference for gradient checks). Each model file specialises it; see detail::ClassifierShell
///        for the members every architecture shares.
template <arch::Architecture Arch, class S = float>
class BasicSequenceClassifier;

/// @brief The float32 classifier of architecture Arch, the one the Trainer uses.
template <arch::Architecture Arch>
using SequenceClassifier = BasicSequenceClassifier<Arch, float>;

namespace detail {

/// @brief Copies an activation matrix (row-major, N = B*T rows) to a float HostTensor of the given shape.
template <class S>
HostTensor to_host(const Matrix<S>& m, std::vector<std::int64_t> shape) {
  HostTensor t{std::move(shape), std::vector<float>(static_cast<std::size_t>(m.size()))};
  for (Eigen::Index i = 0; i < m.size(); ++i) t.data[static_cast<std::size_t>(i)] = static_cast<float>(m.data()[i]);
  return t;
}

/// @brief An activation matrix in `layout`'s rows as a float HostTensor [B, T, cols]; the positions a
///        packed layout did not compute (padding) are 0.
template <class S>
HostTensor to_host_padded(const Matrix<S>& m, const TokenLayout& layout, std::int64_t cols) {
  if (!layout.packed) return to_host(m, {layout.batch_size, layout.seq_len, cols});
  HostTensor t{{layout.batch_size, layout.seq_len, cols},
               std::vector<float>(static_cast<std::size_t>(layout.batch_size * layout.seq_len * cols), 0.0F)};
  for (std::int64_t r = 0; r < layout.rows(); ++r)
    for (std::int64_t j = 0; j < cols; ++j)
      t.data[static_cast<std::size_t>(layout.source_of(r) * cols + j)] = static_cast<float>(m(r, j));
  return t;
}

/// @brief What the Eigen backend can run; option_error naming the field otherwise.
inline void check_eigen_options(const ModelOptions& options) {
  options.validate();
  if (options.device != "cpu")
    throw option_error(SourceLocation{"device", {}, {}}, "the eigen backend runs on the CPU only; got '" + options.device +
                                                             "' (use the libtorch backend for CUDA)");
  if (options.precision != Precision::fp32)
    throw option_error(SourceLocation{"precision", {}, {}}, "the eigen backend computes in float32 only, got " +
                                                                to_string(options.precision) +
                                                                " (use the libtorch backend for mixed precision)");
  if (options.attention == AttentionBackend::sdpa)
    throw option_error(SourceLocation{"attention", {}, {}}, "the eigen backend has no scaled_dot_product_attention; "
                                                                "use automatic or explicit_softmax");
  if (options.loss_scaling && options.loss_scaling->enabled)
    throw option_error(SourceLocation{"loss_scaling", {}, {}}, "the eigen backend computes in float32 and has no loss scaling");
}

/// @brief How a model's parameters start out.
enum class Construction {
  fresh,        ///< allocated and initialised as transformers initialises them (seeded)
  for_loading,  ///< allocated; from_pretrained fills them from a checkpoint
  shapes_only,  ///< names and shapes only, nothing allocated (expected_parameters)
};

/// @brief The architecture-independent part of the Eigen classifiers, a (non-virtual) CRTP base. The
///        model (Derived) registers its parameters in store_ from its constructor
///        `Derived(Config, std::uint64_t seed, Construction)` and implements run_forward(batch) (setting
///        logits_) and run_backward(d_logits).
template <class Derived, class S, arch::Architecture Arch>
class ClassifierShell {
 public:
  using Tensor = BasicTensor<S>;                ///< the tensor type AdamW walks
  using Config = arch::ModelConfig<Arch>;         ///< config.json
  using Architecture = Arch;                    ///< the backend-free spec
  using RngState = std::uint64_t;               ///< the dropout stream's position

  /// @brief A freshly initialised model of `config` with `options`' label and dropout overrides applied
  ///        (transformers' init: N(0, initializer_range), zero biases, LayerNorm 1/0, zero padding row).
  [[nodiscard]] static Derived from_config(Config config, const ModelOptions& options = {}) {
    return Derived(std::move(config), options);
  }

  /// @brief Loads <dir>/config.json and <dir>/model.safetensors or pytorch_model.bin (F32/F16/BF16). A pretrained checkpoint
  ///        without the classifier (an encoder, MaskedLM, PreTraining) keeps its encoder; the head is
  ///        initialised as transformers does and load_report() lists the missing and unused names.
  ///        Like transformers, the model comes back in eval mode (dropout off): call set_training(true) to train.
  [[nodiscard]] static Derived from_pretrained(const std::filesystem::path& dir, const ModelOptions& options = {}) {
    check_eigen_options(options);
    Derived model(configure(load_pretrained_config<Arch>(dir), options), options.seed, Construction::for_loading);
    model.use_run_options(options);
    model.load_weights(dir, options.ignore_mismatched_sizes);
    return model;
  }

  /// @brief The parameters a model of `config` registers (HF names, shapes), without allocating them.
  [[nodiscard]] static std::vector<hf::ExpectedParameter> expected_parameters(const Config& config) {
    const Derived model(config, 0, Construction::shapes_only);
    return model.store_.expected();
  }

  // --- the SequenceClassifier concept ---------------------------------------------------------

  /// @brief Dropout on (training) or off (evaluation).
  void set_training(bool training) noexcept { training_ = training; }
  /// @brief Forward in the current mode, the loss of the problem type (loss_spec()), then accumulates
  ///        scale * d(loss)/d(param). Returns the unscaled loss.
  double forward_backward(const Batch& batch, double scale = 1.0) {
    check_batch(batch, config_.arch.max_position_embeddings, true);
    loss_.check_labels(batch);
    derived().run_forward(batch);
    Matrix<S> d_logits(logits_.rows(), logits_.cols());
    const double loss = compute_loss(batch, scale, d_logits);
    derived().run_backward(d_logits);
    return loss;
  }
  /// @brief Logits (and the loss when the batch has labels), no gradients.
  [[nodiscard]] ForwardOutput forward(const Batch& batch) {
    check_batch(batch, config_.arch.max_position_embeddings, false);
    if (batch.has_labels()) loss_.check_labels(batch);
    derived().run_forward(batch);
    ForwardOutput out;
    out.logits = to_host(logits_, {logits_.rows(), logits_.cols()});
    if (batch.has_labels()) {
      Matrix<S> none;
      out.loss = compute_loss(batch, 1.0, none);
      out.has_loss = true;
    }
    return out;
  }
  /// @brief Sets every gradient to zero.
  void zero_grad() { store_.zero_grad(); }
  /// @brief Clips the global L2 norm of the gradients to max_norm (torch's rule); returns the norm before.
  double clip_grad_norm(double max_norm) { return store_.clip_grad_norm(max_norm); }
  /// @brief Every parameter (value and gradient handles) under its HF name; a fixed table (DistilBERT's
  ///        sinusoidal position embeddings) has has_grad = false.
  [[nodiscard]] std::vector<ParameterRef<BasicTensor<S>>> parameters() const { return store_.refs(); }
  /// @brief Writes config.json (architectures, id2label/label2id, problem_type) and model.safetensors (F32)
  ///        into `dir`, each file atomically, keeping other files there.
  void save_pretrained(const std::filesystem::path& dir) const {
    save_checkpoint(dir, config_for_saving(config_), store_.state_dict());
  }
  /// @brief Number of classes.
  [[nodiscard]] std::int64_t num_labels() const noexcept { return config_.num_labels(); }

  // --- optional abilities (models/model_concept.hpp) -------------------------------------------

  /// @brief Restarts the dropout mask stream from `seed` (the Trainer calls it with args.seed at the start of a fresh fit).
  void set_seed(std::uint64_t seed) { dropout_rng_ = DropoutRng(dropout_seed(seed)); }
  /// @brief The dropout stream's position; the Trainer stores it in checkpoints so a resumed run draws the same masks.
  [[nodiscard]] RngState rng_state() const noexcept { return dropout_rng_.state(); }
  /// @brief Continues the dropout stream from a position returned by rng_state().
  void set_rng_state(RngState state) noexcept { dropout_rng_.set_state(state); }

  // --- beyond the concept -----------------------------------------------------------------------

  /// @brief Whether dropout is on.
  [[nodiscard]] bool is_training() const noexcept { return training_; }
  /// @brief Restarts the dropout mask stream from `seed` (the same seed gives the same masks).
  void reseed_dropout(std::uint64_t seed) { set_seed(seed); }
  /// @brief The config (labels included).
  [[nodiscard]] const Config& config() const noexcept { return config_; }
  /// @brief The loss it trains with: problem type and class weights.
  [[nodiscard]] const LossSpec& loss_spec() const noexcept { return loss_; }
  /// @brief What from_pretrained loaded, and the missing/unexpected/mismatched names (hf::format_load_report
  ///        prints transformers' warnings); empty for a fresh model.
  [[nodiscard]] const hf::LoadReport& load_report() const noexcept { return report_; }
  /// @brief The named parameters.
  [[nodiscard]] const ParameterStore<S>& parameter_store() const noexcept { return store_; }
  /// @brief Whether batches run on their real tokens only (ModelOptions::unpadded).
  [[nodiscard]] bool unpadded() const noexcept { return unpadded_; }
  /// @brief Runs later batches unpadded (true) or on every padded position (false, HF's computation).
  void set_unpadded(bool unpadded) noexcept { unpadded_ = unpadded; }

 protected:
  ClassifierShell(Config config, std::uint64_t seed, Construction construction)
      : config_(std::move(config)),
        rng_(seed),
        dropout_rng_(dropout_seed(seed)),
        store_(construction != Construction::shapes_only),
        loss_(LossSpec::of(config_.labels, ModelOptions{})) {
    config_.validate();
  }
  ClassifierShell(ClassifierShell&&) noexcept = default;
  ClassifierShell& operator=(ClassifierShell&&) noexcept = default;
  // Copies would share weight storage (tensors are handles): not offered, by any model (moves are).
  ClassifierShell(const ClassifierShell&) = delete;
  ClassifierShell& operator=(const ClassifierShell&) = delete;
  ~ClassifierShell() = default;

  /// @brief Derived's public constructor calls this for `options`: the config with its overrides.
  [[nodiscard]] static Config configured(Config config, const ModelOptions& options) {
    check_eigen_options(options);
    return configure(std::move(config), options);
  }

  /// @brief Takes what `options` says about running: the class weights (the problem type is the config's,
  ///        already configured) and the token layout.
  void use_run_options(const ModelOptions& options) {
    loss_ = LossSpec::of(config_.labels, options);
    unpadded_ = options.unpadded;
  }

  /// @brief The constructor's last word: initialise the parameters of a fresh model.
  void finish_construction(Construction construction) {
    if (construction == Construction::fresh) store_.initialize(rng_, config_.arch.initializer_range);
  }

  // The dropout stream is decorrelated from the init stream that uses the same seed.
  static constexpr std::uint64_t dropout_seed(std::uint64_t seed) noexcept { return seed ^ 0x5DEECE66DULL; }

  Config config_;
  std::mt19937_64 rng_;     // weight init
  DropoutRng dropout_rng_;  // dropout masks
  bool training_ = true;
  ParameterStore<S> store_;
  hf::LoadReport report_;
  LossSpec loss_;
  bool unpadded_ = true;
  Matrix<S> logits_;  // of the last forward

 private:
  [[nodiscard]] Derived& derived() noexcept { return static_cast<Derived&>(*this); }

  double compute_loss(const Batch& batch, double scale, Out<S> d_logits) const {
    switch (loss_.problem_type) {
      case ProblemType::multi_label_classification:
        return BinaryCrossEntropyWithLogits<S>::forward_backward(logits_, batch.label_values, scale, d_logits);
      case ProblemType::regression:
        return MeanSquaredError<S>::forward_backward(logits_, batch.label_values, scale, d_logits);
      case ProblemType::single_label_classification: break;
    }
    return CrossEntropy<S>::forward_backward(logits_, batch.labels, scale, d_logits, loss_.class_weights);
  }

  // from_pretrained's second half, once every parameter is registered: loads <dir>'s weights, initialises
  // what is missing or mismatched as a fresh model would, and switches to eval mode.
  void load_weights(const std::filesystem::path& dir, bool ignore_mismatched_sizes) {
    const auto file = open_pretrained_weights(dir);
    const auto expected = store_.expected();
    report_ = plan_pretrained_load<Arch>(expected, file, ignore_mismatched_sizes);
    store_.load(file, report_);
    auto fresh = report_.missing_keys;
    for (const auto& m : report_.mismatched) fresh.push_back(m.name);
    if (!fresh.empty()) store_.initialize(rng_, config_.arch.initializer_range, fresh);
    training_ = false;  // transformers' from_pretrained returns the model in eval mode
  }
};

}  // namespace detail
}  // namespace ftlib::eigen
