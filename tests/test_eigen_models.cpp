// The Eigen backend: the shared HuggingFace fixture suite (model_fixture_suite.hpp: logits, loss,
// every gradient, intermediates, 3 AdamW steps, checkpoint loading) with this backend's tolerances,
// plus whole-model gradient checks in double and a save/load round trip.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/backends/eigen/eigen.hpp"
#include "ftlib/hf/safetensors.hpp"
#include "ftlib/models/model_concept.hpp"
#include "ftlib/optim/adamw.hpp"
#include "model_fixture_suite.hpp"
#include "test_support.hpp"

namespace fe = ftlib::eigen;
namespace fs = std::filesystem;

static_assert(ftlib::SequenceClassifier<fe::DistilBertForSequenceClassification>);
static_assert(ftlib::SequenceClassifier<fe::AlbertForSequenceClassification>);
// The abilities the Trainer uses for reproducible runs and exact resume.
static_assert(ftlib::SeedableModel<fe::DistilBertForSequenceClassification> && ftlib::RngStateModel<fe::AlbertForSequenceClassification>);
static_assert(ftlib::AdamWTensor<fe::Tensor>);

namespace {

/// The Eigen backend for the shared fixture suite (model_fixture_suite.hpp).
struct EigenFixtures {
  static constexpr const char* name = "eigen";
  template <class Arch>
  using Model = fe::SequenceClassifier<Arch>;
  // Tolerances (from shared/fixtures/models/README.md: a float64 evaluation differs from the files by
  // <= 6.2e-7 on logits and <= 1.9e-7 on gradients, the inherent float32 error; our summation order
  // differs from torch's by the same order). BF16-stored gradients: the file rounded them to 2^-8.
  static constexpr ftlib::testing::fixtures::Tolerances tolerances{
      .outputs = {2e-5, 1e-4}, .outputs_wide = {2e-5, 1e-4}, .grads = {2e-6, 1e-4}, .grads_bf16 = {2e-6, 1.0 / 256}};
  // Unpadded (the default) and padded execution (every position, as HuggingFace computes).
  static std::vector<ftlib::testing::fixtures::Variant> variants() {
    return {{"unpadded", {}}, {"padded", fe::ModelOptions{}.with_unpadded(false)}};
  }
  /// hidden.* of a forward over `batch`.
  template <class M>
  static std::map<std::string, ftlib::HostTensor> intermediates(M& model, const ftlib::Batch& batch) {
    (void)model.forward(batch);
    return model.hidden_states();
  }
  /// last_hidden_state and pooler_output of a forward over `batch`.
  template <class M>
  static std::map<std::string, ftlib::HostTensor> encoder_outputs(M& model, const ftlib::Batch& batch) {
    return intermediates(model, batch);
  }
};

}  // namespace

TEST_CASE_TEMPLATE_INVOKE(model_fixture_suite, EigenFixtures);

namespace {

ftlib::arch::DistilBertModelConfig tiny_distilbert_config(double dropout, bool sinusoidal) {
  ftlib::arch::DistilBertModelConfig c;
  c.arch.vocab_size = 30;
  c.arch.dim = 8;
  c.arch.n_layers = 2;
  c.arch.n_heads = 2;
  c.arch.hidden_dim = 12;
  c.arch.max_position_embeddings = 10;
  c.arch.sinusoidal_pos_embds = sinusoidal;
  c.arch.dropout = c.arch.attention_dropout = c.arch.seq_classif_dropout = dropout;
  c.arch.initializer_range = 0.5;  // large weights: a sharply non-linear function to check
  c.labels = ftlib::arch::ClassificationLabels::from_names({"a", "b", "c"});
  return c;
}

ftlib::arch::AlbertModelConfig tiny_albert_config(double dropout) {
  ftlib::arch::AlbertModelConfig c;
  c.arch.vocab_size = 30;
  c.arch.embedding_size = 6;
  c.arch.hidden_size = 8;
  c.arch.num_hidden_layers = 4;
  c.arch.num_hidden_groups = 2;
  c.arch.inner_group_num = 2;
  c.arch.num_attention_heads = 2;
  c.arch.intermediate_size = 12;
  c.arch.max_position_embeddings = 10;
  c.arch.hidden_dropout_prob = c.arch.attention_probs_dropout_prob = c.arch.classifier_dropout_prob = dropout;
  c.arch.initializer_range = 0.5;
  c.labels = ftlib::arch::ClassificationLabels::defaults(3);
  return c;
}

ftlib::Batch tiny_batch() {
  ftlib::Batch b;
  b.batch_size = 2;
  b.seq_len = 5;
  b.input_ids = {2, 7, 0, 11, 3, 2, 29, 4, 0, 0};  // id 0 (padding_idx) inside row 0 too
  b.attention_mask = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
  b.token_type_ids = {0, 0, 0, 1, 1, 0, 1, 1, 0, 0};
  b.labels = {2, 0};
  return b;
}

/// Every gradient of a double-precision model against central differences of its loss; dropout masks
/// are replayed by reseeding before each evaluation.
template <class M>
void check_model_gradients(M& model, double scale) {
  const auto batch = tiny_batch();
  model.set_training(true);
  model.zero_grad();
  model.reseed_dropout(5);
  const double loss = model.forward_backward(batch, scale);
  const auto eval = [&] {
    model.reseed_dropout(5);
    return model.forward(batch).loss;
  };
  CHECK(eval() == doctest::Approx(loss).epsilon(1e-14));
  double worst = 0.0;
  std::size_t checked = 0;
  for (auto& p : model.parameters()) {
    double* v = p.value.data();
    for (std::int64_t i = 0; i < p.value.numel(); ++i) {
      const double saved = v[i];
      const double h = 1e-6;
      v[i] = saved + h;
      const double up = eval();
      v[i] = saved - h;
      const double down = eval();
      v[i] = saved;
      // no gradient for fixed tables, nor for the padding_idx row of the word embeddings
      const bool padding_row = p.name.ends_with("word_embeddings.weight") && i < p.value.size(1);
      const double numeric = p.has_grad && !padding_row ? scale * (up - down) / (2 * h) : 0.0;
      const double err = std::abs(p.grad.data()[i] - numeric) / std::max(1.0, std::abs(numeric));
      if (err > 1e-6) FAIL_CHECK(p.name << "[" << i << "]: analytic " << p.grad.data()[i] << " numeric " << numeric);
      worst = std::max(worst, err);
      ++checked;
    }
  }
  MESSAGE(checked << " parameter elements, max relative error " << worst);
}

}  // namespace

TEST_CASE("eigen DistilBERT in double: every gradient matches finite differences (dropout on)") {
  fe::BasicDistilBertForSequenceClassification<double> model(tiny_distilbert_config(0.1, false), fe::ModelOptions{}.with_seed(3));
  check_model_gradients(model, 0.5);
  // the padding row gets no gradient even though id 0 occurs in the batch
  const auto& word = model.parameter_store().at("distilbert.embeddings.word_embeddings.weight");
  CHECK(word.grad.matrix().row(0).cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("eigen DistilBERT sinusoidal table: fixed values, no gradient, skipped by AdamW") {
  fe::BasicDistilBertForSequenceClassification<double> model(tiny_distilbert_config(0.0, true), fe::ModelOptions{}.with_seed(3));
  check_model_gradients(model, 1.0);
  const auto params = model.parameters();
  const auto pos = std::find_if(params.begin(), params.end(), [](const auto& p) {
    return p.name == "distilbert.embeddings.position_embeddings.weight";
  });
  REQUIRE(pos != params.end());
  CHECK_FALSE(pos->has_grad);
  CHECK(pos->value.data()[1] == 1.0);  // cos(0)
  CHECK(pos->value.matrix()(3, 2) == static_cast<double>(static_cast<float>(std::sin(3.0 / std::pow(10000.0, 2.0 / 8.0)))));
}

TEST_CASE("eigen ALBERT in double: every gradient (shared groups summed) matches finite differences (dropout on)") {
  fe::BasicAlbertForSequenceClassification<double> model(tiny_albert_config(0.1), fe::ModelOptions{}.with_seed(3));
  check_model_gradients(model, 1.0);
}

TEST_CASE("eigen models: save_pretrained -> from_pretrained round trip") {
  ftlib::testing::TempDir tmp("ftlib-eigen");
  const auto batch = tiny_batch();
  {
    fe::DistilBertForSequenceClassification model(tiny_distilbert_config(0.0, false), fe::ModelOptions{}.with_seed(11));
    model.set_training(false);
    const auto before = model.forward(batch);
    model.save_pretrained(tmp.path() / "distilbert");
    CHECK(fs::exists(tmp.path() / "distilbert" / "config.json"));
    CHECK(fs::exists(tmp.path() / "distilbert" / "model.safetensors"));
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path() / "distilbert")) ++entries;
    CHECK(entries == 2);  // no temporary left behind
    auto loaded = fe::DistilBertForSequenceClassification::from_pretrained(tmp.path() / "distilbert");
    CHECK(loaded.load_report().missing_keys.empty());
    CHECK(loaded.load_report().unexpected_keys.empty());
    CHECK(loaded.config().labels.id2label == std::vector<std::string>{"a", "b", "c"});
    CHECK(loaded.config().architectures == std::vector<std::string>{"DistilBertForSequenceClassification"});
    loaded.set_training(false);
    CHECK(loaded.forward(batch).logits.data == before.logits.data);
    // saving into a directory that holds other files keeps them
    std::ofstream(tmp.path() / "distilbert" / "vocab.txt") << "[PAD]\n";
    loaded.save_pretrained(tmp.path() / "distilbert");
    CHECK(fs::exists(tmp.path() / "distilbert" / "vocab.txt"));
  }
  {
    fe::AlbertForSequenceClassification model(tiny_albert_config(0.0), fe::ModelOptions{}.with_seed(11));
    model.set_training(false);
    const auto before = model.forward(batch);
    model.save_pretrained(tmp.path() / "albert");
    auto loaded = fe::AlbertForSequenceClassification::from_pretrained(tmp.path() / "albert");
    CHECK(loaded.load_report().missing_keys.empty());
    loaded.set_training(false);
    CHECK(loaded.forward(batch).logits.data == before.logits.data);
    // new labels on a classifier checkpoint: the head is re-initialised only when asked (transformers' rule)
    CHECK_THROWS_AS(fe::AlbertForSequenceClassification::from_pretrained(
                        tmp.path() / "albert", fe::ModelOptions{}.with_id2label({"x", "y"})),
                    ftlib::tensor_error);
    auto relabelled = fe::AlbertForSequenceClassification::from_pretrained(
        tmp.path() / "albert", fe::ModelOptions{}.with_id2label({"x", "y"}).with_ignore_mismatched_sizes());
    CHECK(relabelled.num_labels() == 2);
    CHECK(relabelled.config().labels.id2label == std::vector<std::string>{"x", "y"});
    std::vector<std::string> mismatched;
    for (const auto& m : relabelled.load_report().mismatched) mismatched.push_back(m.name);
    std::sort(mismatched.begin(), mismatched.end());
    CHECK(mismatched == std::vector<std::string>{"classifier.bias", "classifier.weight"});
    CHECK(relabelled.parameter_store().at("classifier.bias").value.array().abs().maxCoeff() == 0.0f);
  }
}

TEST_CASE("eigen models: training semantics (accumulation, clipping, dropout, eval)") {
  fe::DistilBertForSequenceClassification model(tiny_distilbert_config(0.3, false), fe::ModelOptions{}.with_seed(5));
  const auto batch = tiny_batch();
  auto params = model.parameters();
  const auto& w = params[0];  // word embeddings

  // forward_backward(scale) accumulates scale * grad: two half steps == one full step
  model.set_training(false);
  model.zero_grad();
  const double loss = model.forward_backward(batch, 1.0);
  const auto full = w.grad.to_host().data;
  model.zero_grad();
  model.forward_backward(batch, 0.5);
  CHECK(model.forward_backward(batch, 0.5) == loss);
  const auto halves = w.grad.to_host().data;
  for (std::size_t i = 0; i < full.size(); ++i) CHECK(halves[i] == doctest::Approx(full[i]).epsilon(1e-5));

  // clip_grad_norm: the total L2 norm over every gradient, then scaled to max_norm
  double sum = 0.0;
  for (const auto& p : params)
    for (std::int64_t i = 0; i < p.grad.numel(); ++i) sum += double(p.grad.data()[i]) * p.grad.data()[i];
  const double total = model.clip_grad_norm(0.1);
  CHECK(total == doctest::Approx(std::sqrt(sum)).epsilon(1e-6));
  CHECK(total > 0.1);
  double clipped = 0.0;
  for (const auto& p : params)
    for (std::int64_t i = 0; i < p.grad.numel(); ++i) clipped += double(p.grad.data()[i]) * p.grad.data()[i];
  CHECK(std::sqrt(clipped) == doctest::Approx(0.1).epsilon(1e-4));

  // eval is deterministic; training with dropout 0.3 is not (fresh masks per step)
  const auto e1 = model.forward(batch).logits.data;
  CHECK(model.forward(batch).logits.data == e1);
  model.set_training(true);
  const auto t1 = model.forward(batch).logits.data;
  const auto t2 = model.forward(batch).logits.data;
  CHECK(t1 != t2);
  CHECK(t1 != e1);
}

TEST_CASE("eigen models: bad inputs are rejected with a message naming the problem") {
  fe::DistilBertForSequenceClassification model(tiny_distilbert_config(0.0, false), fe::ModelOptions{}.with_seed(5));
  auto batch = tiny_batch();
  batch.labels = {3, 0};
  CHECK_THROWS_WITH_AS(model.forward_backward(batch, 1.0),
                       "batch.labels[0] = 3 is out of range: expected 0 <= label < 3 (num_labels)", ftlib::tensor_error);
  batch = tiny_batch();
  batch.input_ids[4] = 30;
  CHECK_THROWS_WITH_AS(model.forward(batch),
                       "distilbert.embeddings.word_embeddings (input_ids): id 30 at flat position 4 is outside [0, 30)",
                       ftlib::tensor_error);
  batch = tiny_batch();
  batch.seq_len = 11;
  batch.batch_size = 1;
  batch.input_ids.assign(11, 1);
  batch.attention_mask.assign(11, 1);
  batch.token_type_ids.clear();
  batch.labels = {0};
  CHECK_THROWS_WITH_AS(model.forward(batch),
                       "batch: seq_len 11 exceeds max_position_embeddings 10 of the model (truncate the inputs)",
                       ftlib::tensor_error);
  batch = tiny_batch();
  batch.attention_mask.pop_back();
  CHECK_THROWS_WITH_AS(model.forward(batch), "batch: attention_mask holds 9 values, expected 2 x 5 = 10",
                       ftlib::tensor_error);
  batch = tiny_batch();
  batch.labels.clear();
  CHECK_THROWS_WITH_AS(model.forward_backward(batch, 1.0), "batch: forward_backward needs labels, the batch has none",
                       ftlib::tensor_error);
  ftlib::testing::TempDir tmp("ftlib-eigen");
  CHECK_THROWS_WITH_AS(fe::DistilBertForSequenceClassification::from_pretrained(tmp.path()),
                       doctest::Contains("config.json"), ftlib::error);
  // a checkpoint whose classifier has another number of labels cannot be loaded into this head
  model.save_pretrained(tmp.path() / "m");
  CHECK_THROWS_WITH_AS(
      fe::DistilBertForSequenceClassification::from_pretrained(tmp.path() / "m", fe::ModelOptions{}.with_num_labels(4)),
      doctest::Contains("tensor 'classifier.weight' has shape [3, 8], the model expects [4, 8] for 'classifier.weight'"),
      ftlib::tensor_error);
}

// The registry's names and shapes are checked against the HF-written fixtures in test_hf_checkpoint,
// its order against LibTorch's module tree in test_eigen_libtorch_crosscheck.
TEST_CASE("eigen models: parameters() hands out the registry (names, order, shapes, trainability)") {
  const auto check = [](const auto& model) {
    const auto expected = std::remove_cvref_t<decltype(model)>::expected_parameters(model.config());
    const auto params = model.parameters();
    REQUIRE(params.size() == expected.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      CHECK(params[i].name == expected[i].name);
      CHECK(params[i].value.shape() == expected[i].shape);
      CHECK(params[i].has_grad == expected[i].trainable);
    }
  };
  check(fe::DistilBertForSequenceClassification(tiny_distilbert_config(0.0, false), fe::ModelOptions{}.with_seed(1)));
  check(fe::DistilBertForSequenceClassification(tiny_distilbert_config(0.0, true), fe::ModelOptions{}.with_seed(1)));
  check(fe::AlbertForSequenceClassification(tiny_albert_config(0.0), fe::ModelOptions{}.with_seed(1)));
}
