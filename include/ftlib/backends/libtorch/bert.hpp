#pragma once
// ftlib::libtorch::BertForSequenceClassification: HuggingFace's model of that name on LibTorch, as
// torch::nn modules whose named_parameters() are transformers' state_dict names. Everything that
// is not the architecture (loading, the training surface, precision) is SequenceClassifier<Arch>.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "ftlib/arch/bert.hpp"
#include "ftlib/backends/libtorch/layers.hpp"
#include "ftlib/backends/libtorch/sequence_classifier.hpp"

namespace ftlib::libtorch {

namespace detail {

/// @brief HF BertEmbeddings: word + position + token type, LayerNorm, dropout.
inline TokenEmbeddings make_embeddings(const arch::BertConfig& a) {
  return TokenEmbeddings(a.vocab_size, a.max_position_embeddings, a.type_vocab_size, a.hidden_size, a.pad_token_id,
                         a.layer_norm_eps, a.hidden_dropout_prob);
}

/// @brief HF BertSelfAttention: query, key, value.
struct BertSelfAttentionImpl : torch::nn::Module {
  explicit BertSelfAttentionImpl(const arch::BertConfig& a)
      : query(register_module("query", Linear(a.hidden_size, a.hidden_size))),
        key(register_module("key", Linear(a.hidden_size, a.hidden_size))),
        value(register_module("value", Linear(a.hidden_size, a.hidden_size))) {}
  Linear query, key, value;
};
TORCH_MODULE(BertSelfAttention);

/// @brief HF BertSelfOutput / BertOutput: LayerNorm(x + dropout(dense(h))).
struct BertResidualOutputImpl : torch::nn::Module {
  BertResidualOutputImpl(std::int64_t in, const arch::BertConfig& a)
      : dense(register_module("dense", Linear(in, a.hidden_size))),
        LayerNorm(register_module("LayerNorm", detail::LayerNorm(a.hidden_size, a.layer_norm_eps))),
        dropout(a.hidden_dropout_prob) {}
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& residual, bool training) {
    return LayerNorm->forward(residual + apply_dropout(dense->forward(h), dropout, training));
  }
  Linear dense;
  detail::LayerNorm LayerNorm;  // NOLINT: HF's name
  double dropout;
};
TORCH_MODULE(BertResidualOutput);

/// @brief HF BertAttention: self.*, output.*
struct BertAttentionImpl : torch::nn::Module {
  explicit BertAttentionImpl(const arch::BertConfig& a)
      : self(register_module("self", BertSelfAttention(a))),
        output(register_module("output", BertResidualOutput(a.hidden_size, a))),
        n_heads(a.num_attention_heads),
        probs_dropout(a.attention_probs_dropout_prob) {}
  torch::Tensor forward(const torch::Tensor& x, const AttentionContext& ctx) {
    const torch::Tensor context = self_attention(x, self->query, self->key, self->value, n_heads, probs_dropout, ctx);
    return output->forward(context, x, ctx.training);
  }
  BertSelfAttention self;
  BertResidualOutput output;
  std::int64_t n_heads;
  double probs_dropout;
};
TORCH_MODULE(BertAttention);

/// @brief HF BertIntermediate: dense then the activation.
struct BertIntermediateImpl : torch::nn::Module {
  explicit BertIntermediateImpl(const arch::BertConfig& a)
      : dense(register_module("dense", Linear(a.hidden_size, a.intermediate_size))), activation(a.activation_kind()) {}
  torch::Tensor forward(const torch::Tensor& x) { return activate(activation, dense->forward(x)); }
  Linear dense;
  Activation activation;
};
TORCH_MODULE(BertIntermediate);

/// @brief HF BertLayer: attention.*, intermediate.*, output.*
struct BertLayerImpl : torch::nn::Module {
  explicit BertLayerImpl(const arch::BertConfig& a)
      : attention(register_module("attention", BertAttention(a))),
        intermediate(register_module("intermediate", BertIntermediate(a))),
        output(register_module("output", BertResidualOutput(a.intermediate_size, a))) {}
  torch::Tensor forward(const torch::Tensor& x, const AttentionContext& ctx) {
    const torch::Tensor a = attention->forward(x, ctx);
    return output->forward(intermediate->forward(a), a, ctx.training);
  }
  BertAttention attention;
  BertIntermediate intermediate;
  BertResidualOutput output;
};
TORCH_MODULE(BertLayer);

/// @brief HF BertModel with its pooler: embeddings.*, encoder.layer.N.*, pooler.dense.*
struct BertModelImpl : torch::nn::Module {
  explicit BertModelImpl(const arch::BertConfig& a)
      : embeddings(register_module("embeddings", make_embeddings(a))),
        encoder(register_module("encoder", std::make_shared<torch::nn::Module>())),
        pooler(register_module("pooler", std::make_shared<torch::nn::Module>())) {
    layer = encoder->register_module("layer", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < a.num_hidden_layers; ++i) {
      layers.push_back(BertLayer(a));
      layer->push_back(layers.back());
    }
    pooler_dense = pooler->register_module("dense", Linear(a.hidden_size, a.hidden_size));
  }
  /// (last_hidden_state in the context's layout, pooler_output [B, H])
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids,
                                                  const AttentionContext& ctx) {
    torch::Tensor h = embeddings->forward(input_ids, token_type_ids, ctx);
    record(ctx, "embeddings", h);
    for (std::size_t i = 0; i < layers.size(); ++i) {
      h = layers[i]->forward(h, ctx);
      record(ctx, "layer." + std::to_string(i), h);
    }
    torch::Tensor pooled = at::tanh(pooler_dense->forward(first_tokens(h, ctx)));
    return {std::move(h), std::move(pooled)};
  }
  TokenEmbeddings embeddings;
  std::shared_ptr<torch::nn::Module> encoder;  // holds encoder.layer
  std::shared_ptr<torch::nn::Module> pooler;   // holds pooler.dense
  torch::nn::ModuleList layer{nullptr};
  std::vector<BertLayer> layers;  // typed views of `layer`'s entries
  Linear pooler_dense{nullptr};
};
TORCH_MODULE(BertModel);

/// @brief HF BertForSequenceClassification: bert.*, classifier.*
struct BertClassifierImpl : torch::nn::Module {
  BertClassifierImpl(const arch::BertConfig& a, std::int64_t num_labels)
      : bert(register_module("bert", BertModel(a))),
        classifier(register_module("classifier", Linear(a.hidden_size, num_labels))),
        head_dropout(a.classifier_dropout_or_hidden()) {}
  /// Encoder output: (last_hidden_state, pooler_output).
  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids,
                                                 const AttentionContext& ctx) {
    return bert->forward(input_ids, token_type_ids, ctx);
  }
  /// logits [B, num_labels]
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids, const AttentionContext& ctx) {
    const torch::Tensor pooled = bert->forward(input_ids, token_type_ids, ctx).second;
    if (ctx.trace != nullptr) (*ctx.trace)["pooled"] = pooled;
    return classifier->forward(apply_dropout(pooled, head_dropout, is_training()));
  }
  BertModel bert;
  Linear classifier;
  double head_dropout;
};
TORCH_MODULE(BertClassifier);

template <>
struct ArchitectureModule<arch::BertConfig> {
  using type = BertClassifier;
};

}  // namespace detail

/// @brief BERT encoder (learned absolute positions, token types, post-LN layers) + tanh pooler +
///        classifier; state_dict names are HF's (bert.encoder.layer.0.attention.self.query.weight,
///        bert.pooler.dense.weight, classifier.bias, ...). Satisfies ftlib::SequenceClassifier.
using BertForSequenceClassification = SequenceClassifier<arch::BertConfig>;

}  // namespace ftlib::libtorch
