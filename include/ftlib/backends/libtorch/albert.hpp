#pragma once
// ftlib::libtorch::AlbertForSequenceClassification: HuggingFace's model of that name on LibTorch, as
// torch::nn modules whose named_parameters() are transformers' state_dict names. Everything that
// is not the architecture (loading, the training surface, precision) is SequenceClassifier<Arch>.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "ftlib/arch/albert.hpp"
#include "ftlib/backends/libtorch/layers.hpp"
#include "ftlib/backends/libtorch/sequence_classifier.hpp"

namespace ftlib::libtorch {

namespace detail {

/// @brief HF AlbertEmbeddings: word + position + token type, LayerNorm, dropout.
inline TokenEmbeddings make_embeddings(const arch::AlbertConfig& a) {
  return TokenEmbeddings(a.vocab_size, a.max_position_embeddings, a.type_vocab_size, a.embedding_size, a.pad_token_id,
                         a.layer_norm_eps, a.hidden_dropout_prob);
}

struct AlbertAttentionImpl : torch::nn::Module {
  explicit AlbertAttentionImpl(const arch::AlbertConfig& a)
      : query(register_module("query", Linear(a.hidden_size, a.hidden_size))),
        key(register_module("key", Linear(a.hidden_size, a.hidden_size))),
        value(register_module("value", Linear(a.hidden_size, a.hidden_size))),
        dense(register_module("dense", Linear(a.hidden_size, a.hidden_size))),
        LayerNorm(register_module("LayerNorm", detail::LayerNorm(a.hidden_size, a.layer_norm_eps))),
        n_heads(a.num_attention_heads),
        probs_dropout(a.attention_probs_dropout_prob),
        output_dropout(a.hidden_dropout_prob) {}
  torch::Tensor forward(const torch::Tensor& x, const AttentionContext& ctx) {
    const torch::Tensor context = self_attention(x, query, key, value, n_heads, probs_dropout, ctx);
    return LayerNorm->forward(x + apply_dropout(dense->forward(context), output_dropout, ctx.training));
  }
  Linear query, key, value, dense;
  detail::LayerNorm LayerNorm;  // NOLINT: HF's name
  std::int64_t n_heads;
  double probs_dropout;
  double output_dropout;
};
TORCH_MODULE(AlbertAttention);

struct AlbertLayerImpl : torch::nn::Module {
  explicit AlbertLayerImpl(const arch::AlbertConfig& a)
      : full_layer_layer_norm(register_module("full_layer_layer_norm", LayerNorm(a.hidden_size, a.layer_norm_eps))),
        attention(register_module("attention", AlbertAttention(a))),
        ffn(register_module("ffn", Linear(a.hidden_size, a.intermediate_size))),
        ffn_output(register_module("ffn_output", Linear(a.intermediate_size, a.hidden_size))),
        activation(a.activation_kind()) {}
  torch::Tensor forward(const torch::Tensor& x, const AttentionContext& ctx) {
    const torch::Tensor a = attention->forward(x, ctx);
    // transformers defines a dropout after the FFN and never applies it.
    return full_layer_layer_norm->forward(a + ffn_output->forward(activate(activation, ffn->forward(a))));
  }
  LayerNorm full_layer_layer_norm;
  AlbertAttention attention;
  Linear ffn, ffn_output;
  Activation activation;
};
TORCH_MODULE(AlbertLayer);

struct AlbertLayerGroupImpl : torch::nn::Module {
  explicit AlbertLayerGroupImpl(const arch::AlbertConfig& a)
      : albert_layers(register_module("albert_layers", torch::nn::ModuleList())) {
    for (std::int64_t i = 0; i < a.inner_group_num; ++i) {
      layers.push_back(AlbertLayer(a));
      albert_layers->push_back(layers.back());
    }
  }
  torch::nn::ModuleList albert_layers;
  std::vector<AlbertLayer> layers;  // typed views of albert_layers' entries
};
TORCH_MODULE(AlbertLayerGroup);

struct AlbertTransformerImpl : torch::nn::Module {
  explicit AlbertTransformerImpl(const arch::AlbertConfig& a)
      : embedding_hidden_mapping_in(register_module("embedding_hidden_mapping_in", Linear(a.embedding_size, a.hidden_size))),
        albert_layer_groups(register_module("albert_layer_groups", torch::nn::ModuleList())) {
    for (std::int64_t i = 0; i < a.num_hidden_groups; ++i) {
      groups.push_back(AlbertLayerGroup(a));
      albert_layer_groups->push_back(groups.back());
    }
    for (std::int64_t i = 0; i < a.num_hidden_layers; ++i) group_of_layer.push_back(static_cast<std::size_t>(a.group_of_layer(i)));
  }
  torch::Tensor forward(const torch::Tensor& embedded, const AttentionContext& ctx) {
    torch::Tensor h = embedding_hidden_mapping_in->forward(embedded);
    record(ctx, "embedding_projection", h);
    std::size_t applied = 0;
    for (const std::size_t group : group_of_layer) {
      // Groups share weights across applications; autograd sums their gradients.
      for (auto& layer : groups[group]->layers) {
        h = layer->forward(h, ctx);
        record(ctx, "layer." + std::to_string(applied), h);
        ++applied;
      }
    }
    return h;
  }
  Linear embedding_hidden_mapping_in;
  torch::nn::ModuleList albert_layer_groups;
  std::vector<AlbertLayerGroup> groups;    // typed views of albert_layer_groups' entries
  std::vector<std::size_t> group_of_layer;  // which group each of the num_hidden_layers applications runs
};
TORCH_MODULE(AlbertTransformer);

/// @brief HF AlbertModel with its pooler: embeddings.*, encoder.*, pooler.*
struct AlbertModelImpl : torch::nn::Module {
  explicit AlbertModelImpl(const arch::AlbertConfig& a)
      : embeddings(register_module("embeddings", make_embeddings(a))),
        encoder(register_module("encoder", AlbertTransformer(a))),
        pooler(register_module("pooler", Linear(a.hidden_size, a.hidden_size))) {}
  /// (last_hidden_state in the context's layout, pooler_output [B, H])
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids,
                                                  const AttentionContext& ctx) {
    const torch::Tensor x = embeddings->forward(input_ids, token_type_ids, ctx);
    record(ctx, "embeddings", x);
    torch::Tensor h = encoder->forward(x, ctx);
    torch::Tensor pooled = at::tanh(pooler->forward(first_tokens(h, ctx)));
    return {std::move(h), std::move(pooled)};
  }
  TokenEmbeddings embeddings;
  AlbertTransformer encoder;
  Linear pooler;
};
TORCH_MODULE(AlbertModel);

/// @brief HF AlbertForSequenceClassification: albert.*, classifier.*
struct AlbertClassifierImpl : torch::nn::Module {
  AlbertClassifierImpl(const arch::AlbertConfig& a, std::int64_t num_labels)
      : albert(register_module("albert", AlbertModel(a))),
        classifier(register_module("classifier", Linear(a.hidden_size, num_labels))),
        head_dropout(a.classifier_dropout_prob) {}
  /// Encoder output: (last_hidden_state, pooler_output).
  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids,
                                                 const AttentionContext& ctx) {
    return albert->forward(input_ids, token_type_ids, ctx);
  }
  /// logits [B, num_labels]
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids, const AttentionContext& ctx) {
    const torch::Tensor pooled = albert->forward(input_ids, token_type_ids, ctx).second;
    if (ctx.trace != nullptr) (*ctx.trace)["pooled"] = pooled;
    return classifier->forward(apply_dropout(pooled, head_dropout, is_training()));
  }
  AlbertModel albert;
  Linear classifier;
  double head_dropout;
};
TORCH_MODULE(AlbertClassifier);

template <>
struct ArchitectureModule<arch::AlbertConfig> {
  using type = AlbertClassifier;
};

}  // namespace detail

/// @brief ALBERT encoder (shared layer groups, factorised embeddings) + tanh pooler + classifier;
///        state_dict names are HF's (albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.weight,
///        albert.pooler.weight, classifier.bias, ...). Satisfies ftlib::SequenceClassifier.
using AlbertForSequenceClassification = SequenceClassifier<arch::AlbertConfig>;

}  // namespace ftlib::libtorch
