#pragma once
// ftlib::libtorch::DistilBertForSequenceClassification: HuggingFace's model of that name on LibTorch, as
// torch::nn modules whose named_parameters() are transformers' state_dict names. Everything that
// is not the architecture (loading, the training surface, precision) is SequenceClassifier<Arch>.

#include <cstdint>
#include <string>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "ftlib/arch/distilbert.hpp"
#include "ftlib/backends/libtorch/layers.hpp"
#include "ftlib/backends/libtorch/sequence_classifier.hpp"

namespace ftlib::libtorch {

namespace detail {

struct DistilBertEmbeddingsImpl : torch::nn::Module {
  explicit DistilBertEmbeddingsImpl(const arch::DistilBertConfig& a)
      : word_embeddings(register_module("word_embeddings", Embedding(a.vocab_size, a.dim, a.pad_token_id))),
        position_embeddings(register_module("position_embeddings", Embedding(a.max_position_embeddings, a.dim))),
        LayerNorm(register_module("LayerNorm", detail::LayerNorm(a.dim, arch::DistilBertConfig::layer_norm_eps))),
        dropout(a.dropout) {
    if (a.sinusoidal_pos_embds) {
      position_embeddings->weight.set_data(sinusoidal_table(a.max_position_embeddings, a.dim));
      position_embeddings->weight.set_requires_grad(false);  // fixed table (transformers <= 4.57)
    }
  }
  /// @brief input_ids: [B, T], or [rows] when the context is packed.
  torch::Tensor forward(const torch::Tensor& input_ids, const AttentionContext& ctx) {
    // Positions are 0..L-1 for every sequence (padded: a slice of the table, broadcast over the batch).
    const torch::Tensor x = word_embeddings->forward(input_ids) + position_rows(position_embeddings->weight, ctx);
    return apply_dropout(LayerNorm->forward(x), dropout, is_training());
  }
  Embedding word_embeddings;
  Embedding position_embeddings;
  detail::LayerNorm LayerNorm;  // NOLINT: HF's name
  double dropout;
};
TORCH_MODULE(DistilBertEmbeddings);

struct DistilBertAttentionImpl : torch::nn::Module {
  explicit DistilBertAttentionImpl(const arch::DistilBertConfig& a)
      : q_lin(register_module("q_lin", Linear(a.dim, a.dim))),
        k_lin(register_module("k_lin", Linear(a.dim, a.dim))),
        v_lin(register_module("v_lin", Linear(a.dim, a.dim))),
        out_lin(register_module("out_lin", Linear(a.dim, a.dim))),
        n_heads(a.n_heads),
        probs_dropout(a.attention_dropout) {}
  torch::Tensor forward(const torch::Tensor& x, const AttentionContext& ctx) {
    return out_lin->forward(self_attention(x, q_lin, k_lin, v_lin, n_heads, probs_dropout, ctx));
  }
  Linear q_lin, k_lin, v_lin, out_lin;
  std::int64_t n_heads;
  double probs_dropout;
};
TORCH_MODULE(DistilBertAttention);

struct DistilBertFfnImpl : torch::nn::Module {
  explicit DistilBertFfnImpl(const arch::DistilBertConfig& a)
      : lin1(register_module("lin1", Linear(a.dim, a.hidden_dim))),
        lin2(register_module("lin2", Linear(a.hidden_dim, a.dim))),
        activation(a.activation_kind()),
        dropout(a.dropout) {}
  torch::Tensor forward(const torch::Tensor& x) {
    return apply_dropout(lin2->forward(activate(activation, lin1->forward(x))), dropout, is_training());
  }
  Linear lin1, lin2;
  Activation activation;
  double dropout;
};
TORCH_MODULE(DistilBertFfn);

struct DistilBertBlockImpl : torch::nn::Module {
  explicit DistilBertBlockImpl(const arch::DistilBertConfig& a)
      : attention(register_module("attention", DistilBertAttention(a))),
        sa_layer_norm(register_module("sa_layer_norm", LayerNorm(a.dim, arch::DistilBertConfig::layer_norm_eps))),
        ffn(register_module("ffn", DistilBertFfn(a))),
        output_layer_norm(register_module("output_layer_norm", LayerNorm(a.dim, arch::DistilBertConfig::layer_norm_eps))) {}
  torch::Tensor forward(const torch::Tensor& x, const AttentionContext& ctx) {
    const torch::Tensor a = sa_layer_norm->forward(x + attention->forward(x, ctx));
    return output_layer_norm->forward(a + ffn->forward(a));
  }
  DistilBertAttention attention;
  LayerNorm sa_layer_norm;
  DistilBertFfn ffn;
  LayerNorm output_layer_norm;
};
TORCH_MODULE(DistilBertBlock);

struct DistilBertTransformerImpl : torch::nn::Module {
  explicit DistilBertTransformerImpl(const arch::DistilBertConfig& a) : layer(register_module("layer", torch::nn::ModuleList())) {
    for (std::int64_t i = 0; i < a.n_layers; ++i) {
      blocks.push_back(DistilBertBlock(a));
      layer->push_back(blocks.back());
    }
  }
  torch::nn::ModuleList layer;
  std::vector<DistilBertBlock> blocks;  // typed views of `layer`'s entries
};
TORCH_MODULE(DistilBertTransformer);

/// @brief HF DistilBertModel: embeddings.* and transformer.layer.N.*
struct DistilBertModelImpl : torch::nn::Module {
  explicit DistilBertModelImpl(const arch::DistilBertConfig& a)
      : embeddings(register_module("embeddings", DistilBertEmbeddings(a))),
        transformer(register_module("transformer", DistilBertTransformer(a))) {}
  /// last_hidden_state in the context's layout ([B, T, dim] or packed [rows, dim])
  torch::Tensor forward(const torch::Tensor& input_ids, const AttentionContext& ctx) {
    torch::Tensor x = embeddings->forward(input_ids, ctx);
    record(ctx, "embeddings", x);
    for (std::size_t i = 0; i < transformer->blocks.size(); ++i) {
      x = transformer->blocks[i]->forward(x, ctx);
      record(ctx, "layer." + std::to_string(i), x);
    }
    return x;
  }
  DistilBertEmbeddings embeddings;
  DistilBertTransformer transformer;
};
TORCH_MODULE(DistilBertModel);

/// @brief HF DistilBertForSequenceClassification: distilbert.*, pre_classifier.*, classifier.*
struct DistilBertClassifierImpl : torch::nn::Module {
  DistilBertClassifierImpl(const arch::DistilBertConfig& a, std::int64_t num_labels)
      : distilbert(register_module("distilbert", DistilBertModel(a))),
        pre_classifier(register_module("pre_classifier", Linear(a.dim, a.dim))),
        classifier(register_module("classifier", Linear(a.dim, num_labels))),
        head_dropout(a.seq_classif_dropout) {}
  /// Encoder output: last_hidden_state, and no pooler (DistilBERT has none).
  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& input_ids, const torch::Tensor& /*token_type_ids*/,
                                                 const AttentionContext& ctx) {
    return {distilbert->forward(input_ids, ctx), torch::Tensor()};
  }
  /// logits [B, num_labels]
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& /*token_type_ids*/,
                        const AttentionContext& ctx) {
    const torch::Tensor h = distilbert->forward(input_ids, ctx);
    const torch::Tensor pooled = at::relu(pre_classifier->forward(first_tokens(h, ctx)));
    if (ctx.trace != nullptr) (*ctx.trace)["pooled"] = pooled;
    return classifier->forward(apply_dropout(pooled, head_dropout, is_training()));
  }
  DistilBertModel distilbert;
  Linear pre_classifier;
  Linear classifier;
  double head_dropout;
};
TORCH_MODULE(DistilBertClassifier);

template <>
struct ArchitectureModule<arch::DistilBertConfig> {
  using type = DistilBertClassifier;
};

}  // namespace detail

/// @brief DistilBERT encoder + pre_classifier (ReLU) + classifier; state_dict names are HF's
///        (distilbert.embeddings.word_embeddings.weight, distilbert.transformer.layer.0.attention.q_lin.weight,
///        pre_classifier.weight, classifier.bias, ...). Satisfies ftlib::SequenceClassifier.
using DistilBertForSequenceClassification = SequenceClassifier<arch::DistilBertConfig>;

}  // namespace ftlib::libtorch
