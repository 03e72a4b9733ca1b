#pragma once
// What happens after a tokenizer model has turned text into pieces, shared by every tokenizer:
// truncation (exactly HF `tokenizers`' Rust rules), [CLS] A [SEP] (B [SEP]) with type ids,
// attention mask, padding, and the thread-parallel batch loop. Backend- and model-free.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ftlib/core/error.hpp"
#include "ftlib/tokenizers/encoding.hpp"

namespace ftlib {

/// @brief The special tokens a BERT-style template uses ([CLS] A [SEP] B [SEP]) and the padding token.
struct SpecialTokens {
  std::int64_t cls_id = 0;  ///< id of the classification token put first
  std::int64_t sep_id = 0;  ///< id of the separator put after each segment
  std::int64_t pad_id = 0;  ///< id used for padding
  std::string cls;          ///< text of the classification token, e.g. "[CLS]"
  std::string sep;          ///< text of the separator, e.g. "[SEP]"
  std::string pad;          ///< text of the padding token, e.g. "[PAD]" or "<pad>"
};

/// @brief The pieces of one text as the tokenizer model produced them (no special tokens yet).
struct Segment {
  std::vector<std::int64_t> ids;    ///< vocabulary ids
  std::vector<std::string> tokens;  ///< the piece of each id (same length as ids)
};

/// @brief How longest_first shares an odd budget when both texts of a pair must be cut.
/// HF's slow tokenizers (truncate_sequences) give the extra token to the FIRST text; HF `tokenizers`
/// (Rust) gives it to the longer text (the second on a tie). BERT's reference is the Rust one,
/// ALBERT's the slow one.
enum class PairTruncationRule {
  rust_longer_gets_extra,  ///< HF tokenizers' truncate_encodings (BertTokenizerFast)
  slow_first_gets_extra,   ///< transformers' truncate_sequences (AlbertTokenizer)
};

/// @brief A text and its optional second text, the element type of a pair batch.
using TextPair = std::pair<std::string, std::string>;

/// @brief How many special tokens the template adds: 2 for a single text, 3 for a pair, 0 without them.
[[nodiscard]] inline std::size_t num_special_tokens(bool is_pair, bool add_special_tokens) noexcept {
  if (!add_special_tokens) return 0;
  return is_pair ? 3 : 2;
}

/// @brief Rejects option combinations that cannot be satisfied, with a message naming the option.
inline void validate_options(const EncodeOptions& options, bool is_pair) {
  if (options.padding == Padding::max_length && !options.max_length) {
    throw option_error(SourceLocation{"padding", {}, {}},
                       "padding=max_length needs max_length to be set");
  }
  if (!options.max_length || options.truncation == Truncation::none) return;
  const std::size_t specials = num_special_tokens(is_pair, options.add_special_tokens);
  if (*options.max_length < specials) {
    throw option_error(SourceLocation{"max_length", {}, {}},
                       "max_length=" + std::to_string(*options.max_length) + " is smaller than the " +
                           std::to_string(specials) + " special tokens a " +
                           (is_pair ? "pair" : "single text") + " needs");
  }
  if (options.truncation == Truncation::only_second && !is_pair) {
    throw option_error(SourceLocation{"truncation", {}, {}},
                       "truncation=only_second needs a text pair, but a single text was given");
  }
}

/// @brief The lengths (first, second) the two segments keep. `budget` is max_length minus the
/// special tokens. longest_first removes tokens from the longer segment; when both must be cut, an
/// odd budget's extra token goes where `rule` says. only_first / only_second throw when the cut
/// segment would be left empty.
[[nodiscard]] inline std::pair<std::size_t, std::size_t> truncated_lengths(
    std::size_t first, std::optional<std::size_t> second, std::size_t budget, Truncation strategy,
    PairTruncationRule rule = PairTruncationRule::rust_longer_gets_extra) {
  const std::size_t total = first + second.value_or(0);
  if (strategy == Truncation::none || total <= budget) return {first, second.value_or(0)};
  const std::size_t to_remove = total - budget;
  switch (strategy) {
    case Truncation::longest_first: {
      if (!second) return {budget, 0};
      const std::size_t shorter = std::min(first, *second);
      if (budget >= 2 * shorter) {  // only the longer segment is cut
        return first > *second ? std::pair{budget - *second, *second} : std::pair{first, budget - first};
      }
      const std::size_t half = budget / 2;
      const std::size_t extra = budget % 2;
      const bool first_gets_extra = rule == PairTruncationRule::slow_first_gets_extra || first > *second;
      return first_gets_extra ? std::pair{half + extra, half} : std::pair{half, half + extra};
    }
    case Truncation::only_first:
    case Truncation::only_second: {
      const bool cut_first = strategy == Truncation::only_first;
      if (!cut_first && !second) {
        throw option_error(SourceLocation{"truncation", {}, {}},
                           "truncation=only_second needs a text pair, but a single text was given");
      }
      const std::size_t target = cut_first ? first : *second;
      if (target <= to_remove) {
        throw option_error(
            SourceLocation{"truncation", {}, {}},
            std::string("truncation=") + (cut_first ? "only_first" : "only_second") + " cannot fit max_length: the " +
                (cut_first ? "first" : "second") + " text has " + std::to_string(target) +
                " tokens but " + std::to_string(to_remove) +
                " must be removed; use longest_first or a larger max_length");
      }
      if (cut_first) return {first - to_remove, second.value_or(0)};
      return {first, *second - to_remove};
    }
    case Truncation::none:
      break;
  }
  return {first, second.value_or(0)};
}

/// @brief Pads one encoding on the right to `length` (no-op when it is already that long).
inline void pad_encoding(Encoding& encoding, std::size_t length, std::int64_t pad_id,
                         const std::string& pad_token) {
  if (encoding.ids.size() >= length) return;
  encoding.ids.resize(length, pad_id);
  encoding.type_ids.resize(length, 0);
  encoding.attention_mask.resize(length, 0);
  encoding.tokens.resize(length, pad_token);
}

/// @brief Pads a batch: `longest` to the batch's longest row, `max_length` to max_length.
inline void pad_batch(std::vector<Encoding>& batch, std::int64_t pad_id, const std::string& pad_token,
                      Padding padding, std::optional<std::size_t> max_length = std::nullopt) {
  std::size_t target = 0;
  switch (padding) {
    case Padding::none:
      return;
    case Padding::max_length:
      if (!max_length) {
        throw option_error(SourceLocation{"padding", {}, {}},
                           "padding=max_length needs max_length to be set");
      }
      target = *max_length;
      break;
    case Padding::longest:
      for (const auto& e : batch) target = std::max(target, e.size());
      break;
  }
  for (auto& e : batch) pad_encoding(e, target, pad_id, pad_token);
}

/// @brief Truncates, adds [CLS] A [SEP] (B [SEP]), type ids, attention mask and (max_length) padding.
/// `Padding::longest` is a batch property and is left to pad_batch().
[[nodiscard]] inline Encoding post_process(
    Segment first, std::optional<Segment> second, const SpecialTokens& special, const EncodeOptions& options,
    PairTruncationRule rule = PairTruncationRule::rust_longer_gets_extra) {
  const bool is_pair = second.has_value();
  validate_options(options, is_pair);
  const bool add = options.add_special_tokens;
  if (options.max_length && options.truncation != Truncation::none) {
    const std::size_t budget = *options.max_length - num_special_tokens(is_pair, add);
    const auto [n1, n2] = truncated_lengths(
        first.ids.size(), is_pair ? std::optional<std::size_t>(second->ids.size()) : std::nullopt,
        budget, options.truncation, rule);
    first.ids.resize(n1);
    first.tokens.resize(n1);
    if (second) {
      second->ids.resize(n2);
      second->tokens.resize(n2);
    }
  }

  const std::size_t n = first.ids.size() + (is_pair ? second->ids.size() : 0) +
                        num_special_tokens(is_pair, add);
  Encoding out;
  out.ids.reserve(n);
  out.tokens.reserve(n);
  out.type_ids.reserve(n);
  const auto push = [&out](std::int64_t id, std::string token, std::int64_t type) {
    out.ids.push_back(id);
    out.tokens.push_back(std::move(token));
    out.type_ids.push_back(type);
  };
  const auto append = [&out](Segment& s, std::int64_t type) {
    out.ids.insert(out.ids.end(), s.ids.begin(), s.ids.end());
    std::move(s.tokens.begin(), s.tokens.end(), std::back_inserter(out.tokens));
    out.type_ids.insert(out.type_ids.end(), s.ids.size(), type);
  };
  if (add) push(special.cls_id, special.cls, 0);
  append(first, 0);
  if (add) push(special.sep_id, special.sep, 0);
  if (second) {
    append(*second, 1);
    if (add) push(special.sep_id, special.sep, 1);
  }
  out.attention_mask.assign(out.ids.size(), 1);
  if (options.padding == Padding::max_length) {
    pad_encoding(out, *options.max_length, special.pad_id, special.pad);
  }
  return out;
}

/// @brief How many worker threads `threads` means: 0 = hardware_concurrency, never more than `work`.
[[nodiscard]] inline std::size_t resolve_threads(std::size_t threads, std::size_t work) noexcept {
  if (threads == 0) threads = std::max<std::size_t>(1, std::thread::hardware_concurrency());
  return std::max<std::size_t>(1, std::min(threads, work));
}

/// @brief Calls `encode_one(i)` for i in [0, n) on `threads` threads (contiguous chunks) and returns
/// the results in order, identical to a sequential loop. The first exception (lowest index) is rethrown.
template <class EncodeOne>
[[nodiscard]] std::vector<Encoding> parallel_encode(std::size_t n, std::size_t threads, EncodeOne&& encode_one) {
  std::vector<Encoding> out(n);
  const std::size_t workers = resolve_threads(threads, n);
  if (workers <= 1) {
    for (std::size_t i = 0; i < n; ++i) out[i] = encode_one(i);
    return out;
  }
  std::vector<std::exception_ptr> errors(workers);
  {
    std::vector<std::jthread> pool;
    pool.reserve(workers);
    const std::size_t chunk = (n + workers - 1) / workers;
    for (std::size_t w = 0; w < workers; ++w) {
      const std::size_t begin = w * chunk;
      const std::size_t end = std::min(n, begin + chunk);
      pool.emplace_back([&, w, begin, end] {
        try {
          for (std::size_t i = begin; i < end; ++i) out[i] = encode_one(i);
        } catch (...) {
          errors[w] = std::current_exception();
        }
      });
    }
  }  // jthreads join here
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  return out;
}

/// @brief encode_batch for any tokenizer: encodes each text with `tokenizer.encode` in parallel,
/// then applies the batch's padding. Tokenizers implement their encode_batch with this.
template <class Tok>
[[nodiscard]] std::vector<Encoding> encode_batch_with(const Tok& tokenizer, const std::vector<std::string>& texts,
                                                      const EncodeOptions& options, std::size_t threads,
                                                      const SpecialTokens& special) {
  validate_options(options, false);
  EncodeOptions row = options;
  row.padding = Padding::none;
  auto out = parallel_encode(texts.size(), threads, [&](std::size_t i) { return tokenizer.encode(texts[i], row); });
  pad_batch(out, special.pad_id, special.pad, options.padding, options.max_length);
  return out;
}

/// @brief encode_batch over text pairs for any tokenizer (see the single-text overload).
template <class Tok>
[[nodiscard]] std::vector<Encoding> encode_batch_with(const Tok& tokenizer, const std::vector<TextPair>& pairs,
                                                      const EncodeOptions& options, std::size_t threads,
                                                      const SpecialTokens& special) {
  validate_options(options, true);
  EncodeOptions row = options;
  row.padding = Padding::none;
  auto out = parallel_encode(pairs.size(), threads, [&](std::size_t i) {
    return tokenizer.encode_pair(pairs[i].first, pairs[i].second, row);
  });
  pad_batch(out, special.pad_id, special.pad, options.padding, options.max_length);
  return out;
}

}  // namespace ftlib
