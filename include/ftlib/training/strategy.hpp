#pragma once
// How training is spread over processes: the Trainer's one seam for distribution. A strategy says
// which process this is (rank, world size), reduces gradients across processes before clipping,
// gathers evaluation outputs, makes every process agree on a decision (stop, skip) and averages
// the logged loss; the main process alone writes (logs, checkpoints, the final model) and runs the
// callbacks. SingleProcess, the default, does nothing at every seam; the LibTorch backend's
// DataParallel (backends/libtorch/data_parallel.hpp) implements the same members over a c10d process
// group (docs/architecture.md, "Add a training strategy").

#include <concepts>
#include <cstdint>
#include <utility>
#include <vector>


namespace ftlib {

/// @brief One process's share of an evaluation pass: the dataset rows it ran and their logits.
struct EvaluationShard {
  std::vector<std::size_t> rows;  ///< dataset row of each logits row
  std::vector<float> logits;      ///< [rows.size(), num_labels], row-major
  double loss_sum = 0.0;          ///< sum over its rows of the per-row mean loss (when labelled)
};

/// @brief What the Trainer asks of a training strategy (see SingleProcess for each member's meaning).
template <class S>
concept TrainingStrategy = requires(S& strategy, const S& const_strategy, EvaluationShard shard, bool flag, double value) {
  { const_strategy.world_size() } -> std::convertible_to<std::int64_t>;
  { const_strategy.rank() } -> std::convertible_to<std::int64_t>;
  { const_strategy.is_main_process() } -> std::convertible_to<bool>;
  { strategy.gather(std::move(shard)) } -> std::same_as<EvaluationShard>;
  { strategy.any(flag) } -> std::convertible_to<bool>;
  { strategy.average(value) } -> std::convertible_to<double>;
};

/// @brief Training in this one process: the identity at every seam.
struct SingleProcess {
  /// @brief Number of processes training together.
  [[nodiscard]] std::int64_t world_size() const noexcept { return 1; }
  /// @brief This process's index in [0, world_size()); the data loader reads shard rank() of each epoch.
  [[nodiscard]] std::int64_t rank() const noexcept { return 0; }
  /// @brief Whether this process prints progress, writes logs, checkpoints and the final model.
  [[nodiscard]] bool is_main_process() const noexcept { return true; }
  /// @brief Averages the model's accumulated gradients over every process (called once per optimizer
  ///        step, before clipping; never on accumulation micro-steps).
  template <class Model>
  void reduce_gradients(Model& /*model*/) {}
  /// @brief Every process's evaluation shard, merged (each process receives all of them).
  [[nodiscard]] EvaluationShard gather(EvaluationShard local) { return local; }
  /// @brief True on every process when `flag` is true on any (stop and skip decisions agree).
  [[nodiscard]] bool any(bool flag) { return flag; }
  /// @brief The mean of `value` over every process (the logged training loss, as transformers gathers it).
  [[nodiscard]] double average(double value) { return value; }
  /// @brief Called after every optimizer update (a data-parallel strategy may check there that every
  ///        process holds the same weights).
  template <class Model>
  void after_optimizer_step(Model& /*model*/) {}
};

static_assert(TrainingStrategy<SingleProcess>);

}  // namespace ftlib
