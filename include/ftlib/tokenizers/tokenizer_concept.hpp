#pragma once
// What the Trainer, the DataLoader and the `ftlib` tool need from a tokenizer. Satisfied by
// WordPieceTokenizer (BERT/DistilBERT), SentencePieceTokenizer (ALBERT) and AutoTokenizer.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ftlib/tokenizers/encoding.hpp"
#include "ftlib/tokenizers/post_processing.hpp"

namespace ftlib {

/// @brief A text -> Encoding tokenizer with HF-compatible special tokens, batching, decoding and saving.
///
/// - encode(text, options) / encode_pair(a, b, options) -> Encoding
/// - encode_batch(texts | pairs, options, threads) -> std::vector<Encoding>; threads = 0 means
///   std::thread::hardware_concurrency(); the result equals encoding each row in order, and
///   Padding::longest pads to the batch's longest row
/// - decode(ids, skip_special_tokens) -> std::string
/// - vocab_size(), pad_token_id(), id_to_token(id), token_to_id(token) -> std::optional<std::int64_t>
/// - save(dir): writes the tokenizer files plus tokenizer_config.json and special_tokens_map.json
///   so that transformers' AutoTokenizer.from_pretrained(dir) loads the same tokenizer
template <class T>
concept Tokenizer = requires(const T& tokenizer, std::string_view text, const EncodeOptions& options,
                             const std::vector<std::string>& texts, const std::vector<TextPair>& pairs,
                             const std::vector<std::int64_t>& ids, std::int64_t id, std::size_t threads,
                             const std::filesystem::path& dir) {
  { tokenizer.encode(text, options) } -> std::same_as<Encoding>;
  { tokenizer.encode_pair(text, text, options) } -> std::same_as<Encoding>;
  { tokenizer.encode_batch(texts, options, threads) } -> std::same_as<std::vector<Encoding>>;
  { tokenizer.encode_batch(pairs, options, threads) } -> std::same_as<std::vector<Encoding>>;
  { tokenizer.decode(ids, true) } -> std::same_as<std::string>;
  { tokenizer.vocab_size() } -> std::convertible_to<std::size_t>;
  { tokenizer.pad_token_id() } -> std::convertible_to<std::int64_t>;
  { tokenizer.id_to_token(id) } -> std::convertible_to<std::string>;
  { tokenizer.token_to_id(text) } -> std::same_as<std::optional<std::int64_t>>;
  tokenizer.save(dir);
};

}  // namespace ftlib
