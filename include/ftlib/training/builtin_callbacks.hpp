#pragma once
// Lets EarlyStopping, ProgressBar and JsonlLogger (plain utilities in callbacks/) be passed to
// Trainer::fit like any callback: each gets a small adapter with the Trainer hooks it needs.
// Any other class is used as it is and must implement at least one hook (callbacks/traits.hpp).

#include <cstddef>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/callbacks/early_stopping.hpp"
#include "ftlib/callbacks/jsonl_logger.hpp"
#include "ftlib/callbacks/progress_bar.hpp"
#include "ftlib/callbacks/traits.hpp"
#include "ftlib/core/trainer_state.hpp"

namespace ftlib::callbacks {

/// @brief EarlyStopping as a callback: stops when should_stop(evaluation metrics) says so.
struct EarlyStoppingHooks {
  EarlyStopping* early;  ///< the watched EarlyStopping (not owned)
  /// @brief Records the evaluation; true stops training.
  bool on_evaluate(const TrainerState&, const std::map<std::string, double>& metrics) { return early->should_stop(metrics); }
};

/// @brief ProgressBar as a callback: one bar over the run's optimizer steps, with loss and lr.
struct ProgressBarHooks {
  ProgressBar* bar;  ///< the bar (not owned)
  /// @brief Starts the bar (at the resumed step when resuming).
  void on_train_begin(const TrainerState& s) {
    bar->start(static_cast<std::size_t>(s.max_steps), "Training");
    if (s.global_step > 0) bar->update(static_cast<std::size_t>(s.global_step));
  }
  /// @brief Advances by one step.
  void on_step_end(const TrainerState& s) {
    bar->set_postfix(std::vector<std::pair<std::string, double>>{{"loss", s.last_loss}, {"lr", s.last_learning_rate}, {"epoch", s.epoch}});
    bar->update(1);
  }
  /// @brief Prints each evaluation's metrics above the bar, as transformers' Trainer prints them.
  void on_evaluate(const TrainerState& s, const std::map<std::string, double>& metrics) {
    std::string line = "step " + std::to_string(s.global_step) + ":";
    for (const char* name : {"eval_loss", "eval_accuracy", "eval_f1_macro"}) {
      if (const auto it = metrics.find(name); it != metrics.end()) {
        line += std::string(" ") + name + "=" + callbacks::detail::format_postfix_value(it->second);
      }
    }
    bar->write(line);
  }
  /// @brief Ends the bar's line.
  void on_train_end(const TrainerState&) { bar->close(); }
};

/// @brief JsonlLogger as a callback: one line per logged step and evaluation.
struct JsonlLoggerHooks {
  JsonlLogger* logger;  ///< the log (not owned)
  /// @brief Appends the record.
  void on_log(const TrainerState&, const nlohmann::json& record) { logger->log(record); }
};

/// @brief The callback object the Trainer calls for `c`: an adapter for the built-in utilities, else `c` itself.
template <class C>
decltype(auto) adapt(C& c) {
  using T = std::remove_cvref_t<C>;
  if constexpr (std::is_same_v<T, EarlyStopping>) {
    return EarlyStoppingHooks{&c};
  } else if constexpr (std::is_same_v<T, ProgressBar>) {
    return ProgressBarHooks{&c};
  } else if constexpr (std::is_same_v<T, JsonlLogger>) {
    return JsonlLoggerHooks{&c};
  } else {
    static_assert(TrainerCallback<T>,
                  "a Trainer callback must implement at least one hook: on_train_begin, on_epoch_begin, on_step_end, "
                  "on_log, on_evaluate, on_save, on_epoch_end or on_train_end (see ftlib/callbacks/traits.hpp)");
    return std::ref(c);
  }
}

}  // namespace ftlib::callbacks
