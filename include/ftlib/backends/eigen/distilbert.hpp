#pragma once
// DistilBertForSequenceClassification on the Eigen backend, with HuggingFace parameter names.
//
//   e = dropout(LayerNorm(word_embeddings[ids] + position_embeddings[0..T-1]))
//   h = transformer.layer[n_layers-1](... transformer.layer[0](e))        (see encoder.hpp)
//   logits = classifier(dropout(relu(pre_classifier(h[:, 0]))));  loss = mean cross-entropy

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ftlib/backends/eigen/encoder.hpp"
#include "ftlib/backends/eigen/layers.hpp"
#include "ftlib/backends/eigen/parameters.hpp"
#include "ftlib/backends/eigen/tensor.hpp"
#include "ftlib/batch.hpp"
#include "ftlib/error.hpp"
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

}  // namespace detail

/// @brief DistilBertForSequenceClassification (transformers semantics) with hand-written backward.
///        S = float for training; S = double gives a sharp reference for gradient checks.
template <class S>
class BasicDistilBertForSequenceClassification {
 public:
  using Tensor = BasicTensor<S>;                ///< the tensor type AdamW walks
  using Config = hf::DistilBertModelConfig;     ///< config.json

  /// @brief A freshly initialised model (transformers' init: N(0, initializer_range), zero biases,
  ///        LayerNorm 1/0, zero padding row, sinusoidal table when configured).
  explicit BasicDistilBertForSequenceClassification(Config config, std::uint64_t seed = 42)
      : BasicDistilBertForSequenceClassification(std::move(config), seed, true) {}

  BasicDistilBertForSequenceClassification(BasicDistilBertForSequenceClassification&&) noexcept = default;
  BasicDistilBertForSequenceClassification& operator=(BasicDistilBertForSequenceClassification&&) noexcept = default;
  // Copies would share weight storage (tensors are handles): not offered.
  BasicDistilBertForSequenceClassification(const BasicDistilBertForSequenceClassification&) = delete;
  BasicDistilBertForSequenceClassification& operator=(const BasicDistilBertForSequenceClassification&) = delete;


  /// @brief Loads <dir>/config.json and <dir>/model.safetensors (F32/F16/BF16). A checkpoint without the
  ///        classifier (DistilBertForMaskedLM, DistilBertModel) keeps its encoder; the head is initialised as
  ///        transformers does and load_report() lists the missing and unused names.
  ///        Like transformers, the model comes back in eval mode (dropout off): call set_training(true) to train.
  [[nodiscard]] static BasicDistilBertForSequenceClassification from_pretrained(const std::filesystem::path& dir,
                                                                                const PretrainedOptions& options = {}) {
    Config config = Config::load(dir / "config.json");
    detail::apply_label_options(config, options);
    if (options.dropout) {
      config.arch.dropout = config.arch.attention_dropout = config.arch.seq_classif_dropout = *options.dropout;
    }
    BasicDistilBertForSequenceClassification model(std::move(config), options.seed, false);
    const auto file = detail::open_weights(dir);
    model.report_ = hf::plan_classifier_load(model.config_, file, options.ignore_mismatched_sizes);
    model.store_.load(file, model.report_);
    auto fresh = model.report_.missing_keys;
    for (const auto& m : model.report_.mismatched) fresh.push_back(m.name);
    if (!fresh.empty()) model.store_.initialize(model.rng_, model.config_.arch.initializer_range, fresh);
    model.training_ = false;  // transformers' from_pretrained returns the model in eval mode
    return model;
  }

  /// @brief Writes config.json (architectures, id2label/label2id) and model.safetensors (F32) into dir.
  void save_pretrained(const std::filesystem::path& dir) const {
    Config config = config_;
    config.architectures = {std::string(hf::DistilBertConfig::classifier_architecture)};
    if (config.labels.problem_type.empty()) config.labels.problem_type = "single_label_classification";
    detail::save_checkpoint(dir, config, store_.state_dict());
  }

  /// @brief Dropout on (training) or off (evaluation).
  void set_training(bool training) noexcept { training_ = training; }
  /// @brief Whether dropout is on.
  [[nodiscard]] bool is_training() const noexcept { return training_; }
  /// @brief Restarts the dropout mask stream from `seed` (the same seed gives the same masks).
  void reseed_dropout(std::uint64_t seed) { dropout_rng_ = DropoutRng(seed ^ 0x5DEECE66DULL); }
  /// @brief Seeds the dropout masks like reseed_dropout (the Trainer calls it with args.seed at the start of a fresh fit).
  void set_seed(std::uint64_t seed) { reseed_dropout(seed); }
  /// @brief The dropout stream's position; the Trainer stores it in checkpoints so a resumed run draws the same masks.
  [[nodiscard]] std::uint64_t rng_state() const noexcept { return dropout_rng_.state(); }
  /// @brief Continues the dropout stream from a position returned by rng_state().
  void set_rng_state(std::uint64_t state) noexcept { dropout_rng_.set_state(state); }

  /// @brief Forward in the current mode, mean cross-entropy, then accumulates scale * d(loss)/d(param).
  ///        Returns the unscaled loss.
  double forward_backward(const Batch& batch, double scale = 1.0) {
    detail::check_batch(batch, config_.arch.max_position_embeddings, true);
    run_forward(batch);
    Matrix<S> d_logits(logits_.rows(), logits_.cols());
    const double loss = CrossEntropy<S>::forward_backward(logits_, batch.labels, scale, d_logits);
    run_backward(d_logits);
    return loss;
  }

  /// @brief Logits (and the loss when the batch has labels), no gradients.
  [[nodiscard]] ForwardOutput forward(const Batch& batch) {
    detail::check_batch(batch, config_.arch.max_position_embeddings, false);
    run_forward(batch);
    ForwardOutput out;
    out.logits = HostTensor{{logits_.rows(), logits_.cols()}, std::vector<float>(static_cast<std::size_t>(logits_.size()))};
    for (Eigen::Index i = 0; i < logits_.size(); ++i) out.logits.data[static_cast<std::size_t>(i)] = static_cast<float>(logits_.data()[i]);
    if (batch.has_labels()) {
      Matrix<S> none;
      out.loss = CrossEntropy<S>::forward_backward(logits_, batch.labels, 1.0, none);
      out.has_loss = true;
    }
    return out;
  }

  /// @brief Sets every gradient to zero.
  void zero_grad() { store_.zero_grad(); }
  /// @brief Clips the global L2 norm of the gradients to max_norm (torch's rule); returns the norm before.
  double clip_grad_norm(double max_norm) { return store_.clip_grad_norm(max_norm); }
  /// @brief Every parameter (value and gradient handles) under its HF name; the fixed sinusoidal table has
  ///        has_grad = false.
  [[nodiscard]] std::vector<ParameterRef<Tensor>> parameters() const { return store_.refs(); }
  /// @brief Number of classes.
  [[nodiscard]] std::int64_t num_labels() const noexcept { return config_.num_labels(); }
  /// @brief The config (labels included).
  [[nodiscard]] const Config& config() const noexcept { return config_; }
  /// @brief What from_pretrained loaded, and the missing/unexpected/mismatched names (hf::format_load_report
  ///        prints transformers' warnings); empty for a fresh model.
  [[nodiscard]] const hf::LoadReport& load_report() const noexcept { return report_; }
  /// @brief The named parameters.
  [[nodiscard]] const ParameterStore<S>& parameter_store() const noexcept { return store_; }

  /// @brief Intermediates of the last forward, named like the fixtures' `hidden.*`: "embeddings",
  ///        "layer.<k>", "pooled", plus "last_hidden_state" [B, T, dim].
  [[nodiscard]] std::map<std::string, HostTensor> hidden_states() const {
    std::map<std::string, HostTensor> out;
    const auto host = [&](const Matrix<S>& m, std::vector<std::int64_t> shape) {
      HostTensor t{std::move(shape), std::vector<float>(static_cast<std::size_t>(m.size()))};
      for (Eigen::Index i = 0; i < m.size(); ++i) t.data[static_cast<std::size_t>(i)] = static_cast<float>(m.data()[i]);
      return t;
    };
    const std::int64_t b = shape_.batch, t = shape_.seq_len, d = config_.arch.dim;
    if (hidden_.empty()) return out;
    out["embeddings"] = host(hidden_[0], {b, t, d});
    for (std::size_t k = 1; k < hidden_.size(); ++k) out["layer." + std::to_string(k - 1)] = host(hidden_[k], {b, t, d});
    out["last_hidden_state"] = host(hidden_.back(), {b, t, d});
    out["pooled"] = host(head_cache_.pooled, {b, head_cache_.pooled.cols()});
    return out;
  }

 private:
  BasicDistilBertForSequenceClassification(Config config, std::uint64_t seed, bool initialize)
      : config_(std::move(config)), rng_(seed), dropout_rng_(seed ^ 0x5DEECE66DULL) {
    config_.validate();
    const auto& a = config_.arch;
    settings_.heads = a.n_heads;
    settings_.layer_norm_eps = hf::DistilBertConfig::layer_norm_eps;
    settings_.activation = detail::to_activation(a.activation_kind());
    settings_.attention_probs_dropout = a.attention_dropout;
    settings_.attention_output_dropout = 0.0;  // DistilBERT adds out_lin(attn) to x without dropout
    settings_.ffn_output_dropout = a.dropout;

    word_embeddings_ = store_.add("distilbert.embeddings.word_embeddings.weight", {a.vocab_size, a.dim},
                                  ParamInit::normal, a.pad_token_id);
    position_embeddings_ = store_.add("distilbert.embeddings.position_embeddings.weight",
                                      {a.max_position_embeddings, a.dim},
                                      a.sinusoidal_pos_embds ? ParamInit::fixed : ParamInit::normal);
    embedding_norm_ = store_.add_layer_norm("distilbert.embeddings.LayerNorm", a.dim);
    for (std::int64_t i = 0; i < a.n_layers; ++i) {
      const std::string prefix = "distilbert.transformer.layer." + std::to_string(i) + ".";
      EncoderLayerParams<S> l;
      l.query = store_.add_linear(prefix + "attention.q_lin", a.dim, a.dim);
      l.key = store_.add_linear(prefix + "attention.k_lin", a.dim, a.dim);
      l.value = store_.add_linear(prefix + "attention.v_lin", a.dim, a.dim);
      l.output = store_.add_linear(prefix + "attention.out_lin", a.dim, a.dim);
      l.attention_norm = store_.add_layer_norm(prefix + "sa_layer_norm", a.dim);
      l.ffn_in = store_.add_linear(prefix + "ffn.lin1", a.dim, a.hidden_dim);
      l.ffn_out = store_.add_linear(prefix + "ffn.lin2", a.hidden_dim, a.dim);
      l.output_norm = store_.add_layer_norm(prefix + "output_layer_norm", a.dim);
      layers_.push_back(l);
    }
    head_.dense = store_.add_linear("pre_classifier", a.dim, a.dim);
    head_.classifier = store_.add_linear("classifier", a.dim, config_.num_labels());

    if (a.sinusoidal_pos_embds)
      position_embeddings_.value.matrix() = PositionEmbedding<S>::sinusoidal_table(a.max_position_embeddings, a.dim);
    if (initialize) store_.initialize(rng_, a.initializer_range);
  }

  void run_forward(const Batch& batch) {
    detail::use_own_threading();
    const auto& a = config_.arch;
    const std::int64_t n = batch.batch_size * batch.seq_len;
    Embedding<S>::check_ids(batch.input_ids, a.vocab_size, "distilbert.embeddings.word_embeddings (input_ids)");
    shape_.batch = batch.batch_size;
    shape_.seq_len = batch.seq_len;
    shape_.key_bias = SelfAttention<S>::key_bias(detail::attention_mask_of(batch));
    input_ids_ = batch.input_ids;
    hidden_.resize(layers_.size() + 1);
    caches_.resize(layers_.size());

    // embeddings: LayerNorm(word + position), then dropout
    Matrix<S>& e = hidden_[0];
    scratch_.sum.resize(n, a.dim);
    e.resize(n, a.dim);
    Embedding<S>::forward(batch.input_ids, word_embeddings_.value.matrix(), scratch_.sum);
    PositionEmbedding<S>::forward_add(position_embeddings_.value.matrix(), shape_.batch, shape_.seq_len, scratch_.sum);
    LayerNorm<S>::forward(scratch_.sum, embedding_norm_.weight.value.vector(), embedding_norm_.bias.value.vector(),
                          settings_.layer_norm_eps, e, embedding_norm_cache_);
    EncoderLayer<S>::apply_dropout(a.dropout, training_, dropout_rng_, e, embedding_dropout_mask_);

    for (std::size_t i = 0; i < layers_.size(); ++i) {
      hidden_[i + 1].resize(n, a.dim);
      EncoderLayer<S>::forward(layers_[i], settings_, shape_, hidden_[i], training_, dropout_rng_, caches_[i], scratch_,
                               hidden_[i + 1]);
    }
    ClassificationHead<S>::forward(head_, Activation::relu, a.seq_classif_dropout, shape_, hidden_.back(), training_,
                                   dropout_rng_, head_cache_, logits_);
  }

  void run_backward(const Matrix<S>& d_logits) {
    const std::int64_t n = shape_.batch * shape_.seq_len;
    d_hidden_.resize(n, config_.arch.dim);
    d_hidden_next_.resize(n, config_.arch.dim);
    ClassificationHead<S>::backward(head_, Activation::relu, shape_, head_cache_, d_logits, d_hidden_);
    for (std::size_t i = layers_.size(); i-- > 0;) {
      EncoderLayer<S>::backward(layers_[i], settings_, shape_, hidden_[i], caches_[i], d_hidden_, scratch_,
                                d_hidden_next_);
      std::swap(d_hidden_, d_hidden_next_);
    }
    // e = dropout(LN(word[ids] + pos)): de through dropout and LN, then scatter-add into the tables
    if (embedding_dropout_mask_.size() != 0) Dropout<S>::backward(d_hidden_, embedding_dropout_mask_);
    scratch_.d_sum.resize(n, config_.arch.dim);
    LayerNorm<S>::backward(embedding_norm_cache_, embedding_norm_.weight.value.vector(), d_hidden_, scratch_.d_sum,
                           embedding_norm_.weight.grad.vector(), embedding_norm_.bias.grad.vector());
    Embedding<S>::backward(input_ids_, scratch_.d_sum, word_embeddings_.grad.matrix(), config_.arch.pad_token_id);
    if (position_embeddings_.trainable)
      PositionEmbedding<S>::backward(scratch_.d_sum, shape_.batch, shape_.seq_len, position_embeddings_.grad.matrix());
  }

  Config config_;
  std::mt19937_64 rng_;
  DropoutRng dropout_rng_;
  bool training_ = true;
  EncoderLayerSettings settings_;
  ParameterStore<S> store_;
  Param<S> word_embeddings_, position_embeddings_;
  LayerNormParams<S> embedding_norm_;
  std::vector<EncoderLayerParams<S>> layers_;
  ClassificationHeadParams<S> head_;
  hf::LoadReport report_;

  // activations of the last forward (kept for backward; reused across steps)
  BatchShape<S> shape_;
  std::vector<std::int64_t> input_ids_;
  typename LayerNorm<S>::Cache embedding_norm_cache_;
  Matrix<S> embedding_dropout_mask_;
  std::vector<Matrix<S>> hidden_;  // hidden_[0] = embeddings, hidden_[i+1] = output of layer i
  std::vector<EncoderLayerCache<S>> caches_;
  ClassificationHeadCache<S> head_cache_;
  Matrix<S> logits_;
  EncoderScratch<S> scratch_;
  Matrix<S> d_hidden_, d_hidden_next_;
};

/// @brief The float32 model the Trainer uses.
using DistilBertForSequenceClassification = BasicDistilBertForSequenceClassification<float>;

}  // namespace ftlib::eigen
