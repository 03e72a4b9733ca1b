#pragma once
// Leaf layers of the LibTorch backend (parameters named `weight` / `bias` as in HuggingFace), the
// activations, and multi-head self-attention: the explicit softmax path and, on LibTorch >= 2.0,
// scaled_dot_product_attention. The math is ../shared/reference/torch_reference.py's.

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "ftlib/backends/libtorch/compat.hpp"
#include "ftlib/backends/libtorch/dropout.hpp"
#include "ftlib/backends/libtorch/onednn_matmul.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/core/token_layout.hpp"
#include "ftlib/arch/activation.hpp"
#include "ftlib/models/model_options.hpp"

namespace ftlib::libtorch {

/// @brief Intermediate tensors recorded by a forward pass when asked ("embeddings", "layer.<k>",
///        "embedding_projection", "pooled"), named like the fixtures' `hidden.*` entries.
using Trace = std::map<std::string, torch::Tensor>;

namespace detail {

[[nodiscard]] inline torch::Tensor activate(Activation activation, const torch::Tensor& x) {
  switch (activation) {
    case Activation::gelu_erf: return at::gelu(x);
    // The tanh form in one fused kernel; it equals HF's NewGELUActivation to float rounding.
    case Activation::gelu_tanh: return at::gelu(x, "tanh");
    case Activation::quick_gelu: return x * at::sigmoid(x * 1.702);
    case Activation::relu: return at::relu(x);
    case Activation::silu: return at::silu(x);
    case Activation::tanh: return at::tanh(x);
    case Activation::sigmoid: return at::sigmoid(x);
    case Activation::identity: return x;
  }
  return x;
}

/// @brief y = x W^T + b with W [out, in] (float32 on CPU through oneDNN where the build has it).
struct LinearImpl : torch::nn::Module {
  LinearImpl(std::int64_t in_features, std::int64_t out_features)
      : weight(register_parameter("weight", torch::empty({out_features, in_features}))),
        bias(register_parameter("bias", torch::zeros({out_features}))) {}
  torch::Tensor forward(const torch::Tensor& x) { return linear(x, weight, bias); }
  torch::Tensor weight;
  torch::Tensor bias;
};
TORCH_MODULE(Linear);

/// @brief LayerNorm over the last axis (biased variance). Under autocast its input may arrive in
///        bf16/fp16 while the weights are float32: the input is cast up, as CUDA autocast does and
///        as LibTorch 1.13's CPU kernel requires.
struct LayerNormImpl : torch::nn::Module {
  LayerNormImpl(std::int64_t dim, double eps_)
      : weight(register_parameter("weight", torch::ones({dim}))),
        bias(register_parameter("bias", torch::zeros({dim}))),
        eps(eps_) {}
  torch::Tensor forward(const torch::Tensor& x) {
    const torch::Tensor in = x.scalar_type() == weight.scalar_type() ? x : x.to(weight.scalar_type());
    return at::layer_norm(in, {weight.size(0)}, weight, bias, eps);
  }
  torch::Tensor weight;
  torch::Tensor bias;
  double eps;
};
TORCH_MODULE(LayerNorm);

/// @brief Row lookup; the padding_idx row never receives a gradient (torch.nn.Embedding semantics).
struct EmbeddingImpl : torch::nn::Module {
  EmbeddingImpl(std::int64_t num, std::int64_t dim, std::int64_t padding_idx_ = -1)
      : weight(register_parameter("weight", torch::empty({num, dim}))), padding_idx(padding_idx_) {}
  torch::Tensor forward(const torch::Tensor& ids) { return at::embedding(weight, ids, padding_idx); }
  torch::Tensor weight;
  std::int64_t padding_idx;
};
TORCH_MODULE(Embedding);

/// @brief What every layer of one forward pass shares: the padding mask in the form the chosen
///        attention path needs, and the token layout (core/token_layout.hpp), built once per batch.
///        Padded: activations are [B, T, H]. Packed: [rows, H] over the real tokens only; attention
///        scatters its q, k, v into [B, T, H] and gathers its output back.
struct AttentionContext {
  torch::Tensor bias;  ///< [B, 1, 1, T] float32: 0 for kept keys, float lowest for padded (explicit path)
  torch::Tensor keep;  ///< [B, 1, 1, T] bool: true for kept keys (sdpa path)
  bool use_sdpa = false;
  bool training = false;
  Trace* trace = nullptr;
  std::int64_t batch = 0;    ///< B
  std::int64_t seq_len = 0;  ///< T
  bool packed = false;       ///< activations are the real tokens' rows
  torch::Tensor rows;        ///< packed: [rows] int64, b * T + t of each row
  torch::Tensor positions;   ///< packed: [rows] int64 position ids
  torch::Tensor first_rows;  ///< packed: [B] int64, the row of each sequence's first token
};

[[nodiscard]] inline bool resolve_sdpa(AttentionBackend backend) {
  if (backend == AttentionBackend::sdpa && !compat::has_sdpa)
    throw option_error("attention backend sdpa needs LibTorch >= 2.0; this build has " + compat::torch_version_string());
  return backend == AttentionBackend::sdpa || (backend == AttentionBackend::automatic && compat::has_sdpa);
}

/// @brief The context of a batch whose attention_mask is [B, T]; `layout` says whether it runs packed,
///        its index tensors go to the mask's device.
[[nodiscard]] inline AttentionContext make_attention_context(const torch::Tensor& attention_mask, const TokenLayout& layout,
                                                             AttentionBackend backend, bool training, Trace* trace) {
  AttentionContext ctx;
  ctx.use_sdpa = resolve_sdpa(backend);
  ctx.training = training;
  ctx.trace = trace;
  ctx.batch = layout.batch_size;
  ctx.seq_len = layout.seq_len;
  ctx.packed = layout.packed;
  if (ctx.packed) {
    const auto index = [&](const std::vector<std::int64_t>& v) {
      const torch::Tensor host = torch::from_blob(const_cast<std::int64_t*>(v.data()), {static_cast<std::int64_t>(v.size())}, torch::kLong);
      return host.to(attention_mask.device(), /*non_blocking=*/false, /*copy=*/true);
    };
    ctx.rows = index(layout.source);
    ctx.positions = index(layout.positions());
    ctx.first_rows = index(std::vector<std::int64_t>(layout.row_offsets.begin(), layout.row_offsets.end() - 1));
  }
  const torch::Tensor keep = attention_mask.ne(0).unsqueeze(1).unsqueeze(1);
  if (ctx.use_sdpa) {
    ctx.keep = keep;
  } else {
    ctx.bias = at::zeros(keep.sizes(), attention_mask.options().dtype(torch::kFloat))
                   .masked_fill_(keep.logical_not(), std::numeric_limits<float>::lowest());
  }
  return ctx;
}

/// @brief Packed rows [rows, H] as [B, T, H] (zeros at the padding); padded activations unchanged.
[[nodiscard]] inline torch::Tensor to_padded(const torch::Tensor& x, const AttentionContext& ctx) {
  if (!ctx.packed) return x;
  const std::int64_t h = x.size(-1);
  return at::zeros({ctx.batch * ctx.seq_len, h}, x.options()).index_copy(0, ctx.rows, x).view({ctx.batch, ctx.seq_len, h});
}

/// @brief [B, T, H] back to the layout's activations (the real tokens' rows when packed).
[[nodiscard]] inline torch::Tensor to_rows(const torch::Tensor& x, const AttentionContext& ctx) {
  if (!ctx.packed) return x;
  return x.reshape({ctx.batch * ctx.seq_len, x.size(-1)}).index_select(0, ctx.rows);
}

/// @brief Each sequence's first token ([CLS]): [B, H].
[[nodiscard]] inline torch::Tensor first_tokens(const torch::Tensor& h, const AttentionContext& ctx) {
  return ctx.packed ? h.index_select(0, ctx.first_rows) : h.select(1, 0);
}

/// @brief The position embeddings of the activations' rows: a broadcast [1, T, E] slice when padded,
///        the gathered [rows, E] when packed.
[[nodiscard]] inline torch::Tensor position_rows(const torch::Tensor& table, const AttentionContext& ctx) {
  return ctx.packed ? at::embedding(table, ctx.positions) : table.slice(0, 0, ctx.seq_len).unsqueeze(0);
}

/// @brief Records a per-token intermediate under `name` as [B, T, H] when the forward pass is traced.
inline void record(const AttentionContext& ctx, const std::string& name, const torch::Tensor& x) {
  if (ctx.trace != nullptr) (*ctx.trace)[name] = to_padded(x, ctx);
}

/// @brief Multi-head self-attention up to (not including) the output projection, on the context's
///        layout ([B, T, H] or packed [rows, H]) -> the same layout. Packed rows are projected first and
///        only then scattered into [B, T, H] for the products, so the projections see real tokens only.
[[nodiscard]] inline torch::Tensor self_attention(const torch::Tensor& x, Linear& q_proj, Linear& k_proj, Linear& v_proj,
                                                  std::int64_t n_heads, double probs_dropout,
                                                  const AttentionContext& ctx) {
  const std::int64_t b = ctx.batch;
  const std::int64_t t = ctx.seq_len;
  const std::int64_t h = x.size(-1);
  const std::int64_t d = h / n_heads;
  const auto heads = [&](const torch::Tensor& y) { return to_padded(y, ctx).view({b, t, n_heads, d}).transpose(1, 2); };
  const torch::Tensor q = heads(q_proj->forward(x));
  const torch::Tensor k = heads(k_proj->forward(x));
  const torch::Tensor v = heads(v_proj->forward(x));
  torch::Tensor context;
  if (ctx.use_sdpa) {
    context = compat::scaled_dot_product_attention(q, k, v, ctx.keep, ctx.training ? probs_dropout : 0.0);
  } else {
    const torch::Tensor scores = batched_matmul(q, k, /*transpose_b=*/true, std::pow(static_cast<double>(d), -0.5)) + ctx.bias;
    const torch::Tensor probs = apply_dropout(at::softmax(scores, -1), probs_dropout, ctx.training);
    context = batched_matmul(probs, v, /*transpose_b=*/false, 1.0);
  }
  return to_rows(context.transpose(1, 2).reshape({b, t, h}), ctx);
}

/// @brief DistilBERT's fixed position table: angle(p, j) = p / 10000^(2*(j//2)/dim), sin on even j,
///        cos on odd j, in double precision rounded once to float32.
[[nodiscard]] inline torch::Tensor sinusoidal_table(std::int64_t n_pos, std::int64_t dim) {
  torch::Tensor table = torch::empty({n_pos, dim}, torch::kFloat);
  float* out = table.data_ptr<float>();
  for (std::int64_t p = 0; p < n_pos; ++p) {
    for (std::int64_t j = 0; j < dim; ++j) {
      const double angle = static_cast<double>(p) /
                           std::pow(10000.0, 2.0 * static_cast<double>(j / 2) / static_cast<double>(dim));
      out[p * dim + j] = static_cast<float>(j % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  }
  return table;
}

/// @brief HF's BertEmbeddings / AlbertEmbeddings: word_embeddings, position_embeddings,
///        token_type_embeddings, LayerNorm; LayerNorm(word[ids] + type[types] + position[0..L-1]), dropout.
struct TokenEmbeddingsImpl : torch::nn::Module {
  /// @brief Tables of `dim` columns.
  TokenEmbeddingsImpl(std::int64_t vocab_size, std::int64_t max_positions, std::int64_t type_vocab_size, std::int64_t dim,
                      std::int64_t pad_token_id, double layer_norm_eps, double dropout_p)
      : word_embeddings(register_module("word_embeddings", Embedding(vocab_size, dim, pad_token_id))),
        position_embeddings(register_module("position_embeddings", Embedding(max_positions, dim))),
        token_type_embeddings(register_module("token_type_embeddings", Embedding(type_vocab_size, dim))),
        LayerNorm(register_module("LayerNorm", detail::LayerNorm(dim, layer_norm_eps))),
        dropout(dropout_p) {}
  /// @brief input_ids / token_type_ids: [B, T], or [rows] when the context is packed.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids, const AttentionContext& ctx) {
    // No token types means type 0 everywhere: one broadcast row instead of a gather.
    const torch::Tensor types = token_type_ids.defined() ? token_type_embeddings->forward(token_type_ids)
                                                         : token_type_embeddings->weight.select(0, 0);
    const torch::Tensor x = word_embeddings->forward(input_ids) + types + position_rows(position_embeddings->weight, ctx);
    return apply_dropout(LayerNorm->forward(x), dropout, is_training());
  }
  Embedding word_embeddings;
  Embedding position_embeddings;
  Embedding token_type_embeddings;
  detail::LayerNorm LayerNorm;  // NOLINT: HF's name
  double dropout;
};
TORCH_MODULE(TokenEmbeddings);

}  // namespace detail
}  // namespace ftlib::libtorch
