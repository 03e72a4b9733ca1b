#pragma once
// DistilBertForSequenceClassification on the Eigen backend, with HuggingFace parameter names.
//
//   e = dropout(LayerNorm(word_embeddings[ids] + position_embeddings[0..T-1]))
//   h = transformer.layer[n_layers-1](... transformer.layer[0](e))        (see encoder.hpp)
//   logits = classifier(dropout(relu(pre_classifier(h[:, 0]))));  loss = mean cross-entropy

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ftlib/arch/distilbert.hpp"
#include "ftlib/backends/eigen/classifier.hpp"
#include "ftlib/backends/eigen/encoder.hpp"
#include "ftlib/backends/eigen/layers.hpp"
#include "ftlib/backends/eigen/parameters.hpp"
#include "ftlib/backends/eigen/tensor.hpp"
#include "ftlib/core/batch.hpp"
#include "ftlib/core/host_tensor.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/hf/checkpoint.hpp"
#include "ftlib/models/model_concept.hpp"

namespace ftlib::eigen {

/// @brief DistilBertForSequenceClassification (transformers semantics) with hand-written backward.
///        S = float for training; S = double gives a sharp reference for gradient checks.
///        The members that do not depend on the architecture (from_pretrained, from_config, forward,
///        forward_backward, set_training, zero_grad, clip_grad_norm, parameters, save_pretrained, config,
///        load_report, ...) come from detail::ClassifierShell (classifier.hpp).
template <class S>
class BasicSequenceClassifier<arch::DistilBertConfig, S>
    : public detail::ClassifierShell<BasicSequenceClassifier<arch::DistilBertConfig, S>, S, arch::DistilBertConfig> {
  using Shell = detail::ClassifierShell<BasicSequenceClassifier, S, arch::DistilBertConfig>;
  friend Shell;

 public:
  using typename Shell::Config;

  /// @brief A freshly initialised model (transformers' init: N(0, initializer_range), zero biases,
  ///        LayerNorm 1/0, zero padding row, sinusoidal table when configured), with `options`' label and
  ///        dropout overrides applied to `config`.
  explicit BasicSequenceClassifier(Config config, const ModelOptions& options = {})
      : BasicSequenceClassifier(Shell::configured(std::move(config), options), options.seed, detail::Construction::fresh) {
    this->use_run_options(options);
  }

  /// @brief Intermediates of the last forward, named like the fixtures' `hidden.*`: "embeddings",
  ///        "layer.<k>", "pooled", plus "last_hidden_state" [B, T, dim].
  [[nodiscard]] std::map<std::string, HostTensor> hidden_states() const {
    using detail::to_host;
    using detail::to_host_padded;
    std::map<std::string, HostTensor> out;
    if (hidden_.empty()) return out;
    const auto& layout = shape_.layout;
    const std::int64_t d = config_.arch.dim;
    out["embeddings"] = to_host_padded(hidden_[0], layout, d);
    for (std::size_t k = 1; k < hidden_.size(); ++k) out["layer." + std::to_string(k - 1)] = to_host_padded(hidden_[k], layout, d);
    out["last_hidden_state"] = to_host_padded(hidden_.back(), layout, d);
    out["pooled"] = to_host(head_cache_.pooled, {layout.batch_size, head_cache_.pooled.cols()});
    return out;
  }

 private:
  BasicSequenceClassifier(Config config, std::uint64_t seed, detail::Construction construction)
      : Shell(std::move(config), seed, construction) {
    const auto& a = config_.arch;
    settings_.heads = a.n_heads;
    settings_.layer_norm_eps = arch::DistilBertConfig::layer_norm_eps;
    settings_.activation = a.activation_kind();
    settings_.attention_probs_dropout = a.attention_dropout;
    settings_.attention_output_dropout = 0.0;  // DistilBERT adds out_lin(attn) to x without dropout
    settings_.ffn_output_dropout = a.dropout;

    embedding_params_.word = store_.add("distilbert.embeddings.word_embeddings.weight", {a.vocab_size, a.dim},
                                        ParamInit::normal, a.pad_token_id);
    embedding_params_.position = store_.add("distilbert.embeddings.position_embeddings.weight",
                                            {a.max_position_embeddings, a.dim},
                                            a.sinusoidal_pos_embds ? ParamInit::fixed : ParamInit::normal);
    embedding_params_.norm = store_.add_layer_norm("distilbert.embeddings.LayerNorm", a.dim);
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

    if (a.sinusoidal_pos_embds && store_.allocates())
      embedding_params_.position.value.matrix() = PositionEmbedding<S>::sinusoidal_table(a.max_position_embeddings, a.dim);
    this->finish_construction(construction);
  }

  void run_forward(const Batch& batch) {
    detail::use_own_threading();
    const auto& a = config_.arch;
    shape_ = BatchShape<S>::of(batch, this->unpadded());
    const std::int64_t n = shape_.rows();
    hidden_.resize(layers_.size() + 1);
    caches_.resize(layers_.size());
    // embeddings: LayerNorm(word + position), then dropout
    Embeddings<S>::forward(embedding_params_, batch, shape_, settings_.layer_norm_eps, a.dropout, training_, dropout_rng_,
                           "distilbert.embeddings", embedding_cache_, scratch_, hidden_[0]);

    for (std::size_t i = 0; i < layers_.size(); ++i) {
      hidden_[i + 1].resize(n, a.dim);
      EncoderLayer<S>::forward(layers_[i], settings_, shape_, hidden_[i], training_, dropout_rng_, caches_[i], scratch_,
                               hidden_[i + 1]);
    }
    ClassificationHead<S>::forward(head_, Activation::relu, a.seq_classif_dropout, shape_, hidden_.back(), training_,
                                   dropout_rng_, head_cache_, logits_);
  }

  void run_backward(const Matrix<S>& d_logits) {
    const std::int64_t n = shape_.rows();
    d_hidden_.resize(n, config_.arch.dim);
    d_hidden_next_.resize(n, config_.arch.dim);
    ClassificationHead<S>::backward(head_, Activation::relu, shape_, head_cache_, d_logits, d_hidden_);
    for (std::size_t i = layers_.size(); i-- > 0;) {
      EncoderLayer<S>::backward(layers_[i], settings_, shape_, hidden_[i], caches_[i], d_hidden_, scratch_,
                                d_hidden_next_);
      std::swap(d_hidden_, d_hidden_next_);
    }
    Embeddings<S>::backward(embedding_params_, embedding_cache_, shape_, config_.arch.pad_token_id,
                            d_hidden_, scratch_);
  }

  using Shell::config_, Shell::dropout_rng_, Shell::training_, Shell::store_, Shell::logits_;

  EncoderLayerSettings settings_;
  EmbeddingParams<S> embedding_params_;
  std::vector<EncoderLayerParams<S>> layers_;
  ClassificationHeadParams<S> head_;

  // activations of the last forward (kept for backward; reused across steps)
  BatchShape<S> shape_;
  EmbeddingCache<S> embedding_cache_;
  std::vector<Matrix<S>> hidden_;  // hidden_[0] = embeddings, hidden_[i+1] = output of layer i
  std::vector<EncoderLayerCache<S>> caches_;
  ClassificationHeadCache<S> head_cache_;
  EncoderScratch<S> scratch_;
  Matrix<S> d_hidden_, d_hidden_next_;
};

/// @brief DistilBERT at scalar type S.
template <class S>
using BasicDistilBertForSequenceClassification = BasicSequenceClassifier<arch::DistilBertConfig, S>;
/// @brief The float32 DistilBERT classifier the Trainer uses.
using DistilBertForSequenceClassification = SequenceClassifier<arch::DistilBertConfig>;

}  // namespace ftlib::eigen
