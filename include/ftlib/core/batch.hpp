#pragma once
// The host-memory batch that crosses from the backend-free side (data, tokenizers, Trainer)
// into a backend. Row-major [batch_size, seq_len] int64, like HuggingFace's input tensors.

#include <cstdint>
#include <vector>

namespace ftlib {

/// @brief One padded batch of encoded rows, in host memory.
struct Batch {
  std::int64_t batch_size = 0;
  std::int64_t seq_len = 0;
  std::vector<std::int64_t> input_ids;       ///< [batch_size * seq_len]
  std::vector<std::int64_t> attention_mask;  ///< [batch_size * seq_len], 1 = real token, 0 = padding
  std::vector<std::int64_t> token_type_ids;  ///< [batch_size * seq_len], or empty (all zeros)
  std::vector<std::int64_t> labels;          ///< [batch_size] class ids (single-label), or empty
  /// [batch_size * num_labels] float targets: 0/1 (or soft) per label for multi-label, the value for
  /// regression; empty for single-label or unlabelled data.
  std::vector<float> label_values;

  /// @brief Whether the batch has labels of either kind.
  [[nodiscard]] bool has_labels() const noexcept { return !labels.empty() || !label_values.empty(); }
  /// @brief Number of real (unpadded) tokens, for throughput figures.
  [[nodiscard]] std::int64_t num_tokens() const noexcept {
    std::int64_t n = 0;
    for (const auto m : attention_mask) n += m != 0;
    return n;
  }
};

}  // namespace ftlib
