#pragma once
// Trainer<Model, Tokenizer, Optimizer, Scheduler, Strategy>: transformers' Trainer loop for sequence
// classification, written once for every backend, assembled from small pieces:
//   training_step.hpp   one optimizer step (micro-batches, gradient reduction, clipping, update)
//   evaluator.hpp       a pass without gradients: loss, logits, metrics
//   checkpointing.hpp   CheckpointManager: writing, rotation, best-model keeping, exact resume
//   strategy.hpp        who this process is in a distributed run (SingleProcess by default)
// fit() = seeded shuffling, dynamic padding, optional length grouping, gradient accumulation,
// clipping, AdamW + schedule, evaluation every eval_steps, early stopping (an ordinary
// EarlyStopping callback), best-model restore, atomic checkpoints that resume exactly, logs
// through callbacks. evaluate() and predict() run the model without gradients.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/callbacks/early_stopping.hpp"
#include "ftlib/callbacks/traits.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/core/trainer_state.hpp"
#include "ftlib/data/dataset.hpp"
#include "ftlib/metrics/classification.hpp"
#include "ftlib/metrics/metric_lookup.hpp"
#include "ftlib/models/model_concept.hpp"
#include "ftlib/optim/adamw.hpp"
#include "ftlib/optim/schedules.hpp"
#include "ftlib/tokenizers/tokenizer_concept.hpp"
#include "ftlib/training/checkpointing.hpp"
#include "ftlib/training/data_loader.hpp"
#include "ftlib/training/evaluation.hpp"
#include "ftlib/training/evaluator.hpp"
#include "ftlib/training/strategy.hpp"
#include "ftlib/training/training_arguments.hpp"
#include "ftlib/training/training_step.hpp"

namespace ftlib {

/// @brief What fit() returns: the final state and a summary of the run.
struct TrainResult {
  TrainerState state;                  ///< final position, best metric, log history
  double training_loss = 0.0;          ///< mean loss over every optimizer step taken (transformers' train_loss)
  bool stopped_early = false;          ///< early stopping (or a callback) ended the run
  bool restored_best = false;          ///< the best evaluated weights were loaded back at the end
  double runtime_s = 0.0;              ///< wall-clock seconds of this fit() call
  double samples_per_second = 0.0;     ///< training rows per second in this call
  std::optional<std::filesystem::path> last_checkpoint;  ///< the newest checkpoint written, if any
};

namespace training::detail {

// The default scheduler from the arguments (transformers' get_scheduler by name).
inline LearningRateSchedule make_schedule(const TrainingArguments& args, std::int64_t total_steps) {
  LearningRateSchedule s;
  s.type = parse_scheduler_type(args.lr_scheduler_type);
  s.base_lr = args.learning_rate;
  s.num_warmup_steps = args.warmup_steps_for(total_steps);
  s.num_training_steps = total_steps;
  s.validate();
  return s;
}

inline nlohmann::json schedule_json(const LearningRateSchedule& s) {
  return {{"type", std::string(to_string(s.type))}, {"base_lr", s.base_lr}, {"num_warmup_steps", s.num_warmup_steps},
          {"num_training_steps", s.num_training_steps}};
}

template <class C>
inline constexpr bool is_optional_v = false;
template <class C>
inline constexpr bool is_optional_v<std::optional<C>> = true;

// The callback a hooks-tuple element stands for: itself, the engaged value of an optional one, or
// what a pointer points to (a null pointer is an absent callback).
template <class C>
auto* callback_of(C& c) {
  if constexpr (std::is_pointer_v<C>) return c;
  else if constexpr (is_optional_v<C>) return c ? &*c : nullptr;
  else return &c;
}

// The callback class of a fit() argument: the class itself, or the class a pointer points to.
template <class C>
using callback_class_t = std::remove_cvref_t<std::remove_pointer_t<std::remove_cvref_t<C>>>;

}  // namespace training::detail

/// @brief The training loop. Holds a reference to the model (which it trains in place) and a copy
///        of the tokenizer. Optimizer must offer AdamW's interface (step, set_lr, state_dict,
///        load_state_dict, construction from AdamWOptions); Scheduler must offer lr(step) and be
///        constructible by Scheduler(args, total_steps) unless it is LearningRateSchedule; Strategy
///        is a TrainingStrategy (SingleProcess, or a data-parallel one).
template <SequenceClassifier Model, Tokenizer Tok, class Optimizer = AdamW<typename Model::Tensor>,
          class Scheduler = LearningRateSchedule, TrainingStrategy Strategy = SingleProcess>
class Trainer {
 public:
  /// @brief A trainer for `model` (kept by reference: it must outlive the trainer).
  /// @throws option_error for invalid arguments, naming the field.
  Trainer(Model& model, Tok tokenizer, TrainingArguments args = {}, Strategy strategy = {})
      : model_(&model), tokenizer_(std::move(tokenizer)), args_(std::move(args)), strategy_(std::move(strategy)) {
    args_.validate();
    (void)parse_scheduler_type(args_.lr_scheduler_type);
  }

  /// @brief The arguments.
  [[nodiscard]] const TrainingArguments& args() const noexcept { return args_; }
  /// @brief The model being trained.
  [[nodiscard]] Model& model() noexcept { return *model_; }
  /// @brief The tokenizer.
  [[nodiscard]] const Tok& tokenizer() const noexcept { return tokenizer_; }
  /// @brief The training strategy.
  [[nodiscard]] Strategy& strategy() noexcept { return strategy_; }
  /// @brief The state of the last (or current) fit().
  [[nodiscard]] const TrainerState& state() const noexcept { return state_; }
  /// @brief Label names used in reports (from the training set; settable for evaluate-only use).
  void set_label_names(std::vector<std::string> names) { label_names_ = std::move(names); }
  /// @brief Label names used in reports.
  [[nodiscard]] const std::vector<std::string>& label_names() const noexcept { return label_names_; }

  /// @brief Trains on `train`, evaluating on `validation` (every eval_steps, or each epoch).
  template <ClassificationDataset D, class... Callbacks>
  TrainResult fit(const D& train, const D& validation, Callbacks&&... callbacks) {
    return run(train, &validation, callbacks...);
  }

  /// @brief Trains on `train` without validation.
  template <ClassificationDataset D, class... Callbacks>
    requires((!ClassificationDataset<std::remove_cvref_t<Callbacks>>) && ...)
  TrainResult fit(const D& train, Callbacks&&... callbacks) {
    return run(train, static_cast<const D*>(nullptr), callbacks...);
  }

  /// @brief Loss and metrics of the model on a labelled (or unlabelled: logits only) dataset.
  template <ClassificationDataset D>
  [[nodiscard]] EvalResult evaluate(const D& data) {
    const auto encoded = encode_dataset(data, tokenizer_, args_.max_length, threads());
    std::vector<std::string> names = label_names_;
    if constexpr (requires { data.id2label(); }) {
      if (names.empty()) names = data.id2label();
    }
    return evaluate_encoded(encoded, names);
  }

  /// @brief Evaluates already-tokenized rows.
  [[nodiscard]] EvalResult evaluate_encoded(const EncodedDataset& data, const std::vector<std::string>& names) {
    return training::evaluate(*model_, strategy_, data, eval_loader_options(), names, args_.multi_label_threshold);
  }

  /// @brief Predictions of each text by the model's problem type (Predictions), with the logits.
  [[nodiscard]] Predictions predict(const std::vector<std::string>& texts) {
    const auto encoded = encode_texts(texts, tokenizer_, args_.max_length, threads());
    const EvalResult r = evaluate_encoded(encoded, {});
    Predictions p;
    p.problem_type = r.problem_type;
    p.logits = r.logits;
    const auto k = static_cast<std::size_t>(model_->num_labels());
    switch (r.problem_type) {
      case ProblemType::single_label_classification:
        p.labels = r.predictions;
        p.probabilities = softmax_rows(r.logits);
        if (label_names_.size() == k) {
          for (const auto id : p.labels) p.label_names.push_back(label_names_[static_cast<std::size_t>(id)]);
        }
        break;
      case ProblemType::multi_label_classification:
        p.probabilities = sigmoid_all(r.logits);
        for (std::size_t row = 0; row * k < p.probabilities.data.size(); ++row) {
          std::vector<std::int64_t> set;
          for (std::size_t j = 0; j < k; ++j)
            if (p.probabilities.data[row * k + j] >= args_.multi_label_threshold) set.push_back(static_cast<std::int64_t>(j));
          p.label_sets.push_back(std::move(set));
        }
        break;
      case ProblemType::regression:
        p.values = r.logits.data;
        break;
    }
    return p;
  }

  /// @brief Writes the model (save_pretrained) and the tokenizer files into `dir` (main process only).
  void save_model(const std::filesystem::path& dir) const {
    if (!strategy_.is_main_process()) return;
    model_->save_pretrained(dir);
    tokenizer_.save(dir);
  }

 private:
  [[nodiscard]] std::size_t threads() const { return static_cast<std::size_t>(args_.dataloader_num_threads); }

  [[nodiscard]] DataLoaderOptions eval_loader_options() const {
    DataLoaderOptions o;
    o.batch_size = args_.per_device_eval_batch_size;
    o.shuffle = false;
    o.sort_by_length = true;  // little padding per batch; evaluate() puts the rows back in input order
    o.pad_to_max_length = args_.pad_to_max_length;
    o.max_length = args_.max_length;
    return o;
  }

  [[nodiscard]] DataLoaderOptions train_loader_options() const {
    DataLoaderOptions o;
    o.batch_size = args_.per_device_train_batch_size;
    o.shuffle = args_.shuffle;
    o.group_by_length = args_.group_by_length;
    o.pad_to_max_length = args_.pad_to_max_length;
    o.max_length = args_.max_length;
    o.seed = static_cast<std::uint64_t>(args_.seed);
    return o;
  }

  [[nodiscard]] Scheduler make_scheduler(std::int64_t total_steps) const {
    if constexpr (std::is_same_v<Scheduler, LearningRateSchedule>) {
      return training::detail::make_schedule(args_, total_steps);
    } else {
      return Scheduler(args_, total_steps);
    }
  }

  [[nodiscard]] AdamWOptions optimizer_options() const {
    AdamWOptions o;
    o.lr = args_.learning_rate;
    o.beta1 = args_.adam_beta1;
    o.beta2 = args_.adam_beta2;
    o.eps = args_.adam_epsilon;
    o.weight_decay = args_.weight_decay;
    o.decay_bias_and_layer_norm = args_.decay_bias_and_layer_norm;
    return o;
  }

  // What must match between a checkpoint and the run resuming from it for the data order to line up.
  [[nodiscard]] nlohmann::json data_fingerprint(std::size_t num_examples) const {
    nlohmann::json j = {{"num_train_examples", num_examples},
            {"per_device_train_batch_size", args_.per_device_train_batch_size},
            {"gradient_accumulation_steps", args_.gradient_accumulation_steps},
            {"seed", args_.seed},
            {"shuffle", args_.shuffle},
            {"group_by_length", args_.group_by_length},
            {"max_length", args_.max_length}};
    if (strategy_.world_size() > 1) j["world_size"] = strategy_.world_size();
    return j;
  }

  // What must stay as it was for a resumed run to continue the same run (compared by CheckpointManager::resume).
  [[nodiscard]] nlohmann::json hyperparameters_json(const Scheduler& scheduler) const {
    nlohmann::json j = {{"learning_rate", args_.learning_rate},
                        {"weight_decay", args_.weight_decay},
                        {"adam_beta1", args_.adam_beta1},
                        {"adam_beta2", args_.adam_beta2},
                        {"adam_epsilon", args_.adam_epsilon},
                        {"decay_bias_and_layer_norm", args_.decay_bias_and_layer_norm},
                        {"max_grad_norm", args_.max_grad_norm},
                        {"metric_for_best_model", args_.metric_for_best_model},
                        {"greater_is_better", args_.metric_greater_is_better()}};
    if constexpr (std::is_same_v<Scheduler, LearningRateSchedule>) {
      j["lr_scheduler_type"] = std::string(to_string(scheduler.type));
      j["num_warmup_steps"] = scheduler.num_warmup_steps;
    }
    return j;
  }

  // Tokenizes a labelled set whose labels must fit the model's head.
  template <class D>
  [[nodiscard]] EncodedDataset encode_labelled(const D& data, const std::string& what) const {
    EncodedDataset encoded = encode_dataset(data, tokenizer_, args_.max_length, threads());
    if (encoded.empty()) throw option_error("the " + what + " is empty");
    if (!encoded.has_labels()) throw option_error("the " + what + " has no labels");
    const std::int64_t n = model_->num_labels();
    if constexpr (requires { model_->loss_spec(); }) {
      const ProblemType type = model_->loss_spec().problem_type;
      const bool float_targets = !encoded.label_values.empty();
      if (float_targets == has_class_ids(type))
        throw option_error("the " + what + " has " + (float_targets ? "float targets (multi-label or regression)" : "class ids (single-label)") +
                           " but the model is " + std::string(to_string(type)) + "; load the data for the model's problem type");
      if (float_targets && static_cast<std::int64_t>(encoded.targets_per_row) != n)
        throw option_error("the " + what + " has " + std::to_string(encoded.targets_per_row) + " targets per row but the model has " +
                           std::to_string(n) + " outputs (num_labels)");
    }
    for (std::size_t i = 0; i < encoded.labels.size(); ++i) {
      if (encoded.labels[i] < 0 || encoded.labels[i] >= n)
        throw option_error("the " + what + " has label id " + std::to_string(encoded.labels[i]) + " (row " + std::to_string(i + 1) +
                           ") but the model has " + std::to_string(n) + " labels (ids 0.." + std::to_string(n - 1) + ")");
    }
    return encoded;
  }

  // Calls `hook` on every callback that has it; true when one asked to stop. Under data parallelism
  // only the main process runs the callbacks (they log and write), except the built-in early stopping
  // (the first), whose decision every process takes from the same gathered metrics; a stop asked by
  // a callback reaches the other processes through strategy.any().
  template <class Tuple, class Hook>
  bool notify(Tuple& hooks, Hook&& hook) {
    bool stop = false;
    const bool main = strategy_.is_main_process();
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      const auto call = [&](auto* callback) { return callback != nullptr && callbacks::detail::call(hook, *callback); };
      ((stop = ((I == 0 || main) && call(training::detail::callback_of(std::get<I>(hooks)))) || stop), ...);
    }(std::make_index_sequence<std::tuple_size_v<Tuple>>{});
    return stop;
  }

  template <class Tuple>
  void log(Tuple& hooks, nlohmann::json record) {
    state_.log_history.push_back(record);
    (void)notify(hooks, [&](auto& c) -> decltype(c.on_log(state_, record)) { return c.on_log(state_, record); });
  }

  template <class D, class... Callbacks>
  TrainResult run(const D& train, const D* validation, Callbacks&... user_callbacks) {
    static_assert((callbacks::TrainerCallback<training::detail::callback_class_t<Callbacks>> && ...),
                  "a Trainer callback must implement at least one hook: on_train_begin, on_epoch_begin, on_step_end, "
                  "on_log, on_evaluate, on_save, on_epoch_end or on_train_end (see ftlib/callbacks/traits.hpp)");
    args_.validate();
    const double t0 = training::now_s();
    if constexpr (requires { train.id2label(); }) {
      if (label_names_.empty()) label_names_ = train.id2label();
    }

    const EncodedDataset train_data = encode_labelled(train, "training set");
    std::optional<EncodedDataset> validation_data;
    if (validation != nullptr) validation_data = encode_labelled(*validation, "validation set");
    const DataLoader loader(train_data, train_loader_options());

    // Under data parallelism each process takes its share of every epoch's batches (shard_batches).
    const std::int64_t world = strategy_.world_size();
    const auto batches_per_epoch = static_cast<std::int64_t>(sharded_batch_count(loader.num_batches(), world));
    const std::int64_t accumulation = args_.gradient_accumulation_steps;
    const std::int64_t steps_per_epoch = (batches_per_epoch + accumulation - 1) / accumulation;
    const std::int64_t max_steps =
        args_.max_steps > 0 ? args_.max_steps
                            : static_cast<std::int64_t>(std::ceil(args_.num_train_epochs * static_cast<double>(steps_per_epoch)));
    const Scheduler scheduler = make_scheduler(max_steps);
    Optimizer optimizer(optimizer_options());
    training::CheckpointManager checkpoints(args_.output_dir, args_.save_total_limit, strategy_.is_main_process());
    const nlohmann::json fingerprint = data_fingerprint(train_data.size());

    const nlohmann::json hyperparameters = hyperparameters_json(scheduler);
    if (args_.resume_from_checkpoint) {
      state_ = checkpoints.resume(checkpoints.resolve(*args_.resume_from_checkpoint), *model_, optimizer, fingerprint,
                                  hyperparameters, max_steps, args_.load_best_model_at_end);
    } else {
      if (strategy_.is_main_process()) checkpoints.prepare_fresh_run(args_.overwrite_output_dir);
      state_ = TrainerState{};
      state_.max_steps = max_steps;
      state_.batches_per_epoch = batches_per_epoch;
      state_.steps_per_epoch = steps_per_epoch;
      if constexpr (SeedableModel<Model>) model_->set_seed(static_cast<std::uint64_t>(args_.seed));
    }
    const std::int64_t start_step = state_.global_step;

    // The built-in early stopping is the EarlyStopping callback, first among the callbacks.
    std::optional<EarlyStopping> early;
    if (args_.early_stopping_patience) {
      early.emplace(args_.metric_for_best_model, args_.metric_greater_is_better() ? MetricMode::max : MetricMode::min,
                    static_cast<int>(*args_.early_stopping_patience), args_.early_stopping_threshold);
    }
    auto hooks = std::tuple<std::optional<EarlyStopping>&, Callbacks&...>(early, user_callbacks...);
    bool stop = notify(hooks, [&](auto& c) -> decltype(c.on_train_begin(state_)) { return c.on_train_begin(state_); });
    stop = strategy_.any(stop) || state_.should_stop || state_.global_step >= max_steps;

    model_->set_training(true);
    model_->zero_grad();
    const double scale = 1.0 / static_cast<double>(accumulation);
    const double clip = args_.max_grad_norm > 0 ? args_.max_grad_norm : std::numeric_limits<double>::infinity();

    while (!stop) {
      const std::int64_t epoch = state_.epoch_index;
      const auto batches = shard_batches(loader.epoch_batches(epoch), strategy_.rank(), world, args_.per_device_train_batch_size);
      if (state_.batch_in_epoch == 0) {
        stop = strategy_.any(notify(hooks, [&](auto& c) -> decltype(c.on_epoch_begin(state_)) { return c.on_epoch_begin(state_); })) || stop;
      }
      while (!stop && state_.batch_in_epoch < batches_per_epoch) {
        // One optimizer step over up to `accumulation` micro-batches (fewer at the end of an epoch).
        const std::int64_t first = state_.batch_in_epoch;
        const std::int64_t last = std::min(first + accumulation, batches_per_epoch);
        const std::int64_t step = state_.global_step + 1;
        const double lr = scheduler.lr(state_.global_step);
        const std::span<const std::vector<std::size_t>> micro_batches(batches.data() + first, static_cast<std::size_t>(last - first));
        const training::StepOutcome outcome =
            training::training_step(*model_, optimizer, strategy_, loader, micro_batches, first, epoch, scale, clip, lr);
        record_step(outcome, step, hooks);

        state_.global_step = step;
        state_.last_grad_norm = outcome.grad_norm;
        state_.last_learning_rate = lr;
        state_.batch_in_epoch = last;
        const bool end_of_epoch = last == batches_per_epoch;
        if (end_of_epoch) {
          state_.epoch_index = epoch + 1;
          state_.batch_in_epoch = 0;
        }
        state_.epoch = static_cast<double>(state_.epoch_index) +
                       static_cast<double>(state_.batch_in_epoch) / static_cast<double>(batches_per_epoch);
        stop = notify(hooks, [&](auto& c) -> decltype(c.on_step_end(state_)) { return c.on_step_end(state_); }) || stop;

        if (args_.logging_steps > 0 && step % args_.logging_steps == 0 && state_.logging_count > 0) {
          log(hooks, {{"loss", state_.logging_loss / static_cast<double>(state_.logging_count)},
                      {"grad_norm", state_.last_grad_norm},
                      {"learning_rate", scheduler.lr(step)},
                      {"epoch", state_.epoch},
                      {"step", step}});
          state_.logging_loss = 0.0;
          state_.logging_count = 0;
        }

        bool evaluated = false;
        if (validation_data && ((args_.eval_steps > 0 && step % args_.eval_steps == 0) || (args_.eval_steps == 0 && end_of_epoch))) {
          stop = evaluate_during_training(*validation_data, checkpoints, hooks) || stop;
          evaluated = true;
        }
        stop = strategy_.any(stop);
        if (step >= max_steps) stop = true;
        state_.should_stop = state_.should_stop || (stop && step < max_steps);
        // A new best is always checkpointed when it is to be restored: a resumed run must find it on disk.
        const bool new_best = evaluated && args_.load_best_model_at_end && state_.best_step == step;
        const bool save = checkpoints.enabled() &&
                          (args_.save_steps > 0 ? step % args_.save_steps == 0 || new_best
                                                : (evaluated || (!validation_data && end_of_epoch)));
        if (save) {
          nlohmann::json extra = {{"data", fingerprint}, {"hyperparameters", hyperparameters}};
          if constexpr (std::is_same_v<Scheduler, LearningRateSchedule>) extra["scheduler"] = training::detail::schedule_json(scheduler);
          const auto dir = checkpoints.save(*model_, tokenizer_, optimizer, state_, extra);
          (void)notify(hooks, [&](auto& c) -> decltype(c.on_save(state_, dir)) { return c.on_save(state_, dir); });
        }
        if (end_of_epoch) {
          stop = notify(hooks, [&](auto& c) -> decltype(c.on_epoch_end(state_)) { return c.on_epoch_end(state_); }) || stop;
          break;
        }
      }
    }
    return finish(t0, start_step, checkpoints, hooks);
  }

  // Books a step's loss, or its failure: a non-finite loss stops training (nothing of the bad step is
  // saved) unless skipping is asked for; an fp16 overflow is always skipped (GradScaler's rule).
  template <class Tuple>
  void record_step(const training::StepOutcome& outcome, std::int64_t step, Tuple& hooks) {
    if (outcome.applied) {
      state_.last_loss = outcome.loss;
      state_.total_loss += outcome.loss;
      state_.logging_loss += outcome.loss;
      ++state_.logging_count;
      return;
    }
    if (args_.on_nonfinite_loss == NonFiniteLoss::error && !outcome.overflow) {
      throw error("step " + std::to_string(step) + ": " + outcome.problem +
                  "; training stopped before the optimizer update, so the weights and every checkpoint written "
                  "so far are intact. Try a lower learning_rate, check the data, or skip such steps "
                  "(on_nonfinite_loss = skip)");
    }
    ++state_.skipped_steps;
    state_.last_loss = std::numeric_limits<double>::quiet_NaN();
    log(hooks, {{"skipped_step", step}, {"reason", outcome.problem}, {"epoch", state_.epoch}, {"step", step}});
  }

  // Evaluates, logs, tracks the best metric (and its weights), then lets the callbacks (early
  // stopping among them) decide whether to stop.
  template <class Tuple>
  bool evaluate_during_training(const EncodedDataset& data, training::CheckpointManager& checkpoints, Tuple& hooks) {
    const EvalResult r = evaluate_encoded(data, label_names_);
    model_->set_training(true);
    const auto metrics = r.to_map("eval_");
    nlohmann::json record = nlohmann::json::object();
    for (const auto& [k, v] : metrics) record[k] = v;
    record["epoch"] = state_.epoch;
    record["step"] = state_.global_step;
    log(hooks, record);

    const auto value = find_metric(metrics, args_.metric_for_best_model);
    if (!value)
      throw option_error(SourceLocation{"metric_for_best_model", {}, {}}, "'" + args_.metric_for_best_model +
                                                                              "' is not an evaluation metric; available: " +
                                                                              metric_names(metrics));
    const bool greater = args_.metric_greater_is_better();
    const bool is_best = !std::isnan(*value) && (!state_.best_metric || (greater ? *value > *state_.best_metric : *value < *state_.best_metric));
    if (is_best) {
      state_.best_metric = *value;
      state_.best_step = state_.global_step;
      if (args_.load_best_model_at_end) checkpoints.keep_best(*model_);
    }
    state_.metric_history.push_back(*value);
    return notify(hooks, [&](auto& c) -> decltype(c.on_evaluate(state_, metrics)) { return c.on_evaluate(state_, metrics); });
  }

  template <class Tuple>
  TrainResult finish(double t0, std::int64_t start_step, const training::CheckpointManager& checkpoints, Tuple& hooks) {
    TrainResult result;
    result.stopped_early = state_.should_stop;
    if (args_.load_best_model_at_end) result.restored_best = checkpoints.restore_best(*model_, state_.best_step.value_or(0));
    model_->set_training(false);
    const std::int64_t taken = state_.global_step - state_.skipped_steps;
    if (taken == 0 && state_.skipped_steps > 0)
      throw error("every one of the " + std::to_string(state_.skipped_steps) +
                  " optimizer steps had a non-finite loss or gradient and was skipped: nothing was trained (check the "
                  "data, the learning_rate, and that the starting weights are finite)");
    result.training_loss = taken > 0 ? state_.total_loss / static_cast<double>(taken) : 0.0;
    result.runtime_s = training::now_s() - t0;
    const double rows = static_cast<double>(state_.global_step - start_step) *
                        static_cast<double>(args_.gradient_accumulation_steps) *
                        static_cast<double>(args_.per_device_train_batch_size) * static_cast<double>(strategy_.world_size());
    result.samples_per_second = result.runtime_s > 0 ? rows / result.runtime_s : 0.0;
    log(hooks, {{"train_runtime", result.runtime_s},
                {"train_samples_per_second", result.samples_per_second},
                {"train_loss", result.training_loss},
                {"epoch", state_.epoch},
                {"step", state_.global_step}});
    (void)notify(hooks, [&](auto& c) -> decltype(c.on_train_end(state_)) { return c.on_train_end(state_); });
    result.state = state_;
    result.last_checkpoint = checkpoints.last_saved();
    return result;
  }

  Model* model_;
  Tok tokenizer_;
  TrainingArguments args_;
  Strategy strategy_;
  TrainerState state_;
  std::vector<std::string> label_names_;
};

}  // namespace ftlib
