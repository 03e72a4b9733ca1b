// Exact resume with dropout on the Eigen models: the dropout stream's position (rng_state) is saved in
// the Trainer's checkpoints and restored on resume, so an interrupted run ends bitwise where an
// uninterrupted one does. Uses the HF fixture models with dropout raised to 0.1 and the Trainer tests'
// toy vocabulary and reviews (tests/data/trainer).

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "ftlib/backends/eigen/albert.hpp"
#include "ftlib/backends/eigen/distilbert.hpp"
#include "ftlib/trainer.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;

ftlib::WordPieceTokenizer toy_tokenizer() {  // ids < 41, inside the fixtures' vocabularies of 1000
  return ftlib::WordPieceTokenizer::from_vocab_file(ftlib::testing::test_data("trainer/vocab.txt"));
}

ftlib::TextClassificationDataset toy_reviews() {  // 40 rows, labels positive/negative
  return ftlib::TextClassificationDataset::load(ftlib::testing::test_data("trainer/reviews.csv"),
                                                ftlib::DatasetOptions().with_label_column("sentiment"));
}

ftlib::Batch toy_batch() {
  ftlib::Batch b;
  b.batch_size = 2;
  b.seq_len = 6;
  b.input_ids = {2, 11, 12, 13, 3, 0, 2, 14, 15, 16, 17, 3};
  b.attention_mask = {1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1};
  b.labels = {1, 0};
  return b;
}

ftlib::TrainingArguments resume_args(const fs::path& out) {
  ftlib::TrainingArguments args;
  args.learning_rate = 3e-3;
  args.weight_decay = 0.01;
  args.warmup_steps = 2;
  args.max_steps = 12;  // 5 batches of 8 per epoch: checkpoints mid-epoch (4, 8) and across an epoch boundary
  args.per_device_train_batch_size = 8;
  args.max_length = 32;
  args.logging_steps = 1;
  args.save_steps = 4;
  args.output_dir = out;
  return args;
}

std::vector<double> step_losses(const ftlib::TrainResult& r) {
  std::vector<double> out;
  for (const auto& rec : r.state.log_history)
    if (rec.contains("loss")) out.push_back(rec.at("loss").get<double>());
  return out;
}

// trainer_state.json rewritten without the model's dropout stream: what a resume without set_rng_state sees.
fs::path copy_without_rng_state(const fs::path& checkpoint, const fs::path& dest) {
  fs::copy(checkpoint, dest, fs::copy_options::recursive);
  nlohmann::json j;
  {
    std::ifstream in(dest / "trainer_state.json");
    j = nlohmann::json::parse(in);
  }
  REQUIRE(j.contains("model_rng_state"));
  j.erase("model_rng_state");
  std::ofstream(dest / "trainer_state.json") << j.dump();
  return dest;
}

template <class Model>
void check_rng_state_round_trip(const fs::path& dir) {
  Model m = Model::from_pretrained(dir, ftlib::eigen::ModelOptions().with_dropout(0.1));
  m.set_training(true);
  const auto batch = toy_batch();
  m.set_seed(5);
  const std::uint64_t s0 = m.rng_state();
  const auto first = m.forward(batch).logits.data;
  CHECK(m.rng_state() != s0);  // the forward pass drew masks
  const auto second = m.forward(batch).logits.data;
  CHECK(first != second);  // different masks, different logits: dropout is on
  m.set_rng_state(s0);
  CHECK(m.forward(batch).logits.data == first);  // same position, same masks
  m.set_seed(5);
  CHECK(m.rng_state() == s0);
  m.set_training(false);
  const auto eval_state = m.rng_state();
  (void)m.forward(batch);
  CHECK(m.rng_state() == eval_state);  // eval draws nothing
}

template <class Model>
void check_exact_resume(const fs::path& dir, const std::string& label) {
  const auto options = ftlib::eigen::ModelOptions().with_dropout(0.1);
  const auto tok = toy_tokenizer();
  const auto train = toy_reviews();
  ftlib::testing::TempDir out_a("ftlib-eigen-resume-a");
  ftlib::testing::TempDir out_b("ftlib-eigen-resume-b");
  const auto args = resume_args(out_a.path());

  Model a = Model::from_pretrained(dir, options);
  ftlib::Trainer ta(a, tok, args);
  const auto ra = ta.fit(train);
  REQUIRE(ra.state.global_step == 12);
  const auto pa = ftlib::training::snapshot_parameters(a);
  const auto la = step_losses(ra);
  REQUIRE(la.size() == 12);

  for (const std::int64_t from : {4, 8}) {
    CAPTURE(from);
    // A different seed: the dropout stream must come from the checkpoint, not from the model's construction.
    Model b = Model::from_pretrained(dir, ftlib::eigen::ModelOptions(options).with_seed(1234));
    auto rb_args = args;
    rb_args.output_dir = out_b.path() / std::to_string(from);
    rb_args.resume_from_checkpoint = out_a.path() / ftlib::training::checkpoint_name(from);
    ftlib::Trainer tb(b, tok, rb_args);
    const auto rb = tb.fit(train);
    CHECK(rb.state.global_step == 12);
    CHECK(ftlib::testing::same_parameters(pa, ftlib::training::snapshot_parameters(b)));
    CHECK(rb.training_loss == ra.training_loss);
    const auto lb = step_losses(rb);
    REQUIRE(lb.size() == 12);
    // The first step after the resume draws its dropout masks from the restored stream: bitwise the same loss.
    CHECK(lb[static_cast<std::size_t>(from)] == la[static_cast<std::size_t>(from)]);
    CHECK(lb == la);
    for (std::size_t i = 0; i < la.size(); ++i)
      if (la[i] != lb[i]) MESSAGE("step " << i + 1 << ": loss " << la[i] << " uninterrupted, " << lb[i] << " resumed");
    CHECK(b.rng_state() == a.rng_state());
  }

  // Control: the same resume without the saved stream position ends elsewhere, so the checks above
  // depend on rng_state being restored (and dropout really changes the run).
  Model c = Model::from_pretrained(dir, options);
  auto rc_args = args;
  rc_args.output_dir = out_b.path() / "no-rng";
  rc_args.resume_from_checkpoint =
      copy_without_rng_state(out_a.path() / ftlib::training::checkpoint_name(4), out_b.path() / "checkpoint-4-no-rng");
  ftlib::Trainer tc(c, tok, rc_args);
  const auto rc = tc.fit(train);
  CHECK_FALSE(ftlib::testing::same_parameters(pa, ftlib::training::snapshot_parameters(c)));
  const auto lc = step_losses(rc);
  REQUIRE(lc.size() == 12);
  CHECK(lc[4] != la[4]);  // the first step after checkpoint-4 already differs: other masks
  MESSAGE(label << ": 12 steps with dropout 0.1, final loss " << la.back() << " (uninterrupted)");
}

}  // namespace

TEST_CASE("Eigen DistilBERT: rng_state / set_rng_state / set_seed replay the dropout masks") {
  const auto dir = ftlib::testing::shared_path("fixtures/models/distilbert-tiny");
  if (!dir) return;
  check_rng_state_round_trip<ftlib::eigen::DistilBertForSequenceClassification>(*dir);
}

TEST_CASE("Eigen ALBERT: rng_state / set_rng_state / set_seed replay the dropout masks") {
  const auto dir = ftlib::testing::shared_path("fixtures/models/albert-tiny");
  if (!dir) return;
  check_rng_state_round_trip<ftlib::eigen::AlbertForSequenceClassification>(*dir);
}

// Both runs must also compute bitwise alike: Eigen's vectorized reductions round differently with the
// storage's address mod the packet size, so every tensor's storage sits on one fixed alignment (without
// it the resumed run, whose heap differs, drifted in the last digits from its first update on).
TEST_CASE("Eigen tensors: storage starts on kStorageAlignment, so reductions do not depend on the heap") {
  using ftlib::eigen::detail::kStorageAlignment;
  CHECK(kStorageAlignment % EIGEN_MAX_ALIGN_BYTES == 0);
  std::vector<ftlib::eigen::Tensor> keep;  // live tensors, so later ones land at other addresses
  for (std::int64_t n = 1; n <= 70; ++n) {
    keep.emplace_back(std::vector<std::int64_t>{n});
    CAPTURE(n);
    CHECK(reinterpret_cast<std::uintptr_t>(keep.back().data()) % kStorageAlignment == 0);
    CHECK(keep.back().array().isZero(0.0f));
  }
}

TEST_CASE("Trainer + Eigen DistilBERT (distilbert-tiny, dropout 0.1): an interrupted and resumed run is bitwise equal") {
  const auto dir = ftlib::testing::shared_path("fixtures/models/distilbert-tiny");
  if (!dir) return;
  check_exact_resume<ftlib::eigen::DistilBertForSequenceClassification>(*dir, "distilbert-tiny");
}

TEST_CASE("Trainer + Eigen ALBERT (albert-tiny, dropout 0.1): an interrupted and resumed run is bitwise equal") {
  const auto dir = ftlib::testing::shared_path("fixtures/models/albert-tiny");
  if (!dir) return;
  check_exact_resume<ftlib::eigen::AlbertForSequenceClassification>(*dir, "albert-tiny");
}
