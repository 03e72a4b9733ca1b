#pragma once
// A pass of the model over tokenized rows without gradients: logits, mean loss and
// scikit-learn-style metrics. Under a data-parallel strategy each process runs every world_size-th
// batch and the shards are gathered, so every process sees the metrics of the whole set (each row
// once: the gather puts rows back in place, nothing is padded or repeated).

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "ftlib/core/error.hpp"
#include "ftlib/metrics/classification.hpp"
#include "ftlib/models/model_concept.hpp"
#include "ftlib/training/data_loader.hpp"
#include "ftlib/training/evaluation.hpp"
#include "ftlib/training/strategy.hpp"

namespace ftlib::training {

/// @brief Seconds on a monotonic clock.
[[nodiscard]] inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// @brief The problem type of a model: its loss_spec()'s when it has one, else single-label.
template <class Model>
[[nodiscard]] ProblemType problem_type_of(const Model& model) {
  if constexpr (requires { model.loss_spec(); }) {
    return model.loss_spec().problem_type;
  } else {
    return ProblemType::single_label_classification;
  }
}

/// @brief Evaluates `model` (switched to eval mode) on `data` in batches of `loader_options`; metrics
///        name the labels `names` when there is one name per class; multi-label predictions are the
///        labels whose probability is >= `threshold`.
template <SequenceClassifier Model, class Strategy>
[[nodiscard]] EvalResult evaluate(Model& model, Strategy& strategy, const EncodedDataset& data,
                                  const DataLoaderOptions& loader_options, const std::vector<std::string>& names,
                                  double threshold = 0.5) {
  const double t0 = now_s();
  model.set_training(false);
  const DataLoader loader(data, loader_options);
  const auto num_labels = static_cast<std::size_t>(model.num_labels());
  EvaluationShard shard;
  shard.logits.reserve(data.size() * num_labels);
  const auto batches = loader.epoch_batches(0);
  const auto world = static_cast<std::size_t>(strategy.world_size());
  const auto rank = static_cast<std::size_t>(strategy.rank());
  for (std::size_t b = rank; b < batches.size(); b += world) {  // batch b is process b % world's
    const auto& rows = batches[b];
    const ForwardOutput out = model.forward(loader.make_batch(rows));
    if (out.logits.data.size() != rows.size() * num_labels)
      throw tensor_error("evaluate: the model returned " + std::to_string(out.logits.data.size()) + " logits for " +
                         std::to_string(rows.size()) + " rows of " + std::to_string(num_labels) + " classes");
    shard.rows.insert(shard.rows.end(), rows.begin(), rows.end());
    shard.logits.insert(shard.logits.end(), out.logits.data.begin(), out.logits.data.end());
    if (out.has_loss) shard.loss_sum += out.loss * static_cast<double>(rows.size());
  }
  const EvaluationShard all = strategy.gather(std::move(shard));

  EvalResult result;
  result.num_examples = static_cast<std::int64_t>(data.size());
  result.logits.shape = {result.num_examples, static_cast<std::int64_t>(num_labels)};
  result.logits.data.assign(data.size() * num_labels, 0.0f);
  for (std::size_t i = 0; i < all.rows.size(); ++i) {
    std::copy_n(all.logits.begin() + static_cast<std::ptrdiff_t>(i * num_labels), num_labels,
                result.logits.data.begin() + static_cast<std::ptrdiff_t>(all.rows[i] * num_labels));
  }
  result.problem_type = problem_type_of(model);
  if (result.problem_type == ProblemType::single_label_classification) result.predictions = argmax_rows(result.logits.data, num_labels);
  if (data.has_labels() && !data.empty()) {
    result.has_loss = true;
    result.loss = all.loss_sum / static_cast<double>(data.size());
    std::vector<std::string> report_names = names.size() == num_labels ? names : std::vector<std::string>{};
    switch (result.problem_type) {
      case ProblemType::single_label_classification:
        result.metrics = compute_classification_metrics(result.predictions, data.labels, num_labels, std::move(report_names));
        break;
      case ProblemType::multi_label_classification:
        result.multi_label_metrics = compute_multi_label_metrics(sigmoid_all(result.logits).data, data.label_values, num_labels,
                                                                 std::move(report_names), threshold);
        break;
      case ProblemType::regression:
        result.regression_metrics = compute_regression_metrics(result.logits.data, data.label_values);
        result.targets = data.label_values;
        break;
    }
  }
  result.runtime_s = now_s() - t0;
  return result;
}

}  // namespace ftlib::training
