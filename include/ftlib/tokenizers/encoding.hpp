#pragma once
// What every tokenizer produces and the options that shape it, mirroring HuggingFace's
// `tokenizer(text, text_pair, truncation=..., max_length=..., padding=...)`.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ftlib {

/// @brief One encoded text (or text pair): what HF's BatchEncoding holds for one row.
struct Encoding {
  std::vector<std::int64_t> ids;
  std::vector<std::int64_t> type_ids;        ///< 0 for the first segment, 1 for the second
  std::vector<std::int64_t> attention_mask;  ///< 1 for tokens, 0 for padding
  std::vector<std::string> tokens;           ///< the vocabulary piece of each id

  [[nodiscard]] std::size_t size() const noexcept { return ids.size(); }
};

/// @brief How a too-long input is cut to max_length (HF's TruncationStrategy).
enum class Truncation {
  none,           ///< never cut
  longest_first,  ///< remove from the longer segment, one token at a time (HF's default)
  only_first,     ///< cut only the first segment
  only_second,    ///< cut only the second segment
};

/// @brief How encodings are padded (HF's PaddingStrategy).
enum class Padding {
  none,        ///< no padding
  longest,     ///< pad every row of a batch to the batch's longest row
  max_length,  ///< pad every row to max_length
};

/// @brief Options of encode() / encode_pair() / encode_batch().
struct EncodeOptions {
  bool add_special_tokens = true;           ///< [CLS] A [SEP] (B [SEP])
  std::optional<std::size_t> max_length;    ///< with truncation != none: the length after truncation
  Truncation truncation = Truncation::longest_first;  ///< applies only when max_length is set
  Padding padding = Padding::none;

  EncodeOptions& with_max_length(std::size_t n) { max_length = n; return *this; }
  EncodeOptions& with_truncation(Truncation t) { truncation = t; return *this; }
  EncodeOptions& with_padding(Padding p) { padding = p; return *this; }
  EncodeOptions& without_special_tokens() { add_special_tokens = false; return *this; }
};

}  // namespace ftlib
