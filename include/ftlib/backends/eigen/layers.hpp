#pragma once
// The layers of DistilBERT and ALBERT, each forward next to its hand-written backward.
//
// Conventions: activations are row-major [rows, features] matrices where a row is one token
// (row b*T + t for batch b, position t). Every layer is a struct template on the scalar type S
// (float for the models, double for sharp finite-difference checks) with static forward/backward.
// Backward *accumulates* into parameter gradients (+=) and *overwrites* input gradients (=), so a
// shared weight applied several times (ALBERT) sums its gradient over every application.
// The one-line comment above each backward is the derivative it implements.

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ftlib/backends/eigen/tensor.hpp"
#include "ftlib/arch/activation.hpp"
#include "ftlib/backends/onednn_sgemm.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/core/token_layout.hpp"

namespace ftlib::eigen {

namespace detail {

/// @brief dst = a * b (or dst += a * b), split over row blocks of dst when the product is large enough
///        (threads_for, 16 multiply-adds per unit of work); each block is one serial Eigen product.
template <class Lhs, class Rhs, class Dst>
void gemm(const Lhs& a, const Rhs& b, Dst&& dst, bool accumulate) {
  const std::int64_t rows = dst.rows();
  const auto block = [&](std::int64_t lo, std::int64_t hi) {
    auto d = dst.middleRows(lo, hi - lo);
    if (accumulate) d.noalias() += a.middleRows(lo, hi - lo) * b;
    else d.noalias() = a.middleRows(lo, hi - lo) * b;
  };
  const double macs = static_cast<double>(rows) * static_cast<double>(a.cols()) * static_cast<double>(b.cols());
  if (rows <= 0) return;
  if (threads_for(macs / 16.0) <= 1) return block(0, rows);
  parallel_ranges(rows, macs / 16.0 / static_cast<double>(rows), block);
}

/// @brief dst = op(a) op(b) (or dst += ...), op = transpose when asked. float32 goes to oneDNN's
///        sgemm where the build has it (2-3x Eigen's own GEMM on AVX-512, on the same OpenMP
///        threads); double (the finite-difference checks) and builds without oneDNN use gemm().
template <class S>
void matmul(bool transpose_a, bool transpose_b, In<S> a, In<S> b, Out<S> dst, bool accumulate) {
  if constexpr (std::is_same_v<S, float> && ftlib::detail::has_onednn_sgemm) {
    if (dst.size() == 0) return;
    ftlib::detail::onednn_sgemm(transpose_a, transpose_b, dst.rows(), dst.cols(), transpose_a ? a.rows() : a.cols(),
                                1.0f, a.data(), a.outerStride(), b.data(), b.outerStride(), accumulate ? 1.0f : 0.0f,
                                dst.data(), dst.outerStride());
  } else if (transpose_a) {
    if (transpose_b) gemm(a.transpose(), b.transpose(), dst, accumulate);
    else gemm(a.transpose(), b, dst, accumulate);
  } else {
    if (transpose_b) gemm(a, b.transpose(), dst, accumulate);
    else gemm(a, b, dst, accumulate);
  }
}

}  // namespace detail

// -------------------------------------------------------------------------------------------
// Linear: y = x W^T + b, W stored [out, in] (HuggingFace layout)
// -------------------------------------------------------------------------------------------
template <class S>
struct Linear {
  /// @brief y[N, out] = x[N, in] W^T + b.
  static void forward(In<S> x, In<S> weight, VecIn<S> bias, Out<S> y) {
    detail::matmul<S>(false, true, x, weight, y, false);
    y.rowwise() += bias.transpose();
  }
  /// @brief dx = dy W;  dW += dy^T x;  db += sum over rows of dy.
  static void backward(In<S> x, In<S> weight, In<S> dy, Out<S> dx, Out<S> dweight, VecOut<S> dbias) {
    if (dx.size() != 0) detail::matmul<S>(false, false, dy, weight, dx, false);
    backward_params(x, dy, dweight, dbias);
  }
  /// @brief dx += dy W (accumulates into an input gradient).
  static void backward_input_add(In<S> weight, In<S> dy, Out<S> dx) { detail::matmul<S>(false, false, dy, weight, dx, true); }
  /// @brief Backward without an input gradient (first layer of a chain).
  static void backward_params(In<S> x, In<S> dy, Out<S> dweight, VecOut<S> dbias) {
    detail::matmul<S>(true, false, dy, x, dweight, true);
    dbias.noalias() += dy.colwise().sum().transpose();
  }
};

// -------------------------------------------------------------------------------------------
// LayerNorm over the last axis: y = (x - mean) / sqrt(var + eps) * w + b, var biased (1/D)
// -------------------------------------------------------------------------------------------
template <class S>
struct LayerNorm {
  /// @brief What backward needs: the normalised input and 1/sqrt(var + eps) per row.
  struct Cache {
    Matrix<S> x_hat;
    Vector<S> rstd;
  };
  /// @brief y = x_hat * w + b with x_hat = (x - mean) * rstd.
  static void forward(In<S> x, VecIn<S> weight, VecIn<S> bias, double eps, Out<S> y, Cache& cache) {
    const Eigen::Index n = x.rows();
    const Eigen::Index d = x.cols();
    cache.x_hat.resize(n, d);
    cache.rstd.resize(n);
    detail::parallel_ranges(n, 8.0 * static_cast<double>(x.cols()), [&](std::int64_t lo, std::int64_t hi) {
      for (Eigen::Index r = lo; r < hi; ++r) {
        const auto row = x.row(r).array();
        const S mean = row.sum() / static_cast<S>(d);
        const S var = (row - mean).square().sum() / static_cast<S>(d);
        const S rstd = S(1) / std::sqrt(var + static_cast<S>(eps));
        cache.rstd(r) = rstd;
        cache.x_hat.row(r).array() = (row - mean) * rstd;
        y.row(r).array() = cache.x_hat.row(r).array() * weight.transpose().array() + bias.transpose().array();
      }
    });
  }
  /// @brief dw += sum dy*x_hat; db += sum dy; dx = rstd * (g - mean(g) - x_hat * mean(g*x_hat)), g = dy*w.
  static void backward(const Cache& cache, VecIn<S> weight, In<S> dy, Out<S> dx, VecOut<S> dweight, VecOut<S> dbias) {
    const Eigen::Index n = dy.rows();
    const Eigen::Index d = dy.cols();
    dweight.noalias() += (dy.array() * cache.x_hat.array()).matrix().colwise().sum().transpose();
    dbias.noalias() += dy.colwise().sum().transpose();
    detail::parallel_ranges(n, 8.0 * static_cast<double>(d), [&](std::int64_t lo, std::int64_t hi) {
      Eigen::Array<S, 1, Eigen::Dynamic> g(d);
      for (Eigen::Index r = lo; r < hi; ++r) {
        g = dy.row(r).array() * weight.transpose().array();
        const auto xh = cache.x_hat.row(r).array();
        const S mean_g = g.sum() / static_cast<S>(d);
        const S mean_gx = (g * xh).sum() / static_cast<S>(d);
        dx.row(r).array() = cache.rstd(r) * (g - mean_g - xh * mean_gx);
      }
    });
  }
};

// -------------------------------------------------------------------------------------------
// Embedding lookup: y[r] = W[ids[r]]
// -------------------------------------------------------------------------------------------
template <class S>
struct Embedding {
  /// @brief Checks every id is a row of the table; names the table and the offending id.
  static void check_ids(const std::vector<std::int64_t>& ids, std::int64_t rows, const std::string& table) {
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (ids[i] < 0 || ids[i] >= rows)
        throw tensor_error(table + ": id " + std::to_string(ids[i]) + " at flat position " + std::to_string(i) +
                           " is outside [0, " + std::to_string(rows) + ")");
  }
  /// @brief y[r] = W[ids[r]] (overwrites y).
  static void forward(const std::vector<std::int64_t>& ids, In<S> weight, Out<S> y) {
    for (Eigen::Index r = 0; r < y.rows(); ++r) y.row(r) = weight.row(ids[static_cast<std::size_t>(r)]);
  }
  /// @brief y[r] += W[ids[r]].
  static void forward_add(const std::vector<std::int64_t>& ids, In<S> weight, Out<S> y) {
    for (Eigen::Index r = 0; r < y.rows(); ++r) y.row(r) += weight.row(ids[static_cast<std::size_t>(r)]);
  }
  /// @brief dW[ids[r]] += dy[r] (scatter-add), except rows whose id is padding_idx (nn.Embedding padding_idx).
  static void backward(const std::vector<std::int64_t>& ids, In<S> dy, Out<S> dweight, std::int64_t padding_idx = -1) {
    for (Eigen::Index r = 0; r < dy.rows(); ++r) {
      const auto id = ids[static_cast<std::size_t>(r)];
      if (id != padding_idx) dweight.row(id) += dy.row(r);
    }
  }
};

/// @brief Absolute positions 0..L-1 for each sequence's rows (right-padded: padded and packed alike).
template <class S>
struct PositionEmbedding {
  /// @brief y[o_b + t] += P[t] for every sequence b of the layout.
  static void forward_add(In<S> table, const TokenLayout& layout, Out<S> y) {
    for (std::int64_t b = 0; b < layout.batch_size; ++b)
      y.middleRows(layout.start(b), layout.length(b)) += table.topRows(layout.length(b));
  }
  /// @brief dP[t] += sum over sequences b of dy[o_b + t].
  static void backward(In<S> dy, const TokenLayout& layout, Out<S> dtable) {
    for (std::int64_t b = 0; b < layout.batch_size; ++b)
      dtable.topRows(layout.length(b)) += dy.middleRows(layout.start(b), layout.length(b));
  }
  /// @brief DistilBERT's fixed table: angle(p, j) = p / 10000^(2*(j//2)/dim), sin on even j, cos on odd j
  ///        (computed in double, rounded once). It has no gradient.
  static Matrix<S> sinusoidal_table(std::int64_t n_pos, std::int64_t dim) {
    Matrix<S> table(n_pos, dim);
    for (std::int64_t p = 0; p < n_pos; ++p)
      for (std::int64_t j = 0; j < dim; ++j) {
        const double angle = static_cast<double>(p) /
                             std::pow(10000.0, 2.0 * static_cast<double>(j / 2) / static_cast<double>(dim));
        table(p, j) = static_cast<S>(static_cast<float>(j % 2 == 0 ? std::sin(angle) : std::cos(angle)));
      }
    return table;
  }
};

// -------------------------------------------------------------------------------------------
// Activations (element-wise; backward needs the pre-activation input)
// -------------------------------------------------------------------------------------------

template <class S>
struct Activations {
  /// @brief y = act(x), element-wise.
  static void forward(Activation act, In<S> x, Out<S> y) {
    detail::parallel_ranges(x.rows(), 16.0 * static_cast<double>(x.cols()), [&](std::int64_t lo, std::int64_t hi) {
      const auto xs = x.middleRows(lo, hi - lo).array();
      auto ys = y.middleRows(lo, hi - lo).array();
      switch (act) {
        case Activation::gelu_erf:  // x/2 * (1 + erf(x/sqrt2))
          ys = xs * S(0.5) * (S(1) + (xs * S(M_SQRT1_2)).erf());
          break;
        case Activation::gelu_tanh:  // x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
          ys = S(0.5) * xs * (S(1) + (S(kSqrt2OverPi) * (xs + S(0.044715) * xs.cube())).tanh());
          break;
        case Activation::relu:
          ys = xs.max(S(0));
          break;
        case Activation::tanh:
          ys = xs.tanh();
          break;
        case Activation::silu:  // x * sigmoid(x)
          ys = xs / (S(1) + (-xs).exp());
          break;
        case Activation::quick_gelu:  // x * sigmoid(1.702 x)
          ys = xs / (S(1) + (S(-1.702) * xs).exp());
          break;
        case Activation::sigmoid:
          ys = S(1) / (S(1) + (-xs).exp());
          break;
        case Activation::identity:
          ys = xs;
          break;
      }
    });
  }
  /// @brief dx = dy * act'(x).
  static void backward(Activation act, In<S> x, In<S> dy, Out<S> dx) {
    detail::parallel_ranges(x.rows(), 16.0 * static_cast<double>(x.cols()), [&](std::int64_t lo, std::int64_t hi) {
      const auto xs = x.middleRows(lo, hi - lo).array();
      const auto g = dy.middleRows(lo, hi - lo).array();
      auto out = dx.middleRows(lo, hi - lo).array();
      switch (act) {
        case Activation::gelu_erf:  // d/dx = (1 + erf(x/sqrt2))/2 + x * exp(-x^2/2) / sqrt(2 pi)
          out = g * (S(0.5) * (S(1) + (xs * S(M_SQRT1_2)).erf()) +
                     xs * (S(-0.5) * xs.square()).exp() * S(kInvSqrt2Pi));
          break;
        case Activation::gelu_tanh: {  // u = c(x + a x^3): d/dx = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) c (1 + 3a x^2)
          const auto t = (S(kSqrt2OverPi) * (xs + S(0.044715) * xs.cube())).tanh().eval();
          out = g * (S(0.5) * (S(1) + t) +
                     S(0.5) * xs * (S(1) - t.square()) * S(kSqrt2OverPi) * (S(1) + S(3 * 0.044715) * xs.square()));
          break;
        }
        case Activation::relu:  // d/dx = 1 where x > 0
          out = (xs > S(0)).select(g, S(0));
          break;
        case Activation::tanh:  // d/dx = 1 - tanh^2 x
          out = g * (S(1) - xs.tanh().square());
          break;
        case Activation::silu: {  // d/dx = s (1 + x (1 - s)), s = sigmoid(x)
          const auto s = (S(1) / (S(1) + (-xs).exp())).eval();
          out = g * s * (S(1) + xs * (S(1) - s));
          break;
        }
        case Activation::quick_gelu: {  // d/dx = s + 1.702 x s (1 - s), s = sigmoid(1.702 x)
          const auto s = (S(1) / (S(1) + (S(-1.702) * xs).exp())).eval();
          out = g * (s + S(1.702) * xs * s * (S(1) - s));
          break;
        }
        case Activation::sigmoid: {  // d/dx = s (1 - s)
          const auto s = (S(1) / (S(1) + (-xs).exp())).eval();
          out = g * s * (S(1) - s);
          break;
        }
        case Activation::identity:
          out = g;
          break;
      }
    });
  }

  static constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2/pi)
  static constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1/sqrt(2 pi)
};

// -------------------------------------------------------------------------------------------
// Dropout (inverted: kept values are scaled by 1/(1-p) in training, identity in eval)
// -------------------------------------------------------------------------------------------

/// @brief A seeded source of dropout masks. Each call draws a fresh key; element i of a mask is a pure
///        function of (key, i), so masks are identical whatever the number of threads.
class DropoutRng {
 public:
  /// @brief A stream seeded with `seed`.
  explicit DropoutRng(std::uint64_t seed = 42) : state_(seed) {}
  /// @brief The key of the next mask.
  std::uint64_t next_key() { return mix(state_ += 0x9E3779B97F4A7C15ULL); }
  /// @brief The stream's position: a stream set to it with set_state() draws the same keys from there on.
  [[nodiscard]] std::uint64_t state() const noexcept { return state_; }
  /// @brief Moves the stream to a position returned by state().
  void set_state(std::uint64_t state) noexcept { state_ = state; }
  /// @brief Uniform [0, 1) for element `index` of the mask with key `key`.
  [[nodiscard]] static double uniform(std::uint64_t key, std::uint64_t index) {
    return static_cast<double>(mix(key ^ (index * 0xD1B54A32D192ED03ULL + 0x632BE59BD9B4E019ULL)) >> 11) * 0x1.0p-53;
  }

 private:
  static std::uint64_t mix(std::uint64_t z) {  // splitmix64 finaliser
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::uint64_t state_;
};

template <class S>
struct Dropout {
  /// @brief True when dropout changes anything (training with p > 0).
  static bool active(double p, bool training) { return training && p > 0.0; }
  /// @brief mask[i] = 0 with probability p, else 1/(1-p) (all zeros when p >= 1).
  static void make_mask(double p, std::uint64_t key, Eigen::Index rows, Eigen::Index cols, Matrix<S>& mask) {
    mask.resize(rows, cols);
    const S keep_scale = p >= 1.0 ? S(0) : static_cast<S>(1.0 / (1.0 - p));
    S* m = mask.data();
    detail::parallel_ranges(mask.size(), 8.0, [&](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t i = lo; i < hi; ++i)
        m[i] = DropoutRng::uniform(key, static_cast<std::uint64_t>(i)) < p ? S(0) : keep_scale;
    });
  }
  /// @brief x *= mask (in place).
  static void forward(Out<S> x, const Matrix<S>& mask) { x.array() *= mask.array(); }
  /// @brief dx = dy * mask (in place).
  static void backward(Out<S> dy, const Matrix<S>& mask) { dy.array() *= mask.array(); }
};

// -------------------------------------------------------------------------------------------
// Softmax over each row
// -------------------------------------------------------------------------------------------
template <class S>
struct Softmax {
  /// @brief x[r] = exp(x[r] - max) / sum(exp(x[r] - max)), in place.
  static void forward_row(Eigen::Ref<Eigen::Matrix<S, 1, Eigen::Dynamic>, 0, Eigen::InnerStride<1>> x) {
    const S m = x.maxCoeff();
    // Eigen's vectorised exp clamps its input, so exp(lowest) would come out as a tiny normal
    // number instead of 0: flush what is below the smallest normal to exactly 0 (masked keys).
    const S floor = std::log(std::numeric_limits<S>::min());
    x.array() = (x.array() - m < floor).select(S(0), (x.array() - m).exp());
    x *= S(1) / x.sum();
  }
  /// @brief dx = p * (dp - sum(dp * p)) for each row, in place on dp.
  static void backward_rows(In<S> p, Out<S> dp) {
    const Vector<S> dot = (dp.array() * p.array()).rowwise().sum();
    dp.array() = p.array() * (dp.array().colwise() - dot.array());
  }
};

// -------------------------------------------------------------------------------------------
// Multi-head self-attention core: context = softmax(q k^T * d^-1/2 + key_bias) v, per head
// -------------------------------------------------------------------------------------------
template <class S>
struct SelfAttention {
  /// @brief What backward needs besides q, k, v: the probabilities (before dropout) of every
  ///        (sequence, head), L x L row-major blocks one after another, and the dropout mask of the same
  ///        layout when dropout ran.
  struct Cache {
    Vector<S> probs;
    Matrix<S> dropout_mask;             ///< [total, 1], or empty
    std::vector<std::int64_t> offsets;  ///< [B*H + 1]: where block bh starts
  };

  /// @brief Additive key bias [B*T] from a [B*T] attention mask: 0 keeps a key, float lowest drops it.
  static Vector<S> key_bias(const std::vector<std::int64_t>& attention_mask) {
    Vector<S> bias(static_cast<Eigen::Index>(attention_mask.size()));
    for (std::size_t i = 0; i < attention_mask.size(); ++i)
      bias(static_cast<Eigen::Index>(i)) = attention_mask[i] == 0 ? std::numeric_limits<S>::lowest() : S(0);
    return bias;
  }

  /// @brief Per sequence b and head h, over the rows [o, o + L) the layout gives b:
  ///        ctx[o+t, h*d:(h+1)*d] = sum_k P[b,h,t,k] v[o+k, h*d:(h+1)*d], P = softmax((q k^T) * d^-0.5 + bias),
  ///        bias = key_bias[o..o+L) (padded layout) or none (packed: every key is real).
  static void forward(In<S> q, In<S> k, In<S> v, const TokenLayout& layout, VecIn<S> key_bias, std::int64_t heads,
                      double dropout_p, bool training, DropoutRng& rng, Out<S> ctx, Cache& cache) {
    const std::int64_t d = q.cols() / heads;
    const S scale = static_cast<S>(std::pow(static_cast<double>(d), -0.5));
    const bool biased = key_bias.size() != 0;
    plan(layout, heads, cache);
    const std::int64_t total = cache.offsets.back();
    cache.probs.resize(total);
    const bool drop = Dropout<S>::active(dropout_p, training);
    if (drop) Dropout<S>::make_mask(dropout_p, rng.next_key(), total, 1, cache.dropout_mask);
    else cache.dropout_mask.resize(0, 0);
    // two L x L x d products (16 multiply-adds per unit of work) and a softmax per (sequence, head)
    const int threads = detail::threads_for(static_cast<double>(total) * (static_cast<double>(2 * d) / 16.0 + 20.0));
#pragma omp parallel for schedule(dynamic) num_threads(threads) if (threads > 1)
    for (std::int64_t bh = 0; bh < layout.batch_size * heads; ++bh) {
      const std::int64_t b = bh / heads;
      const std::int64_t h = bh % heads;
      const std::int64_t o = layout.start(b);
      const std::int64_t t = layout.length(b);
      MatrixMap p(cache.probs.data() + cache.offsets[static_cast<std::size_t>(bh)], t, t);
      p.noalias() = q.block(o, h * d, t, d) * k.block(o, h * d, t, d).transpose();
      p *= scale;
      if (biased) p.rowwise() += key_bias.segment(o, t).transpose();
      for (std::int64_t r = 0; r < t; ++r) Softmax<S>::forward_row(p.row(r));
      if (drop) {
        const Matrix<S> dropped = p.array() * mask_of(cache, bh, t).array();
        ctx.block(o, h * d, t, d).noalias() = dropped * v.block(o, h * d, t, d);
      } else {
        ctx.block(o, h * d, t, d).noalias() = p * v.block(o, h * d, t, d);
      }
    }
  }

  /// @brief With P' = dropout(P): dv = P'^T dctx; dP = mask * (dctx v^T); dS = softmax'(dP) * d^-0.5;
  ///        dq = dS k; dk = dS^T q (per sequence and head).
  static void backward(In<S> q, In<S> k, In<S> v, const Cache& cache, In<S> dctx, const TokenLayout& layout,
                       std::int64_t heads, Out<S> dq, Out<S> dk, Out<S> dv) {
    const std::int64_t d = q.cols() / heads;
    const S scale = static_cast<S>(std::pow(static_cast<double>(d), -0.5));
    const bool drop = cache.dropout_mask.size() != 0;
    // four L x L x d products and the softmax backward per (sequence, head)
    const int threads = detail::threads_for(static_cast<double>(cache.offsets.back()) * (static_cast<double>(4 * d) / 16.0 + 8.0));
#pragma omp parallel for schedule(dynamic) num_threads(threads) if (threads > 1)
    for (std::int64_t bh = 0; bh < layout.batch_size * heads; ++bh) {
      const std::int64_t b = bh / heads;
      const std::int64_t h = bh % heads;
      const std::int64_t o = layout.start(b);
      const std::int64_t t = layout.length(b);
      const ConstMatrixMap p(cache.probs.data() + cache.offsets[static_cast<std::size_t>(bh)], t, t);
      const auto g = dctx.block(o, h * d, t, d);
      Matrix<S> dp = g * v.block(o, h * d, t, d).transpose();
      if (drop) {
        const auto mask = mask_of(cache, bh, t);
        const Matrix<S> dropped = p.array() * mask.array();
        dv.block(o, h * d, t, d).noalias() = dropped.transpose() * g;
        dp.array() *= mask.array();
      } else {
        dv.block(o, h * d, t, d).noalias() = p.transpose() * g;
      }
      Softmax<S>::backward_rows(p, dp);
      dp *= scale;
      dq.block(o, h * d, t, d).noalias() = dp * k.block(o, h * d, t, d);
      dk.block(o, h * d, t, d).noalias() = dp.transpose() * q.block(o, h * d, t, d);
    }
  }

 private:
  using MatrixMap = Eigen::Map<Matrix<S>>;
  using ConstMatrixMap = Eigen::Map<const Matrix<S>>;

  // Where each (sequence, head)'s L x L probabilities start in the flat buffers. In the padded layout
  // this is bh * T * T, the row-major [B*H*T, T] matrix of before, so its dropout masks are unchanged.
  static void plan(const TokenLayout& layout, std::int64_t heads, Cache& cache) {
    cache.offsets.assign(static_cast<std::size_t>(layout.batch_size * heads) + 1, 0);
    for (std::int64_t bh = 0; bh < layout.batch_size * heads; ++bh) {
      const std::int64_t t = layout.length(bh / heads);
      cache.offsets[static_cast<std::size_t>(bh) + 1] = cache.offsets[static_cast<std::size_t>(bh)] + t * t;
    }
  }
  static ConstMatrixMap mask_of(const Cache& cache, std::int64_t bh, std::int64_t t) {
    return ConstMatrixMap(cache.dropout_mask.data() + cache.offsets[static_cast<std::size_t>(bh)], t, t);
  }
};

// -------------------------------------------------------------------------------------------
// The classification losses (torch's F.cross_entropy, F.binary_cross_entropy_with_logits,
// F.mse_loss; reduction "mean"), each returning the loss and writing grad_scale * d(loss)/d(logits)
// into dlogits when it is non-empty. Sums run in double.
// -------------------------------------------------------------------------------------------
template <class S>
struct CrossEntropy {
  /// @brief Labels equal to this are left out of the loss and of the mean (torch's default).
  static constexpr std::int64_t ignore_index = -100;

  /// @brief loss = sum_i w[y_i] (logsumexp(z_i) - z_i[y_i]) / sum_i w[y_i] over the rows not ignored
  ///        (w = 1 without weights: the plain mean); dlogits row i = grad_scale * w[y_i] (softmax(z_i) -
  ///        onehot(y_i)) / sum_i w[y_i].
  static double forward_backward(In<S> logits, const std::vector<std::int64_t>& labels, double grad_scale,
                                 Out<S> dlogits, std::span<const double> weights = {}) {
    const Eigen::Index n = logits.rows();
    const Eigen::Index c = logits.cols();
    if (static_cast<Eigen::Index>(labels.size()) != n)
      throw tensor_error("cross_entropy: " + std::to_string(labels.size()) + " labels for " + std::to_string(n) +
                         " rows of logits");
    if (!weights.empty() && static_cast<Eigen::Index>(weights.size()) != c)
      throw tensor_error("cross_entropy: " + std::to_string(weights.size()) + " class weights for " + std::to_string(c) + " classes");
    const auto weight = [&](std::int64_t y) { return weights.empty() ? 1.0 : weights[static_cast<std::size_t>(y)]; };
    double weight_sum = 0.0;
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] == ignore_index) continue;
      if (labels[i] < 0 || labels[i] >= c)
        throw tensor_error("cross_entropy: label " + std::to_string(labels[i]) + " of row " + std::to_string(i) +
                           " is outside [0, " + std::to_string(c) + ") (num_labels = " + std::to_string(c) + ")");
      weight_sum += weight(labels[i]);
    }
    const bool with_grad = dlogits.size() != 0;
    if (with_grad) dlogits.setZero();
    double total = 0.0;
    for (Eigen::Index i = 0; i < n; ++i) {
      const auto y = labels[static_cast<std::size_t>(i)];
      if (y == ignore_index) continue;
      const S m = logits.row(i).maxCoeff();
      const Eigen::Matrix<S, 1, Eigen::Dynamic> e = (logits.row(i).array() - m).exp().matrix();
      const S sum = e.sum();
      const double w = weight(y);
      total += w * static_cast<double>(std::log(sum) + m - logits(i, y));
      if (with_grad) {
        const S f = static_cast<S>(grad_scale * w / weight_sum);
        dlogits.row(i) = e * (f / sum);
        dlogits(i, y) -= f;
      }
    }
    // No row counted (all ignored, or every row's class weighs 0): torch's 0 / 0.
    return weight_sum == 0.0 ? std::numeric_limits<double>::quiet_NaN() : total / weight_sum;
  }
};

namespace detail {

// A loss that is the mean over every (row, output) of term(z, y), where term returns the element's loss
// and its derivative in z: writes dlogits = grad_scale * derivative / count when dlogits is non-empty.
template <class S, class Term>
double elementwise_mean_loss(In<S> logits, std::span<const float> targets, double grad_scale, Out<S> dlogits, const char* name,
                             const char* outputs, Term term) {
  const Eigen::Index n = logits.rows();
  const Eigen::Index c = logits.cols();
  if (static_cast<Eigen::Index>(targets.size()) != n * c)
    throw tensor_error(std::string(name) + ": " + std::to_string(targets.size()) + " targets for " + std::to_string(n) + " x " +
                       std::to_string(c) + " " + outputs);
  const bool with_grad = dlogits.size() != 0;
  const double count = static_cast<double>(n * c);
  double total = 0.0;
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < c; ++j) {
      const auto [loss, derivative] =
          term(static_cast<double>(logits(i, j)), static_cast<double>(targets[static_cast<std::size_t>(i * c + j)]));
      total += loss;
      if (with_grad) dlogits(i, j) = static_cast<S>(grad_scale * derivative / count);
    }
  }
  return total / count;
}

}  // namespace detail

template <class S>
struct BinaryCrossEntropyWithLogits {
  /// @brief loss = mean over every (row, label) of max(z, 0) - z y + log(1 + exp(-|z|)) (the stable
  ///        form of -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))]); dlogits = grad_scale (sigmoid(z) - y) / count.
  static double forward_backward(In<S> logits, std::span<const float> targets, double grad_scale, Out<S> dlogits) {
    return detail::elementwise_mean_loss<S>(logits, targets, grad_scale, dlogits, "binary_cross_entropy_with_logits", "logits",
                                            [](double z, double y) {
                                              const double sigmoid = z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
                                              return std::pair{std::max(z, 0.0) - z * y + std::log1p(std::exp(-std::abs(z))), sigmoid - y};
                                            });
  }
};

template <class S>
struct MeanSquaredError {
  /// @brief loss = mean over every (row, output) of (z - y)^2; dlogits = grad_scale 2 (z - y) / count.
  static double forward_backward(In<S> logits, std::span<const float> targets, double grad_scale, Out<S> dlogits) {
    return detail::elementwise_mean_loss<S>(logits, targets, grad_scale, dlogits, "mse_loss", "outputs", [](double z, double y) {
      const double d = z - y;
      return std::pair{d * d, 2.0 * d};
    });
  }
};

}  // namespace ftlib::eigen
