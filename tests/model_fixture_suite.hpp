#pragma once
// The HuggingFace fixture suite, written once and run over every backend: for each classifier case
// the logits, loss, every gradient, the intermediates and 3 AdamW steps; for each pretrained
// (non-classifier) checkpoint the encoder outputs, transformers' missing/unused names and the new
// head's init. A backend's test file instantiates it with an adapter (see EigenFixtures in
// test_eigen_models.cpp, LibTorchFixtures in test_libtorch_models.cpp):
//
//   TEST_CASE_TEMPLATE_INVOKE(model_fixture_suite, MyBackendFixtures);
//
// The adapter names the backend's classifier (`template <class Arch> using Model`), the option
// variants to run every case with (e.g. each attention implementation), its tolerances, and how
// to read intermediates and encoder outputs. A new architecture adds its cases to the lists below.
//
// Cases live in ../shared/fixtures/models (DistilBERT, ALBERT: made by the project's PyTorch
// reference, cross-checked against transformers) and tests/fixtures/models (BERT: made by
// transformers itself, tests/fixtures/generate_bert_fixtures.py).

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/arch/albert.hpp"
#include "ftlib/arch/bert.hpp"
#include "ftlib/arch/distilbert.hpp"
#include "ftlib/core/batch.hpp"
#include "ftlib/core/host_tensor.hpp"
#include "ftlib/hf/safetensors.hpp"
#include "ftlib/models/model_options.hpp"
#include "ftlib/optim/adamw.hpp"
#include "test_support.hpp"

namespace ftlib::testing::fixtures {

/// |got - want| <= atol + rtol |want|, element-wise.
struct Tolerance {
  double atol;
  double rtol;
};

/// What an adapter's `tolerances` holds.
struct Tolerances {
  Tolerance outputs;       ///< logits, loss, hidden.*, encoder outputs
  Tolerance outputs_wide;  ///< the same for distilbert-wide (dim 768: longer float32 sums)
  Tolerance grads;         ///< grad.* stored as F32
  Tolerance grads_bf16;    ///< grad.* stored as BF16 (the file rounded them to 2^-8)
};

/// One way of running every case (e.g. an attention implementation), and the tolerance of its step3
/// weights where |grad| < 1e-6 (AdamW turns such rounding-noise gradients into updates of up to lr a
/// step, so two implementations may end up to 2 x (1e-3 + 8/9 1e-3) = 3.8e-3 apart there).
struct Variant {
  std::string name;
  ModelOptions options;
  double step3_noise = 2e-3;
};

/// Where a case's files are.
enum class Source { shared, repository };

/// One fixture case: its directory name and where it lives.
struct Case {
  std::string name;
  Source source = Source::shared;
};

/// The case's directory, or nullopt (printing SKIPPED) when ../shared is absent.
inline std::optional<std::filesystem::path> case_dir(const Case& c) {
  if (c.source == Source::repository) return std::filesystem::path(FTLIB_SOURCE_DIR) / "tests/fixtures/models" / c.name;
  return shared_path("fixtures/models/" + c.name);
}

/// inputs.json as a Batch (token_type_ids and labels when present).
inline Batch read_inputs(const std::filesystem::path& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), path.string());
  const auto j = nlohmann::json::parse(in);
  Batch batch;
  const auto& ids = j.at("input_ids");
  batch.batch_size = static_cast<std::int64_t>(ids.size());
  batch.seq_len = static_cast<std::int64_t>(ids.at(0).size());
  const auto flat = [](const nlohmann::json& rows) {
    std::vector<std::int64_t> out;
    for (const auto& r : rows)
      for (const auto& v : r) out.push_back(v.get<std::int64_t>());
    return out;
  };
  batch.input_ids = flat(ids);
  batch.attention_mask = flat(j.at("attention_mask"));
  if (j.contains("token_type_ids")) batch.token_type_ids = flat(j.at("token_type_ids"));
  if (j.contains("labels")) {
    // Class ids are integers; multi-label targets are rows of floats, regression targets floats.
    const auto& labels = j.at("labels");
    const bool float_targets = std::any_of(labels.begin(), labels.end(), [](const nlohmann::json& v) { return !v.is_number_integer(); });
    if (!float_targets) {
      batch.labels = labels.get<std::vector<std::int64_t>>();
    } else {
      for (const auto& v : labels) {
        if (v.is_array()) {
          for (const auto& x : v) batch.label_values.push_back(x.get<float>());
        } else {
          batch.label_values.push_back(v.get<float>());
        }
      }
    }
  }
  return batch;
}

/// inputs.json's "class_weights" (the weighted cross-entropy cases), if any.
inline std::optional<std::vector<double>> read_class_weights(const std::filesystem::path& path) {
  std::ifstream in(path);
  const auto j = nlohmann::json::parse(in);
  if (!j.contains("class_weights")) return std::nullopt;
  return j.at("class_weights").get<std::vector<double>>();
}

/// Comma-separated names (the fixtures' metadata), sorted, without empty items ("" = none).
inline std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// Checks got against want element-wise; returns the largest |got - want|.
inline double check_tensor(const std::string& what, const std::vector<float>& got, const std::vector<float>& want, Tolerance tol) {
  REQUIRE_MESSAGE(got.size() == want.size(), what << ": " << got.size() << " values, the file has " << want.size());
  double max_abs = 0.0;
  std::int64_t bad = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double d = std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i]));
    max_abs = std::max(max_abs, d);
    if (!(d <= tol.atol + tol.rtol * std::abs(static_cast<double>(want[i])))) ++bad;
  }
  INFO(what << ": " << bad << " of " << want.size() << " elements out of tolerance, max |diff| = " << max_abs);
  CHECK(bad == 0);
  return max_abs;
}

/// check_tensor over the real tokens only: a [B, T, ...] tensor of a batch that ran unpadded has no
/// values at the padded positions (HuggingFace computes them, but nothing reads them).
inline double check_real_tokens(const std::string& what, const std::vector<float>& got, const HostTensor& file,
                                Tolerance tol, const Batch& batch) {
  const auto positions = static_cast<std::size_t>(batch.batch_size * batch.seq_len);
  const std::vector<float>& want = file.data;
  const bool per_token = file.shape.size() >= 2 && file.shape[0] == batch.batch_size && file.shape[1] == batch.seq_len;
  if (!per_token || batch.attention_mask.size() != positions) return check_tensor(what, got, want, tol);
  REQUIRE_MESSAGE(got.size() == want.size(), what << ": " << got.size() << " values, the file has " << want.size());
  const std::size_t width = want.size() / positions;
  std::vector<float> g, w;
  for (std::size_t p = 0; p < positions; ++p) {
    if (batch.attention_mask[p] == 0) continue;
    g.insert(g.end(), got.begin() + static_cast<std::ptrdiff_t>(p * width), got.begin() + static_cast<std::ptrdiff_t>((p + 1) * width));
    w.insert(w.end(), want.begin() + static_cast<std::ptrdiff_t>(p * width), want.begin() + static_cast<std::ptrdiff_t>((p + 1) * width));
  }
  return check_tensor(what + " (real tokens)", g, w, tol);
}

/// transformers' get_linear_schedule_with_warmup factor at scheduler step `step`.
inline double linear_factor(int step, int warmup, int total) {
  if (step < warmup) return static_cast<double>(step) / std::max(1, warmup);
  return std::max(0.0, static_cast<double>(total - step) / std::max(1, total - warmup));
}

/// The gradient of every parameter backward reached, by name, in host memory.
template <class M>
std::map<std::string, HostTensor> gradients(M& model) {
  using Ops = ParamOps<typename M::Tensor>;
  std::map<std::string, HostTensor> out;
  for (const auto& p : model.parameters()) {
    if (p.has_grad) out.emplace(p.name, Ops::to_host(p.grad));
  }
  return out;
}

/// Every parameter's value, by name, in host memory.
template <class M>
std::map<std::string, HostTensor> values(M& model) {
  using Ops = ParamOps<typename M::Tensor>;
  std::map<std::string, HostTensor> out;
  for (const auto& p : model.parameters()) out.emplace(p.name, Ops::to_host(p.value));
  return out;
}

/// Unpadded against padded execution of one model: logits, loss and every gradient agree to float32
/// rounding, per tensor max |unpadded - padded| <= 1e-6 max |padded| + 1e-7. Only the summation order
/// of some products differs (the padded positions add exact zeros to every gradient); the 1e-7 floor
/// covers gradients that are pure rounding noise around zero (a key bias's: softmax ignores a shift
/// shared by all keys, so its true gradient is 0).
inline constexpr double kUnpaddedRtol = 1e-6;
inline constexpr double kUnpaddedFloor = 1e-7;

template <class M>
void check_unpadded_matches_padded(M& model, const Batch& batch) {
  const auto run = [&](bool unpadded) {
    model.set_unpadded(unpadded);
    model.zero_grad();
    const double loss = model.forward_backward(batch, 1.0);
    auto grads = gradients(model);
    grads.emplace("(logits)", model.forward(batch).logits);
    grads.emplace("(loss)", HostTensor{{1}, {static_cast<float>(loss)}});
    return grads;
  };
  const auto padded = run(false);
  const auto unpadded = run(true);
  REQUIRE(padded.size() == unpadded.size());
  double worst = 0.0;
  for (const auto& [name, want] : padded) {
    const auto& got = unpadded.at(name).data;
    REQUIRE(got.size() == want.data.size());
    double scale = 0.0, diff = 0.0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      scale = std::max(scale, std::abs(static_cast<double>(want.data[i])));
      diff = std::max(diff, std::abs(static_cast<double>(got[i]) - want.data[i]));
    }
    worst = std::max(worst, diff);
    INFO(name << ": max |unpadded - padded| = " << diff << ", max |padded| = " << scale);
    CHECK(diff <= kUnpaddedRtol * scale + kUnpaddedFloor);
  }
  MESSAGE("unpadded vs padded: " << padded.size() << " tensors (logits, loss, gradients), max |diff| " << worst);
}

/// Logits, loss, hidden.*, every grad.* and step3.* of classifier case `c` on the backend's model of Arch.
template <class Backend, class Arch>
void check_classifier_case(const Case& c) {
  using M = typename Backend::template Model<Arch>;
  const auto dir = case_dir(c);
  if (!dir) return;
  const Batch batch = read_inputs(*dir / "inputs.json");
  const auto expected = hf::SafetensorsFile::open(*dir / "expected.safetensors");
  const Tolerance out_tol = c.name == "distilbert-wide" ? Backend::tolerances.outputs_wide : Backend::tolerances.outputs;
  const auto want = [&](const std::string& key) { return expected.to_float32(key).data; };
  std::size_t grad_entries = 0;
  for (const auto& t : expected.tensors()) grad_entries += t.name.starts_with("grad.");

  const auto class_weights = read_class_weights(*dir / "inputs.json");
  for (const Variant& v : Backend::variants()) {
    const std::string& variant = v.name;
    ModelOptions options = v.options;
    if (class_weights) options.class_weights = class_weights;
    CAPTURE(c.name);
    CAPTURE(variant);
    M model = M::from_pretrained(*dir, options);
    CHECK(model.load_report().complete());
    model.set_training(true);  // the fixtures are computed in training mode with every dropout p = 0

    // The Trainer's path: loss and every gradient of one forward_backward.
    model.zero_grad();
    const double loss = model.forward_backward(batch, 1.0);
    const float want_loss = want("loss").at(0);
    CHECK(std::abs(loss - want_loss) <= out_tol.atol + out_tol.rtol * std::abs(want_loss));
    const auto grads = gradients(model);
    std::set<std::string> with_grad;
    for (const auto& [name, g] : grads) with_grad.insert(name);
    std::set<std::string> in_file;
    for (const auto& t : expected.tensors())
      if (t.name.starts_with("grad.")) in_file.insert(t.name.substr(5));
    CHECK(with_grad == in_file);  // exactly the trainable parameters (a fixed sinusoidal table has none)
    double worst_grad = 0.0;
    for (const auto& [name, g] : grads) {
      const std::string key = "grad." + name;
      if (!expected.contains(key)) continue;
      const bool bf16 = expected.info(key).dtype == hf::DType::BF16;
      worst_grad = std::max(worst_grad, check_tensor(key, g.data, want(key), bf16 ? Backend::tolerances.grads_bf16 : Backend::tolerances.grads));
    }
    CHECK(grads.size() == grad_entries);

    // forward(): logits and loss without gradients; the intermediates of a forward.
    const ForwardOutput out = model.forward(batch);
    const double worst_logit = check_tensor("logits", out.logits.data, want("logits"), out_tol);
    CHECK(out.has_loss);
    CHECK(std::abs(out.loss - want_loss) <= out_tol.atol + out_tol.rtol * std::abs(want_loss));
    const auto hidden = Backend::intermediates(model, batch);
    double worst_hidden = 0.0;
    std::size_t hidden_checked = 0;
    for (const auto& t : expected.tensors()) {
      if (!t.name.starts_with("hidden.")) continue;
      const auto it = hidden.find(t.name.substr(7));
      REQUIRE_MESSAGE(it != hidden.end(), t.name);
      worst_hidden = std::max(worst_hidden, options.unpadded ? check_real_tokens(t.name, it->second.data, expected.to_float32(t.name), out_tol, batch)
                                                             : check_tensor(t.name, it->second.data, want(t.name), out_tol));
      ++hidden_checked;
    }
    CHECK(hidden_checked >= 3);
    MESSAGE(c.name << " [" << std::string(Backend::name) << " " << variant << "] |loss - file| " << std::abs(loss - want_loss) << ", "
                   << grads.size() << " grads max |diff| " << worst_grad << ", " << hidden_checked
                   << " hidden max |diff| " << worst_hidden << ", logits max |diff| " << worst_logit);
    if (options.unpadded) check_unpadded_matches_padded(model, batch);

    // 3 AdamW steps on a fresh copy: lr 1e-3, wd 0.01 on everything, linear warmup 1 / total 10.
    if (!expected.contains("step3.loss_history")) continue;  // distilbert-wide has none
    M fresh = M::from_pretrained(*dir, options);
    fresh.set_training(true);
    AdamW<typename M::Tensor> optimizer(
        AdamWOptions{}.with_lr(1e-3).with_weight_decay(0.01).with_betas(0.9, 0.999).with_eps(1e-8).with_decay_of_bias_and_layer_norm(true));
    std::vector<float> losses, lrs;
    for (int step = 0; step < 3; ++step) {
      optimizer.set_lr(1e-3 * linear_factor(step, 1, 10));
      fresh.zero_grad();
      losses.push_back(static_cast<float>(fresh.forward_backward(batch, 1.0)));
      lrs.push_back(static_cast<float>(optimizer.options().lr));
      auto params = fresh.parameters();
      optimizer.step(params);
    }
    check_tensor("step3.loss_history", losses, want("step3.loss_history"), {1e-5, 0.0});
    check_tensor("step3.lr_history", lrs, want("step3.lr_history"), {1e-9, 0.0});
    double worst_step = 0.0, worst_noise = 0.0;
    std::size_t step_checked = 0;
    for (const auto& [name, value] : values(fresh)) {
      const std::string key = "step3." + name;
      REQUIRE_MESSAGE(expected.contains(key), key);
      const auto w = want(key);
      REQUIRE(value.data.size() == w.size());
      const auto g = grads.find(name);
      const std::vector<float> file_grad = g == grads.end() ? std::vector<float>{} : want("grad." + name);
      const bool embedding_table = name.find("embeddings.") != std::string::npos && name.ends_with("embeddings.weight");
      std::int64_t bad = 0;
      for (std::size_t i = 0; i < w.size(); ++i) {
        const double d = std::abs(static_cast<double>(value.data[i]) - w[i]);
        if (g == grads.end()) {  // a fixed table: untouched
          bad += d != 0.0;
          continue;
        }
        // README: rounding-noise gradients (|grad| < 1e-6, e.g. key biases) become updates of up to lr.
        // An embedding row no input uses has an exactly zero gradient here and in the file at every
        // step (a key bias's is zero only at the first): no noise, only weight decay moves it, the same
        // on both sides, so it is held to the tight bound.
        const bool significant = std::abs(g->second.data[i]) >= 1e-6;
        const bool unused = embedding_table && g->second.data[i] == 0.0F && file_grad.at(i) == 0.0F;
        (significant ? worst_step : worst_noise) = std::max(significant ? worst_step : worst_noise, d);
        bad += d > (significant || unused ? 1e-5 : v.step3_noise);
      }
      INFO(key << ": " << bad << " elements out of tolerance");
      CHECK(bad == 0);
      ++step_checked;
    }
    std::size_t step_entries = 0;
    for (const auto& t : expected.tensors()) step_entries += t.name.starts_with("step3.");
    CHECK(step_checked + 2 == step_entries);  // + loss_history, lr_history
    MESSAGE(c.name << " [" << std::string(Backend::name) << " " << variant << "] step3: max |param - file| " << worst_step
                   << " where |grad| >= 1e-6, " << worst_noise << " elsewhere");
  }
}

/// A pretrained (non-classifier) checkpoint loaded into a classifier: encoder outputs in eval mode,
/// transformers' missing/unused names, and the fresh head drawn as N(0, initializer_range), zero bias.
template <class Backend, class Arch>
void check_checkpoint_case(const Case& c) {
  using M = typename Backend::template Model<Arch>;
  const auto dir = case_dir(c);
  if (!dir) return;
  const Batch batch = read_inputs(*dir / "inputs.json");
  const auto expected = hf::SafetensorsFile::open(*dir / "expected.safetensors");
  const auto& meta = expected.metadata();
  const std::int64_t num_labels = std::stoll(meta.at("target_num_labels"));
  for (const Variant& v : Backend::variants()) {
    const std::string& variant = v.name;
    ModelOptions options = v.options;
    CAPTURE(c.name);
    CAPTURE(variant);
    M model = M::from_pretrained(*dir, options.with_num_labels(num_labels).with_seed(7));
    CHECK(model.num_labels() == num_labels);
    CHECK(model.load_report().missing_keys == split_commas(meta.at("missing_keys")));
    CHECK(model.load_report().unexpected_keys == split_commas(meta.at("unexpected_keys")));
    CHECK(model.load_report().mismatched.empty());

    model.set_training(false);  // from_pretrained returns eval mode; the files are eval-mode outputs
    const auto out = model.forward(batch);
    CHECK(out.logits.shape == std::vector<std::int64_t>{batch.batch_size, num_labels});
    const auto encoded = Backend::encoder_outputs(model, batch);
    double worst = 0.0;
    std::size_t checked = 0;
    for (const char* key : {"last_hidden_state", "pooler_output"}) {
      if (!expected.contains(key)) continue;
      REQUIRE_MESSAGE(encoded.contains(key), key);
      const auto& got = encoded.at(key).data;
      const HostTensor file = expected.to_float32(key);
      worst = std::max(worst, options.unpadded ? check_real_tokens(key, got, file, Backend::tolerances.outputs, batch)
                                               : check_tensor(key, got, file.data, Backend::tolerances.outputs));
      ++checked;
    }
    CHECK(checked >= 1);
    MESSAGE(c.name << " [" << std::string(Backend::name) << " " << variant << "] encoder outputs max |diff| " << worst << "; missing "
                   << model.load_report().missing_keys.size() << ", unexpected " << model.load_report().unexpected_keys.size());

    // The new weights as transformers initialises them: ~ N(0, initializer_range), biases exactly 0.
    const auto params = values(model);
    const double range = model.config().arch.initializer_range;
    for (const auto& missing : model.load_report().missing_keys) {
      CAPTURE(missing);
      const auto& v = params.at(missing).data;
      if (missing.ends_with(".bias")) {
        CHECK(std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; }));
        continue;
      }
      double mean = 0.0;
      for (const float x : v) mean += x;
      mean /= static_cast<double>(v.size());
      double var = 0.0;
      for (const float x : v) var += (x - mean) * (x - mean);
      const double sd = std::sqrt(var / static_cast<double>(v.size()));
      CHECK(std::abs(mean) < 4.0 * range / std::sqrt(static_cast<double>(v.size())) + 1e-3);
      CHECK(sd == doctest::Approx(range).epsilon(0.35));
    }
    // And it trains: a finite loss, and a backward reaches the fresh head.
    model.set_training(true);
    Batch labelled = batch;
    labelled.labels.assign(static_cast<std::size_t>(batch.batch_size), num_labels - 1);
    model.zero_grad();
    CHECK(std::isfinite(model.forward_backward(labelled, 1.0)));
    const auto head = gradients(model).at("classifier.weight").data;
    CHECK(std::any_of(head.begin(), head.end(), [](float g) { return g != 0.0f; }));
  }
}

}  // namespace ftlib::testing::fixtures

TEST_CASE_TEMPLATE_DEFINE("fixtures: classifiers match HuggingFace (logits, loss, gradients, intermediates, 3 AdamW steps)",
                          Backend, model_fixture_suite) {
  using namespace ftlib::testing::fixtures;
  namespace arch = ftlib::arch;
  SUBCASE("distilbert-tiny") { check_classifier_case<Backend, arch::DistilBertConfig>({"distilbert-tiny"}); }
  SUBCASE("distilbert-sinusoidal") { check_classifier_case<Backend, arch::DistilBertConfig>({"distilbert-sinusoidal"}); }
  SUBCASE("distilbert-wide") { check_classifier_case<Backend, arch::DistilBertConfig>({"distilbert-wide"}); }
  SUBCASE("albert-tiny") { check_classifier_case<Backend, arch::AlbertConfig>({"albert-tiny"}); }
  SUBCASE("albert-groups") { check_classifier_case<Backend, arch::AlbertConfig>({"albert-groups"}); }
  SUBCASE("bert-tiny") { check_classifier_case<Backend, arch::BertConfig>({"bert-tiny", Source::repository}); }
  SUBCASE("bert-pair") { check_classifier_case<Backend, arch::BertConfig>({"bert-pair", Source::repository}); }
  // The other problem types' losses (transformers' MSE and BCE-with-logits) and torch's weighted cross-entropy.
  SUBCASE("bert-regression") { check_classifier_case<Backend, arch::BertConfig>({"bert-regression", Source::repository}); }
  SUBCASE("bert-multi-label") { check_classifier_case<Backend, arch::BertConfig>({"bert-multi-label", Source::repository}); }
  SUBCASE("bert-class-weights") { check_classifier_case<Backend, arch::BertConfig>({"bert-class-weights", Source::repository}); }
  // pretrained checkpoints that are not classifiers
  SUBCASE("distilbert-mlm-checkpoint") { check_checkpoint_case<Backend, arch::DistilBertConfig>({"distilbert-mlm-checkpoint"}); }
  SUBCASE("albert-pretraining-checkpoint") {
    check_checkpoint_case<Backend, arch::AlbertConfig>({"albert-pretraining-checkpoint"});
  }
  SUBCASE("bert-model-checkpoint") {
    check_checkpoint_case<Backend, arch::BertConfig>({"bert-model-checkpoint", Source::repository});
  }
  SUBCASE("bert-mlm-checkpoint") { check_checkpoint_case<Backend, arch::BertConfig>({"bert-mlm-checkpoint", Source::repository}); }
  SUBCASE("bert-pretraining-checkpoint") {
    check_checkpoint_case<Backend, arch::BertConfig>({"bert-pretraining-checkpoint", Source::repository});
  }
  SUBCASE("bert-legacy-checkpoint") {
    check_checkpoint_case<Backend, arch::BertConfig>({"bert-legacy-checkpoint", Source::repository});
  }
}
