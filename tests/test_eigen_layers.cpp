// Finite-difference checks of every hand-written backward in backends/eigen/layers.hpp, in double
// precision so the comparison is sharp (central differences, h = 1e-6: error ~1e-10 relative).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "ftlib/backends/eigen/layers.hpp"
#include "ftlib/backends/eigen/tensor.hpp"
#include "ftlib/optim/adamw.hpp"

namespace fe = ftlib::eigen;
using Mat = fe::Matrix<double>;
using Vec = fe::Vector<double>;

namespace {

std::mt19937_64& rng() {
  static std::mt19937_64 g(1234);  // test-local determinism
  return g;
}

Mat random_matrix(Eigen::Index r, Eigen::Index c, double scale = 1.0) {
  std::normal_distribution<double> n(0.0, scale);
  Mat m(r, c);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = n(rng());
  return m;
}

Vec random_vector(Eigen::Index n, double scale = 1.0) { return random_matrix(n, 1, scale).reshaped(); }

/// d(loss)/d(x) by central differences, perturbing x in place.
template <class Derived>
Mat numeric_grad(Eigen::PlainObjectBase<Derived>& x, const std::function<double()>& loss, double h = 1e-6) {
  Mat g(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const double saved = x.data()[i];
    x.data()[i] = saved + h;
    const double up = loss();
    x.data()[i] = saved - h;
    const double down = loss();
    x.data()[i] = saved;
    // row-major Mat and column vectors share the flat order of x
    g.data()[i] = (up - down) / (2 * h);
  }
  return g;
}

double rel_error(const Mat& analytic, const Mat& numeric) {
  const double scale = std::max(1.0, numeric.cwiseAbs().maxCoeff());
  return (analytic - numeric).cwiseAbs().maxCoeff() / scale;
}

constexpr double kTol = 1e-7;

}  // namespace

TEST_CASE("eigen::Tensor shares storage like torch::Tensor, clone copies") {
  fe::Tensor a({2, 3});
  CHECK(a.numel() == 6);
  CHECK(a.matrix().rows() == 2);
  CHECK(a.matrix().cols() == 3);
  fe::Tensor b = a;
  b.data()[4] = 7.0f;
  CHECK(a.data()[4] == 7.0f);
  fe::Tensor c = a.clone();
  c.data()[4] = 1.0f;
  CHECK(a.data()[4] == 7.0f);
  const auto host = a.to_host();
  CHECK(host.shape == std::vector<std::int64_t>{2, 3});
  CHECK(host.data[4] == 7.0f);
  CHECK_THROWS_WITH_AS(fe::Tensor::from_host(ftlib::HostTensor{{2, 2}, {1.0f}}),
                       "eigen::Tensor: host tensor of shape [2, 2] holds 1 values, expected 4", ftlib::tensor_error);
}

TEST_CASE("ParamOps<eigen::Tensor> drives ftlib::AdamW to torch.optim.AdamW's values") {
  // Golden values: torch.optim.AdamW(lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01), PyTorch 1.13.
  static_assert(ftlib::AdamWTensor<fe::Tensor>);
  ftlib::AdamWOptions options;
  options.lr = 0.1;
  options.weight_decay = 0.01;
  ftlib::AdamW<fe::Tensor> adamw(options);
  fe::Tensor value = fe::Tensor::from_host({{4}, {1.0f, -2.0f, 0.5f, 3.0f}});
  fe::Tensor grad({4});
  std::vector<ftlib::ParameterRef<fe::Tensor>> params{{"w", value, grad, true}};
  const std::vector<std::vector<float>> grads = {{0.5f, -1.0f, 0.0f, 2.0f}, {0.1f, 0.2f, -0.3f, 1.0f}, {-0.4f, 0.0f, 0.25f, -2.0f}};
  for (const auto& g : grads) {
    std::copy(g.begin(), g.end(), grad.data());
    adamw.step(params);
  }
  const std::vector<float> expected = {0.80760926f, -1.80365193f, 0.576113462f, 2.7870059f};
  for (int i = 0; i < 4; ++i) CHECK(value.data()[i] == doctest::Approx(expected[i]).epsilon(1e-6));
  // state round trip keeps the shapes
  const auto state = adamw.state_dict();
  CHECK(state.at("w.exp_avg").shape == std::vector<std::int64_t>{4});
}

namespace {

/// The scalars of torch.optim.AdamW's step t (1-based) for lr, betas (0.9, 0.999), eps 1e-8 and wd.
ftlib::AdamWStepScalars adamw_scalars(double lr, double weight_decay, int t) {
  return ftlib::adamw_step_scalars(ftlib::AdamWOptions{}.with_lr(lr), t, weight_decay);
}

template <class S>
fe::BasicTensor<S> random_tensor(std::int64_t n, double scale) {
  std::normal_distribution<double> dist(0.0, scale);
  fe::BasicTensor<S> t({n});
  for (std::int64_t i = 0; i < n; ++i) t.data()[i] = static_cast<S>(dist(rng()));
  return t;
}

/// max |a - b| relative to max |b| (the tensor's scale; m can cancel to near 0 element-wise).
template <class S>
double scaled_diff(const fe::BasicTensor<S>& a, const fe::BasicTensor<S>& b) {
  double diff = 0.0, scale = 1e-300;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a.data()[i]) - static_cast<double>(b.data()[i])));
    scale = std::max(scale, std::abs(static_cast<double>(b.data()[i])));
  }
  return diff / scale;
}

}  // namespace

// Tolerance: the one-pass kernel keeps the per-element expressions of scale, lerp, scale_add_square and
// adam_update in their order, but the compiler may contract a multiply and an add into one FMA in one form
// and not the other (one rounding instead of two), about 1 ulp per step; over 3 steps 1e-6 of the
// tensor's scale in float (ulp 6e-8), 1e-14 in double (ulp 1.1e-16). (So far they agree bitwise.)
TEST_CASE_TEMPLATE("ParamOps<eigen::BasicTensor>::adamw_step in one pass matches the op-by-op AdamW", S, float, double) {
  using T = fe::BasicTensor<S>;
  using Ops = ftlib::ParamOps<T>;
  static_assert(ftlib::AdamWFusedTensor<T>);
  const double tol = std::is_same_v<S, float> ? 1e-6 : 1e-14;
  double worst_p = 0.0, worst_m = 0.0, worst_v = 0.0;
  // 1 and 7: below one SIMD width; 1000: blocks plus a tail; 400003: enough work for the loop to use threads
  for (const std::int64_t n : {1, 7, 1000, 400003}) {
    for (const double weight_decay : {0.0, 0.01}) {
      CAPTURE(n);
      CAPTURE(weight_decay);
      const T p0 = random_tensor<S>(n, 1.0);
      T p_fused = p0.clone(), p_ref = p0.clone();
      T m_fused = Ops::zeros_like(p0), m_ref = Ops::zeros_like(p0);
      T v_fused = Ops::zeros_like(p0), v_ref = Ops::zeros_like(p0);
      for (int t = 1; t <= 3; ++t) {
        const T g = random_tensor<S>(n, 1e-2);
        const ftlib::AdamWStepScalars s = adamw_scalars(1e-2, weight_decay, t);
        Ops::adamw_step(p_fused, g, m_fused, v_fused, s);
        ftlib::adamw_step_op_by_op(p_ref, g, m_ref, v_ref, s);
      }
      CHECK(scaled_diff(p_fused, p0) > 1e-4);  // it did update
      worst_p = std::max(worst_p, scaled_diff(p_fused, p_ref));
      worst_m = std::max(worst_m, scaled_diff(m_fused, m_ref));
      worst_v = std::max(worst_v, scaled_diff(v_fused, v_ref));
    }
  }
  MESSAGE("one-pass vs op-by-op after 3 steps, max |diff| / max |value|: p " << worst_p << ", exp_avg " << worst_m
                                                                             << ", exp_avg_sq " << worst_v);
  CHECK(worst_p <= tol);
  CHECK(worst_m <= tol);
  CHECK(worst_v <= tol);
}

TEST_CASE("ParamOps<eigen::Tensor>::adamw_step refuses tensors of different sizes") {
  using Ops = ftlib::ParamOps<fe::Tensor>;
  fe::Tensor p({2, 3}), m({2, 3}), v({2, 3});
  const fe::Tensor g({5});
  CHECK_THROWS_WITH_AS(Ops::adamw_step(p, g, m, v, adamw_scalars(1e-2, 0.0, 1)),
                       "eigen AdamW: parameter [2, 3], gradient [5] and moments [2, 3], [2, 3] must have the same "
                       "number of elements",
                       ftlib::tensor_error);
}

TEST_CASE("Linear backward matches finite differences") {
  Mat x = random_matrix(5, 4), w = random_matrix(3, 4);
  Vec b = random_vector(3);
  const Mat r = random_matrix(5, 3);
  const auto loss = [&] {
    Mat y(5, 3);
    fe::Linear<double>::forward(x, w, b, y);
    return (y.array() * r.array()).sum();
  };
  Mat dx(5, 4), dw = Mat::Zero(3, 4);
  Vec db = Vec::Zero(3);
  fe::Linear<double>::backward(x, w, r, dx, dw, db);
  CHECK(rel_error(dx, numeric_grad(x, loss)) < kTol);
  CHECK(rel_error(dw, numeric_grad(w, loss)) < kTol);
  CHECK(rel_error(db, numeric_grad(b, loss)) < kTol);
  // parameter gradients accumulate
  fe::Linear<double>::backward_params(x, r, dw, db);
  CHECK(rel_error(dw, 2 * numeric_grad(w, loss)) < kTol);
}

TEST_CASE("LayerNorm backward matches finite differences") {
  Mat x = random_matrix(6, 8, 2.0);
  Vec w = random_vector(8), b = random_vector(8);
  const Mat r = random_matrix(6, 8);
  fe::LayerNorm<double>::Cache cache;
  const auto loss = [&] {
    Mat y(6, 8);
    fe::LayerNorm<double>::forward(x, w, b, 1e-12, y, cache);
    return (y.array() * r.array()).sum();
  };
  loss();
  // forward: each row of x_hat has mean 0 and biased variance 1
  CHECK(std::abs(cache.x_hat.row(0).mean()) < 1e-12);
  CHECK(cache.x_hat.row(0).squaredNorm() / 8 == doctest::Approx(1.0).epsilon(1e-10));
  Mat dx(6, 8);
  Vec dw = Vec::Zero(8), db = Vec::Zero(8);
  fe::LayerNorm<double>::backward(cache, w, r, dx, dw, db);
  CHECK(rel_error(dx, numeric_grad(x, loss)) < kTol);
  CHECK(rel_error(dw, numeric_grad(w, loss)) < kTol);
  CHECK(rel_error(db, numeric_grad(b, loss)) < kTol);
}

TEST_CASE("Embedding and position backward: scatter-add, no gradient for the padding row") {
  Mat table = random_matrix(6, 4), positions = random_matrix(5, 4);
  const std::vector<std::int64_t> ids = {1, 0, 3, 3, 5, 0};  // B=2, T=3; id 3 twice
  const Mat r = random_matrix(6, 4);
  ftlib::Batch shape;
  shape.batch_size = 2;
  shape.seq_len = 3;
  const ftlib::TokenLayout layout = ftlib::padded_layout(shape);
  const auto loss = [&] {
    Mat y(6, 4);
    fe::Embedding<double>::forward(ids, table, y);
    fe::PositionEmbedding<double>::forward_add(positions, layout, y);
    return (y.array() * r.array()).sum();
  };
  Mat dtable = Mat::Zero(6, 4), dpos = Mat::Zero(5, 4);
  fe::Embedding<double>::backward(ids, r, dtable, /*padding_idx=*/0);
  fe::PositionEmbedding<double>::backward(r, layout, dpos);
  Mat expected = numeric_grad(table, loss);
  CHECK(expected.row(0).cwiseAbs().maxCoeff() > 0.0);  // the function does depend on row 0 ...
  expected.row(0).setZero();                           // ... but padding_idx drops its gradient
  CHECK(rel_error(dtable, expected) < kTol);
  CHECK(rel_error(dpos, numeric_grad(positions, loss)) < kTol);
  CHECK(dpos.bottomRows(2).cwiseAbs().maxCoeff() == 0.0);  // positions >= T unused
  CHECK_THROWS_WITH_AS(fe::Embedding<float>::check_ids({1, 7}, 6, "word_embeddings"),
                       "word_embeddings: id 7 at flat position 1 is outside [0, 6)", ftlib::tensor_error);
}

TEST_CASE("Sinusoidal position table follows DistilBERT's formula") {
  const auto t = fe::PositionEmbedding<float>::sinusoidal_table(4, 6);
  CHECK(t(0, 0) == 0.0f);
  CHECK(t(0, 1) == 1.0f);
  CHECK(t(3, 2) == static_cast<float>(std::sin(3.0 / std::pow(10000.0, 2.0 / 6.0))));
  CHECK(t(3, 5) == static_cast<float>(std::cos(3.0 / std::pow(10000.0, 4.0 / 6.0))));
}

TEST_CASE("Activation backwards match finite differences") {
  for (const auto act : {ftlib::Activation::gelu_erf, ftlib::Activation::gelu_tanh, ftlib::Activation::quick_gelu,
                         ftlib::Activation::relu, ftlib::Activation::silu, ftlib::Activation::tanh, ftlib::Activation::sigmoid,
                         ftlib::Activation::identity}) {
    CAPTURE(static_cast<int>(act));
    Mat x = random_matrix(4, 7, 2.0);
    const Mat r = random_matrix(4, 7);
    const auto loss = [&] {
      Mat y(4, 7);
      fe::Activations<double>::forward(act, x, y);
      return (y.array() * r.array()).sum();
    };
    Mat dx(4, 7);
    fe::Activations<double>::backward(act, x, r, dx);
    CHECK(rel_error(dx, numeric_grad(x, loss)) < 1e-6);  // relu's kink is never hit by random normals
  }
  // forward values against the closed forms
  Mat x(1, 3);
  x << -1.5, 0.3, 2.0;
  Mat y(1, 3);
  fe::Activations<double>::forward(ftlib::Activation::gelu_erf, x, y);
  CHECK(y(0, 2) == doctest::Approx(2.0 * 0.5 * (1 + std::erf(2.0 / std::sqrt(2.0)))).epsilon(1e-14));
  fe::Activations<double>::forward(ftlib::Activation::gelu_tanh, x, y);
  CHECK(y(0, 0) == doctest::Approx(0.5 * -1.5 * (1 + std::tanh(std::sqrt(2 / M_PI) * (-1.5 + 0.044715 * -3.375)))).epsilon(1e-14));
  CHECK_THROWS_WITH_AS((void)ftlib::parse_activation("gelu_10", {"config.json", {}, {}}),
                       doctest::Contains("config.json: unknown activation \"gelu_10\""), ftlib::parse_error);
}

TEST_CASE("Dropout: seeded, inverted scaling, same mask in backward") {
  fe::DropoutRng a(7), b(7);
  Mat m1, m2;
  fe::Dropout<double>::make_mask(0.25, a.next_key(), 64, 64, m1);
  fe::Dropout<double>::make_mask(0.25, b.next_key(), 64, 64, m2);
  CHECK(m1 == m2);
  const double kept = (m1.array() != 0.0).cast<double>().mean();
  CHECK(kept == doctest::Approx(0.75).epsilon(0.05));
  CHECK((m1.array() == 0.0 || m1.array() == 1.0 / 0.75).all());
  Mat m3;
  fe::Dropout<double>::make_mask(0.25, a.next_key(), 64, 64, m3);
  CHECK(m3 != m1);  // the next call draws a new mask
}

TEST_CASE("Softmax and cross-entropy backward match finite differences") {
  Mat z = random_matrix(4, 5, 3.0);
  const std::vector<std::int64_t> labels = {2, 0, ftlib::eigen::CrossEntropy<double>::ignore_index, 4};
  Mat dz(4, 5);
  Mat none(0, 0);
  const auto loss = [&] { return fe::CrossEntropy<double>::forward_backward(z, labels, 1.0, none); };
  // loss against the closed form
  double expected = 0;
  for (int i : {0, 1, 3}) expected += std::log(z.row(i).array().exp().sum()) - z(i, labels[static_cast<std::size_t>(i)]);
  CHECK(loss() == doctest::Approx(expected / 3).epsilon(1e-12));
  fe::CrossEntropy<double>::forward_backward(z, labels, 0.5, dz);
  CHECK(rel_error(dz, 0.5 * numeric_grad(z, loss)) < kTol);
  CHECK(dz.row(2).cwiseAbs().maxCoeff() == 0.0);
  CHECK_THROWS_WITH_AS(fe::CrossEntropy<double>::forward_backward(z, {0, 1, 5, 0}, 1.0, none),
                       "cross_entropy: label 5 of row 2 is outside [0, 5) (num_labels = 5)", ftlib::tensor_error);

  Mat s = random_matrix(3, 6);
  const Mat r = random_matrix(3, 6);
  const auto sloss = [&] {
    Mat p = s;
    for (int i = 0; i < 3; ++i) fe::Softmax<double>::forward_row(p.row(i));
    return (p.array() * r.array()).sum();
  };
  Mat p = s;
  for (int i = 0; i < 3; ++i) fe::Softmax<double>::forward_row(p.row(i));
  CHECK(p.row(1).sum() == doctest::Approx(1.0).epsilon(1e-14));
  Mat dp = r;
  fe::Softmax<double>::backward_rows(p, dp);
  CHECK(rel_error(dp, numeric_grad(s, sloss)) < kTol);
}

namespace {
/// The attention mask [2, 4] of rows with 4 and 2 real tokens. Built by a loop: GCC 12.2 at -O2
/// -march=native on AVX-512 (Zen 4) compiled the literal {1, 1, 1, 1, 1, 1, 0, 0} assigned to a
/// Batch member as eight 1s (a wrong vpbroadcastq; reproduced outside ftlib, docs/reliability.md).
std::vector<std::int64_t> attention_test_mask() {
  std::vector<std::int64_t> mask(8, 0);
  for (const int i : {0, 1, 2, 3, 4, 5}) mask[static_cast<std::size_t>(i)] = 1;
  return mask;
}
/// That batch in the padded or the packed layout.
ftlib::TokenLayout attention_test_layout(bool packed) {
  ftlib::Batch batch;
  batch.batch_size = 2;
  batch.seq_len = 4;
  batch.attention_mask = attention_test_mask();
  return packed ? ftlib::packed_layout(batch) : ftlib::padded_layout(batch);
}
}  // namespace

TEST_CASE("Self-attention backward matches finite differences (masking, dropout)") {
  const std::int64_t batch = 2, t = 4, heads = 2, width = 6;  // d_head = 3
  Mat q = random_matrix(batch * t, width), k = random_matrix(batch * t, width), v = random_matrix(batch * t, width);
  const Vec bias = fe::SelfAttention<double>::key_bias(attention_test_mask());
  const ftlib::TokenLayout layout = attention_test_layout(false);
  const Mat r = random_matrix(batch * t, width);
  for (const double p : {0.0, 0.3}) {
    CAPTURE(p);
    fe::SelfAttention<double>::Cache cache;
    const auto loss = [&] {
      fe::DropoutRng dropout_rng(99);  // the same mask on every evaluation
      Mat ctx(batch * t, width);
      fe::SelfAttention<double>::forward(q, k, v, layout, bias, heads, p, true, dropout_rng, ctx, cache);
      return (ctx.array() * r.array()).sum();
    };
    loss();
    // (b = 1, h = 0)'s 4 x 4 block: padded keys get exactly zero probability; every row sums to one
    const Eigen::Map<const Mat> probs(cache.probs.data() + 2 * t * t, t, t);
    CHECK(probs.rightCols(2).cwiseAbs().maxCoeff() == 0.0);
    CHECK(probs.row(1).sum() == doctest::Approx(1.0).epsilon(1e-14));
    if (p > 0) CHECK(cache.dropout_mask.size() == batch * heads * t * t);
    Mat dq(batch * t, width), dk(batch * t, width), dv(batch * t, width);
    fe::SelfAttention<double>::backward(q, k, v, cache, r, layout, heads, dq, dk, dv);
    CHECK(rel_error(dq, numeric_grad(q, loss)) < kTol);
    CHECK(rel_error(dk, numeric_grad(k, loss)) < kTol);
    CHECK(rel_error(dv, numeric_grad(v, loss)) < kTol);
  }
}

TEST_CASE("Self-attention on packed rows: each sequence over its own length equals the masked padded result") {
  const std::int64_t heads = 2, width = 6;
  const ftlib::TokenLayout padded = attention_test_layout(false);
  const ftlib::TokenLayout packed = attention_test_layout(true);
  REQUIRE(packed.packed);
  REQUIRE(packed.rows() == 6);
  Mat q = random_matrix(8, width), k = random_matrix(8, width), v = random_matrix(8, width);
  const Vec bias = fe::SelfAttention<double>::key_bias(attention_test_mask());
  const auto rows_of = [&](const Mat& m) {
    Mat out(packed.rows(), m.cols());
    for (std::int64_t r = 0; r < packed.rows(); ++r) out.row(r) = m.row(packed.source_of(r));
    return out;
  };
  fe::DropoutRng rng(1);
  fe::SelfAttention<double>::Cache cache;
  Mat ctx_padded(8, width);
  fe::SelfAttention<double>::forward(q, k, v, padded, bias, heads, 0.0, false, rng, ctx_padded, cache);
  Mat pq = rows_of(q), pk = rows_of(k), pv = rows_of(v);
  Mat ctx_packed(6, width);
  fe::SelfAttention<double>::forward(pq, pk, pv, packed, Vec(), heads, 0.0, false, rng, ctx_packed, cache);
  CHECK(rel_error(ctx_packed, rows_of(ctx_padded)) < 1e-14);
  CHECK(cache.probs.size() == heads * (4 * 4 + 2 * 2));  // no padded key or query is computed

  // and its backward, with dropout, against finite differences
  const Mat r = random_matrix(6, width);
  const auto loss = [&] {
    fe::DropoutRng dropout_rng(5);
    Mat ctx(6, width);
    fe::SelfAttention<double>::forward(pq, pk, pv, packed, Vec(), heads, 0.3, true, dropout_rng, ctx, cache);
    return (ctx.array() * r.array()).sum();
  };
  loss();
  Mat dq(6, width), dk(6, width), dv(6, width);
  fe::SelfAttention<double>::backward(pq, pk, pv, cache, r, packed, heads, dq, dk, dv);
  CHECK(rel_error(dq, numeric_grad(pq, loss)) < kTol);
  CHECK(rel_error(dk, numeric_grad(pk, loss)) < kTol);
  CHECK(rel_error(dv, numeric_grad(pv, loss)) < kTol);
}
