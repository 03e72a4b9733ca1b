#pragma once
// Trainer<Model, Tokenizer, Optimizer, Scheduler>: transformers' Trainer loop for sequence
// classification, written once for every backend. fit() = seeded shuffling, dynamic padding,
// optional length grouping, gradient accumulation, clipping, AdamW + schedule, evaluation every
// eval_steps, early stopping, best-model restore, atomic checkpoints that resume exactly, JSONL
// logs through callbacks. evaluate() and predict() run the model without gradients.

#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/core/batch.hpp"
#include "ftlib/core/host_tensor.hpp"
#include "ftlib/callbacks/early_stopping.hpp"
#include "ftlib/callbacks/traits.hpp"
#include "ftlib/data/dataset.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/hf/safetensors.hpp"
#include "ftlib/metrics/classification.hpp"
#include "ftlib/models/model_concept.hpp"
#include "ftlib/optim/adamw.hpp"
#include "ftlib/optim/schedules.hpp"
#include "ftlib/tokenizers/tokenizer_concept.hpp"
#include "ftlib/training/builtin_callbacks.hpp"
#include "ftlib/training/checkpointing.hpp"
#include "ftlib/training/data_loader.hpp"
#include "ftlib/training/evaluation.hpp"
#include "ftlib/core/trainer_state.hpp"
#include "ftlib/training/training_arguments.hpp"

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

template <class T>
T& unwrap(T& t) { return t; }
template <class T>
T& unwrap(std::reference_wrapper<T> t) { return t.get(); }

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The default scheduler from the arguments (transformers' get_scheduler by name).
inline LearningRateSchedule make_schedule(const TrainingArguments& args, std::int64_t total_steps) {
  const SchedulerType type = parse_scheduler_type(args.lr_scheduler_type);
  LearningRateSchedule s;
  s.type = type;
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

}  // namespace training::detail

/// @brief The training loop. Holds a reference to the model (which it trains in place) and a copy
///        of the tokenizer. Optimizer must offer AdamW's interface (step, set_lr, state_dict,
///        load_state_dict, construction from AdamWOptions); Scheduler must offer lr(step) and be
///        constructible by Scheduler(args, total_steps) unless it is LearningRateSchedule.
template <SequenceClassifier Model, Tokenizer Tok, class Optimizer = AdamW<typename Model::Tensor>,
          class Scheduler = LearningRateSchedule>
class Trainer {
 public:
  /// @brief A trainer for `model` (kept by reference: it must outlive the trainer).
  /// @throws option_error for invalid arguments, naming the flag.
  Trainer(Model& model, Tok tokenizer, TrainingArguments args = {})
      : model_(&model), tokenizer_(std::move(tokenizer)), args_(std::move(args)) {
    args_.validate();
    (void)parse_scheduler_type(args_.lr_scheduler_type);
  }

  /// @brief The arguments.
  [[nodiscard]] const TrainingArguments& args() const noexcept { return args_; }
  /// @brief The model being trained.
  [[nodiscard]] Model& model() noexcept { return *model_; }
  /// @brief The tokenizer.
  [[nodiscard]] const Tok& tokenizer() const noexcept { return tokenizer_; }
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
    const double t0 = training::detail::now_s();
    model_->set_training(false);
    EvalResult result;
    const DataLoader loader(data, eval_loader_options());
    const auto num_labels = static_cast<std::size_t>(model_->num_labels());
    result.logits.shape = {static_cast<std::int64_t>(data.size()), static_cast<std::int64_t>(num_labels)};
    result.logits.data.reserve(data.size() * num_labels);
    double loss_sum = 0.0;
    for (const auto& rows : loader.epoch_batches(0)) {
      const Batch batch = loader.make_batch(rows);
      ForwardOutput out = model_->forward(batch);
      if (out.logits.data.size() != rows.size() * num_labels)
        throw tensor_error("evaluate: the model returned " + std::to_string(out.logits.data.size()) + " logits for " +
                           std::to_string(rows.size()) + " rows of " + std::to_string(num_labels) + " classes");
      result.logits.data.insert(result.logits.data.end(), out.logits.data.begin(), out.logits.data.end());
      if (out.has_loss) loss_sum += out.loss * static_cast<double>(rows.size());
    }
    result.num_examples = static_cast<std::int64_t>(data.size());
    result.predictions = argmax_rows(result.logits.data, num_labels);
    if (data.has_labels() && !data.empty()) {
      result.has_loss = true;
      result.loss = loss_sum / static_cast<double>(data.size());
      std::vector<std::string> report_names = names.size() == num_labels ? names : std::vector<std::string>{};
      result.metrics = compute_classification_metrics(result.predictions, data.labels, num_labels, std::move(report_names));
    }
    result.runtime_s = training::detail::now_s() - t0;
    return result;
  }

  /// @brief Predicted labels, softmax probabilities and logits of each text.
  [[nodiscard]] Predictions predict(const std::vector<std::string>& texts) {
    const auto encoded = encode_texts(texts, tokenizer_, args_.max_length, threads());
    const EvalResult r = evaluate_encoded(encoded, {});
    Predictions p;
    p.labels = r.predictions;
    p.logits = r.logits;
    p.probabilities = softmax_rows(r.logits);
    if (label_names_.size() == static_cast<std::size_t>(model_->num_labels())) {
      for (const auto id : p.labels) p.label_names.push_back(label_names_[static_cast<std::size_t>(id)]);
    }
    return p;
  }

  /// @brief Writes the model (save_pretrained) and the tokenizer files into `dir`.
  void save_model(const std::filesystem::path& dir) const {
    model_->save_pretrained(dir);
    tokenizer_.save(dir);
  }

 private:
  using Ops = ParamOps<typename Model::Tensor>;

  [[nodiscard]] std::size_t threads() const { return static_cast<std::size_t>(args_.dataloader_num_threads); }

  [[nodiscard]] DataLoaderOptions eval_loader_options() const {
    DataLoaderOptions o;
    o.batch_size = args_.per_device_eval_batch_size;
    o.shuffle = false;
    o.pad_to_max_length = args_.pad_to_max_length;
    o.max_length = args_.max_length;
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
    return {{"num_train_examples", num_examples},
            {"per_device_train_batch_size", args_.per_device_train_batch_size},
            {"gradient_accumulation_steps", args_.gradient_accumulation_steps},
            {"seed", args_.seed},
            {"shuffle", args_.shuffle},
            {"group_by_length", args_.group_by_length},
            {"max_length", args_.max_length}};
  }

  template <class Hook, class Tuple>
  bool notify(Tuple& hooks, Hook&& hook) {
    bool stop = false;
    std::apply([&](auto&... h) { ((stop = callbacks::detail::call(hook, training::detail::unwrap(h)) || stop), ...); }, hooks);
    return stop;
  }

  template <class D, class... Callbacks>
  TrainResult run(const D& train, const D* validation, Callbacks&... user_callbacks) {
    namespace fs = std::filesystem;
    args_.validate();
    const double t0 = training::detail::now_s();
    if constexpr (requires { train.id2label(); }) {
      if (label_names_.empty()) label_names_ = train.id2label();
    }

    // Tokenize once; labels must fit the model's head.
    const EncodedDataset train_data = encode_dataset(train, tokenizer_, args_.max_length, threads());
    if (train_data.empty()) throw option_error("the training set is empty");
    if (!train_data.has_labels()) throw option_error("the training set has no labels");
    check_labels(train_data, "training set");
    std::optional<EncodedDataset> validation_data;
    if (validation != nullptr) {
      validation_data = encode_dataset(*validation, tokenizer_, args_.max_length, threads());
      if (validation_data->empty()) throw option_error("the validation set is empty");
      if (!validation_data->has_labels()) throw option_error("the validation set has no labels");
      check_labels(*validation_data, "validation set");
    }

    DataLoaderOptions loader_options;
    loader_options.batch_size = args_.per_device_train_batch_size;
    loader_options.shuffle = args_.shuffle;
    loader_options.group_by_length = args_.group_by_length;
    loader_options.pad_to_max_length = args_.pad_to_max_length;
    loader_options.max_length = args_.max_length;
    loader_options.seed = static_cast<std::uint64_t>(args_.seed);
    const DataLoader loader(train_data, loader_options);

    const auto batches_per_epoch = static_cast<std::int64_t>(loader.num_batches());
    const std::int64_t accumulation = args_.gradient_accumulation_steps;
    const std::int64_t steps_per_epoch = (batches_per_epoch + accumulation - 1) / accumulation;
    const std::int64_t max_steps =
        args_.max_steps > 0 ? args_.max_steps
                            : static_cast<std::int64_t>(std::ceil(args_.num_train_epochs * static_cast<double>(steps_per_epoch)));
    const Scheduler scheduler = make_scheduler(max_steps);
    Optimizer optimizer(optimizer_options());

    std::optional<EarlyStopping> early;
    if (args_.early_stopping_patience) {
      early.emplace(args_.metric_for_best_model, args_.metric_greater_is_better() ? MetricMode::max : MetricMode::min,
                    static_cast<int>(*args_.early_stopping_patience), args_.early_stopping_threshold);
    }

    state_ = TrainerState{};
    state_.max_steps = max_steps;
    state_.batches_per_epoch = batches_per_epoch;
    state_.steps_per_epoch = steps_per_epoch;
    best_weights_.clear();
    last_checkpoint_.reset();
    const nlohmann::json fingerprint = data_fingerprint(train_data.size());

    if (!args_.output_dir.empty()) io::remove_stale_temporaries(args_.output_dir);
    if (args_.resume_from_checkpoint) {
      resume(*args_.resume_from_checkpoint, optimizer, fingerprint);
      if (early) {
        for (const double v : state_.metric_history) (void)early->should_stop(v);
      }
    } else if constexpr (requires { model_->set_seed(std::uint64_t{}); }) {
      model_->set_seed(static_cast<std::uint64_t>(args_.seed));
    }
    const std::int64_t start_step = state_.global_step;

    auto hooks = std::tuple<decltype(callbacks::adapt(user_callbacks))...>(callbacks::adapt(user_callbacks)...);
    bool stop = notify(hooks, [&](auto& c) -> decltype(c.on_train_begin(state_)) { return c.on_train_begin(state_); });
    stop = stop || state_.should_stop || state_.global_step >= max_steps;

    model_->set_training(true);
    model_->zero_grad();
    const double scale = 1.0 / static_cast<double>(accumulation);
    const double clip = args_.max_grad_norm > 0 ? args_.max_grad_norm : std::numeric_limits<double>::infinity();

    while (!stop) {
      const std::int64_t epoch = state_.epoch_index;
      const auto batches = loader.epoch_batches(epoch);
      if (state_.batch_in_epoch == 0) {
        stop = notify(hooks, [&](auto& c) -> decltype(c.on_epoch_begin(state_)) { return c.on_epoch_begin(state_); }) || stop;
      }
      while (!stop && state_.batch_in_epoch < batches_per_epoch) {
        // One optimizer step over up to `accumulation` micro-batches (fewer at the end of an epoch).
        const std::int64_t first = state_.batch_in_epoch;
        const std::int64_t last = std::min(first + accumulation, batches_per_epoch);
        std::string bad;
        double loss_sum = 0.0;
        for (std::int64_t b = first; b < last && bad.empty(); ++b) {
          const Batch batch = loader.make_batch(batches[static_cast<std::size_t>(b)]);
          const double loss = model_->forward_backward(batch, scale);
          if (!std::isfinite(loss)) bad = "the training loss is " + describe(loss) + " on micro-batch " + std::to_string(b) + " of epoch " + std::to_string(epoch);
          loss_sum += loss;
        }
        double grad_norm = std::numeric_limits<double>::quiet_NaN();
        // A model with dynamic loss scaling (fp16) reports overflowed scaled gradients: it has
        // already lowered its scale, and skipping the step is the scaler's rule, never an error.
        bool overflow = false;
        if (bad.empty()) {
          grad_norm = model_->clip_grad_norm(clip);
          if (!std::isfinite(grad_norm)) {
            if constexpr (requires { { model_->gradient_overflow() } -> std::convertible_to<bool>; })
              overflow = model_->gradient_overflow();
            bad = overflow ? "the loss-scaled gradients overflowed (norm " + describe(grad_norm) + "); loss scale lowered"
                           : "the gradient norm is " + describe(grad_norm) + " (epoch " + std::to_string(epoch) + ")";
          }
        }
        const std::int64_t step = state_.global_step + 1;
        const double lr = scheduler.lr(state_.global_step);
        if (bad.empty()) {
          optimizer.set_lr(lr);
          auto params = model_->parameters();
          optimizer.step(params);
          const double step_loss = loss_sum / static_cast<double>(last - first);
          state_.last_loss = step_loss;
          state_.total_loss += step_loss;
          state_.logging_loss += step_loss;
          ++state_.logging_count;
        } else if (args_.on_nonfinite_loss == NonFiniteLoss::error && !overflow) {
          model_->zero_grad();
          throw error("step " + std::to_string(step) + ": " + bad +
                      "; training stopped before the optimizer update, so the weights and every checkpoint written "
                      "so far are intact. Try a lower --learning-rate, check the data, or skip such steps with "
                      "--skip-nonfinite-steps (TrainingArguments::on_nonfinite_loss = NonFiniteLoss::skip)");
        } else {
          ++state_.skipped_steps;
          state_.last_loss = std::numeric_limits<double>::quiet_NaN();
          log(hooks, {{"skipped_step", step}, {"reason", bad}, {"epoch", state_.epoch}, {"step", step}});
        }
        model_->zero_grad();
        state_.global_step = step;
        state_.last_grad_norm = grad_norm;
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
          stop = evaluate_during_training(*validation_data, early, hooks) || stop;
          evaluated = true;
        }
        if (step >= max_steps) stop = true;
        state_.should_stop = state_.should_stop || (stop && step < max_steps);
        const bool save = !args_.output_dir.empty() &&
                          (args_.save_steps > 0 ? step % args_.save_steps == 0 : (evaluated || (!validation_data && end_of_epoch)));
        if (save) save_checkpoint(optimizer, scheduler, fingerprint, hooks);
        if (end_of_epoch) {
          stop = notify(hooks, [&](auto& c) -> decltype(c.on_epoch_end(state_)) { return c.on_epoch_end(state_); }) || stop;
          break;
        }
      }
    }

    TrainResult result;
    result.stopped_early = state_.should_stop;
    if (args_.load_best_model_at_end && !best_weights_.empty()) {
      training::assign_parameters(*model_, best_weights_, "best model (step " + std::to_string(state_.best_step.value_or(0)) + ")");
      result.restored_best = true;
    }
    model_->set_training(false);
    const std::int64_t taken = state_.global_step - state_.skipped_steps;
    result.training_loss = taken > 0 ? state_.total_loss / static_cast<double>(taken) : 0.0;
    result.runtime_s = training::detail::now_s() - t0;
    const double rows = static_cast<double>(state_.global_step - start_step) * static_cast<double>(accumulation) *
                        static_cast<double>(args_.per_device_train_batch_size);
    result.samples_per_second = result.runtime_s > 0 ? rows / result.runtime_s : 0.0;
    log(hooks, {{"train_runtime", result.runtime_s},
                {"train_samples_per_second", result.samples_per_second},
                {"train_loss", result.training_loss},
                {"epoch", state_.epoch},
                {"step", state_.global_step}});
    (void)notify(hooks, [&](auto& c) -> decltype(c.on_train_end(state_)) { return c.on_train_end(state_); });
    result.state = state_;
    result.last_checkpoint = last_checkpoint_;
    return result;
  }

  static std::string describe(double v) {
    if (std::isnan(v)) return "NaN";
    return v > 0 ? "+inf" : "-inf";
  }

  void check_labels(const EncodedDataset& data, const std::string& what) const {
    const std::int64_t n = model_->num_labels();
    for (std::size_t i = 0; i < data.labels.size(); ++i) {
      if (data.labels[i] < 0 || data.labels[i] >= n)
        throw option_error("the " + what + " has label id " + std::to_string(data.labels[i]) + " (row " + std::to_string(i + 1) +
                           ") but the model has " + std::to_string(n) + " labels (ids 0.." + std::to_string(n - 1) + ")");
    }
  }

  template <class Tuple>
  void log(Tuple& hooks, nlohmann::json record) {
    state_.log_history.push_back(record);
    (void)notify(hooks, [&](auto& c) -> decltype(c.on_log(state_, record)) { return c.on_log(state_, record); });
  }

  template <class Tuple>
  bool evaluate_during_training(const EncodedDataset& data, std::optional<EarlyStopping>& early, Tuple& hooks) {
    const EvalResult r = evaluate_encoded(data, label_names_);
    model_->set_training(true);
    const auto metrics = r.to_map("eval_");
    nlohmann::json record = nlohmann::json::object();
    for (const auto& [k, v] : metrics) record[k] = v;
    record["epoch"] = state_.epoch;
    record["step"] = state_.global_step;
    log(hooks, record);

    const auto it = metrics.find(args_.metric_for_best_model);
    const auto it2 = it != metrics.end() ? it : metrics.find("eval_" + args_.metric_for_best_model);
    if (it2 == metrics.end()) {
      std::string names;
      for (const auto& [k, v] : metrics) names += (names.empty() ? "" : ", ") + k;
      throw option_error(SourceLocation{"--metric-for-best-model", {}, {}},
                         "'" + args_.metric_for_best_model + "' is not an evaluation metric; available: " + names);
    }
    const double value = it2->second;
    const bool greater = args_.metric_greater_is_better();
    const bool is_best = !std::isnan(value) && (!state_.best_metric || (greater ? value > *state_.best_metric : value < *state_.best_metric));
    if (is_best) {
      state_.best_metric = value;
      state_.best_step = state_.global_step;
      if (args_.load_best_model_at_end) best_weights_ = training::snapshot_parameters(*model_);
    }
    state_.metric_history.push_back(value);
    bool stop = early && early->should_stop(value);
    stop = notify(hooks, [&](auto& c) -> decltype(c.on_evaluate(state_, metrics)) { return c.on_evaluate(state_, metrics); }) || stop;
    return stop;
  }

  template <class Tuple>
  void save_checkpoint(Optimizer& optimizer, const Scheduler& scheduler, const nlohmann::json& fingerprint, Tuple& hooks) {
    namespace fs = std::filesystem;
    const auto optimizer_state = optimizer.state_dict();
    // A checkpoint is only worth keeping if it can be resumed: refuse non-finite weights or moments.
    for (const auto& [name, t] : optimizer_state) {
      if (!training::detail::all_finite(t))
        throw error("step " + std::to_string(state_.global_step) + ": optimizer state '" + name +
                    "' is not finite; refusing to write a corrupt checkpoint");
    }
    for (const auto& p : model_->parameters()) {
      if (!training::detail::all_finite(Ops::to_host(p.value)))
        throw error("step " + std::to_string(state_.global_step) + ": parameter '" + p.name +
                    "' is not finite; refusing to write a corrupt checkpoint");
    }
    const fs::path dir = args_.output_dir / training::checkpoint_name(state_.global_step);
    io::replace_directory_atomically(dir, [&](const fs::path& tmp) {
      model_->save_pretrained(tmp);
      tokenizer_.save(tmp);
      hf::save_safetensors(tmp / "optimizer.safetensors", optimizer_state, {{"format", "ftlib-adamw"}});
      nlohmann::json j = state_.to_json();
      if constexpr (std::is_same_v<Scheduler, LearningRateSchedule>) j["scheduler"] = training::detail::schedule_json(scheduler);
      j["data"] = fingerprint;
      if constexpr (requires { nlohmann::json(model_->rng_state()); }) j["model_rng_state"] = model_->rng_state();
      if constexpr (requires { nlohmann::json(model_->loss_scaler_state()); })
        j["model_loss_scaler_state"] = model_->loss_scaler_state();
      io::write_json_file(tmp / "trainer_state.json", j);
    });
    last_checkpoint_ = dir;
    rotate_checkpoints();
    (void)notify(hooks, [&](auto& c) -> decltype(c.on_save(state_, dir)) { return c.on_save(state_, dir); });
  }

  // save_total_limit: delete the oldest checkpoints, never the best one or the newest.
  void rotate_checkpoints() {
    if (!args_.save_total_limit) return;
    auto all = training::list_checkpoints(args_.output_dir);
    std::size_t keep = static_cast<std::size_t>(*args_.save_total_limit);
    std::erase_if(all, [&](const auto& c) { return state_.best_step && c.first == *state_.best_step; });
    if (state_.best_step && keep > 1) --keep;
    while (all.size() > std::max<std::size_t>(keep, 1)) {
      std::error_code ec;
      std::filesystem::remove_all(all.front().second, ec);
      all.erase(all.begin());
    }
  }

  void resume(const std::filesystem::path& dir, Optimizer& optimizer, const nlohmann::json& fingerprint) {
    const auto state_path = dir / "trainer_state.json";
    const nlohmann::json j = io::read_json_file(state_path);
    if (const auto it = j.find("data"); it == j.end() || *it != fingerprint) {
      throw option_error(SourceLocation{"--resume-from-checkpoint", {}, {}},
                         dir.string() + " was written for different data or batching (" +
                             (it == j.end() ? std::string("no data fingerprint") : it->dump()) + ") than this run (" +
                             fingerprint.dump() + "); resume with the same training file, batch size, accumulation, seed, "
                             "shuffle, group-by-length and max length");
    }
    TrainerState loaded = TrainerState::from_json(j, state_path);
    if (loaded.max_steps != state_.max_steps)
      throw option_error(SourceLocation{"--resume-from-checkpoint", {}, {}},
                         dir.string() + " belongs to a run of " + std::to_string(loaded.max_steps) +
                             " steps, this one has " + std::to_string(state_.max_steps) +
                             " (keep --num-train-epochs / --max-steps as they were)");
    training::assign_parameters(*model_, training::load_host_tensors(dir / "model.safetensors"), (dir / "model.safetensors").string());
    auto params = model_->parameters();
    optimizer.load_state_dict(training::load_host_tensors(dir / "optimizer.safetensors"), params);
    if constexpr (requires { model_->set_rng_state(j.at("model_rng_state").get<decltype(model_->rng_state())>()); }) {
      if (j.contains("model_rng_state")) model_->set_rng_state(j.at("model_rng_state").get<decltype(model_->rng_state())>());
    }
    if constexpr (requires {
                    model_->set_loss_scaler_state(j.at("model_loss_scaler_state").get<decltype(model_->loss_scaler_state())>());
                  }) {
      if (j.contains("model_loss_scaler_state"))
        model_->set_loss_scaler_state(j.at("model_loss_scaler_state").get<decltype(model_->loss_scaler_state())>());
    }
    state_ = std::move(loaded);
    if (args_.load_best_model_at_end && state_.best_step) {
      const auto best_dir = dir.parent_path() / training::checkpoint_name(*state_.best_step);
      if (std::filesystem::exists(best_dir / "model.safetensors")) {
        // Read into memory without disturbing the current weights.
        best_weights_ = training::load_host_tensors(best_dir / "model.safetensors");
        std::erase_if(best_weights_, [&](const auto& kv) {
          for (const auto& p : model_->parameters()) if (p.name == kv.first) return false;
          return true;
        });
      }
    }
  }

  Model* model_;
  Tok tokenizer_;
  TrainingArguments args_;
  TrainerState state_;
  std::vector<std::string> label_names_;
  std::map<std::string, HostTensor> best_weights_;
  std::optional<std::filesystem::path> last_checkpoint_;
};

}  // namespace ftlib
