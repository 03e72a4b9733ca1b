#pragma once
// AlbertForSequenceClassification on the Eigen backend, with HuggingFace parameter names.
//
//   e = dropout(LayerNorm(word_embeddings[ids] + token_type_embeddings[types] + position_embeddings[0..T-1]))
//   h = encoder.embedding_hidden_mapping_in(e)                    [embedding_size -> hidden_size]
//   for i in 0..num_hidden_layers-1: for every layer j of group g(i) = i / (num_hidden_layers / num_hidden_groups):
//       h = albert_layer_groups[g].albert_layers[j](h)             (see encoder.hpp; weights shared across i)
//   logits = classifier(dropout(tanh(pooler(h[:, 0]))));  loss = mean cross-entropy
// A shared layer is applied several times: each application keeps its own activations, and its
// backward adds into the same gradient, so shared gradients are summed over every application.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ftlib/arch/albert.hpp"
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

/// @brief AlbertForSequenceClassification (transformers semantics) with hand-written backward.
///        S = float for training; S = double gives a sharp reference for gradient checks.
///        The members that do not depend on the architecture (from_pretrained, from_config, forward,
///        forward_backward, set_training, zero_grad, clip_grad_norm, parameters, save_pretrained, config,
///        load_report, ...) come from detail::ClassifierShell (classifier.hpp).
template <class S>
class BasicSequenceClassifier<arch::AlbertConfig, S>
    : public detail::ClassifierShell<BasicSequenceClassifier<arch::AlbertConfig, S>, S, arch::AlbertConfig> {
  using Shell = detail::ClassifierShell<BasicSequenceClassifier, S, arch::AlbertConfig>;
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
  ///        "embedding_projection", "layer.<k>" (k-th layer application), "pooled", plus
  ///        "last_hidden_state" [B, T, hidden] and "pooler_output" [B, hidden].
  [[nodiscard]] std::map<std::string, HostTensor> hidden_states() const {
    using detail::to_host;
    using detail::to_host_padded;
    std::map<std::string, HostTensor> out;
    if (hidden_.empty()) return out;
    const auto& layout = shape_.layout;
    const std::int64_t h = config_.arch.hidden_size;
    out["embeddings"] = to_host_padded(embeddings_, layout, config_.arch.embedding_size);
    out["embedding_projection"] = to_host_padded(hidden_[0], layout, h);
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
    settings_.heads = a.num_attention_heads;
    settings_.layer_norm_eps = a.layer_norm_eps;
    settings_.activation = a.activation_kind();
    settings_.attention_probs_dropout = a.attention_probs_dropout_prob;
    settings_.attention_output_dropout = a.hidden_dropout_prob;
    settings_.ffn_output_dropout = 0.0;  // transformers defines this dropout and never applies it

    embedding_params_.word = store_.add("albert.embeddings.word_embeddings.weight", {a.vocab_size, a.embedding_size},
                                        ParamInit::normal, a.pad_token_id);
    embedding_params_.position = store_.add("albert.embeddings.position_embeddings.weight",
                                            {a.max_position_embeddings, a.embedding_size}, ParamInit::normal);
    embedding_params_.token_type = store_.add("albert.embeddings.token_type_embeddings.weight",
                                              {a.type_vocab_size, a.embedding_size}, ParamInit::normal);
    embedding_params_.has_token_types = true;
    embedding_params_.norm = store_.add_layer_norm("albert.embeddings.LayerNorm", a.embedding_size);
    projection_ = store_.add_linear("albert.encoder.embedding_hidden_mapping_in", a.embedding_size, a.hidden_size);
    groups_.resize(static_cast<std::size_t>(a.num_hidden_groups));
    for (std::int64_t g = 0; g < a.num_hidden_groups; ++g) {
      for (std::int64_t j = 0; j < a.inner_group_num; ++j) {
        const std::string prefix =
            "albert.encoder.albert_layer_groups." + std::to_string(g) + ".albert_layers." + std::to_string(j) + ".";
        const std::int64_t h = a.hidden_size;
        EncoderLayerParams<S> l;
        l.output_norm = store_.add_layer_norm(prefix + "full_layer_layer_norm", h);
        l.query = store_.add_linear(prefix + "attention.query", h, h);
        l.key = store_.add_linear(prefix + "attention.key", h, h);
        l.value = store_.add_linear(prefix + "attention.value", h, h);
        l.output = store_.add_linear(prefix + "attention.dense", h, h);
        l.attention_norm = store_.add_layer_norm(prefix + "attention.LayerNorm", h);
        l.ffn_in = store_.add_linear(prefix + "ffn", h, a.intermediate_size);
        l.ffn_out = store_.add_linear(prefix + "ffn_output", a.intermediate_size, h);
        groups_[static_cast<std::size_t>(g)].push_back(l);
      }
    }
    head_.dense = store_.add_linear("albert.pooler", a.hidden_size, a.hidden_size);
    head_.classifier = store_.add_linear("classifier", a.hidden_size, config_.num_labels());
    // the order of layer applications: (group, layer within group)
    for (std::int64_t i = 0; i < a.num_hidden_layers; ++i)
      for (std::int64_t j = 0; j < a.inner_group_num; ++j)
        schedule_.emplace_back(static_cast<std::size_t>(a.group_of_layer(i)), static_cast<std::size_t>(j));
    this->finish_construction(construction);
  }

  void run_forward(const Batch& batch) {
    detail::use_own_threading();
    const auto& a = config_.arch;
    shape_ = BatchShape<S>::of(batch, this->unpadded());
    const std::int64_t n = shape_.rows();
    hidden_.resize(schedule_.size() + 1);
    caches_.resize(schedule_.size());

    // embeddings: LayerNorm(word + token type + position), dropout, then the projection to hidden_size
    Embeddings<S>::forward(embedding_params_, batch, shape_, settings_.layer_norm_eps, a.hidden_dropout_prob, training_, dropout_rng_,
                           "albert.embeddings", embedding_cache_, scratch_, embeddings_);
    hidden_[0].resize(n, a.hidden_size);
    EncoderLayer<S>::linear(projection_, embeddings_, hidden_[0]);

    for (std::size_t k = 0; k < schedule_.size(); ++k) {
      const auto [g, j] = schedule_[k];
      hidden_[k + 1].resize(n, a.hidden_size);
      EncoderLayer<S>::forward(groups_[g][j], settings_, shape_, hidden_[k], training_, dropout_rng_, caches_[k],
                               scratch_, hidden_[k + 1]);
    }
    ClassificationHead<S>::forward(head_, Activation::tanh, a.classifier_dropout_prob, shape_, hidden_.back(),
                                   training_, dropout_rng_, head_cache_, logits_);
  }

  void run_backward(const Matrix<S>& d_logits) {
    const auto& a = config_.arch;
    const std::int64_t n = shape_.rows();
    d_hidden_.resize(n, a.hidden_size);
    d_hidden_next_.resize(n, a.hidden_size);
    ClassificationHead<S>::backward(head_, Activation::tanh, shape_, head_cache_, d_logits, d_hidden_);
    for (std::size_t k = schedule_.size(); k-- > 0;) {
      const auto [g, j] = schedule_[k];
      EncoderLayer<S>::backward(groups_[g][j], settings_, shape_, hidden_[k], caches_[k], d_hidden_, scratch_,
                                d_hidden_next_);
      std::swap(d_hidden_, d_hidden_next_);
    }
    // h = e W_map^T + b: de = dh W_map; then through dropout and LayerNorm into the three tables
    Matrix<S> d_embeddings(n, a.embedding_size);
    EncoderLayer<S>::linear_backward(projection_, embeddings_, d_hidden_, d_embeddings);
    Embeddings<S>::backward(embedding_params_, embedding_cache_, shape_, a.pad_token_id, d_embeddings, scratch_);
  }

  using Shell::config_, Shell::dropout_rng_, Shell::training_, Shell::store_, Shell::logits_;

  EncoderLayerSettings settings_;
  EmbeddingParams<S> embedding_params_;
  LinearParams<S> projection_;
  std::vector<std::vector<EncoderLayerParams<S>>> groups_;     // [group][layer within group]
  std::vector<std::pair<std::size_t, std::size_t>> schedule_;  // (group, layer) of each application
  ClassificationHeadParams<S> head_;

  // activations of the last forward (kept for backward; reused across steps)
  BatchShape<S> shape_;
  EmbeddingCache<S> embedding_cache_;
  Matrix<S> embeddings_;           // [N, embedding_size]
  std::vector<Matrix<S>> hidden_;  // hidden_[0] = projection, hidden_[k+1] = output of application k
  std::vector<EncoderLayerCache<S>> caches_;
  ClassificationHeadCache<S> head_cache_;
  EncoderScratch<S> scratch_;
  Matrix<S> d_hidden_, d_hidden_next_;
};

/// @brief ALBERT at scalar type S.
template <class S>
using BasicAlbertForSequenceClassification = BasicSequenceClassifier<arch::AlbertConfig, S>;
/// @brief The float32 ALBERT classifier the Trainer uses.
using AlbertForSequenceClassification = SequenceClassifier<arch::AlbertConfig>;

}  // namespace ftlib::eigen
