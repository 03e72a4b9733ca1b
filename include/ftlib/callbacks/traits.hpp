#pragma once
// Trainer callbacks, ensmallen-style: a callback is any plain class implementing any subset of the
// hooks below, detected at compile time (no base class, no virtuals). A hook returning something
// convertible to bool stops training by returning true; a hook returning void never stops it.
//
//   on_train_begin(const TrainerState&)
//   on_epoch_begin(const TrainerState&)
//   on_step_end(const TrainerState&)                                  after every optimizer step
//   on_log(const TrainerState&, const nlohmann::json& record)         every logged step and evaluation
//   on_evaluate(const TrainerState&, const std::map<std::string, double>& metrics)  eval_loss, eval_accuracy, ...
//   on_save(const TrainerState&, const std::filesystem::path& checkpoint_dir)
//   on_epoch_end(const TrainerState&)
//   on_train_end(const TrainerState&)
//
// fit() takes callbacks by reference or by pointer (a null pointer is a callback left out, so optional
// callbacks need no extra instantiations). EarlyStopping, ProgressBar, JsonlLogger and
// TensorBoardLogger (callbacks/*.hpp) are ordinary callbacks of this kind;
// the Trainer's built-in early stopping (TrainingArguments::early_stopping_patience) is an EarlyStopping.

#include <filesystem>
#include <map>
#include <string>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "ftlib/core/trainer_state.hpp"

namespace ftlib::callbacks {

/// @brief True when C implements on_train_begin(state).
template <class C>
concept HasOnTrainBegin = requires(C& c, const TrainerState& s) { c.on_train_begin(s); };
/// @brief True when C implements on_epoch_begin(state).
template <class C>
concept HasOnEpochBegin = requires(C& c, const TrainerState& s) { c.on_epoch_begin(s); };
/// @brief True when C implements on_step_end(state).
template <class C>
concept HasOnStepEnd = requires(C& c, const TrainerState& s) { c.on_step_end(s); };
/// @brief True when C implements on_log(state, record).
template <class C>
concept HasOnLog = requires(C& c, const TrainerState& s, const nlohmann::json& r) { c.on_log(s, r); };
/// @brief True when C implements on_evaluate(state, metrics).
template <class C>
concept HasOnEvaluate = requires(C& c, const TrainerState& s, const std::map<std::string, double>& m) { c.on_evaluate(s, m); };
/// @brief True when C implements on_save(state, dir).
template <class C>
concept HasOnSave = requires(C& c, const TrainerState& s, const std::filesystem::path& p) { c.on_save(s, p); };
/// @brief True when C implements on_epoch_end(state).
template <class C>
concept HasOnEpochEnd = requires(C& c, const TrainerState& s) { c.on_epoch_end(s); };
/// @brief True when C implements on_train_end(state).
template <class C>
concept HasOnTrainEnd = requires(C& c, const TrainerState& s) { c.on_train_end(s); };

/// @brief A class with at least one Trainer hook.
template <class C>
concept TrainerCallback = HasOnTrainBegin<C> || HasOnEpochBegin<C> || HasOnStepEnd<C> || HasOnLog<C> ||
                          HasOnEvaluate<C> || HasOnSave<C> || HasOnEpochEnd<C> || HasOnTrainEnd<C>;

namespace detail {

// Calls `hook(c)` when it is well-formed; true when the hook returned true.
template <class Hook, class C>
bool call(Hook&& hook, C& c) {
  if constexpr (std::is_invocable_v<Hook, C&>) {
    using R = std::invoke_result_t<Hook, C&>;
    if constexpr (std::is_void_v<R>) {
      std::forward<Hook>(hook)(c);
      return false;
    } else {
      static_assert(std::is_convertible_v<R, bool>, "a Trainer hook must return void or something convertible to bool");
      return static_cast<bool>(std::forward<Hook>(hook)(c));
    }
  } else {
    return false;
  }
}

}  // namespace detail
}  // namespace ftlib::callbacks
