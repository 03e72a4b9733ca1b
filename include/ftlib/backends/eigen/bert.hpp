#pragma once
// BertForSequenceClassification on the Eigen backend, with HuggingFace parameter names.
//
//   e = dropout(LayerNorm(word_embeddings[ids] + token_type_embeddings[types] + position_embeddings[0..T-1]))
//   h = encoder.layer[num_hidden_layers-1](... encoder.layer[0](e))   (see encoder.hpp: BertLayer has
//       dropout on both residual branches, attention.output and output)
//   logits = classifier(dropout(tanh(pooler.dense(h[:, 0]))));  loss = mean cross-entropy
//   (the head's dropout is classifier_dropout, else hidden_dropout_prob)

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ftlib/arch/bert.hpp"
#include "ftlib/backends/eigen/classifier.hpp"
#include "ftlib/backends/eigen/encoder.hpp"
#include "ftlib/backends/eigen/layers.hpp"
#include "ftlib/backends/eigen/parameters.hpp"
#include "ftlib/backends/eigen/tensor.hpp"
#include "ftlib/core/batch.hpp"
#include "ftlib/core/host_tensor.hpp"

namespace ftlib::eigen {

/// @brief BertForSequenceClassification (transformers semantics) with hand-written backward.
///        S = float for training; S = double gives a sharp reference for gradient checks.
///        The members that do not depend on the architecture come from detail::ClassifierShell.
template <class S>
class BasicSequenceClassifier<arch::BertConfig, S>
    : public detail::ClassifierShell<BasicSequenceClassifier<arch::BertConfig, S>, S, arch::BertConfig> {
  using Shell = detail::ClassifierShell<BasicSequenceClassifier, S, arch::BertConfig>;
  friend Shell;

 public:
  using typename Shell::Config;

  /// @brief A freshly initialised model (transformers' init: N(0, initializer_range), zero biases,
  ///        LayerNorm 1/0, zero padding row), with `options`' label and dropout overrides applied.
  explicit BasicSequenceClassifier(Config config, const ModelOptions& options = {})
      : BasicSequenceClassifier(Shell::configured(std::move(config), options), options.seed, detail::Construction::fresh) {
    this->use_run_options(options);
  }

  /// @brief Intermediates of the last forward, named like the fixtures' `hidden.*`: "embeddings",
  ///        "layer.<k>", "pooled", plus "last_hidden_state" [B, T, hidden] and "pooler_output" [B, hidden].
  [[nodiscard]] std::map<std::string, HostTensor> hidden_states() const {
    using detail::to_host;
    using detail::to_host_padded;
    std::map<std::string, HostTensor> out;
    if (hidden_.empty()) return out;
    const auto& layout = shape_.layout;
    const std::int64_t h = config_.arch.hidden_size;
    out["embeddings"] = to_host_padded(hidden_[0], layout, h);
    for (std::size_t k = 1; k < hidden_.size(); ++k) out["layer." + std::to_string(k - 1)] = to_host_padded(hidden_[k], layout, h);
    out["last_hidden_state"] = to_host_padded(hidden_.back(), layout, h);
    out["pooled"] = to_host(head_cache_.pooled, {layout.batch_size, h});
    out["pooler_output"] = out["pooled"];
    return out;
  }

 private:
  BasicSequenceClassifier(Config config, std::uint64_t seed, detail::Construction construction)
      : Shell(std::move(config), seed, construction) {
    const auto& a = config_.arch;
    const std::int64_t h = a.hidden_size;
    settings_.heads = a.num_attention_heads;
    settings_.layer_norm_eps = a.layer_norm_eps;
    settings_.activation = a.activation_kind();
    settings_.attention_probs_dropout = a.attention_probs_dropout_prob;
    settings_.attention_output_dropout = a.hidden_dropout_prob;  // BertSelfOutput's dropout
    settings_.ffn_output_dropout = a.hidden_dropout_prob;        // BertOutput's dropout

    embedding_params_.word = store_.add("bert.embeddings.word_embeddings.weight", {a.vocab_size, h}, ParamInit::normal, a.pad_token_id);
    embedding_params_.position = store_.add("bert.embeddings.position_embeddings.weight", {a.max_position_embeddings, h}, ParamInit::normal);
    embedding_params_.token_type = store_.add("bert.embeddings.token_type_embeddings.weight", {a.type_vocab_size, h}, ParamInit::normal);
    embedding_params_.has_token_types = true;
    embedding_params_.norm = store_.add_layer_norm("bert.embeddings.LayerNorm", h);
    for (std::int64_t i = 0; i < a.num_hidden_layers; ++i) {
      const std::string prefix = "bert.encoder.layer." + std::to_string(i) + ".";
      EncoderLayerParams<S> l;
      l.query = store_.add_linear(prefix + "attention.self.query", h, h);
      l.key = store_.add_linear(prefix + "attention.self.key", h, h);
      l.value = store_.add_linear(prefix + "attention.self.value", h, h);
      l.output = store_.add_linear(prefix + "attention.output.dense", h, h);
      l.attention_norm = store_.add_layer_norm(prefix + "attention.output.LayerNorm", h);
      l.ffn_in = store_.add_linear(prefix + "intermediate.dense", h, a.intermediate_size);
      l.ffn_out = store_.add_linear(prefix + "output.dense", a.intermediate_size, h);
      l.output_norm = store_.add_layer_norm(prefix + "output.LayerNorm", h);
      layers_.push_back(l);
    }
    head_.dense = store_.add_linear("bert.pooler.dense", h, h);
    head_.classifier = store_.add_linear("classifier", h, config_.num_labels());
    this->finish_construction(construction);
  }

  void run_forward(const Batch& batch) {
    detail::use_own_threading();
    const auto& a = config_.arch;
    shape_ = BatchShape<S>::of(batch, this->unpadded());
    const std::int64_t n = shape_.rows();
    hidden_.resize(layers_.size() + 1);
    caches_.resize(layers_.size());
    Embeddings<S>::forward(embedding_params_, batch, shape_, settings_.layer_norm_eps, a.hidden_dropout_prob, training_, dropout_rng_,
                           "bert.embeddings", embedding_cache_, scratch_, hidden_[0]);
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      hidden_[i + 1].resize(n, a.hidden_size);
      EncoderLayer<S>::forward(layers_[i], settings_, shape_, hidden_[i], training_, dropout_rng_, caches_[i], scratch_,
                               hidden_[i + 1]);
    }
    ClassificationHead<S>::forward(head_, Activation::tanh, a.classifier_dropout_or_hidden(), shape_, hidden_.back(),
                                   training_, dropout_rng_, head_cache_, logits_);
  }

  void run_backward(const Matrix<S>& d_logits) {
    const auto& a = config_.arch;
    const std::int64_t n = shape_.rows();
    d_hidden_.resize(n, a.hidden_size);
    d_hidden_next_.resize(n, a.hidden_size);
    ClassificationHead<S>::backward(head_, Activation::tanh, shape_, head_cache_, d_logits, d_hidden_);
    for (std::size_t i = layers_.size(); i-- > 0;) {
      EncoderLayer<S>::backward(layers_[i], settings_, shape_, hidden_[i], caches_[i], d_hidden_, scratch_,
                                d_hidden_next_);
      std::swap(d_hidden_, d_hidden_next_);
    }
    Embeddings<S>::backward(embedding_params_, embedding_cache_, shape_, a.pad_token_id, d_hidden_, scratch_);
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

/// @brief BERT at scalar type S.
template <class S>
using BasicBertForSequenceClassification = BasicSequenceClassifier<arch::BertConfig, S>;
/// @brief The float32 BERT classifier the Trainer uses.
using BertForSequenceClassification = SequenceClassifier<arch::BertConfig>;

}  // namespace ftlib::eigen
