#pragma once
// A small, exact, fast SequenceClassifier for the Trainer's loop tests: mean of token embeddings
// (with optional seeded dropout), then a linear head; hand-written backward. It satisfies the same
// concept as the backends' models, and can be told to return a NaN loss or to fail while saving.

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/core/batch.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/hf/safetensors.hpp"
#include "ftlib/models/model_concept.hpp"
#include "ftlib/optim/adamw.hpp"

namespace ftlib::testing {

/// A float tensor handle whose copies share storage (as torch::Tensor does).
struct ToyTensor {
  std::shared_ptr<std::vector<float>> data = std::make_shared<std::vector<float>>();
  std::vector<std::int64_t> shape;
  static ToyTensor zeros(std::vector<std::int64_t> shape) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    ToyTensor t;
    t.data->assign(static_cast<std::size_t>(n), 0.0f);
    t.shape = std::move(shape);
    return t;
  }
  float& operator[](std::size_t i) { return (*data)[i]; }
  float operator[](std::size_t i) const { return (*data)[i]; }
  std::size_t size() const { return data->size(); }
};

}  // namespace ftlib::testing

template <>
struct ftlib::ParamOps<ftlib::testing::ToyTensor> {
  using T = ftlib::testing::ToyTensor;
  static T zeros_like(const T& t) { return T::zeros(t.shape); }
  static void scale(T& t, double a) { for (auto& v : *t.data) v *= static_cast<float>(a); }
  static void lerp(T& t, const T& c, double w) {
    for (std::size_t i = 0; i < t.size(); ++i) t[i] += static_cast<float>(w) * (c[i] - t[i]);
  }
  static void scale_add_square(T& t, double a, const T& c, double b) {
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(a) * t[i] + static_cast<float>(b) * (c[i] * c[i]);
  }
  static void adam_update(T& p, const T& m, const T& v, double step, double bc2, double eps) {
    for (std::size_t i = 0; i < p.size(); ++i)
      p[i] -= static_cast<float>(step) * (m[i] / (std::sqrt(v[i]) / static_cast<float>(bc2) + static_cast<float>(eps)));
  }
  static ftlib::HostTensor to_host(const T& t) { return {t.shape, *t.data}; }
  static T from_host(const ftlib::HostTensor& h, const T& like) {
    T t = T::zeros(like.shape);
    *t.data = h.data;
    return t;
  }
};

namespace ftlib::testing {

class ToyClassifier {
 public:
  using Tensor = ToyTensor;

  ToyClassifier(std::int64_t vocab, std::int64_t dim, std::int64_t labels, std::uint64_t seed = 1, double dropout = 0.0)
      : vocab_(vocab), dim_(dim), labels_(labels), dropout_(dropout) {
    emb_ = ToyTensor::zeros({vocab, dim});
    w_ = ToyTensor::zeros({labels, dim});
    b_ = ToyTensor::zeros({labels});
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 0.5f);
    for (auto& v : *emb_.data) v = normal(rng);
    for (auto& v : *w_.data) v = normal(rng);
    zero_grad();
  }

  // --- test controls ---
  std::int64_t poison_call = -1;    ///< forward_backward call number (0-based) that returns NaN
  std::int64_t fail_save_call = -1; ///< save_pretrained call number (0-based) that throws halfway
  std::int64_t calls = 0;
  std::int64_t saves = 0;

  void set_training(bool t) { training_ = t; }
  using RngState = std::uint64_t;  // ftlib::RngStateModel: the Trainer checkpoints the stream's position
  void set_seed(std::uint64_t s) { rng_counter_ = s * 1000003ULL; }
  [[nodiscard]] RngState rng_state() const { return rng_counter_; }
  void set_rng_state(std::uint64_t s) { rng_counter_ = s; }

  double forward_backward(const Batch& batch, double scale) {
    const bool poison = calls++ == poison_call;
    double loss = run(batch, scale, true);
    return poison ? std::nan("") : loss;
  }

  ForwardOutput forward(const Batch& batch) {
    ForwardOutput out;
    out.logits.shape = {batch.batch_size, labels_};
    last_logits_ = &out.logits.data;
    const double loss = run(batch, 0.0, false);
    last_logits_ = nullptr;
    if (batch.has_labels()) {
      out.loss = loss;
      out.has_loss = true;
    }
    return out;
  }

  void zero_grad() {
    gemb_ = ToyTensor::zeros(emb_.shape);
    gw_ = ToyTensor::zeros(w_.shape);
    gb_ = ToyTensor::zeros(b_.shape);
  }

  double clip_grad_norm(double max_norm) {
    double sq = 0.0;
    for (const ToyTensor* g : {&gemb_, &gw_, &gb_})
      for (const float v : *g->data) sq += static_cast<double>(v) * v;
    const double norm = std::sqrt(sq);
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0)
      for (ToyTensor* g : {&gemb_, &gw_, &gb_})
        for (float& v : *g->data) v *= static_cast<float>(coef);
    return norm;
  }

  std::vector<ParameterRef<ToyTensor>> parameters() {
    return {{"embeddings.weight", emb_, gemb_, true}, {"classifier.weight", w_, gw_, true}, {"classifier.bias", b_, gb_, true}};
  }

  void save_pretrained(const std::filesystem::path& dir) const {
    const bool fail = saves_++ == fail_save_call;
    std::filesystem::create_directories(dir);
    nlohmann::json config = {{"model_type", "toy"}, {"num_labels", labels_}};
    std::ofstream(dir / "config.json") << config.dump(2);
    if (fail) throw io_error(dir / "model.safetensors", "simulated crash while saving");
    std::map<std::string, HostTensor> tensors;
    tensors["embeddings.weight"] = {emb_.shape, *emb_.data};
    tensors["classifier.weight"] = {w_.shape, *w_.data};
    tensors["classifier.bias"] = {b_.shape, *b_.data};
    hf::save_safetensors(dir / "model.safetensors", tensors);
  }

  [[nodiscard]] std::int64_t num_labels() const { return labels_; }

 private:
  // Mean-pooled embeddings -> (dropout) -> linear -> cross-entropy; accumulates scale * grads.
  double run(const Batch& batch, double scale, bool backward) {
    const auto B = batch.batch_size, T = batch.seq_len, D = dim_, C = labels_;
    double total = 0.0;
    for (std::int64_t r = 0; r < B; ++r) {
      std::vector<double> h(static_cast<std::size_t>(D), 0.0);
      double count = 0;
      for (std::int64_t t = 0; t < T; ++t) {
        const auto i = static_cast<std::size_t>(r * T + t);
        if (batch.attention_mask[i] == 0) continue;
        const auto id = batch.input_ids[i];
        if (id < 0 || id >= vocab_) throw tensor_error("toy model: id " + std::to_string(id) + " out of range");
        for (std::int64_t d = 0; d < D; ++d) h[static_cast<std::size_t>(d)] += emb_[static_cast<std::size_t>(id * D + d)];
        ++count;
      }
      for (auto& v : h) v /= count;
      std::vector<double> mask(static_cast<std::size_t>(D), 1.0);
      if (training_ && dropout_ > 0) {
        std::mt19937_64 rng(rng_counter_++);
        for (auto& m : mask) m = (static_cast<double>(rng() >> 11) * 0x1.0p-53) < dropout_ ? 0.0 : 1.0 / (1.0 - dropout_);
      }
      std::vector<double> hd(h.size());
      for (std::size_t d = 0; d < h.size(); ++d) hd[d] = h[d] * mask[d];
      std::vector<double> z(static_cast<std::size_t>(C));
      for (std::int64_t c = 0; c < C; ++c) {
        double s = b_[static_cast<std::size_t>(c)];
        for (std::int64_t d = 0; d < D; ++d) s += w_[static_cast<std::size_t>(c * D + d)] * hd[static_cast<std::size_t>(d)];
        z[static_cast<std::size_t>(c)] = static_cast<float>(s);
      }
      if (last_logits_ != nullptr) for (const double v : z) last_logits_->push_back(static_cast<float>(v));
      if (!batch.has_labels()) continue;
      const auto y = static_cast<std::size_t>(batch.labels[static_cast<std::size_t>(r)]);
      double m = z[0];
      for (const double v : z) m = std::max(m, v);
      double sum = 0.0;
      for (const double v : z) sum += std::exp(v - m);
      total += std::log(sum) + m - z[y];
      if (!backward) continue;
      const double f = scale / static_cast<double>(B);
      std::vector<double> dh(static_cast<std::size_t>(D), 0.0);
      for (std::int64_t c = 0; c < C; ++c) {
        const double p = std::exp(z[static_cast<std::size_t>(c)] - m) / sum;
        const double dz = (p - (static_cast<std::size_t>(c) == y ? 1.0 : 0.0)) * f;
        gb_[static_cast<std::size_t>(c)] += static_cast<float>(dz);
        for (std::int64_t d = 0; d < D; ++d) {
          gw_[static_cast<std::size_t>(c * D + d)] += static_cast<float>(dz * hd[static_cast<std::size_t>(d)]);
          dh[static_cast<std::size_t>(d)] += dz * w_[static_cast<std::size_t>(c * D + d)] * mask[static_cast<std::size_t>(d)];
        }
      }
      for (std::int64_t t = 0; t < T; ++t) {
        const auto i = static_cast<std::size_t>(r * T + t);
        if (batch.attention_mask[i] == 0) continue;
        const auto id = batch.input_ids[i];
        for (std::int64_t d = 0; d < D; ++d)
          gemb_[static_cast<std::size_t>(id * D + d)] += static_cast<float>(dh[static_cast<std::size_t>(d)] / count);
      }
    }
    return total / static_cast<double>(B);
  }

  std::int64_t vocab_, dim_, labels_;
  double dropout_;
  bool training_ = true;
  std::uint64_t rng_counter_ = 0;
  mutable std::int64_t saves_ = 0;
  std::vector<float>* last_logits_ = nullptr;
  ToyTensor emb_, w_, b_, gemb_, gw_, gb_;
};

static_assert(SequenceClassifier<ToyClassifier>);
// The abilities whose absence would silently turn exact resume off.
static_assert(SeedableModel<ToyClassifier> && RngStateModel<ToyClassifier>);

}  // namespace ftlib::testing
