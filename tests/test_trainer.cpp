// Trainer, DataLoader and TrainingArguments: the loop mechanics on a small exact model
// (tests/trainer_toy_model.hpp), and the loop on the real Eigen models when they are built.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ftlib/trainer.hpp"
#include "test_support.hpp"
#include "trainer_toy_model.hpp"

namespace {

using ftlib::testing::ToyClassifier;
namespace fs = std::filesystem;

ftlib::WordPieceTokenizer toy_tokenizer() {
  return ftlib::WordPieceTokenizer::from_vocab_file(ftlib::testing::test_data("trainer/vocab.txt"));
}

// Made-up two-class reviews: label 1 = positive words, 0 = negative words, plus filler.
ftlib::TextClassificationDataset toy_dataset(std::size_t n, bool flip = false, std::uint64_t seed = 7) {
  const std::vector<std::string> pos = {"good", "great", "fine", "lovely", "superb"};
  const std::vector<std::string> neg = {"bad", "awful", "poor", "dreadful", "broken"};
  const std::vector<std::string> filler = {"the", "toaster", "lamp", "kettle", "widget", "gadget", "zorp", "is", "was", "very", "it"};
  std::mt19937_64 rng(seed);
  std::vector<std::string> texts;
  std::vector<std::int64_t> labels;
  for (std::size_t i = 0; i < n; ++i) {
    const bool positive = i % 2 == 0;
    std::string text;
    const std::size_t len = 2 + rng() % 9;
    for (std::size_t k = 0; k < len; ++k) {
      if (!text.empty()) text += " ";
      text += (k % 3 == 1) ? (positive ? pos : neg)[rng() % 5] : filler[rng() % filler.size()];
    }
    texts.push_back(text);
    labels.push_back(positive != flip ? 1 : 0);
  }
  return ftlib::TextClassificationDataset::from_memory(std::move(texts), std::move(labels), {"negative", "positive"});
}

std::vector<float> flat_parameters(ToyClassifier& model) {
  std::vector<float> out;
  for (const auto& p : model.parameters()) out.insert(out.end(), p.value.data->begin(), p.value.data->end());
  return out;
}

struct CountingCallback {
  int begins = 0, steps = 0, logs = 0, evals = 0, saves = 0, epoch_ends = 0, ends = 0;
  std::int64_t stop_at_step = -1;
  void on_train_begin(const ftlib::TrainerState&) { ++begins; }
  bool on_step_end(const ftlib::TrainerState& s) {
    ++steps;
    return s.global_step == stop_at_step;
  }
  void on_log(const ftlib::TrainerState&, const nlohmann::json&) { ++logs; }
  void on_evaluate(const ftlib::TrainerState&, const std::map<std::string, double>&) { ++evals; }
  void on_save(const ftlib::TrainerState&, const fs::path&) { ++saves; }
  void on_epoch_end(const ftlib::TrainerState&) { ++epoch_ends; }
  void on_train_end(const ftlib::TrainerState&) { ++ends; }
};

}  // namespace

TEST_CASE("TrainingArguments: transformers defaults and validation naming the flag") {
  const ftlib::TrainingArguments args;
  CHECK(args.learning_rate == 5e-5);
  CHECK(args.per_device_train_batch_size == 8);
  CHECK(args.num_train_epochs == 3.0);
  CHECK(args.max_steps == -1);
  CHECK(args.logging_steps == 500);
  CHECK(args.max_grad_norm == 1.0);
  CHECK(args.seed == 42);
  CHECK(args.lr_scheduler_type == "linear");
  CHECK_FALSE(args.metric_greater_is_better());
  ftlib::TrainingArguments a = args;
  a.metric_for_best_model = "eval_accuracy";
  CHECK(a.metric_greater_is_better());
  a.warmup_ratio = 0.1;
  CHECK(a.warmup_steps_for(95) == 10);
  a.learning_rate = -1;
  CHECK_THROWS_WITH_AS(a.validate(), doctest::Contains("learning_rate: must be a finite number >= 0"), ftlib::option_error);
  a = args;
  a.gradient_accumulation_steps = 0;
  CHECK_THROWS_WITH_AS(a.validate(), doctest::Contains("gradient_accumulation_steps: must be >= 1"), ftlib::option_error);
  a = args;
  a.early_stopping_patience = 0;
  CHECK_THROWS_WITH_AS(a.validate(), doctest::Contains("early_stopping_patience: must be >= 1"), ftlib::option_error);
}

TEST_CASE("DataLoader: truncation, seeded order, dynamic and fixed padding, length grouping") {
  const auto tok = toy_tokenizer();
  const auto data = toy_dataset(50);
  const auto encoded = ftlib::encode_dataset(data, tok, 6);
  REQUIRE(encoded.size() == 50);
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    CHECK(encoded.length(i) <= 6);
    CHECK(encoded.ids(i).front() == *tok.token_to_id("[CLS]"));
    CHECK(encoded.ids(i).back() == *tok.token_to_id("[SEP]"));
  }
  const auto full = ftlib::encode_dataset(data, tok, 512);

  ftlib::DataLoaderOptions o;
  o.batch_size = 8;
  o.shuffle = true;
  o.seed = 3;
  const ftlib::DataLoader loader(full, o);
  CHECK(loader.num_batches() == 7);
  const auto e0 = loader.epoch_order(0);
  CHECK(e0 == loader.epoch_order(0));  // reproducible from (seed, epoch) alone
  CHECK(e0 != loader.epoch_order(1));
  auto sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) CHECK(sorted[i] == i);
  o.seed = 4;
  CHECK(ftlib::DataLoader(full, o).epoch_order(0) != e0);

  const auto batches = loader.epoch_batches(0);
  REQUIRE(batches.size() == 7);
  CHECK(batches.back().size() == 2);
  for (const auto& rows : batches) {
    const ftlib::Batch b = loader.make_batch(rows);
    std::size_t longest = 0;
    for (const auto r : rows) longest = std::max(longest, full.length(r));
    CHECK(b.seq_len == static_cast<std::int64_t>(longest));
    CHECK(b.labels.size() == rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto n = full.length(rows[i]);
      for (std::size_t t = 0; t < longest; ++t) {
        const auto k = i * longest + t;
        CHECK(b.attention_mask[k] == (t < n ? 1 : 0));
        CHECK(b.input_ids[k] == (t < n ? full.ids(rows[i])[t] : full.pad_token_id));
      }
      CHECK(b.labels[i] == full.labels[rows[i]]);
    }
  }
  ftlib::DataLoaderOptions fixed = o;
  fixed.with_fixed_length(32);
  const ftlib::Batch fb = ftlib::DataLoader(full, fixed).batch(0, 0);
  CHECK(fb.seq_len == 32);
  CHECK(fb.num_tokens() == loader.make_batch(ftlib::DataLoader(full, fixed).epoch_batches(0)[0]).num_tokens());

  ftlib::DataLoaderOptions grouped = o;
  grouped.group_by_length = true;
  grouped.batch_size = 4;
  const ftlib::DataLoader gl(full, grouped);
  const auto order = gl.epoch_order(0);
  std::size_t longest_all = 0;
  for (std::size_t i = 0; i < full.size(); ++i) longest_all = std::max(longest_all, full.length(i));
  CHECK(full.length(order[0]) == longest_all);  // the longest row comes first
  // Megabatch of 50 // (4*4) = 3 batches = 12 rows: sorted by length, longest first (first one swapped in).
  for (std::size_t start = 0; start < order.size(); start += 12) {
    for (std::size_t i = start + 2; i < std::min(order.size(), start + 12); ++i) CHECK(full.length(order[i - 1]) >= full.length(order[i]));
  }
  auto gs = order;
  std::sort(gs.begin(), gs.end());
  CHECK(std::adjacent_find(gs.begin(), gs.end()) == gs.end());
  CHECK(gs.size() == full.size());
  // Grouping reduces padding.
  std::int64_t padded_random = 0, padded_grouped = 0;
  ftlib::DataLoaderOptions random4 = o;
  random4.batch_size = 4;
  const ftlib::DataLoader rl(full, random4);
  for (const auto& r : rl.epoch_batches(0)) padded_random += rl.make_batch(r).batch_size * rl.make_batch(r).seq_len;
  for (const auto& r : gl.epoch_batches(0)) padded_grouped += gl.make_batch(r).batch_size * gl.make_batch(r).seq_len;
  CHECK(padded_grouped < padded_random);
}

TEST_CASE("Trainer: overfitting a few rows drives the loss down, evaluate and predict agree with a direct computation") {
  const auto tok = toy_tokenizer();
  const auto train = toy_dataset(16);
  ToyClassifier model(static_cast<std::int64_t>(tok.vocab_size()), 8, 2);
  ftlib::TrainingArguments args;
  args.learning_rate = 0.05;
  args.max_steps = 60;
  args.per_device_train_batch_size = 4;
  args.logging_steps = 10;
  args.lr_scheduler_type = "constant";
  ftlib::Trainer trainer(model, tok, args);
  const auto before = trainer.evaluate(train);
  CountingCallback counter;
  const auto result = trainer.fit(train, counter);
  const auto after = trainer.evaluate(train);
  MESSAGE("toy overfit: loss " << before.loss << " -> " << after.loss << ", accuracy " << after.metrics->accuracy);
  CHECK(result.state.global_step == 60);
  CHECK(after.loss < 0.5 * before.loss);
  CHECK(after.metrics->accuracy == 1.0);
  CHECK(counter.begins == 1);
  CHECK(counter.steps == 60);
  CHECK(counter.logs == 6 + 1);  // every 10 steps + the final summary
  CHECK(counter.ends == 1);
  CHECK(counter.epoch_ends == 15);
  const auto& history = result.state.log_history;
  CHECK(history.front()["step"] == 10);
  CHECK(history.back().contains("train_loss"));

  // evaluate == one row at a time, computed here.
  const auto encoded = ftlib::encode_dataset(train, tok, 512);
  double loss = 0;
  std::vector<std::int64_t> predictions;
  model.set_training(false);
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    ftlib::Batch b;
    b.batch_size = 1;
    b.seq_len = static_cast<std::int64_t>(encoded.length(i));
    b.input_ids.assign(encoded.ids(i).begin(), encoded.ids(i).end());
    b.attention_mask.assign(encoded.length(i), 1);
    b.labels = {encoded.labels[i]};
    const auto out = model.forward(b);
    loss += out.loss;
    predictions.push_back(out.logits.data[1] > out.logits.data[0] ? 1 : 0);
  }
  CHECK(after.loss == doctest::Approx(loss / static_cast<double>(encoded.size())).epsilon(1e-6));
  CHECK(after.predictions == predictions);
  const auto direct = ftlib::compute_classification_metrics(predictions, encoded.labels, 2);
  CHECK(after.metrics->macro_f1 == doctest::Approx(direct.macro_f1));
  CHECK(after.to_map().at("eval_f1_macro") == doctest::Approx(direct.macro_f1));

  std::vector<std::string> texts;
  for (std::size_t i = 0; i < 4; ++i) texts.emplace_back(train.text(i));
  const auto pred = trainer.predict(texts);
  REQUIRE(pred.labels.size() == 4);
  CHECK(pred.label_names.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(pred.labels[i] == predictions[i]);
    CHECK(pred.probabilities.data[2 * i] + pred.probabilities.data[2 * i + 1] == doctest::Approx(1.0));
    CHECK(pred.label_names[i] == (pred.labels[i] == 1 ? "positive" : "negative"));
  }
}

TEST_CASE("Trainer: early stopping stops after `patience` evaluations without improvement and restores the best model") {
  const auto tok = toy_tokenizer();
  const auto train = toy_dataset(16);
  const auto validation = toy_dataset(16, /*flip=*/true, 11);  // learning the training set makes this worse
  ToyClassifier model(static_cast<std::int64_t>(tok.vocab_size()), 8, 2);
  ftlib::TrainingArguments args;
  args.learning_rate = 0.05;
  args.num_train_epochs = 50;
  args.per_device_train_batch_size = 4;
  args.eval_steps = 4;
  args.early_stopping_patience = 2;
  args.load_best_model_at_end = true;
  args.logging_steps = 0;
  ftlib::Trainer trainer(model, tok, args);
  CountingCallback counter;
  const auto before = trainer.evaluate(validation);
  const auto result = trainer.fit(train, validation, counter);
  CHECK(result.stopped_early);
  CHECK(result.restored_best);
  REQUIRE(result.state.best_step.has_value());
  const auto& h = result.state.metric_history;
  REQUIRE(h.size() >= 3);
  MESSAGE("early stopping after " << result.state.global_step << " steps, " << h.size() << " evaluations; best step " << *result.state.best_step);
  // It stopped exactly `patience` evaluations after the best one.
  const auto best_index = static_cast<std::size_t>(std::min_element(h.begin(), h.end()) - h.begin());
  CHECK(h.size() == best_index + 1 + 2);
  CHECK(result.state.global_step == static_cast<std::int64_t>(h.size()) * 4);
  CHECK(counter.evals == static_cast<int>(h.size()));
  // The restored weights give the best evaluation's loss.
  const auto restored = trainer.evaluate(validation);
  CHECK(restored.loss == doctest::Approx(*result.state.best_metric).epsilon(1e-9));
  CHECK(*result.state.best_metric == *std::min_element(h.begin(), h.end()));
  CHECK(before.has_loss);

  // A callback returning true also stops the run.
  ToyClassifier model2(static_cast<std::int64_t>(tok.vocab_size()), 8, 2);
  ftlib::TrainingArguments a2 = args;
  a2.early_stopping_patience.reset();
  ftlib::Trainer t2(model2, tok, a2);
  CountingCallback stopper;
  stopper.stop_at_step = 5;
  const auto r2 = t2.fit(train, stopper);
  CHECK(r2.state.global_step == 5);
  CHECK(r2.stopped_early);
}

TEST_CASE("Trainer: an interrupted and resumed run ends exactly where an uninterrupted one does") {
  const auto tok = toy_tokenizer();
  const auto train = toy_dataset(22);  // 6 batches of 4 (last one 2), accumulation 2 -> 3 steps per epoch
  const auto validation = toy_dataset(10, false, 5);
  ftlib::testing::TempDir out_a("ftlib-trainer-a");
  ftlib::testing::TempDir out_b("ftlib-trainer-b");

  ftlib::TrainingArguments args;
  args.learning_rate = 0.02;
  args.weight_decay = 0.01;
  args.warmup_steps = 2;
  args.num_train_epochs = 4;
  args.per_device_train_batch_size = 4;
  args.gradient_accumulation_steps = 2;
  args.eval_steps = 2;
  args.logging_steps = 1;
  args.early_stopping_patience = 100;
  args.load_best_model_at_end = true;
  args.output_dir = out_a.path();

  ToyClassifier a(static_cast<std::int64_t>(tok.vocab_size()), 8, 2, 1, /*dropout=*/0.3);
  ftlib::Trainer ta(a, tok, args);
  const auto ra = ta.fit(train, validation);
  CHECK(ra.state.global_step == 12);
  const auto checkpoints = ftlib::training::list_checkpoints(out_a.path());
  CHECK(checkpoints.size() == 6);  // every evaluation
  const auto a_weights = flat_parameters(a);

  for (const std::int64_t from : {2, 4, 6, 10}) {  // mid-epoch, mid-epoch, end of epoch, ...
    CAPTURE(from);
    ToyClassifier b(static_cast<std::int64_t>(tok.vocab_size()), 8, 2, 99, 0.3);  // different init: all comes from the checkpoint
    ftlib::TrainingArguments rb = args;
    rb.output_dir = out_b.path();
    rb.resume_from_checkpoint = out_a.path() / ftlib::training::checkpoint_name(from);
    ftlib::Trainer tb(b, tok, rb);
    const auto result = tb.fit(train, validation);
    CHECK(result.state.global_step == 12);
    CHECK(flat_parameters(b) == a_weights);  // bitwise
    CHECK(result.training_loss == ra.training_loss);
    CHECK(result.state.metric_history == ra.state.metric_history);
    CHECK(result.state.best_step == ra.state.best_step);
    // The logs after the resume point are the same records.
    auto la = ra.state.log_history;
    auto lb = result.state.log_history;
    la.erase(la.end() - 1);  // the final summaries carry runtimes
    lb.erase(lb.end() - 1);
    for (auto* l : {&la, &lb})
      for (auto& r : *l) {
        r.erase("eval_runtime");
        r.erase("eval_samples_per_second");
      }
    CHECK(la == lb);
  }

  // A checkpoint from a different data setup is refused with a clear message.
  ToyClassifier c(static_cast<std::int64_t>(tok.vocab_size()), 8, 2);
  ftlib::TrainingArguments rc = args;
  rc.output_dir = out_b.path();
  rc.per_device_train_batch_size = 2;
  rc.resume_from_checkpoint = out_a.path() / "checkpoint-4";
  ftlib::Trainer tc(c, tok, rc);
  CHECK_THROWS_WITH_AS(tc.fit(train, validation), doctest::Contains("resume_from_checkpoint: "), ftlib::option_error);
}

TEST_CASE("Trainer: a NaN loss stops with the step named, or is skipped by option, no corrupt checkpoint") {
  const auto tok = toy_tokenizer();
  const auto train = toy_dataset(16);
  ftlib::testing::TempDir out("ftlib-trainer-nan");
  ftlib::TrainingArguments args;
  args.learning_rate = 0.01;
  args.max_steps = 8;
  args.per_device_train_batch_size = 4;
  args.save_steps = 2;
  args.logging_steps = 0;
  args.output_dir = out.path();
  {
    ToyClassifier model(static_cast<std::int64_t>(tok.vocab_size()), 8, 2);
    model.poison_call = 4;  // the 5th micro-batch = step 5
    ftlib::Trainer trainer(model, tok, args);
    CHECK_THROWS_WITH_AS(trainer.fit(train), doctest::Contains("step 5: the training loss is NaN"), ftlib::error);
    const auto cps = ftlib::training::list_checkpoints(out.path());
    REQUIRE(cps.size() == 2);
    CHECK(cps.back().first == 4);
    for (const float v : flat_parameters(model)) CHECK(std::isfinite(v));
  }
  {
    ToyClassifier model(static_cast<std::int64_t>(tok.vocab_size()), 8, 2);
    model.poison_call = 4;
    ftlib::TrainingArguments skip = args;
    skip.on_nonfinite_loss = ftlib::NonFiniteLoss::skip;
    skip.output_dir = out.path() / "skip";  // a new run: the stopped one's checkpoints are not its own
    ftlib::Trainer trainer(model, tok, skip);
    const auto r = trainer.fit(train);
    CHECK(r.state.global_step == 8);
    CHECK(r.state.skipped_steps == 1);
    for (const float v : flat_parameters(model)) CHECK(std::isfinite(v));
    bool logged = false;
    for (const auto& rec : r.state.log_history) logged = logged || (rec.contains("skipped_step") && rec["skipped_step"] == 5);
    CHECK(logged);
  }
}

TEST_CASE("Trainer: a crash while saving leaves no partial checkpoint and keeps the previous ones") {
  const auto tok = toy_tokenizer();
  const auto train = toy_dataset(16);
  ftlib::testing::TempDir out("ftlib-trainer-atomic");
  ftlib::TrainingArguments args;
  args.max_steps = 8;
  args.per_device_train_batch_size = 4;
  args.save_steps = 2;
  args.logging_steps = 0;
  args.output_dir = out.path();
  ToyClassifier model(static_cast<std::int64_t>(tok.vocab_size()), 8, 2);
  model.fail_save_call = 1;  // the second checkpoint (step 4) fails halfway
  ftlib::Trainer trainer(model, tok, args);
  CHECK_THROWS_WITH_AS(trainer.fit(train), doctest::Contains("simulated crash"), ftlib::io_error);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(out.path())) names.push_back(e.path().filename().string());
  REQUIRE(names.size() == 1);
  CHECK(names[0] == "checkpoint-2");
  for (const char* f : {"config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json", "vocab.txt"})
    CHECK(fs::exists(out.path() / "checkpoint-2" / f));
  // And the surviving checkpoint resumes.
  ToyClassifier again(static_cast<std::int64_t>(tok.vocab_size()), 8, 2);
  ftlib::TrainingArguments resume = args;
  resume.resume_from_checkpoint = out.path() / "checkpoint-2";
  ftlib::Trainer t2(again, tok, resume);
  CHECK(t2.fit(train).state.global_step == 8);
}

TEST_CASE("Trainer: save_total_limit keeps the newest and the best, JSONL log has every step and evaluation") {
  const auto tok = toy_tokenizer();
  const auto train = toy_dataset(16);
  const auto validation = toy_dataset(8, true, 3);
  ftlib::testing::TempDir out("ftlib-trainer-limit");
  ftlib::TrainingArguments args;
  args.learning_rate = 0.05;
  args.max_steps = 12;
  args.per_device_train_batch_size = 4;
  args.eval_steps = 2;
  args.logging_steps = 1;
  args.save_total_limit = 2;
  args.load_best_model_at_end = true;
  args.output_dir = out.path();
  ToyClassifier model(static_cast<std::int64_t>(tok.vocab_size()), 8, 2);
  ftlib::Trainer trainer(model, tok, args);
  ftlib::JsonlLogger logger(out.path() / "log.jsonl", false);
  const auto r = trainer.fit(train, validation, logger);
  const auto cps = ftlib::training::list_checkpoints(out.path());
  REQUIRE(r.state.best_step.has_value());
  std::set<std::int64_t> steps;
  for (const auto& c : cps) steps.insert(c.first);
  CHECK(steps.count(12) == 1);
  CHECK(steps.count(*r.state.best_step) == 1);
  CHECK(steps.size() <= 2);
  std::ifstream in(out.path() / "log.jsonl");
  int train_lines = 0, eval_lines = 0;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    train_lines += j.contains("loss");
    eval_lines += j.contains("eval_loss");
  }
  CHECK(train_lines == 12);
  CHECK(eval_lines == 6);
}

#if defined(FTLIB_HAS_EIGEN)
#include "ftlib/backends/eigen/distilbert.hpp"

TEST_CASE("Trainer on the real Eigen DistilBERT (fixture distilbert-tiny): loss falls, resume is exact") {
  const auto dir = ftlib::testing::shared_path("fixtures/models/distilbert-tiny");
  if (!dir) return;
  using Model = ftlib::eigen::DistilBertForSequenceClassification;
  const auto tok = toy_tokenizer();  // ids < 41, inside the fixture's vocabulary of 1000
  auto train = toy_dataset(16);
  ftlib::testing::TempDir out("ftlib-trainer-eigen");
  ftlib::TrainingArguments args;
  args.learning_rate = 3e-3;
  args.max_steps = 16;
  args.per_device_train_batch_size = 8;
  args.max_length = 32;
  args.logging_steps = 0;
  args.save_steps = 8;
  args.output_dir = out.path();
  Model a = Model::from_pretrained(*dir);
  ftlib::Trainer ta(a, tok, args);
  const auto before = ta.evaluate(train);
  const auto ra = ta.fit(train);
  const auto after = ta.evaluate(train);
  MESSAGE("eigen distilbert-tiny: loss " << before.loss << " -> " << after.loss << " in 16 steps");
  CHECK(after.loss < 0.7 * before.loss);

  Model b = Model::from_pretrained(*dir);
  ftlib::TrainingArguments resume = args;
  resume.resume_from_checkpoint = out.path() / "checkpoint-8";
  ftlib::Trainer tb(b, tok, resume);
  const auto rb = tb.fit(train);
  CHECK(rb.training_loss == ra.training_loss);
  const auto pa = ftlib::training::snapshot_parameters(a);
  const auto pb = ftlib::training::snapshot_parameters(b);
  REQUIRE(pa.size() == pb.size());
  bool identical = true;
  for (const auto& [name, t] : pa) identical = identical && t.data == pb.at(name).data;
  CHECK(identical);
}
#endif

TEST_CASE("EncodedDataset: packed 32-bit ids, derived token types and masks; bad rows named") {
  ftlib::EncodedDataset data;
  ftlib::Encoding single;
  single.ids = {101, 7, 8, 102};
  data.append(single);
  ftlib::Encoding pair;
  pair.ids = {101, 5, 102, 6, 9, 102};
  pair.type_ids = {0, 0, 0, 1, 1, 1};
  data.append(pair);
  REQUIRE(data.size() == 2);
  CHECK(data.num_tokens() == 10);
  CHECK(data.length(1) == 6);
  CHECK(data.ids(1)[3] == 6);
  CHECK(data.type_id(0, 3) == 0);  // the single row before the first pair stays type 0
  CHECK(data.type_id(1, 2) == 0);
  CHECK(data.type_id(1, 3) == 1);

  const ftlib::DataLoader loader(data, ftlib::DataLoaderOptions{}.with_batch_size(2));
  const ftlib::Batch b = loader.batch(0, 0);
  CHECK(b.seq_len == 6);
  CHECK(b.input_ids == std::vector<std::int64_t>{101, 7, 8, 102, 0, 0, 101, 5, 102, 6, 9, 102});
  CHECK(b.token_type_ids == std::vector<std::int64_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1});
  CHECK(b.attention_mask == std::vector<std::int64_t>{1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1});

  ftlib::Encoding mixed = pair;
  mixed.type_ids = {0, 1, 0, 1, 1, 1};
  CHECK_THROWS_WITH_AS(data.append(mixed), doctest::Contains("encoded row 2: token type ids must be 0...0 1...1"), ftlib::tensor_error);
  ftlib::Encoding huge = single;
  huge.ids[1] = std::int64_t{1} << 33;
  CHECK_THROWS_WITH_AS(data.append(huge), doctest::Contains("does not fit 32 bits"), ftlib::tensor_error);
  CHECK(data.size() == 2);  // a refused row leaves the dataset as it was
}

TEST_CASE("DataLoader: sort_by_length orders the rows longest first, ties in input order") {
  const auto tok = toy_tokenizer();
  const auto encoded = ftlib::encode_dataset(toy_dataset(30), tok, 512);
  const ftlib::DataLoader loader(encoded, ftlib::DataLoaderOptions{}.with_batch_size(4).with_sort_by_length(true));
  const auto order = loader.epoch_order(0);
  REQUIRE(order.size() == encoded.size());
  for (std::size_t i = 1; i < order.size(); ++i) {
    CHECK(encoded.length(order[i - 1]) >= encoded.length(order[i]));
    if (encoded.length(order[i - 1]) == encoded.length(order[i])) CHECK(order[i - 1] < order[i]);
  }
  CHECK(encoded.length(order.front()) > encoded.length(order.back()));  // the toy rows differ in length
}

#include "ftlib/distributed/launch_environment.hpp"

TEST_CASE("shard_batches: each process's share of an epoch is accelerate's (BatchSamplerShard, even_batches)") {
  // tests/data/distributed/batch_shards.json: accelerate's own shards (tests/distributed/generate_batch_shards.py).
  const auto oracle = ftlib::io::read_json_file(ftlib::testing::test_data("distributed/batch_shards.json"));
  std::size_t checked = 0;
  for (const auto& c : oracle.at("cases")) {
    const auto batch_size = c.at("batch_size").get<std::int64_t>();
    const auto world = c.at("world_size").get<std::int64_t>();
    const auto batches = c.at("batches").get<std::vector<std::vector<std::size_t>>>();
    for (std::int64_t rank = 0; rank < world; ++rank) {
      const auto expected = c.at("shards").at(static_cast<std::size_t>(rank)).get<std::vector<std::vector<std::size_t>>>();
      const auto got = ftlib::shard_batches(batches, rank, world, batch_size);
      INFO("rows " << c.at("rows") << ", batch " << batch_size << ", rank " << rank << " of " << world);
      CHECK(got == expected);
      CHECK(got.size() == ftlib::sharded_batch_count(batches.size(), world));
      ++checked;
    }
  }
  CHECK(checked > 200);
  // One process keeps the epoch as it is; a bad rank is refused.
  const std::vector<std::vector<std::size_t>> three{{0, 1}, {2, 3}, {4}};
  CHECK(ftlib::shard_batches(three, 0, 1, 2) == three);
  CHECK_THROWS_AS((void)ftlib::shard_batches(three, 2, 2, 2), ftlib::option_error);
}

TEST_CASE("LaunchEnvironment: torchrun's variables, checked and named") {
  using ftlib::distributed::LaunchEnvironment;
  const auto from = [](std::map<std::string, std::string> vars) {
    return LaunchEnvironment::from_environment([&vars](const char* name) -> const char* {
      const auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    });
  };
  const auto single = from({});
  CHECK(single.world_size == 1);
  CHECK_FALSE(single.distributed());
  CHECK(from({{"WORLD_SIZE", "1"}, {"RANK", "0"}}).world_size == 1);

  const auto torchrun = from({{"RANK", "3"}, {"LOCAL_RANK", "1"}, {"WORLD_SIZE", "4"}, {"LOCAL_WORLD_SIZE", "2"},
                              {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "29400"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                              {"TORCHELASTIC_RESTART_COUNT", "2"}});
  CHECK(torchrun.rank == 3);
  CHECK(torchrun.local_rank == 1);
  CHECK(torchrun.world_size == 4);
  CHECK(torchrun.master_addr == "10.0.0.1");
  CHECK(torchrun.master_port == 29400);
  CHECK_FALSE(torchrun.hosts_store());  // torchrun's agent hosts it
  CHECK(torchrun.store_prefix() == "/worker/attempt_2");
  const auto own_store = from({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}});
  CHECK(own_store.hosts_store());
  CHECK(own_store.store_prefix().empty());
  CHECK(own_store.local_rank == 0);

  const auto error_of = [&](std::map<std::string, std::string> vars) {
    try {
      (void)from(std::move(vars));
    } catch (const ftlib::option_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::map<std::string, std::string> ok{{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "29500"}};
  auto bad = ok;
  bad["RANK"] = "2";
  CHECK(error_of(bad) == "RANK: is 2, outside 0..1");
  bad = ok;
  bad["MASTER_PORT"] = "http";
  CHECK(error_of(bad) == "MASTER_PORT: 'http' is not an integer");
  bad = ok;
  bad.erase("MASTER_ADDR");
  CHECK(error_of(bad).starts_with("MASTER_ADDR: is not set"));
  bad = ok;
  bad.erase("RANK");
  CHECK(error_of(bad).starts_with("RANK: is not set"));
  CHECK(error_of({{"RANK", "1"}}).starts_with("RANK: is 1 but WORLD_SIZE is not set"));
  CHECK(error_of({{"WORLD_SIZE", "0"}}) == "WORLD_SIZE: is 0, outside 1..1048576");
}

#include <barrier>
#include <thread>

namespace {

// A TrainingStrategy for N trainers in N threads of this process (each its own model), meeting at a
// barrier: the Trainer's data-parallel logic (sharding, the gradient mean before clipping, the
// evaluation gather, agreement, rank 0 alone writing and running callbacks) checked without any
// process group, in every build. The collectives are exact: every rank sums in rank order.
struct ThreadWorld {
  explicit ThreadWorld(std::int64_t n) : size(n), meet(n), grads(static_cast<std::size_t>(n)), shards(static_cast<std::size_t>(n)),
                                         values(static_cast<std::size_t>(n)) {}
  std::int64_t size;
  std::barrier<> meet;
  std::vector<std::vector<float>> grads;
  std::vector<ftlib::EvaluationShard> shards;
  std::vector<double> values;
};

class ThreadRank {
 public:
  ThreadRank(ThreadWorld& world, std::int64_t rank) : world_(&world), rank_(rank) {}
  [[nodiscard]] std::int64_t world_size() const noexcept { return world_->size; }
  [[nodiscard]] std::int64_t rank() const noexcept { return rank_; }
  [[nodiscard]] bool is_main_process() const noexcept { return rank_ == 0; }
  template <class Model>
  void reduce_gradients(Model& model) {
    auto params = model.parameters();
    auto& mine = world_->grads[static_cast<std::size_t>(rank_)];
    mine.clear();
    for (const auto& p : params) mine.insert(mine.end(), p.grad.data->begin(), p.grad.data->end());
    world_->meet.arrive_and_wait();
    std::size_t at = 0;
    for (auto& p : params) {
      for (auto& g : *p.grad.data) {
        double sum = 0;
        for (const auto& other : world_->grads) sum += other[at];
        g = static_cast<float>(sum / static_cast<double>(world_->size));
        ++at;
      }
    }
    ++reductions;
    world_->meet.arrive_and_wait();
  }
  [[nodiscard]] ftlib::EvaluationShard gather(ftlib::EvaluationShard local) {
    world_->shards[static_cast<std::size_t>(rank_)] = std::move(local);
    world_->meet.arrive_and_wait();
    ftlib::EvaluationShard all;
    for (const auto& s : world_->shards) {
      all.rows.insert(all.rows.end(), s.rows.begin(), s.rows.end());
      all.logits.insert(all.logits.end(), s.logits.begin(), s.logits.end());
      all.loss_sum += s.loss_sum;
    }
    world_->meet.arrive_and_wait();
    return all;
  }
  [[nodiscard]] bool any(bool flag) { return combine(flag ? 1.0 : 0.0) > 0; }
  [[nodiscard]] double average(double value) { return combine(value) / static_cast<double>(world_->size); }
  template <class Model>
  void after_optimizer_step(Model& /*model*/) {}
  int reductions = 0;

 private:
  double combine(double v) {
    world_->values[static_cast<std::size_t>(rank_)] = v;
    world_->meet.arrive_and_wait();
    double sum = 0;
    for (const double x : world_->values) sum += x;
    world_->meet.arrive_and_wait();
    return sum;
  }
  ThreadWorld* world_;
  std::int64_t rank_;
};
static_assert(ftlib::TrainingStrategy<ThreadRank>);

}  // namespace

TEST_CASE("Trainer, data parallel: 2 ranks x batch 2 train the model 1 rank x batch 4 trains; rank 0 alone writes and runs callbacks") {
  const auto tok = toy_tokenizer();
  const auto train = toy_dataset(24);
  const auto validation = toy_dataset(10, false, 11);
  const auto vocab = static_cast<std::int64_t>(tok.vocab_size());
  const ftlib::testing::TempDir temp("ftlib-trainer-data-parallel");
  const fs::path& root = temp.path();
  ftlib::TrainingArguments args;
  args.learning_rate = 0.05;
  args.num_train_epochs = 2;
  args.eval_steps = 3;
  args.save_steps = 3;
  args.logging_steps = 1;
  args.load_best_model_at_end = false;

  // One process, 4 rows a step.
  ToyClassifier single_model(vocab, 8, 2);
  args.per_device_train_batch_size = 4;
  args.output_dir = root / "single";
  ftlib::Trainer single(single_model, tok, args);
  const auto single_result = single.fit(train, validation);

  // Two ranks, 2 rows each (and once more with accumulation 2 of 1 row each).
  for (const std::int64_t accumulation : {1, 2}) {
    ThreadWorld world(2);
    args.per_device_train_batch_size = 2 / accumulation;
    args.gradient_accumulation_steps = accumulation;
    args.output_dir = root / ("dp" + std::to_string(accumulation));
    std::vector<ToyClassifier> models;  // each its own weights (a copy would share ToyTensor storage)
    models.reserve(2);
    for (int r = 0; r < 2; ++r) models.emplace_back(vocab, 8, 2);
    std::vector<CountingCallback> counters(2);
    std::vector<ftlib::TrainResult> results(2);
    std::vector<int> reductions(2);
    std::vector<ftlib::EvalResult> evals(2);
    std::vector<std::thread> ranks;
    for (std::int64_t r = 0; r < 2; ++r) {
      ranks.emplace_back([&, r] {
        const auto i = static_cast<std::size_t>(r);
        ftlib::Trainer<ToyClassifier, ftlib::WordPieceTokenizer, ftlib::AdamW<ftlib::testing::ToyTensor>, ftlib::LearningRateSchedule,
                       ThreadRank>
            trainer(models[i], tok, args, ThreadRank(world, r));
        results[i] = trainer.fit(train, validation, counters[i]);
        reductions[i] = trainer.strategy().reductions;
        evals[i] = trainer.evaluate(validation);
      });
    }
    for (auto& t : ranks) t.join();
    INFO("accumulation " << accumulation);
    CHECK(results[0].state.global_step == single_result.state.global_step);
    CHECK(reductions[0] == single_result.state.global_step);  // once per optimizer step, not per micro-batch
    const auto expected = flat_parameters(single_model);
    for (std::size_t r = 0; r < 2; ++r) {
      const auto got = flat_parameters(models[r]);
      REQUIRE(got.size() == expected.size());
      float worst = 0;
      for (std::size_t k = 0; k < got.size(); ++k) worst = std::max(worst, std::abs(got[k] - expected[k]));
      CHECK(worst < 1e-5f);
    }
    CHECK(flat_parameters(models[0]) == flat_parameters(models[1]));  // the same mean on every rank
    // The logged losses are the mean over the ranks: the single run's.
    const auto losses = [](const ftlib::TrainResult& r) {
      std::vector<double> out;
      for (const auto& rec : r.state.log_history)
        if (rec.contains("loss")) out.push_back(rec["loss"].get<double>());
      return out;
    };
    const auto l1 = losses(single_result), l2 = losses(results[0]);
    REQUIRE(l1.size() == l2.size());
    for (std::size_t k = 0; k < l1.size(); ++k) CHECK(l2[k] == doctest::Approx(l1[k]).epsilon(1e-5));
    // Evaluation: each rank ran half the batches; the gathered metrics are the whole set's.
    const auto direct = single.evaluate(validation);
    for (const auto& e : evals) {
      CHECK(e.num_examples == direct.num_examples);
      CHECK(e.loss == doctest::Approx(direct.loss).epsilon(1e-5));
      CHECK(e.predictions == direct.predictions);
    }
    // Rank 0 ran the callbacks and wrote the checkpoints; rank 1 neither.
    CHECK(counters[0].steps == results[0].state.global_step);
    CHECK(counters[0].saves > 0);
    CHECK(counters[1].steps == 0);
    CHECK(counters[1].begins == 0);
    CHECK(fs::exists(args.output_dir / ("checkpoint-" + std::to_string(results[0].state.global_step))));
    // A checkpoint of 2 ranks does not resume in 1.
    ToyClassifier again(vocab, 8, 2);
    auto resume = args;
    resume.resume_from_checkpoint = "last";
    resume.per_device_train_batch_size = 2 / accumulation;
    ftlib::Trainer lone(again, tok, resume);
    CHECK_THROWS_WITH_AS(lone.fit(train, validation), doctest::Contains("written by a run on 2 process(es); this run has 1"),
                         ftlib::option_error);
  }
}
