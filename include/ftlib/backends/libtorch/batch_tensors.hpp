#pragma once
// Host Batch (int64, row-major) -> LibTorch tensors on the model's device.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "ftlib/core/batch.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/core/token_layout.hpp"

namespace ftlib::libtorch {

/// @brief A Batch as device tensors. token_type_ids / labels are undefined tensors when the batch has none.
struct BatchTensors {
  TokenLayout layout;            ///< padded, or packed (the real tokens only)
  torch::Tensor input_ids;       ///< [B, T] int64; packed: [rows]
  torch::Tensor attention_mask;  ///< [B, T] int64
  torch::Tensor token_type_ids;  ///< [B, T] int64 (packed: [rows]), or undefined
  torch::Tensor labels;          ///< [B] int64 class ids, or undefined
  torch::Tensor label_values;    ///< [B, num_labels] float32 targets (multi-label, regression), or undefined
};

/// @brief Limits a model puts on a batch's values (checked on the host, so a bad id gives a clear
///        error instead of an out-of-range gather on the device). 0 = unchecked.
struct BatchLimits {
  std::int64_t vocab_size = 0;               ///< input ids must be < vocab_size
  std::int64_t type_vocab_size = 0;          ///< token type ids must be < type_vocab_size
  std::int64_t max_position_embeddings = 0;  ///< seq_len must be <= this
  std::int64_t num_labels = 0;               ///< labels must be < num_labels
};

namespace detail {

inline void check_batch_values(const std::vector<std::int64_t>& values, std::int64_t limit, const char* field) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i] < 0 || (limit > 0 && values[i] >= limit))
      throw tensor_error(std::string("batch.") + field + "[" + std::to_string(i) + "] = " + std::to_string(values[i]) +
                         " is out of range: expected 0 <= value < " + std::to_string(limit));
  }
}

inline torch::Tensor to_device_tensor(const std::vector<std::int64_t>& values, torch::IntArrayRef shape,
                                      const torch::Device& device) {
  // from_blob borrows the vector; the clone/copy gives the tensor its own storage.
  const torch::Tensor host = torch::from_blob(const_cast<std::int64_t*>(values.data()), shape, torch::kLong);
  return device.is_cpu() ? host.clone() : host.to(device);
}

}  // namespace detail

/// @brief Checks `batch` (sizes, and values against `limits`) and copies it to `device`, with its
///        input and token type ids packed to the real tokens when `unpadded` (and the batch allows it,
///        layout_for).
[[nodiscard]] inline BatchTensors to_tensors(const Batch& batch, const torch::Device& device,
                                             const BatchLimits& limits = {}, bool unpadded = false) {
  const std::int64_t b = batch.batch_size;
  const std::int64_t t = batch.seq_len;
  if (b <= 0 || t <= 0)
    throw tensor_error("batch must have batch_size > 0 and seq_len > 0, got " + std::to_string(b) + " x " +
                       std::to_string(t));
  const auto expect_size = [&](const std::vector<std::int64_t>& v, std::int64_t n, const char* field) {
    if (static_cast<std::int64_t>(v.size()) != n)
      throw tensor_error(std::string("batch.") + field + " has " + std::to_string(v.size()) + " values, expected " +
                         std::to_string(n) + " (batch_size " + std::to_string(b) + " x seq_len " + std::to_string(t) +
                         ")");
  };
  expect_size(batch.input_ids, b * t, "input_ids");
  expect_size(batch.attention_mask, b * t, "attention_mask");
  if (!batch.token_type_ids.empty()) expect_size(batch.token_type_ids, b * t, "token_type_ids");
  if (!batch.labels.empty()) expect_size(batch.labels, b, "labels");
  if (!batch.label_values.empty() && static_cast<std::int64_t>(batch.label_values.size()) % b != 0)
    throw tensor_error("batch.label_values has " + std::to_string(batch.label_values.size()) + " values, not a multiple of batch_size " +
                       std::to_string(b));
  if (limits.max_position_embeddings > 0 && t > limits.max_position_embeddings)
    throw tensor_error("batch seq_len " + std::to_string(t) + " exceeds the model's max_position_embeddings " +
                       std::to_string(limits.max_position_embeddings));
  detail::check_batch_values(batch.input_ids, limits.vocab_size, "input_ids");
  detail::check_batch_values(batch.attention_mask, 2, "attention_mask");
  if (!batch.token_type_ids.empty()) detail::check_batch_values(batch.token_type_ids, limits.type_vocab_size, "token_type_ids");
  if (!batch.labels.empty()) detail::check_batch_values(batch.labels, limits.num_labels, "labels");

  BatchTensors out;
  out.layout = layout_for(batch, unpadded);
  const auto token_field = [&](const std::vector<std::int64_t>& values) {
    if (!out.layout.packed) return detail::to_device_tensor(values, {b, t}, device);
    const std::vector<std::int64_t> rows = out.layout.gather(values);
    return detail::to_device_tensor(rows, {out.layout.rows()}, device);
  };
  out.input_ids = token_field(batch.input_ids);
  out.attention_mask = detail::to_device_tensor(batch.attention_mask, {b, t}, device);
  if (!batch.token_type_ids.empty()) out.token_type_ids = token_field(batch.token_type_ids);
  if (!batch.labels.empty()) out.labels = detail::to_device_tensor(batch.labels, {b}, device);
  if (!batch.label_values.empty()) {
    const auto per_row = static_cast<std::int64_t>(batch.label_values.size()) / b;
    const torch::Tensor host = torch::from_blob(const_cast<float*>(batch.label_values.data()), {b, per_row}, torch::kFloat);
    out.label_values = device.is_cpu() ? host.clone() : host.to(device);
  }
  return out;
}

}  // namespace ftlib::libtorch
