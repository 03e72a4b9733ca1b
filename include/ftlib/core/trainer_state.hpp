#pragma once
// What the Trainer knows about a run in progress: the position (step, epoch, batch), the best
// evaluation so far and the running loss sums. Callbacks see it; checkpoints save it as
// trainer_state.json so that a resumed run continues exactly where the interrupted one stopped.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/core/error.hpp"

namespace ftlib {

/// @brief The Trainer's position and bookkeeping (transformers' TrainerState, plus the data position).
struct TrainerState {
  std::int64_t global_step = 0;          ///< optimizer steps taken
  std::int64_t max_steps = 0;            ///< optimizer steps the run will take at most
  std::int64_t epoch_index = 0;          ///< current epoch (0-based)
  std::int64_t batch_in_epoch = 0;       ///< micro-batches of the current epoch already consumed
  std::int64_t batches_per_epoch = 0;    ///< micro-batches per epoch
  std::int64_t steps_per_epoch = 0;      ///< optimizer steps per epoch
  double epoch = 0.0;                    ///< fractional epochs done (epoch_index + batch_in_epoch / batches_per_epoch)
  double last_loss = 0.0;                ///< mean training loss of the last optimizer step
  double last_grad_norm = 0.0;           ///< gradient norm of the last step (before clipping)
  double last_learning_rate = 0.0;       ///< learning rate used by the last step
  double total_loss = 0.0;               ///< sum of the step losses so far (training_loss = total / steps)
  double logging_loss = 0.0;             ///< sum of step losses since the last log
  std::int64_t logging_count = 0;        ///< steps since the last log
  std::int64_t skipped_steps = 0;        ///< steps dropped for a non-finite loss (NonFiniteLoss::skip)
  std::optional<double> best_metric;     ///< best value of metric_for_best_model so far
  std::optional<std::int64_t> best_step; ///< step of that evaluation
  std::vector<double> metric_history;    ///< metric_for_best_model at each evaluation (replayed into early stopping on resume)
  bool should_stop = false;              ///< a callback or early stopping asked to stop
  nlohmann::json log_history = nlohmann::json::array();  ///< every logged record, as transformers' log_history

  /// @brief The state as trainer_state.json stores it.
  [[nodiscard]] nlohmann::json to_json() const {
    nlohmann::json j;
    j["global_step"] = global_step;
    j["max_steps"] = max_steps;
    j["epoch_index"] = epoch_index;
    j["batch_in_epoch"] = batch_in_epoch;
    j["batches_per_epoch"] = batches_per_epoch;
    j["steps_per_epoch"] = steps_per_epoch;
    j["epoch"] = epoch;
    j["last_loss"] = last_loss;
    j["last_grad_norm"] = last_grad_norm;
    j["last_learning_rate"] = last_learning_rate;
    j["total_loss"] = total_loss;
    j["logging_loss"] = logging_loss;
    j["logging_count"] = logging_count;
    j["skipped_steps"] = skipped_steps;
    j["best_metric"] = best_metric ? nlohmann::json(*best_metric) : nlohmann::json(nullptr);
    j["best_step"] = best_step ? nlohmann::json(*best_step) : nlohmann::json(nullptr);
    j["metric_history"] = metric_history;
    j["should_stop"] = should_stop;
    j["log_history"] = log_history;
    return j;
  }

  /// @brief Reads to_json() output; parse_error naming `source` and the field when something is missing.
  [[nodiscard]] static TrainerState from_json(const nlohmann::json& j, const std::filesystem::path& source) {
    const auto field = [&](const char* key) -> const nlohmann::json& {
      const auto it = j.find(key);
      if (it == j.end()) throw parse_error(SourceLocation{source.string(), {}, {}}, std::string("missing field '") + key + "'");
      return *it;
    };
    TrainerState s;
    try {
      s.global_step = field("global_step").get<std::int64_t>();
      s.max_steps = field("max_steps").get<std::int64_t>();
      s.epoch_index = field("epoch_index").get<std::int64_t>();
      s.batch_in_epoch = field("batch_in_epoch").get<std::int64_t>();
      s.batches_per_epoch = field("batches_per_epoch").get<std::int64_t>();
      s.steps_per_epoch = field("steps_per_epoch").get<std::int64_t>();
      s.epoch = field("epoch").get<double>();
      s.last_loss = field("last_loss").is_number() ? field("last_loss").get<double>() : 0.0;
      s.last_grad_norm = field("last_grad_norm").is_number() ? field("last_grad_norm").get<double>() : 0.0;
      s.last_learning_rate = field("last_learning_rate").get<double>();
      s.total_loss = field("total_loss").get<double>();
      s.logging_loss = field("logging_loss").get<double>();
      s.logging_count = field("logging_count").get<std::int64_t>();
      s.skipped_steps = field("skipped_steps").get<std::int64_t>();
      if (!field("best_metric").is_null()) s.best_metric = field("best_metric").get<double>();
      if (!field("best_step").is_null()) s.best_step = field("best_step").get<std::int64_t>();
      s.metric_history = field("metric_history").get<std::vector<double>>();
      s.should_stop = field("should_stop").get<bool>();
      s.log_history = field("log_history");
    } catch (const nlohmann::json::exception& e) {
      throw parse_error(SourceLocation{source.string(), {}, {}}, std::string("malformed trainer state: ") + e.what());
    }
    return s;
  }
};

}  // namespace ftlib
