#pragma once
// Where a batch's tokens sit in an encoder's activations. Padded: every (row, position) of the
// [batch_size, seq_len] batch is a row of the [rows, hidden] activation matrix. Packed (unpadded):
// only the real tokens are, sequence after sequence, so every token-wise operation (embeddings,
// Linear, LayerNorm, activations, dropout, residuals) skips the padding and attention runs over
// each sequence's own length. Backend-free: both backends build their gathers from it.

#include <cstdint>
#include <string>
#include <vector>

#include "ftlib/core/batch.hpp"
#include "ftlib/core/error.hpp"

namespace ftlib {

/// @brief The rows of an encoder's activations for one batch.
struct TokenLayout {
  std::int64_t batch_size = 0;
  std::int64_t seq_len = 0;  ///< the batch's padded length
  bool packed = false;       ///< true: real tokens only; false: every padded position
  /// [batch_size + 1]: sequence b owns activation rows [row_offsets[b], row_offsets[b + 1]), and its
  /// first token ([CLS]) is row row_offsets[b].
  std::vector<std::int64_t> row_offsets;
  /// [rows()]: the flat index b * seq_len + t in the batch of each activation row (the gather index);
  /// its position id is t. Empty when not packed (row r is batch element r).
  std::vector<std::int64_t> source;

  /// @brief Number of activation rows.
  [[nodiscard]] std::int64_t rows() const noexcept { return row_offsets.empty() ? 0 : row_offsets.back(); }
  /// @brief The activation row of sequence b's first token.
  [[nodiscard]] std::int64_t start(std::int64_t b) const { return row_offsets[static_cast<std::size_t>(b)]; }
  /// @brief Number of tokens of sequence b in the activations (seq_len when padded).
  [[nodiscard]] std::int64_t length(std::int64_t b) const { return start(b + 1) - start(b); }
  /// @brief The batch element (b * seq_len + t) of activation row r.
  [[nodiscard]] std::int64_t source_of(std::int64_t r) const {
    return packed ? source[static_cast<std::size_t>(r)] : r;
  }
  /// @brief The position id of activation row r.
  [[nodiscard]] std::int64_t position_of(std::int64_t r) const { return source_of(r) % seq_len; }
  /// @brief values[source_of(r)] for every row: a [batch_size * seq_len] batch field in row order.
  [[nodiscard]] std::vector<std::int64_t> gather(const std::vector<std::int64_t>& values) const {
    if (!packed) return values;
    std::vector<std::int64_t> out(source.size());
    for (std::size_t r = 0; r < source.size(); ++r) out[r] = values[static_cast<std::size_t>(source[r])];
    return out;
  }
  /// @brief The position id of every row.
  [[nodiscard]] std::vector<std::int64_t> positions() const {
    std::vector<std::int64_t> out(static_cast<std::size_t>(rows()));
    for (std::int64_t r = 0; r < rows(); ++r) out[static_cast<std::size_t>(r)] = position_of(r);
    return out;
  }
};

/// @brief Every position of the batch, padding included (what HuggingFace computes).
[[nodiscard]] inline TokenLayout padded_layout(const Batch& batch) {
  TokenLayout layout;
  layout.batch_size = batch.batch_size;
  layout.seq_len = batch.seq_len;
  layout.row_offsets.resize(static_cast<std::size_t>(batch.batch_size) + 1);
  for (std::int64_t b = 0; b <= batch.batch_size; ++b) layout.row_offsets[static_cast<std::size_t>(b)] = b * batch.seq_len;
  return layout;
}

/// @brief Whether the batch's rows are right-padded: each row's mask is 1...1 0...0 with at least one
///        1 (what ftlib's data loader and transformers' collators produce). Only then does dropping the
///        padding leave every real token's result, and the [CLS] row the head reads, as they were.
[[nodiscard]] inline bool is_right_padded(const Batch& batch) {
  if (batch.attention_mask.size() != static_cast<std::size_t>(batch.batch_size * batch.seq_len)) return false;
  for (std::int64_t b = 0; b < batch.batch_size; ++b) {
    const std::int64_t* m = batch.attention_mask.data() + b * batch.seq_len;
    if (batch.seq_len > 0 && m[0] == 0) return false;
    for (std::int64_t t = 1; t < batch.seq_len; ++t)
      if (m[t] != 0 && m[t - 1] == 0) return false;
  }
  return true;
}

namespace detail {
// The packed layout of a batch already known to be right-padded.
[[nodiscard]] inline TokenLayout pack_right_padded(const Batch& batch) {
  TokenLayout layout;
  layout.batch_size = batch.batch_size;
  layout.seq_len = batch.seq_len;
  layout.packed = true;
  layout.row_offsets.reserve(static_cast<std::size_t>(batch.batch_size) + 1);
  layout.row_offsets.push_back(0);
  for (std::int64_t b = 0; b < batch.batch_size; ++b) {
    const std::int64_t* mask = batch.attention_mask.data() + b * batch.seq_len;
    std::int64_t length = 0;
    while (length < batch.seq_len && mask[length] != 0) ++length;
    for (std::int64_t t = 0; t < length; ++t) layout.source.push_back(b * batch.seq_len + t);
    layout.row_offsets.push_back(layout.row_offsets.back() + length);
  }
  if (layout.rows() == batch.batch_size * batch.seq_len) return padded_layout(batch);  // nothing to drop
  return layout;
}
}  // namespace detail

/// @brief The real tokens only. Requires is_right_padded(batch); a batch without padding packs to the
///        padded layout's rows (and is then run as such).
[[nodiscard]] inline TokenLayout packed_layout(const Batch& batch) {
  if (!is_right_padded(batch))
    throw tensor_error("batch.attention_mask: an unpadded layout needs right-padded rows (1...1 0...0, first token real)");
  return detail::pack_right_padded(batch);
}

/// @brief The layout a model runs `batch` in: packed when asked for and the batch is right-padded
///        (otherwise, e.g. a left-padded batch, the padded layout: the same numbers, more work).
[[nodiscard]] inline TokenLayout layout_for(const Batch& batch, bool unpadded) {
  return unpadded && is_right_padded(batch) ? detail::pack_right_padded(batch) : padded_layout(batch);
}

}  // namespace ftlib
