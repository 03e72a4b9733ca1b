#pragma once
// Session over Trainer<Model, AutoTokenizer>: included only by the backend translation units.

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ftlib/trainer.hpp"
#include "session.hpp"

namespace ftlib::cli {

template <class Model>
class TrainerSession final : public Session {
 public:
  TrainerSession(Model model, AutoTokenizer tokenizer, TrainingArguments args, std::vector<std::string> names,
                 std::string report)
      : model_(std::make_unique<Model>(std::move(model))),
        trainer_(*model_, std::move(tokenizer), fit_to_model(std::move(args), *model_)),
        report_(std::move(report)) {
    trainer_.set_label_names(std::move(names));
  }

  TrainResult fit(const TextClassificationDataset& train, const TextClassificationDataset* validation, ProgressBar* bar,
                  JsonlLogger* log) override {
    // Four combinations of optional callbacks, each a distinct fit() instantiation.
    if (bar != nullptr && log != nullptr) return validation ? trainer_.fit(train, *validation, *bar, *log) : trainer_.fit(train, *bar, *log);
    if (bar != nullptr) return validation ? trainer_.fit(train, *validation, *bar) : trainer_.fit(train, *bar);
    if (log != nullptr) return validation ? trainer_.fit(train, *validation, *log) : trainer_.fit(train, *log);
    return validation ? trainer_.fit(train, *validation) : trainer_.fit(train);
  }
  EvalResult evaluate(const TextClassificationDataset& data) override { return trainer_.evaluate(data); }
  Predictions predict(const std::vector<std::string>& texts) override { return trainer_.predict(texts); }
  void save(const std::filesystem::path& dir) override { trainer_.save_model(dir); }
  [[nodiscard]] std::vector<std::string> id2label() const override { return model_->config().labels.id2label; }
  [[nodiscard]] std::string load_report() const override { return report_; }

 private:
  // Like HF's tokenizer (model_max_length), never make rows longer than the model has positions.
  static TrainingArguments fit_to_model(TrainingArguments args, const Model& model) {
    const std::int64_t positions = model.config().arch.max_position_embeddings;
    if (args.max_length > positions) {
      std::cerr << "note: --max-length " << args.max_length << " is more than the model's " << positions
                << " positions (max_position_embeddings); truncating rows to " << positions << " tokens\n";
      args.max_length = positions;
    }
    return args;
  }

  std::unique_ptr<Model> model_;  // heap: the Trainer keeps a pointer to it
  Trainer<Model, AutoTokenizer> trainer_;
  std::string report_;
};

// Config with the spec's labels and dropout applied (for from-scratch models).
template <class Config, class SetDropout>
Config scratch_config(const ModelSpec& spec, SetDropout&& set_dropout) {
  Config config = Config::load(spec.dir / "config.json");
  if (spec.id2label) {
    const auto problem = config.labels.problem_type;
    config.labels = hf::ClassificationLabels::from_names(*spec.id2label);
    config.labels.problem_type = problem.empty() ? "single_label_classification" : problem;
  }
  if (spec.dropout) set_dropout(config.arch, *spec.dropout);
  return config;
}

}  // namespace ftlib::cli
