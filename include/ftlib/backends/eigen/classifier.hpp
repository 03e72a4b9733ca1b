#pragma once
// What every Eigen sequence classifier shares, whatever its architecture: the config, the named
// parameters, the init and dropout random streams, train/eval mode, loading and saving HuggingFace
// checkpoints, and turning logits into a ForwardOutput. The model files (distilbert.hpp, albert.hpp)
// keep only their own architecture: embeddings, encoder layers, head, and their backward.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ftlib/backends/eigen/layers.hpp"
#include "ftlib/backends/eigen/parameters.hpp"
#include "ftlib/backends/eigen/tensor.hpp"
#include "ftlib/core/batch.hpp"
#include "ftlib/core/host_tensor.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/hf/checkpoint.hpp"
#include "ftlib/hf/config.hpp"
#include "ftlib/hf/safetensors.hpp"
#include "ftlib/models/model_concept.hpp"

namespace ftlib::eigen {

/// @brief Options of from_pretrained (both Eigen models).
struct PretrainedOptions {
  std::optional<std::int64_t> num_labels;             ///< replace the labels by LABEL_0..LABEL_{n-1} (when n differs)
  std::optional<std::vector<std::string>> id2label;   ///< replace the labels by these names (wins over num_labels)
  std::optional<double> dropout;                      ///< set every dropout probability of the config to this
  bool ignore_mismatched_sizes = false;               ///< re-initialise tensors whose shape differs (e.g. a new head)
  std::uint64_t seed = 42;                            ///< seeds the init of missing weights and the dropout masks

  PretrainedOptions& with_num_labels(std::int64_t n) { num_labels = n; return *this; }
  PretrainedOptions& with_id2label(std::vector<std::string> names) { id2label = std::move(names); return *this; }
  PretrainedOptions& with_dropout(double p) { dropout = p; return *this; }
  PretrainedOptions& with_seed(std::uint64_t s) { seed = s; return *this; }
  PretrainedOptions& with_ignore_mismatched_sizes(bool v = true) { ignore_mismatched_sizes = v; return *this; }
};

namespace detail {

/// @brief The Eigen backend's activation for a config's parsed activation.
inline Activation to_activation(hf::Activation a) {
  switch (a) {
    case hf::Activation::GeluErf: return Activation::gelu_erf;
    case hf::Activation::GeluTanh: return Activation::gelu_tanh;
    case hf::Activation::QuickGelu: return Activation::quick_gelu;
    case hf::Activation::Relu: return Activation::relu;
    case hf::Activation::Silu: return Activation::silu;
    case hf::Activation::Tanh: return Activation::tanh;
    case hf::Activation::Sigmoid: return Activation::sigmoid;
    case hf::Activation::Linear: return Activation::identity;
  }
  return Activation::gelu_erf;
}

/// @brief Applies num_labels / id2label overrides to a config's labels.
template <class Config>
void apply_label_options(Config& config, const PretrainedOptions& options) {
  if (options.id2label) {
    config.labels.id2label = *options.id2label;
  } else if (options.num_labels && *options.num_labels != config.num_labels()) {
    if (*options.num_labels <= 0)
      throw option_error("num_labels must be positive, got " + std::to_string(*options.num_labels));
    const auto problem_type = config.labels.problem_type;
    config.labels = hf::ClassificationLabels::defaults(*options.num_labels);
    config.labels.problem_type = problem_type;
  }
}

/// @brief Opens <dir>/model.safetensors, or says clearly what is there instead.
inline hf::SafetensorsFile open_weights(const std::filesystem::path& dir) {
  const auto path = dir / "model.safetensors";
  if (!std::filesystem::exists(path)) {
    const bool has_bin = std::filesystem::exists(dir / "pytorch_model.bin");
    throw io_error(path, has_bin ? "not found; the directory has pytorch_model.bin, which ftlib cannot read "
                                   "(convert it to safetensors, e.g. save_pretrained(..., safe_serialization=True))"
                                 : "not found (expected a HuggingFace checkpoint directory)");
  }
  return hf::SafetensorsFile::open(path);
}

/// @brief Copies an activation matrix (row-major, N = B*T rows) to a float HostTensor of the given shape.
template <class S>
HostTensor to_host(const Matrix<S>& m, std::vector<std::int64_t> shape) {
  HostTensor t{std::move(shape), std::vector<float>(static_cast<std::size_t>(m.size()))};
  for (Eigen::Index i = 0; i < m.size(); ++i) t.data[static_cast<std::size_t>(i)] = static_cast<float>(m.data()[i]);
  return t;
}

/// @brief The architecture-independent part of an Eigen sequence classifier, used as a (non-virtual)
///        base: it owns the config, parameters, random streams, train/eval mode and last logits, and
///        offers the public members that do not depend on the architecture. A model adds its layers,
///        run_forward and run_backward, and calls load_weights / save_as / loss_and_gradient / output_of.
template <class S, class Config>
class ClassifierShell {
 public:
  /// @brief Dropout on (training) or off (evaluation).
  void set_training(bool training) noexcept { training_ = training; }
  /// @brief Whether dropout is on.
  [[nodiscard]] bool is_training() const noexcept { return training_; }
  /// @brief Restarts the dropout mask stream from `seed` (the same seed gives the same masks).
  void reseed_dropout(std::uint64_t seed) { dropout_rng_ = DropoutRng(dropout_seed(seed)); }
  /// @brief Seeds the dropout masks like reseed_dropout (the Trainer calls it with args.seed at the start of a fresh fit).
  void set_seed(std::uint64_t seed) { reseed_dropout(seed); }
  /// @brief The dropout stream's position; the Trainer stores it in checkpoints so a resumed run draws the same masks.
  [[nodiscard]] std::uint64_t rng_state() const noexcept { return dropout_rng_.state(); }
  /// @brief Continues the dropout stream from a position returned by rng_state().
  void set_rng_state(std::uint64_t state) noexcept { dropout_rng_.set_state(state); }

  /// @brief Sets every gradient to zero.
  void zero_grad() { store_.zero_grad(); }
  /// @brief Clips the global L2 norm of the gradients to max_norm (torch's rule); returns the norm before.
  double clip_grad_norm(double max_norm) { return store_.clip_grad_norm(max_norm); }
  /// @brief Every parameter (value and gradient handles) under its HF name; a fixed table (DistilBERT's
  ///        sinusoidal position embeddings) has has_grad = false.
  [[nodiscard]] std::vector<ParameterRef<BasicTensor<S>>> parameters() const { return store_.refs(); }
  /// @brief Number of classes.
  [[nodiscard]] std::int64_t num_labels() const noexcept { return config_.num_labels(); }
  /// @brief The config (labels included).
  [[nodiscard]] const Config& config() const noexcept { return config_; }
  /// @brief What from_pretrained loaded, and the missing/unexpected/mismatched names (hf::format_load_report
  ///        prints transformers' warnings); empty for a fresh model.
  [[nodiscard]] const hf::LoadReport& load_report() const noexcept { return report_; }
  /// @brief The named parameters.
  [[nodiscard]] const ParameterStore<S>& parameter_store() const noexcept { return store_; }

 protected:
  ClassifierShell(Config config, std::uint64_t seed)
      : config_(std::move(config)), rng_(seed), dropout_rng_(dropout_seed(seed)) {
    config_.validate();
  }
  ClassifierShell(ClassifierShell&&) noexcept = default;
  ClassifierShell& operator=(ClassifierShell&&) noexcept = default;
  // Copies would share weight storage (tensors are handles): not offered.
  ClassifierShell(const ClassifierShell&) = delete;
  ClassifierShell& operator=(const ClassifierShell&) = delete;
  ~ClassifierShell() = default;

  // The dropout stream is decorrelated from the init stream that uses the same seed.
  static constexpr std::uint64_t dropout_seed(std::uint64_t seed) noexcept { return seed ^ 0x5DEECE66DULL; }

  /// @brief from_pretrained's common part, once every parameter is registered: loads <dir>/model.safetensors,
  ///        initialises what is missing or mismatched as a fresh model would, and switches to eval mode.
  void load_weights(const std::filesystem::path& dir, const PretrainedOptions& options) {
    const auto file = open_weights(dir);
    report_ = hf::plan_classifier_load(config_, file, options.ignore_mismatched_sizes);
    store_.load(file, report_);
    auto fresh = report_.missing_keys;
    for (const auto& m : report_.mismatched) fresh.push_back(m.name);
    if (!fresh.empty()) store_.initialize(rng_, config_.arch.initializer_range, fresh);
    training_ = false;  // transformers' from_pretrained returns the model in eval mode
  }

  /// @brief save_pretrained's body: config.json naming `architecture`, and model.safetensors (F32).
  void save_as(const std::filesystem::path& dir, std::string_view architecture) const {
    Config config = config_;
    config.architectures = {std::string(architecture)};
    if (config.labels.problem_type.empty()) config.labels.problem_type = "single_label_classification";
    save_checkpoint(dir, config, store_.state_dict());
  }

  /// @brief Mean cross-entropy of the last logits; d_logits receives scale * d(loss)/d(logits).
  double loss_and_gradient(const Batch& batch, double scale, Matrix<S>& d_logits) const {
    d_logits.resize(logits_.rows(), logits_.cols());
    return CrossEntropy<S>::forward_backward(logits_, batch.labels, scale, d_logits);
  }

  /// @brief The last logits on the host, and their loss when the batch has labels.
  [[nodiscard]] ForwardOutput output_of(const Batch& batch) const {
    ForwardOutput out;
    out.logits = to_host(logits_, {logits_.rows(), logits_.cols()});
    if (batch.has_labels()) {
      Matrix<S> none;
      out.loss = CrossEntropy<S>::forward_backward(logits_, batch.labels, 1.0, none);
      out.has_loss = true;
    }
    return out;
  }

  Config config_;
  std::mt19937_64 rng_;     // weight init
  DropoutRng dropout_rng_;  // dropout masks
  bool training_ = true;
  ParameterStore<S> store_;
  hf::LoadReport report_;
  Matrix<S> logits_;  // of the last forward
};

}  // namespace detail
}  // namespace ftlib::eigen
