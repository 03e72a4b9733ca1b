#pragma once
// From a dataset to padded host batches: tokenize every row once (all threads, truncated, unpadded),
// then cut each epoch into batches. The epoch's order is a pure function of (seed, epoch), so a
// resumed run finds its place from (epoch, batch index) alone. Padding is per batch (to its longest
// row) unless fixed-length padding is asked for.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ftlib/core/batch.hpp"
#include "ftlib/data/dataset.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/tokenizers/encoding.hpp"
#include "ftlib/tokenizers/tokenizer_concept.hpp"

namespace ftlib {

/// @brief Every row of a dataset tokenized (truncated, not padded), with its label, packed: one buffer
///        of 32-bit token ids with row offsets. Attention masks are implied (every stored token is
///        real) and token type ids derived (0 up to the end of the first segment, then 1), so a row
///        costs 4 bytes a token plus 8 (12 for pairs).
struct EncodedDataset {
  std::vector<std::int32_t> token_ids;        ///< every row's ids, row after row
  std::vector<std::uint64_t> row_offsets{0};  ///< [size() + 1]: row i is token_ids[row_offsets[i], row_offsets[i+1])
  /// Text pairs: the tokens of "[CLS] a [SEP]" per row (type 0; the rest is type 1). Empty for single texts.
  std::vector<std::uint32_t> first_segment_lengths;
  std::vector<std::int64_t> labels;           ///< one id per example (single-label), or empty
  /// Multi-label / regression: targets_per_row float targets per example, row-major; empty otherwise.
  std::vector<float> label_values;
  std::size_t targets_per_row = 0;            ///< float targets per example (0: class ids)
  std::int64_t pad_token_id = 0;              ///< the tokenizer's padding id

  /// @brief Number of examples.
  [[nodiscard]] std::size_t size() const noexcept { return row_offsets.size() - 1; }
  /// @brief True without examples.
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
  /// @brief True when every example has a label (a class id or float targets).
  [[nodiscard]] bool has_labels() const noexcept { return !labels.empty() || !label_values.empty(); }
  /// @brief Tokens of example i (special tokens included).
  [[nodiscard]] std::size_t length(std::size_t i) const {
    return static_cast<std::size_t>(row_offsets.at(i + 1) - row_offsets.at(i));
  }
  /// @brief The token ids of example i.
  [[nodiscard]] std::span<const std::int32_t> ids(std::size_t i) const { return {token_ids.data() + row_offsets.at(i), length(i)}; }
  /// @brief The token type id of token t of example i.
  [[nodiscard]] std::int64_t type_id(std::size_t i, std::size_t t) const {
    return first_segment_lengths.empty() || t < first_segment_lengths[i] ? 0 : 1;
  }
  /// @brief Total tokens of every example.
  [[nodiscard]] std::size_t num_tokens() const noexcept { return token_ids.size(); }

  /// @brief Appends one encoded row. tensor_error when an id does not fit 32 bits or the type ids are
  ///        not one run of 0s followed by one of 1s (what BERT-style tokenizers make).
  void append(const Encoding& e) {
    const std::size_t row = size();
    std::size_t first = e.ids.size();  // where type 1 starts
    for (std::size_t t = 0; t < e.ids.size(); ++t) {
      const std::int64_t id = e.ids[t];
      if (id < 0 || id > std::numeric_limits<std::int32_t>::max())
        throw tensor_error("encoded row " + std::to_string(row) + ": token id " + std::to_string(id) + " does not fit 32 bits");
      const std::int64_t type = t < e.type_ids.size() ? e.type_ids[t] : 0;
      if (type == 1 && first == e.ids.size()) first = t;
      if (type < 0 || type > 1 || (t >= first) != (type == 1))
        throw tensor_error("encoded row " + std::to_string(row) + ": token type ids must be 0...0 1...1, got " +
                           std::to_string(type) + " at token " + std::to_string(t));
    }
    token_ids.insert(token_ids.end(), e.ids.begin(), e.ids.end());
    row_offsets.push_back(token_ids.size());
    // The first pair gives every earlier (single) row "all type 0".
    if (first != e.ids.size() && first_segment_lengths.empty()) first_segment_lengths.assign(row, std::numeric_limits<std::uint32_t>::max());
    if (!first_segment_lengths.empty()) first_segment_lengths.push_back(static_cast<std::uint32_t>(first));
  }
};

namespace training::detail {

// Rows tokenized at a time: each chunk's Encodings (ids, types, mask, token strings) are packed and
// dropped before the next, so peak memory is the packed dataset plus one chunk.
inline constexpr std::size_t kEncodeChunk = 8192;

inline EncodeOptions truncating(std::int64_t max_length) {
  if (max_length < 2) throw option_error(SourceLocation{"max_length", {}, {}}, "must be >= 2, got " + std::to_string(max_length));
  EncodeOptions options;
  options.with_max_length(static_cast<std::size_t>(max_length)).with_truncation(Truncation::longest_first);
  options.padding = Padding::none;
  return options;
}

// splitmix64: decorrelates (seed, epoch) before they seed the Mersenne twister.
constexpr std::uint64_t mix(std::uint64_t z) noexcept {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Uniform in [0, n) by rejection: std::uniform_int_distribution differs between standard
// libraries, and the data order must not.
inline std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n) {
  const std::uint64_t limit = (~std::uint64_t{0}) - ((~std::uint64_t{0}) % n);
  std::uint64_t x = rng();
  while (x >= limit) x = rng();
  return x % n;
}

}  // namespace training::detail

namespace training::detail {

// Appends the encodings of n inputs to `out`, kEncodeChunk at a time: rows_of(begin, end) gives the
// tokenizer's inputs of one chunk (texts or pairs).
template <Tokenizer T, class RowsOf>
void encode_in_chunks(std::size_t n, RowsOf rows_of, const T& tokenizer, const EncodeOptions& options, std::size_t threads,
                      EncodedDataset& out) {
  out.pad_token_id = tokenizer.pad_token_id();
  out.row_offsets.reserve(n + 1);
  for (std::size_t begin = 0; begin < n; begin += kEncodeChunk) {
    const std::size_t end = std::min(n, begin + kEncodeChunk);
    for (const auto& e : tokenizer.encode_batch(rows_of(begin, end), options, threads)) out.append(e);
  }
}

}  // namespace training::detail

/// @brief Tokenizes every row of `dataset` once, in parallel (threads 0 = all hardware threads),
///        with [CLS]/[SEP], truncation to max_length (longest_first for pairs) and no padding, packing
///        as it goes (kEncodeChunk rows at a time).
template <ClassificationDataset D, Tokenizer T>
[[nodiscard]] EncodedDataset encode_dataset(const D& dataset, const T& tokenizer, std::int64_t max_length,
                                            std::size_t threads = 0) {
  const EncodeOptions options = training::detail::truncating(max_length);
  const std::size_t n = dataset.size();
  EncodedDataset out;
  if (n > 0 && dataset.text_pair(0).has_value()) {
    const auto pairs = [&](std::size_t begin, std::size_t end) {
      std::vector<TextPair> rows;
      rows.reserve(end - begin);
      for (std::size_t i = begin; i < end; ++i) rows.emplace_back(std::string(dataset.text(i)), std::string(dataset.text_pair(i).value_or("")));
      return rows;
    };
    training::detail::encode_in_chunks(n, pairs, tokenizer, options, threads, out);
  } else {
    const auto texts = [&](std::size_t begin, std::size_t end) {
      std::vector<std::string> rows;
      rows.reserve(end - begin);
      for (std::size_t i = begin; i < end; ++i) rows.emplace_back(dataset.text(i));
      return rows;
    };
    training::detail::encode_in_chunks(n, texts, tokenizer, options, threads, out);
  }
  if constexpr (requires { dataset.label_values(); }) {
    if (!dataset.label_values().empty()) {  // multi-label / regression targets
      out.label_values = dataset.label_values();
      out.targets_per_row = n == 0 ? 0 : out.label_values.size() / n;
      return out;
    }
  }
  if (dataset.has_labels()) {
    out.labels.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.labels.push_back(dataset.label(i));
  }
  return out;
}

/// @brief Tokenizes unlabelled texts (for predict), like encode_dataset.
template <Tokenizer T>
[[nodiscard]] EncodedDataset encode_texts(const std::vector<std::string>& texts, const T& tokenizer,
                                          std::int64_t max_length, std::size_t threads = 0) {
  const auto slice = [&](std::size_t begin, std::size_t end) {
    return std::vector<std::string>(texts.begin() + static_cast<std::ptrdiff_t>(begin), texts.begin() + static_cast<std::ptrdiff_t>(end));
  };
  EncodedDataset out;
  training::detail::encode_in_chunks(texts.size(), slice, tokenizer, training::detail::truncating(max_length), threads, out);
  return out;
}

/// @brief Process `rank`'s share of an epoch's `batches` (batch_size rows each, the last maybe fewer)
///        in a run of `world_size` processes, as accelerate shards transformers' training DataLoader
///        (BatchSamplerShard, even_batches): batch i goes to process i % world_size, and the epoch is
///        completed with rows from its start so that every process gets the same number of full
///        batches. A step of world_size processes therefore takes the rows that one process with
///        world_size * batch_size rows per batch would take, in the same order.
[[nodiscard]] inline std::vector<std::vector<std::size_t>> shard_batches(const std::vector<std::vector<std::size_t>>& batches,
                                                                         std::int64_t rank, std::int64_t world_size,
                                                                         std::int64_t batch_size) {
  if (world_size < 1 || rank < 0 || rank >= world_size || batch_size < 1)
    throw option_error("shard_batches: rank " + std::to_string(rank) + " of " + std::to_string(world_size) + ", batch size " +
                       std::to_string(batch_size));
  if (world_size == 1 || batches.empty()) return batches;
  const auto w = static_cast<std::size_t>(world_size);
  const auto r = static_cast<std::size_t>(rank);
  const auto b = static_cast<std::size_t>(batch_size);
  std::vector<std::vector<std::size_t>> out;
  std::vector<std::size_t> initial;  // the first world_size batches' rows, to complete the epoch with
  std::optional<std::vector<std::size_t>> pending;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    if (i < w) initial.insert(initial.end(), batches[i].begin(), batches[i].end());
    if (i % w == r) pending = batches[i];
    if (i % w == w - 1 && batches[i].size() == b) {
      out.push_back(std::move(*pending));
      pending.reset();
    }
  }
  if (pending && pending->size() == b) out.push_back(std::move(*pending));
  if (initial.empty()) return out;
  while (initial.size() < w * b) {
    const std::vector<std::size_t> copy = initial;
    initial.insert(initial.end(), copy.begin(), copy.end());
  }
  std::size_t index = batches.size() - 1;
  std::vector<std::size_t> batch = batches.back();
  if (batch.size() == b) {
    batch.clear();
    ++index;
  }
  std::size_t cycle = 0;
  while (index % w != 0 || !batch.empty()) {
    const std::size_t end = cycle + b - batch.size();
    batch.insert(batch.end(), initial.begin() + static_cast<std::ptrdiff_t>(cycle), initial.begin() + static_cast<std::ptrdiff_t>(end));
    if (index % w == r) out.push_back(batch);
    cycle = end;
    batch.clear();
    ++index;
  }
  return out;
}

/// @brief Batches per process per epoch when `num_batches` are shared by shard_batches.
[[nodiscard]] constexpr std::size_t sharded_batch_count(std::size_t num_batches, std::int64_t world_size) noexcept {
  const auto w = static_cast<std::size_t>(world_size < 1 ? 1 : world_size);
  return (num_batches + w - 1) / w;
}

/// @brief How a DataLoader orders and pads batches.
struct DataLoaderOptions {
  std::int64_t batch_size = 8;       ///< rows per batch (the last batch may be smaller)
  bool shuffle = false;              ///< a fresh seeded permutation every epoch
  bool group_by_length = false;      ///< transformers' length-grouped order (megabatches sorted by length)
  bool pad_to_max_length = false;    ///< pad every batch to max_length instead of its longest row
  std::int64_t max_length = 512;     ///< the fixed length when pad_to_max_length
  std::uint64_t seed = 42;           ///< seeds the order of every epoch
  bool drop_last = false;            ///< drop a last, smaller batch
  /// Rows longest first (stable), for evaluation and prediction: batches of similar lengths carry
  /// little padding. The caller restores the input order (training::evaluate does).
  bool sort_by_length = false;

  /// @brief Sets batch_size.
  DataLoaderOptions& with_batch_size(std::int64_t v) { batch_size = v; return *this; }
  /// @brief Sets shuffle.
  DataLoaderOptions& with_shuffle(bool v) { shuffle = v; return *this; }
  /// @brief Sets group_by_length.
  DataLoaderOptions& with_group_by_length(bool v) { group_by_length = v; return *this; }
  /// @brief Pads to a fixed length (the dynamic-vs-fixed padding benchmark's baseline).
  DataLoaderOptions& with_fixed_length(std::int64_t v) { pad_to_max_length = true; max_length = v; return *this; }
  /// @brief Sets seed.
  DataLoaderOptions& with_seed(std::uint64_t v) { seed = v; return *this; }
  /// @brief Sets drop_last.
  DataLoaderOptions& with_drop_last(bool v) { drop_last = v; return *this; }
  /// @brief Sets sort_by_length.
  DataLoaderOptions& with_sort_by_length(bool v) { sort_by_length = v; return *this; }
};

/// @brief Batches of an EncodedDataset (which must outlive it): per-epoch seeded order, optional
///        length grouping, dynamic or fixed padding, host int64 Batch out.
class DataLoader {
 public:
  /// @brief A loader over `data` (not copied: keep it alive).
  /// @throws option_error for a batch size < 1.
  DataLoader(const EncodedDataset& data, DataLoaderOptions options) : data_(&data), options_(options) {
    if (options_.batch_size < 1)
      throw option_error(SourceLocation{"batch_size", {}, {}}, "must be >= 1, got " + std::to_string(options_.batch_size));
  }

  /// @brief Batches per epoch.
  [[nodiscard]] std::size_t num_batches() const noexcept {
    const auto n = data_->size();
    const auto b = static_cast<std::size_t>(options_.batch_size);
    return options_.drop_last ? n / b : (n + b - 1) / b;
  }
  /// @brief Rows in the dataset.
  [[nodiscard]] std::size_t size() const noexcept { return data_->size(); }
  /// @brief The options.
  [[nodiscard]] const DataLoaderOptions& options() const noexcept { return options_; }
  /// @brief The data.
  [[nodiscard]] const EncodedDataset& data() const noexcept { return *data_; }

  /// @brief The row order of `epoch` (0-based): identity, a seeded permutation, length-grouped, or
  ///        sorted by length.
  [[nodiscard]] std::vector<std::size_t> epoch_order(std::int64_t epoch) const {
    std::vector<std::size_t> order(data_->size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    if (options_.sort_by_length) {
      std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return data_->length(x) > data_->length(y); });
      return order;
    }
    if (!options_.shuffle && !options_.group_by_length) return order;
    std::mt19937_64 rng(training::detail::mix(options_.seed) ^ training::detail::mix(0xE90C0000ULL + static_cast<std::uint64_t>(epoch)));
    if (options_.shuffle) {
      for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[training::detail::uniform_below(rng, i)]);
    }
    if (options_.group_by_length) group_by_length(order);
    return order;
  }

  /// @brief The rows of batch `index` of `epoch`.
  [[nodiscard]] std::vector<std::vector<std::size_t>> epoch_batches(std::int64_t epoch) const {
    const auto order = epoch_order(epoch);
    const auto b = static_cast<std::size_t>(options_.batch_size);
    std::vector<std::vector<std::size_t>> out;
    out.reserve(num_batches());
    for (std::size_t i = 0; i < num_batches(); ++i) {
      const auto first = order.begin() + static_cast<std::ptrdiff_t>(i * b);
      const auto last = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), (i + 1) * b));
      out.emplace_back(first, last);
    }
    return out;
  }

  /// @brief A padded batch of the given rows (labels included when the data has them).
  [[nodiscard]] Batch make_batch(std::span<const std::size_t> rows) const {
    std::size_t longest = 0;
    for (const auto r : rows) longest = std::max(longest, data_->length(r));
    std::size_t seq_len = longest;
    if (options_.pad_to_max_length) seq_len = std::max(longest, static_cast<std::size_t>(options_.max_length));
    Batch batch;
    batch.batch_size = static_cast<std::int64_t>(rows.size());
    batch.seq_len = static_cast<std::int64_t>(seq_len);
    const std::size_t total = rows.size() * seq_len;
    batch.input_ids.assign(total, data_->pad_token_id);
    batch.attention_mask.assign(total, 0);
    batch.token_type_ids.assign(total, 0);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto ids = data_->ids(rows[i]);
      const std::size_t at = i * seq_len;
      for (std::size_t t = 0; t < ids.size(); ++t) {
        batch.input_ids[at + t] = ids[t];
        batch.token_type_ids[at + t] = data_->type_id(rows[i], t);
        batch.attention_mask[at + t] = 1;
      }
    }
    if (!data_->labels.empty()) {
      batch.labels.reserve(rows.size());
      for (const auto r : rows) batch.labels.push_back(data_->labels[r]);
    }
    if (!data_->label_values.empty()) {
      const std::size_t k = data_->targets_per_row;
      batch.label_values.reserve(rows.size() * k);
      for (const auto r : rows) {
        const auto first = data_->label_values.begin() + static_cast<std::ptrdiff_t>(r * k);
        batch.label_values.insert(batch.label_values.end(), first, first + static_cast<std::ptrdiff_t>(k));
      }
    }
    return batch;
  }

  /// @brief Batch `index` of `epoch` (recomputes the epoch order; use epoch_batches() in loops).
  [[nodiscard]] Batch batch(std::int64_t epoch, std::size_t index) const {
    const auto batches = epoch_batches(epoch);
    if (index >= batches.size())
      throw option_error("batch index " + std::to_string(index) + " is out of range; an epoch has " + std::to_string(batches.size()) + " batches");
    return make_batch(batches[index]);
  }

 private:
  // transformers' get_length_grouped_indices: megabatches of (up to) 50 batches, each sorted by
  // length (longest first, stable), and the longest row of all moved to the very first batch so an
  // out-of-memory shows up at once.
  void group_by_length(std::vector<std::size_t>& order) const {
    const std::size_t n = order.size();
    const auto b = static_cast<std::size_t>(options_.batch_size);
    if (n == 0) return;
    std::size_t mult = std::min<std::size_t>(n / (b * 4), 50);
    if (mult == 0) mult = 1;
    const std::size_t mega = mult * b;
    std::size_t best_mega = 0;
    std::size_t best_len = 0;
    for (std::size_t start = 0; start < n; start += mega) {
      const auto first = order.begin() + static_cast<std::ptrdiff_t>(start);
      const auto last = order.begin() + static_cast<std::ptrdiff_t>(std::min(n, start + mega));
      std::stable_sort(first, last, [&](std::size_t x, std::size_t y) { return data_->length(x) > data_->length(y); });
      if (data_->length(*first) > best_len) {
        best_len = data_->length(*first);
        best_mega = start;
      }
    }
    std::swap(order[0], order[best_mega]);
  }

  const EncodedDataset* data_;
  DataLoaderOptions options_;
};

}  // namespace ftlib
