#pragma once
// The two building blocks DistilBERT and ALBERT share: a post-LayerNorm transformer layer and the
// pooled classification head, each forward next to its backward. Only the placement of one dropout
// differs between the two models' layers, so it is a setting.
//
//   layer:  a = LN1(x + drop_attn(out(attention(q(x), k(x), v(x)))))
//           y = LN2(a + drop_ffn(ffn_out(act(ffn_in(a)))))
//   DistilBERT: drop_attn = identity, drop_ffn = dropout;  ALBERT: drop_attn = dropout, drop_ffn = identity.
//   head:   logits = classifier(dropout(act(dense(h[:, 0]))))   (DistilBERT relu/pre_classifier,
//                                                                 ALBERT tanh/albert.pooler)

#include <cstdint>
#include <string>
#include <vector>

#include "ftlib/backends/eigen/layers.hpp"
#include "ftlib/backends/eigen/parameters.hpp"
#include "ftlib/backends/eigen/tensor.hpp"
#include "ftlib/core/batch.hpp"
#include "ftlib/core/token_layout.hpp"

namespace ftlib::eigen {

/// @brief The parameters of one transformer layer (HF names differ per model; the roles do not).
template <class S>
struct EncoderLayerParams {
  LinearParams<S> query;         ///< q_lin / attention.query
  LinearParams<S> key;           ///< k_lin / attention.key
  LinearParams<S> value;         ///< v_lin / attention.value
  LinearParams<S> output;        ///< out_lin / attention.dense
  LayerNormParams<S> attention_norm;  ///< sa_layer_norm / attention.LayerNorm
  LinearParams<S> ffn_in;        ///< ffn.lin1 / ffn
  LinearParams<S> ffn_out;       ///< ffn.lin2 / ffn_output
  LayerNormParams<S> output_norm;  ///< output_layer_norm / full_layer_layer_norm
};

/// @brief Hyper-parameters of a transformer layer.
struct EncoderLayerSettings {
  std::int64_t heads = 12;                ///< attention heads
  double layer_norm_eps = 1e-12;          ///< LayerNorm epsilon
  Activation activation = Activation::gelu_erf;  ///< FFN activation
  double attention_probs_dropout = 0.0;   ///< dropout on the attention probabilities
  double attention_output_dropout = 0.0;  ///< dropout on out(attention) before the residual (ALBERT)
  double ffn_output_dropout = 0.0;        ///< dropout on ffn_out(...) before the residual (DistilBERT)
};

/// @brief The current batch's token layout (core/token_layout.hpp) and, when padded, its key padding bias.
template <class S>
struct BatchShape {
  TokenLayout layout;  ///< which activation row is which token
  Vector<S> key_bias;  ///< padded layout: [B*T], 0 for real tokens, float lowest for padding; packed: empty

  /// @brief The layout of `batch`: packed when `unpadded` and the batch allows it (layout_for).
  [[nodiscard]] static BatchShape of(const Batch& batch, bool unpadded) {
    BatchShape shape;
    shape.layout = layout_for(batch, unpadded);
    if (!shape.layout.packed) shape.key_bias = SelfAttention<S>::key_bias(detail::attention_mask_of(batch));
    return shape;
  }
  /// @brief Number of activation rows.
  [[nodiscard]] std::int64_t rows() const noexcept { return layout.rows(); }
};

/// @brief What one layer application keeps for its backward (the layer input lives with the caller).
template <class S>
struct EncoderLayerCache {
  Matrix<S> q, k, v;        ///< projections [N, H]
  typename SelfAttention<S>::Cache attention;  ///< probabilities (+ dropout mask)
  Matrix<S> context;        ///< attention output before `output` [N, H]
  Matrix<S> attention_output_mask;  ///< dropout mask of drop_attn (empty when inactive)
  typename LayerNorm<S>::Cache attention_norm;  ///< LN1
  Matrix<S> a;              ///< LN1 output = FFN input [N, H]
  Matrix<S> pre_activation; ///< ffn_in(a) [N, I]
  Matrix<S> activated;      ///< act(ffn_in(a)) [N, I]
  Matrix<S> ffn_output_mask;  ///< dropout mask of drop_ffn (empty when inactive)
  typename LayerNorm<S>::Cache output_norm;  ///< LN2
};

/// @brief Temporaries shared by every layer's forward and backward (reused across steps).
template <class S>
struct EncoderScratch {
  Matrix<S> sum, d_sum, d_a, d_context, d_q, d_k, d_v, d_activated;
};

template <class S>
struct EncoderLayer {
  /// @brief y = LN2(a + drop_ffn(ffn_out(act(ffn_in(a))))), a = LN1(x + drop_attn(out(attention(x)))).
  static void forward(const EncoderLayerParams<S>& p, const EncoderLayerSettings& s, const BatchShape<S>& shape,
                      In<S> x, bool training, DropoutRng& rng, EncoderLayerCache<S>& c, EncoderScratch<S>& scratch,
                      Out<S> y) {
    const Eigen::Index n = x.rows();
    const Eigen::Index h = x.cols();
    const Eigen::Index inner = p.ffn_in.weight.value.size(0);
    c.q.resize(n, h);
    c.k.resize(n, h);
    c.v.resize(n, h);
    c.context.resize(n, h);
    c.a.resize(n, h);
    c.pre_activation.resize(n, inner);
    c.activated.resize(n, inner);
    scratch.sum.resize(n, h);

    linear(p.query, x, c.q);
    linear(p.key, x, c.k);
    linear(p.value, x, c.v);
    SelfAttention<S>::forward(c.q, c.k, c.v, shape.layout, shape.key_bias, s.heads, s.attention_probs_dropout, training,
                              rng, c.context, c.attention);
    linear(p.output, c.context, scratch.sum);
    apply_dropout(s.attention_output_dropout, training, rng, scratch.sum, c.attention_output_mask);
    scratch.sum += x;
    LayerNorm<S>::forward(scratch.sum, p.attention_norm.weight.value.vector(), p.attention_norm.bias.value.vector(),
                          s.layer_norm_eps, c.a, c.attention_norm);

    linear(p.ffn_in, c.a, c.pre_activation);
    Activations<S>::forward(s.activation, c.pre_activation, c.activated);
    linear(p.ffn_out, c.activated, scratch.sum);
    apply_dropout(s.ffn_output_dropout, training, rng, scratch.sum, c.ffn_output_mask);
    scratch.sum += c.a;
    LayerNorm<S>::forward(scratch.sum, p.output_norm.weight.value.vector(), p.output_norm.bias.value.vector(),
                          s.layer_norm_eps, y, c.output_norm);
  }

  /// @brief Given dy, writes dx (must not alias dy) and accumulates every parameter gradient:
  ///        the reverse of forward, one chain-rule step per line.
  static void backward(EncoderLayerParams<S>& p, const EncoderLayerSettings& s, const BatchShape<S>& shape, In<S> x,
                       const EncoderLayerCache<S>& c, In<S> dy, EncoderScratch<S>& scratch, Out<S> dx) {
    const Eigen::Index n = x.rows();
    const Eigen::Index h = x.cols();
    const Eigen::Index inner = c.activated.cols();
    scratch.d_sum.resize(n, h);
    scratch.d_a.resize(n, h);
    scratch.d_activated.resize(n, inner);
    scratch.d_context.resize(n, h);
    scratch.d_q.resize(n, h);
    scratch.d_k.resize(n, h);
    scratch.d_v.resize(n, h);

    // y = LN2(a + f): d(a + f) = LN2'(dy); da = d(a + f); df = d(a + f)
    layer_norm_backward(p.output_norm, c.output_norm, dy, scratch.d_sum);
    scratch.d_a = scratch.d_sum;
    if (c.ffn_output_mask.size() != 0) Dropout<S>::backward(scratch.d_sum, c.ffn_output_mask);
    // f = ffn_out(g): dg = df W_out; g = act(u): du = dg act'(u); u = ffn_in(a): da += du W_in
    linear_backward(p.ffn_out, c.activated, scratch.d_sum, scratch.d_activated);
    Activations<S>::backward(s.activation, c.pre_activation, scratch.d_activated, scratch.d_activated);
    linear_backward_add(p.ffn_in, c.a, scratch.d_activated, scratch.d_a);

    // a = LN1(x + o): d(x + o) = LN1'(da); dx = d(x + o); do = d(x + o)
    layer_norm_backward(p.attention_norm, c.attention_norm, scratch.d_a, scratch.d_sum);
    dx = scratch.d_sum;
    if (c.attention_output_mask.size() != 0) Dropout<S>::backward(scratch.d_sum, c.attention_output_mask);
    // o = out(ctx): dctx = do W_o; ctx = attention(q, k, v): dq, dk, dv
    linear_backward(p.output, c.context, scratch.d_sum, scratch.d_context);
    SelfAttention<S>::backward(c.q, c.k, c.v, c.attention, scratch.d_context, shape.layout, s.heads, scratch.d_q,
                               scratch.d_k, scratch.d_v);
    // q = x Wq^T + bq (and k, v): dx += dq Wq + dk Wk + dv Wv
    linear_backward_add(p.query, x, scratch.d_q, dx);
    linear_backward_add(p.key, x, scratch.d_k, dx);
    linear_backward_add(p.value, x, scratch.d_v, dx);
  }

  /// @brief y = x W^T + b with a parameter bundle.
  static void linear(const LinearParams<S>& p, In<S> x, Out<S> y) {
    Linear<S>::forward(x, p.weight.value.matrix(), p.bias.value.vector(), y);
  }
  /// @brief dx = dy W (overwritten); dW, db accumulated.
  static void linear_backward(LinearParams<S>& p, In<S> x, In<S> dy, Out<S> dx) {
    Linear<S>::backward(x, p.weight.value.matrix(), dy, dx, p.weight.grad.matrix(), p.bias.grad.vector());
  }
  /// @brief dx += dy W; dW, db accumulated.
  static void linear_backward_add(LinearParams<S>& p, In<S> x, In<S> dy, Out<S> dx) {
    Linear<S>::backward_input_add(p.weight.value.matrix(), dy, dx);
    Linear<S>::backward_params(x, dy, p.weight.grad.matrix(), p.bias.grad.vector());
  }
  /// @brief LayerNorm backward with a parameter bundle.
  static void layer_norm_backward(LayerNormParams<S>& p, const typename LayerNorm<S>::Cache& c, In<S> dy, Out<S> dx) {
    LayerNorm<S>::backward(c, p.weight.value.vector(), dy, dx, p.weight.grad.vector(), p.bias.grad.vector());
  }
  /// @brief In-place dropout that records its mask (or clears it when inactive).
  static void apply_dropout(double prob, bool training, DropoutRng& rng, Out<S> x, Matrix<S>& mask) {
    if (!Dropout<S>::active(prob, training)) {
      mask.resize(0, 0);
      return;
    }
    Dropout<S>::make_mask(prob, rng.next_key(), x.rows(), x.cols(), mask);
    Dropout<S>::forward(x, mask);
  }
};

/// @brief The pooled head's parameters.
template <class S>
struct ClassificationHeadParams {
  LinearParams<S> dense;       ///< pre_classifier / albert.pooler
  LinearParams<S> classifier;  ///< classifier
};

/// @brief What the head keeps for backward.
template <class S>
struct ClassificationHeadCache {
  Matrix<S> first_token;  ///< h[:, 0] [B, H]
  Matrix<S> pre;          ///< dense(h[:, 0])
  Matrix<S> pooled;       ///< act(dense(h[:, 0])) (hidden.pooled)
  Matrix<S> dropout_mask; ///< empty when inactive
  Matrix<S> dropped;      ///< dropout(pooled): the classifier input
};

template <class S>
struct ClassificationHead {
  /// @brief logits = classifier(dropout(act(dense(h[:, 0])))).
  static void forward(const ClassificationHeadParams<S>& p, Activation act, double dropout, const BatchShape<S>& shape,
                      In<S> hidden, bool training, DropoutRng& rng, ClassificationHeadCache<S>& c, Matrix<S>& logits) {
    const Eigen::Index h = hidden.cols();
    const std::int64_t batch = shape.layout.batch_size;
    c.first_token.resize(batch, h);
    for (std::int64_t b = 0; b < batch; ++b) c.first_token.row(b) = hidden.row(shape.layout.start(b));
    c.pre.resize(batch, p.dense.weight.value.size(0));
    c.pooled.resize(c.pre.rows(), c.pre.cols());
    EncoderLayer<S>::linear(p.dense, c.first_token, c.pre);
    Activations<S>::forward(act, c.pre, c.pooled);
    c.dropped = c.pooled;
    EncoderLayer<S>::apply_dropout(dropout, training, rng, c.dropped, c.dropout_mask);
    logits.resize(batch, p.classifier.weight.value.size(0));
    EncoderLayer<S>::linear(p.classifier, c.dropped, logits);
  }
  /// @brief From dlogits: accumulates the head's gradients and writes d(hidden) (zero except the rows of token 0).
  static void backward(ClassificationHeadParams<S>& p, Activation act, const BatchShape<S>& shape,
                       const ClassificationHeadCache<S>& c, In<S> dlogits, Out<S> d_hidden) {
    Matrix<S> d_pooled(c.dropped.rows(), c.dropped.cols());
    EncoderLayer<S>::linear_backward(p.classifier, c.dropped, dlogits, d_pooled);
    if (c.dropout_mask.size() != 0) Dropout<S>::backward(d_pooled, c.dropout_mask);
    Activations<S>::backward(act, c.pre, d_pooled, d_pooled);
    Matrix<S> d_first(c.first_token.rows(), c.first_token.cols());
    EncoderLayer<S>::linear_backward(p.dense, c.first_token, d_pooled, d_first);
    d_hidden.setZero();
    for (std::int64_t b = 0; b < shape.layout.batch_size; ++b) d_hidden.row(shape.layout.start(b)) = d_first.row(b);
  }
};

/// @brief The embedding block's parameters: word and position tables, an optional token type table
///        (BERT, ALBERT; not DistilBERT), and the LayerNorm after their sum.
template <class S>
struct EmbeddingParams {
  Param<S> word;        ///< word_embeddings [vocab, E]; its padding row gets no gradient
  Param<S> position;    ///< position_embeddings [positions, E]; a fixed (sinusoidal) table is not trained
  Param<S> token_type;  ///< token_type_embeddings [types, E], when has_token_types
  bool has_token_types = false;
  LayerNormParams<S> norm;  ///< embeddings.LayerNorm
};

/// @brief What the embedding block keeps for its backward.
template <class S>
struct EmbeddingCache {
  std::vector<std::int64_t> input_ids;       ///< of the last forward
  std::vector<std::int64_t> token_type_ids;  ///< of the last forward (zeros when the batch has none)
  typename LayerNorm<S>::Cache norm;
  Matrix<S> dropout_mask;  ///< empty when inactive
};

/// @brief e = dropout(LayerNorm(word[ids] (+ token_type[types]) + position[0..L-1])) over the layout's rows,
///        and its backward.
template <class S>
struct Embeddings {
  /// @brief `prefix` ("bert.embeddings") names the tables in errors about out-of-range ids.
  static void forward(const EmbeddingParams<S>& p, const Batch& batch, const BatchShape<S>& shape, double layer_norm_eps,
                      double dropout, bool training, DropoutRng& rng, const std::string& prefix, EmbeddingCache<S>& c,
                      EncoderScratch<S>& scratch, Matrix<S>& e) {
    const std::int64_t n = shape.rows();
    const Eigen::Index dim = p.word.value.size(1);
    // Every id is checked, padding included: a bad id is a bad batch whichever layout runs it.
    Embedding<S>::check_ids(batch.input_ids, p.word.value.size(0), prefix + ".word_embeddings (input_ids)");
    c.input_ids = shape.layout.gather(batch.input_ids);
    scratch.sum.resize(n, dim);
    e.resize(n, dim);
    Embedding<S>::forward(c.input_ids, p.word.value.matrix(), scratch.sum);
    if (p.has_token_types) {
      if (batch.token_type_ids.empty()) {
        c.token_type_ids.assign(static_cast<std::size_t>(n), 0);
      } else {
        Embedding<S>::check_ids(batch.token_type_ids, p.token_type.value.size(0), prefix + ".token_type_embeddings (token_type_ids)");
        c.token_type_ids = shape.layout.gather(batch.token_type_ids);
      }
      Embedding<S>::forward_add(c.token_type_ids, p.token_type.value.matrix(), scratch.sum);
    }
    PositionEmbedding<S>::forward_add(p.position.value.matrix(), shape.layout, scratch.sum);
    LayerNorm<S>::forward(scratch.sum, p.norm.weight.value.vector(), p.norm.bias.value.vector(), layer_norm_eps, e, c.norm);
    EncoderLayer<S>::apply_dropout(dropout, training, rng, e, c.dropout_mask);
  }

  /// @brief Accumulates the tables' and LayerNorm's gradients from de (which dropout's backward overwrites).
  static void backward(EmbeddingParams<S>& p, const EmbeddingCache<S>& c, const BatchShape<S>& shape,
                       std::int64_t pad_token_id, Matrix<S>& de, EncoderScratch<S>& scratch) {
    if (c.dropout_mask.size() != 0) Dropout<S>::backward(de, c.dropout_mask);
    scratch.d_sum.resize(de.rows(), de.cols());
    LayerNorm<S>::backward(c.norm, p.norm.weight.value.vector(), de, scratch.d_sum, p.norm.weight.grad.vector(),
                           p.norm.bias.grad.vector());
    Embedding<S>::backward(c.input_ids, scratch.d_sum, p.word.grad.matrix(), pad_token_id);
    if (p.has_token_types) Embedding<S>::backward(c.token_type_ids, scratch.d_sum, p.token_type.grad.matrix());
    if (p.position.trainable) PositionEmbedding<S>::backward(scratch.d_sum, shape.layout, p.position.grad.matrix());
  }
};

}  // namespace ftlib::eigen
