#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "ftlib/optim/adamw.hpp"

TEST_CASE("is_bias_or_layer_norm matches transformers' no-decay names") {
  CHECK(ftlib::is_bias_or_layer_norm("classifier.bias"));
  CHECK(ftlib::is_bias_or_layer_norm("distilbert.embeddings.LayerNorm.weight"));
  CHECK(ftlib::is_bias_or_layer_norm("distilbert.transformer.layer.0.sa_layer_norm.weight"));
  CHECK_FALSE(ftlib::is_bias_or_layer_norm("classifier.weight"));
  CHECK_FALSE(ftlib::is_bias_or_layer_norm("distilbert.embeddings.word_embeddings.weight"));
}

TEST_CASE("AdamWOptions rejects invalid values with a clear message") {
  ftlib::AdamWOptions options;
  options.beta2 = 1.0;
  CHECK_THROWS_WITH_AS(options.validate(), "AdamW: beta2 must be in [0, 1), got 1.000000", ftlib::option_error);
  options = ftlib::AdamWOptions{}.with_lr(-1.0);
  CHECK_THROWS_AS(options.validate(), ftlib::option_error);
}

namespace {

// A minimal host tensor with reference semantics (like torch::Tensor), for testing AdamW alone.
struct VecTensor {
  std::shared_ptr<std::vector<float>> data = std::make_shared<std::vector<float>>();
};

}  // namespace

template <>
struct ftlib::ParamOps<VecTensor> {
  static VecTensor zeros_like(const VecTensor& t) {
    return {std::make_shared<std::vector<float>>(t.data->size(), 0.0f)};
  }
  static void scale(VecTensor& t, double a) {
    for (auto& x : *t.data) x = static_cast<float>(x * a);
  }
  static void lerp(VecTensor& t, const VecTensor& end, double w) {
    for (std::size_t i = 0; i < t.data->size(); ++i) (*t.data)[i] += static_cast<float>(w * ((*end.data)[i] - (*t.data)[i]));
  }
  static void scale_add_square(VecTensor& t, double a, const VecTensor& g, double b) {
    for (std::size_t i = 0; i < t.data->size(); ++i) {
      const float gi = (*g.data)[i];
      (*t.data)[i] = static_cast<float>(a * (*t.data)[i] + b * gi * gi);
    }
  }
  static void adam_update(VecTensor& p, const VecTensor& m, const VecTensor& v, double step_size,
                          double bias_correction2_sqrt, double eps) {
    for (std::size_t i = 0; i < p.data->size(); ++i) {
      const double denom = std::sqrt((*v.data)[i]) / bias_correction2_sqrt + eps;
      (*p.data)[i] = static_cast<float>((*p.data)[i] - step_size * (*m.data)[i] / denom);
    }
  }
  static ftlib::HostTensor to_host(const VecTensor& t) {
    return {{static_cast<std::int64_t>(t.data->size())}, *t.data};
  }
  static VecTensor from_host(const ftlib::HostTensor& h, const VecTensor&) {
    return {std::make_shared<std::vector<float>>(h.data)};
  }
};

namespace {

// Golden values: torch.optim.AdamW(lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd),
// PyTorch 1.13, p0 = [1, -2, 0.5, 3] and the three gradients below.
const std::vector<std::vector<float>> kGrads = {{0.5f, -1.0f, 0.0f, 2.0f}, {0.1f, 0.2f, -0.3f, 1.0f}, {-0.4f, 0.0f, 0.25f, -2.0f}};

std::vector<std::vector<float>> run_adamw(double weight_decay, bool decay_all, const std::string& name) {
  ftlib::AdamWOptions options;
  options.lr = 0.1;
  options.weight_decay = weight_decay;
  options.decay_bias_and_layer_norm = decay_all;
  ftlib::AdamW<VecTensor> adamw(options);
  VecTensor value{std::make_shared<std::vector<float>>(std::vector<float>{1.0f, -2.0f, 0.5f, 3.0f})};
  VecTensor grad{std::make_shared<std::vector<float>>()};
  std::vector<ftlib::ParameterRef<VecTensor>> params{{name, value, grad, true}};
  std::vector<std::vector<float>> history;
  for (const auto& g : kGrads) {
    *grad.data = g;
    adamw.step(params);
    history.push_back(*value.data);
  }
  return history;
}

void check_close(const std::vector<float>& got, const std::vector<float>& expected) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-6));
}

}  // namespace

TEST_CASE("AdamW reproduces torch.optim.AdamW step by step") {
  const auto no_decay = run_adamw(0.0, true, "w");
  check_close(no_decay[0], {0.900000036f, -1.89999998f, 0.5f, 2.9000001f});
  check_close(no_decay[1], {0.81969595f, -1.84889734f, 0.574413657f, 2.80678225f});
  check_close(no_decay[2], {0.81032604f, -1.80939484f, 0.57768631f, 2.79570389f});

  const auto decay = run_adamw(0.01, true, "w");
  check_close(decay[0], {0.899000049f, -1.898f, 0.499500006f, 2.89700007f});
  check_close(decay[1], {0.817796946f, -1.84499943f, 0.573414207f, 2.8008852f});
  check_close(decay[2], {0.80760926f, -1.80365193f, 0.576113462f, 2.7870059f});
}

TEST_CASE("AdamW leaves biases and LayerNorm out of weight decay only when asked") {
  const auto excluded = run_adamw(0.01, false, "classifier.bias");
  check_close(excluded[2], {0.81032604f, -1.80939484f, 0.57768631f, 2.79570389f});
  const auto decayed_weight = run_adamw(0.01, false, "classifier.weight");
  check_close(decayed_weight[2], {0.80760926f, -1.80365193f, 0.576113462f, 2.7870059f});
}

TEST_CASE("AdamW state round-trips through state_dict for an exact resume") {
  ftlib::AdamWOptions options;
  options.lr = 0.1;
  options.weight_decay = 0.01;
  ftlib::AdamW<VecTensor> first(options);
  VecTensor value{std::make_shared<std::vector<float>>(std::vector<float>{1.0f, -2.0f, 0.5f, 3.0f})};
  VecTensor grad{std::make_shared<std::vector<float>>()};
  std::vector<ftlib::ParameterRef<VecTensor>> params{{"w", value, grad, true}};
  *grad.data = kGrads[0];
  first.step(params);
  ftlib::AdamW<VecTensor> resumed(options);
  resumed.load_state_dict(first.state_dict(), params);
  for (std::size_t k = 1; k < kGrads.size(); ++k) {
    *grad.data = kGrads[k];
    resumed.step(params);
  }
  check_close(*value.data, {0.80760926f, -1.80365193f, 0.576113462f, 2.7870059f});
}

namespace {

// A VecTensor whose ParamOps also offer the fused step, and log the scalars AdamW hands it.
struct HookedTensor {
  std::shared_ptr<std::vector<float>> data = std::make_shared<std::vector<float>>();
  std::shared_ptr<std::vector<ftlib::AdamWStepScalars>> calls = std::make_shared<std::vector<ftlib::AdamWStepScalars>>();
};

VecTensor as_vec(const HookedTensor& t) { return {t.data}; }

}  // namespace

template <>
struct ftlib::ParamOps<HookedTensor> {
  using Vec = ftlib::ParamOps<VecTensor>;
  static HookedTensor zeros_like(const HookedTensor& t) { return {Vec::zeros_like(as_vec(t)).data}; }
  static void scale(HookedTensor& t, double a) { VecTensor v = as_vec(t); Vec::scale(v, a); }
  static void lerp(HookedTensor& t, const HookedTensor& c, double w) { VecTensor v = as_vec(t); Vec::lerp(v, as_vec(c), w); }
  static void scale_add_square(HookedTensor& t, double a, const HookedTensor& c, double b) {
    VecTensor v = as_vec(t);
    Vec::scale_add_square(v, a, as_vec(c), b);
  }
  static void adam_update(HookedTensor& p, const HookedTensor& m, const HookedTensor& v, double step, double bc2,
                          double eps) {
    VecTensor pv = as_vec(p);
    Vec::adam_update(pv, as_vec(m), as_vec(v), step, bc2, eps);
  }
  static void adamw_step(HookedTensor& p, const HookedTensor& g, HookedTensor& m, HookedTensor& v,
                         const ftlib::AdamWStepScalars& s) {
    p.calls->push_back(s);
    VecTensor pv = as_vec(p), mv = as_vec(m), vv = as_vec(v);
    ftlib::adamw_step_op_by_op(pv, as_vec(g), mv, vv, s);
  }
  static ftlib::HostTensor to_host(const HookedTensor& t) { return Vec::to_host(as_vec(t)); }
  static HookedTensor from_host(const ftlib::HostTensor& h, const HookedTensor& like) {
    return {Vec::from_host(h, as_vec(like)).data};
  }
};

static_assert(ftlib::AdamWTensor<VecTensor> && !ftlib::AdamWFusedTensor<VecTensor>);
static_assert(ftlib::AdamWFusedTensor<HookedTensor>);

TEST_CASE("AdamW hands the whole update to ParamOps::adamw_step when the backend has one") {
  for (const std::string name : {"classifier.weight", "classifier.bias"}) {
    CAPTURE(name);
    ftlib::AdamWOptions options;
    options.lr = 0.1;
    options.weight_decay = 0.01;
    options.decay_bias_and_layer_norm = false;  // the bias is left out of decay
    ftlib::AdamW<HookedTensor> adamw(options);
    HookedTensor value;
    *value.data = {1.0f, -2.0f, 0.5f, 3.0f};
    HookedTensor grad;
    std::vector<ftlib::ParameterRef<HookedTensor>> params{{name, value, grad, true}};
    for (const auto& g : kGrads) {
      *grad.data = g;
      adamw.step(params);
    }
    // The scalars of torch.optim.AdamW's step t (1-based), written out here.
    REQUIRE(value.calls->size() == 3);
    const bool decayed = name == "classifier.weight";
    for (std::size_t k = 0; k < 3; ++k) {
      const double t = static_cast<double>(k + 1);
      const ftlib::AdamWStepScalars& s = (*value.calls)[k];
      CHECK(s.decay == (decayed ? 1.0 - 0.1 * 0.01 : 1.0));
      CHECK(s.beta1 == 0.9);
      CHECK(s.beta2 == 0.999);
      CHECK(s.step_size == doctest::Approx(0.1 / (1.0 - std::pow(0.9, t))).epsilon(1e-15));
      CHECK(s.bias_correction2_sqrt == doctest::Approx(std::sqrt(1.0 - std::pow(0.999, t))).epsilon(1e-15));
      CHECK(s.eps == 1e-8);
    }
    // ... and the hook's update lands on torch's values (same golden values as above).
    check_close(*value.data, decayed ? std::vector<float>{0.80760926f, -1.80365193f, 0.576113462f, 2.7870059f}
                                     : std::vector<float>{0.81032604f, -1.80939484f, 0.57768631f, 2.79570389f});
  }
}
