#pragma once
// Session over Trainer<Model, AutoTokenizer>: included only by the backend translation units.

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ftlib/arch/registry.hpp"
#include "ftlib/trainer.hpp"
#include "session.hpp"

namespace ftlib::cli {

template <class Model, TrainingStrategy Strategy>
class TrainerSession final : public Session {
 public:
  TrainerSession(Model model, AutoTokenizer tokenizer, TrainingArguments args, Strategy strategy, std::vector<std::string> names,
                 std::string report)
      : main_(strategy.is_main_process()),
        model_(std::make_unique<Model>(std::move(model))),
        trainer_(*model_, std::move(tokenizer), fit_to_model(std::move(args), *model_, main_), std::move(strategy)),
        report_(std::move(report)) {
    trainer_.set_label_names(std::move(names));
  }

  TrainResult fit(const TextClassificationDataset& train, const TextClassificationDataset* validation,
                  const RunCallbacks& callbacks) override {
    // Callbacks as pointers (null = absent): one fit() instantiation per case, whichever are present.
    if (validation != nullptr) return trainer_.fit(train, *validation, callbacks.progress, callbacks.log, callbacks.tensorboard);
    return trainer_.fit(train, callbacks.progress, callbacks.log, callbacks.tensorboard);
  }
  EvalResult evaluate(const TextClassificationDataset& data) override { return trainer_.evaluate(data); }
  Predictions predict(const std::vector<std::string>& texts) override { return trainer_.predict(texts); }
  void save(const std::filesystem::path& dir) override { trainer_.save_model(dir); }
  [[nodiscard]] std::vector<std::string> id2label() const override { return model_->config().labels.id2label; }
  [[nodiscard]] ProblemType problem_type() const override { return model_->loss_spec().problem_type; }
  [[nodiscard]] std::string load_report() const override { return report_; }
  [[nodiscard]] bool is_main_process() const override { return main_; }

 private:
  // Like HF's tokenizer (model_max_length), never make rows longer than the model has positions.
  static TrainingArguments fit_to_model(TrainingArguments args, const Model& model, bool main) {
    const std::int64_t positions = model.config().arch.max_position_embeddings;
    if (args.max_length > positions) {
      if (main) std::cerr << "note: --max-length " << args.max_length << " is more than the model's " << positions
                << " positions (max_position_embeddings); truncating rows to " << positions << " tokens\n";
      args.max_length = positions;
    }
    return args;
  }

  bool main_;
  std::unique_ptr<Model> model_;  // heap: the Trainer keeps a pointer to it
  Trainer<Model, AutoTokenizer, AdamW<typename Model::Tensor>, LearningRateSchedule, Strategy> trainer_;
  std::string report_;
};

/// @brief The model of `spec`: from_pretrained, or a fresh one from config.json (spec.from_scratch),
///        with spec.options; `report` receives what loading left newly initialised or unused.
template <class Model>
Model make_model(const ModelSpec& spec, std::string& report) {
  if (spec.from_scratch) {
    return Model::from_config(Model::Config::load(spec.dir / "config.json"), spec.options);
  }
  Model model = Model::from_pretrained(spec.dir, spec.options);
  const auto& r = model.load_report();
  const auto weights = open_pretrained_weights(spec.dir);
  if (spec.inference && (!r.missing_keys.empty() || !r.mismatched.empty())) {
    auto absent = r.missing_keys;
    for (const auto& m : r.mismatched) absent.push_back(m.name + " (shape)");
    throw tensor_error(SourceLocation{weights.path().string(), {}, {}},
                       std::to_string(absent.size()) + " of the classifier's tensors are not in this checkpoint (" +
                           join_first(absent, 4) + "); scoring it would use random weights. Fine-tune it first (ftlib train)");
  }
  if (!r.missing_keys.empty()) report += "newly initialised (not in the checkpoint): " + join_names(r.missing_keys) + "\n";
  if (!r.unexpected_keys.empty()) report += "unused weights of the checkpoint: " + join_names(r.unexpected_keys) + "\n";
  std::vector<std::string> loaded;
  for (const auto& t : r.loaded) loaded.push_back(t.checkpoint_name);
  if (const auto bad = nonfinite_tensors(weights, loaded); !bad.empty()) {
    std::string what;
    for (std::size_t i = 0; i < bad.size() && i < 4; ++i)
      what += (i ? ", " : "") + bad[i].name + " (" + std::to_string(bad[i].count) + " of " + std::to_string(bad[i].numel) + ")";
    if (bad.size() > 4) what += ", and " + std::to_string(bad.size() - 4) + " more";
    const std::string message = std::to_string(bad.size()) + " tensors hold NaN or infinite values: " + what;
    if (!spec.allow_nonfinite_weights)
      throw tensor_error(SourceLocation{weights.path().string(), {}, {}},
                         message + "; its outputs would be NaN (--allow-nonfinite-weights loads it anyway)");
    report += "warning: " + weights.path().string() + ": " + message + "\n";
  }
  return model;
}

/// @brief A session over the backend's classifier of spec.model_type (Classifier<Arch> names it),
///        training with `strategy` (the backend's data-parallel one, or SingleProcess).
template <template <class> class Classifier, TrainingStrategy Strategy = SingleProcess>
std::unique_ptr<Session> make_session_for(const ModelSpec& spec, AutoTokenizer tokenizer, TrainingArguments args,
                                          Strategy strategy = {}) {
  return arch::visit_architecture(spec.model_type, [&](auto a) -> std::unique_ptr<Session> {
    using Model = Classifier<typename decltype(a)::type>;
    std::string report;
    Model model = make_model<Model>(spec, report);
    auto names = model.config().labels.id2label;
    return std::make_unique<TrainerSession<Model, Strategy>>(std::move(model), std::move(tokenizer), std::move(args), std::move(strategy),
                                                             std::move(names), report);
  });
}

}  // namespace ftlib::cli
