#pragma once
// BERT's WordPiece tokenizer (bert-base-uncased, distilbert-base-uncased, cased variants), giving
// the same ids as HuggingFace `tokenizers` (the Rust library behind BertTokenizerFast):
// BertNormalizer (clean_text, CJK splitting, NFD + strip Mn, lowercase) -> BertPreTokenizer
// (whitespace and punctuation) -> greedy longest-match WordPiece with "##" continuations.
// Normalization, pre-tokenization and WordPiece run in one streaming pass with an ASCII fast path.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/core/error.hpp"
#include "ftlib/io/atomic_file.hpp"
#include "ftlib/io/json_file.hpp"
#include "ftlib/tokenizers/encoding.hpp"
#include "ftlib/tokenizers/post_processing.hpp"
#include "ftlib/tokenizers/unicode.hpp"

namespace ftlib {

namespace wordpiece::detail {

/// @brief A fast string -> id map (open addressing, short keys stored in the slot itself, longer ones
/// in an arena): the hot lookup of WordPiece, where a lookup costs about one cache miss.
class VocabIndex {
 public:
  /// @brief Builds the index; a key given twice keeps its last id (as HF's load_vocab does).
  explicit VocabIndex(const std::vector<std::pair<std::string_view, std::int32_t>>& entries = {}) {
    std::size_t capacity = 16;
    while (capacity < entries.size() * 2 + 1) capacity *= 2;
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    for (const auto& [key, id] : entries) insert(key, id);
  }

  /// @brief The id of key, or -1 when it is not in the vocabulary.
  [[nodiscard]] std::int32_t find(std::string_view key) const noexcept {
    if (key.size() > max_length_) return -1;
    for (std::size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.length == key.size() && equal(stored(s), key)) return s.id;
    }
  }

  /// @brief Length in bytes of the longest key.
  [[nodiscard]] std::size_t max_length() const noexcept { return max_length_; }

 private:
  static constexpr std::size_t inline_capacity = 10;

  // 16 bytes: keys up to 10 bytes live in `key`; longer ones in long_keys_, `key` holding the offset.
  struct Slot {
    std::array<char, inline_capacity> key{};
    std::uint16_t length = 0;
    std::int32_t id = -1;
  };

  [[nodiscard]] const char* stored(const Slot& s) const noexcept {
    if (s.length <= inline_capacity) return s.key.data();
    std::uint32_t offset = 0;
    std::memcpy(&offset, s.key.data(), sizeof offset);
    return long_keys_.data() + offset;
  }

  // Keys are short: an inline loop beats a call to memcmp.
  static bool equal(const char* stored, std::string_view key) noexcept {
    for (std::size_t i = 0; i < key.size(); ++i) {
      if (stored[i] != key[i]) return false;
    }
    return true;
  }

  static std::uint64_t hash(std::string_view key) noexcept {
    constexpr std::uint64_t k = 0x9E3779B97F4A7C15ULL;
    std::uint64_t h = 0x2545F4914F6CDD1DULL ^ (key.size() * k);
    std::size_t i = 0;
    for (; i + 8 <= key.size(); i += 8) {
      std::uint64_t chunk = 0;
      std::memcpy(&chunk, key.data() + i, 8);
      h = (h ^ chunk) * k;
      h ^= h >> 29;
    }
    if (i < key.size()) {
      std::uint64_t chunk = 0;
      for (std::size_t j = 0; i + j < key.size(); ++j) {
        chunk |= static_cast<std::uint64_t>(static_cast<unsigned char>(key[i + j])) << (8 * j);
      }
      h = (h ^ chunk) * k;
      h ^= h >> 29;
    }
    h *= 0xBF58476D1CE4E5B9ULL;
    return h ^ (h >> 31);
  }

  void insert(std::string_view key, std::int32_t id) {
    if (key.size() > 0xFFFF) return;  // cannot be a WordPiece match (words are at most 100 code points)
    for (std::size_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.id < 0) {
        s.length = static_cast<std::uint16_t>(key.size());
        s.id = id;
        if (key.size() <= inline_capacity) {
          std::copy(key.begin(), key.end(), s.key.begin());
        } else {
          const auto offset = static_cast<std::uint32_t>(long_keys_.size());
          std::memcpy(s.key.data(), &offset, sizeof offset);
          long_keys_.append(key);
        }
        max_length_ = std::max(max_length_, key.size());
        return;
      }
      if (s.length == key.size() && equal(stored(s), key)) {
        s.id = id;
        return;
      }
    }
  }

  std::vector<Slot> slots_;
  std::string long_keys_;
  std::size_t mask_ = 0;
  std::size_t max_length_ = 0;
};

/// @brief parse_error "<file>: field '<field>': <what>".
[[noreturn]] inline void field_error(const std::filesystem::path& file, const std::string& field, const std::string& what) {
  throw parse_error(SourceLocation{file.string(), {}, {}}, "field '" + field + "': " + what);
}

/// @brief A special token given as "[CLS]" or as an AddedToken object {"content": "[CLS]", ...}.
inline std::optional<std::string> token_string(const nlohmann::json& config, const char* key) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    return (*it)["content"].get<std::string>();
  }
  return std::nullopt;
}

inline void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

}  // namespace wordpiece::detail

/// @brief Normalization and vocabulary settings of a WordPiece tokenizer (HF's BertTokenizer arguments).
struct WordPieceOptions {
  bool lowercase = true;                ///< do_lower_case: lowercase per code point
  std::optional<bool> strip_accents;    ///< NFD + drop Mn; unset = follow `lowercase` (HF's default)
  bool tokenize_chinese_chars = true;   ///< put CJK ideographs into words of their own
  bool clean_text = true;               ///< drop control/format characters, map whitespace to a space
  std::size_t max_input_chars_per_word = 100;  ///< longer words become one [UNK]
  std::string unk_token = "[UNK]";      ///< unknown-word token
  std::string cls_token = "[CLS]";      ///< classification token at the start
  std::string sep_token = "[SEP]";      ///< separator after each segment
  std::string pad_token = "[PAD]";      ///< padding token
  std::string mask_token = "[MASK]";    ///< masked-LM token (kept as a literal special token)
  std::optional<std::size_t> model_max_length = 512;  ///< the model's position limit (tokenizer_config.json)
};

/// @brief BERT/DistilBERT WordPiece tokenizer, id-for-id identical to HF `tokenizers`' BertTokenizerFast.
class WordPieceTokenizer {
 public:
  /// @brief A tokenizer over `vocab` (token of id i at index i); `source` names where it came from, for errors.
  WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options, std::string source = "<vocab>")
      : vocab_(std::move(vocab)), options_(std::move(options)), source_(std::move(source)) {
    if (vocab_.empty()) throw parse_error(SourceLocation{source_, {}, {}}, "the vocabulary is empty");
    strip_accents_ = options_.strip_accents.value_or(options_.lowercase);
    std::vector<std::pair<std::string_view, std::int32_t>> all;
    std::vector<std::pair<std::string_view, std::int32_t>> continuation;
    all.reserve(vocab_.size());
    for (std::size_t i = 0; i < vocab_.size(); ++i) {
      const std::string_view token = vocab_[i];
      all.emplace_back(token, static_cast<std::int32_t>(i));
      if (token.size() > 2 && token.starts_with("##")) continuation.emplace_back(token.substr(2), static_cast<std::int32_t>(i));
    }
    words_ = wordpiece::detail::VocabIndex(all);
    continuations_ = wordpiece::detail::VocabIndex(continuation);

    const auto require = [this](const std::string& token, const char* role) {
      const std::int32_t id = words_.find(token);
      if (id < 0) {
        throw parse_error(SourceLocation{source_, {}, {}},
                          std::string("the vocabulary has no ") + role + " token \"" + token +
                              "\" (expected a BERT WordPiece vocabulary, one token per line)");
      }
      return static_cast<std::int64_t>(id);
    };
    unk_id_ = require(options_.unk_token, "unknown");
    special_ = SpecialTokens{require(options_.cls_token, "classification"), require(options_.sep_token, "separator"),
                             require(options_.pad_token, "padding"), options_.cls_token, options_.sep_token,
                             options_.pad_token};
    for (const std::string* t : {&options_.unk_token, &options_.cls_token, &options_.sep_token, &options_.pad_token,
                                 &options_.mask_token}) {
      const std::int32_t id = words_.find(*t);
      if (id < 0 || t->empty()) continue;
      literals_.push_back({*t, id});
      starts_literal_[static_cast<unsigned char>((*t)[0])] = true;
    }
    // Leftmost-longest matching: at one position, try the longest literal first.
    std::sort(literals_.begin(), literals_.end(),
              [](const Literal& a, const Literal& b) { return a.text.size() > b.text.size(); });
    for (int b = 0; b < 128; ++b) {
      const auto c = static_cast<char32_t>(b);
      ascii_kind_[b] = c == ' ' || c == '\t' || c == '\n' || c == '\r' ? AsciiKind::space
                       : (c < 0x20 || c == 0x7F)                     ? AsciiKind::control
                       : unicode::is_ascii_punctuation(c)            ? AsciiKind::punctuation
                                                                     : AsciiKind::word;
      if (!options_.clean_text && ascii_kind_[b] == AsciiKind::control) {
        ascii_kind_[b] = (c == 0x0B || c == 0x0C) ? AsciiKind::space : AsciiKind::word;
      }
      ascii_lower_[b] = static_cast<char>(options_.lowercase ? unicode::to_lower(c) : c);
    }
  }

  /// @brief Reads a vocab.txt (one token per line, id = line number) with the given options.
  [[nodiscard]] static WordPieceTokenizer from_vocab_file(const std::filesystem::path& path,
                                                          WordPieceOptions options = {}) {
    const std::string text = io::read_text_file(path, "WordPiece vocabulary (vocab.txt)");
    std::vector<std::string> vocab;
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      const std::string_view line(text.data() + start, end - start);
      if (unicode::find_invalid_utf8(line) != unicode::npos) {
        throw parse_error(SourceLocation{path.string(), vocab.size() + 1, {}}, "vocabulary line is not valid UTF-8");
      }
      vocab.emplace_back(line);
      start = end + 1;
    }
    return WordPieceTokenizer(std::move(vocab), std::move(options), path.string());
  }

  /// @brief Reads a HuggingFace tokenizers `tokenizer.json` of a WordPiece model (what transformers 5's
  ///        save_pretrained writes instead of vocab.txt): the vocabulary from model.vocab, the
  ///        BertNormalizer settings, the [CLS] A [SEP] (B [SEP]) template. `options` gives what the file
  ///        does not say (mask token, model_max_length). parse_error naming the file and the field for any
  ///        other model, normalizer, pre-tokenizer or template (its truncation/padding are ignored, as
  ///        transformers overrides them per call).
  [[nodiscard]] static WordPieceTokenizer from_tokenizer_json(const std::filesystem::path& path, WordPieceOptions options = {}) {
    const nlohmann::json j = io::read_json_file(path);
    const auto fail = [&](const std::string& field, const std::string& what) { wordpiece::detail::field_error(path, field, what); };
    const auto object = [&](const nlohmann::json& parent, const char* key, const std::string& field) -> const nlohmann::json* {
      const auto it = parent.find(key);
      if (it == parent.end() || it->is_null()) return nullptr;
      if (!it->is_object()) fail(field, "expected an object, got " + std::string(it->type_name()));
      return &*it;
    };
    if (!j.is_object()) throw parse_error(SourceLocation{path.string(), {}, {}}, "expected a JSON object");
    const nlohmann::json* model = object(j, "model", "model");
    if (model == nullptr) fail("model", "missing");
    const std::string type = model->value("type", std::string());
    if (type != "WordPiece") fail("model.type", "ftlib reads WordPiece tokenizer.json files, this one is \"" + type + "\"");
    if (model->value("continuing_subword_prefix", std::string("##")) != "##")
      fail("model.continuing_subword_prefix", "only \"##\" is supported");
    if (const auto it = model->find("unk_token"); it != model->end() && it->is_string()) options.unk_token = it->get<std::string>();
    if (const auto it = model->find("max_input_chars_per_word"); it != model->end() && it->is_number_unsigned())
      options.max_input_chars_per_word = it->get<std::size_t>();
    const nlohmann::json* vocab_json = object(*model, "vocab", "model.vocab");
    if (vocab_json == nullptr || vocab_json->empty()) fail("model.vocab", "missing or empty");
    std::vector<std::string> vocab(vocab_json->size());
    std::vector<bool> filled(vocab.size(), false);
    for (const auto& [token, id] : vocab_json->items()) {
      if (!id.is_number_unsigned() || id.get<std::uint64_t>() >= vocab.size() || filled[id.get<std::size_t>()])
        fail("model.vocab", "ids must be 0.." + std::to_string(vocab.size() - 1) + " each used once; \"" + token + "\" has " + id.dump());
      if (unicode::find_invalid_utf8(token) != unicode::npos) fail("model.vocab", "a token is not valid UTF-8");
      vocab[id.get<std::size_t>()] = token;
      filled[id.get<std::size_t>()] = true;
    }
    if (const nlohmann::json* n = object(j, "normalizer", "normalizer")) {
      if (n->value("type", std::string()) != "BertNormalizer")
        fail("normalizer.type", "ftlib's WordPiece runs BertNormalizer only, got " + n->value("type", std::string("?")));
      options.lowercase = n->value("lowercase", true);
      options.clean_text = n->value("clean_text", true);
      options.tokenize_chinese_chars = n->value("handle_chinese_chars", true);
      if (const auto it = n->find("strip_accents"); it != n->end() && it->is_boolean()) {
        options.strip_accents = it->get<bool>();
      } else {
        options.strip_accents.reset();
      }
    }
    if (const nlohmann::json* pre = object(j, "pre_tokenizer", "pre_tokenizer"); pre == nullptr || pre->value("type", std::string()) != "BertPreTokenizer")
      fail("pre_tokenizer.type", "ftlib's WordPiece runs BertPreTokenizer only");
    if (const nlohmann::json* post = object(j, "post_processor", "post_processor")) {
      const std::string post_type = post->value("type", std::string());
      if (post_type == "BertProcessing") {
        const auto& cls = post->at("cls");
        const auto& sep = post->at("sep");
        if (cls.is_array() && !cls.empty() && cls[0].is_string()) options.cls_token = cls[0].get<std::string>();
        if (sep.is_array() && !sep.empty() && sep[0].is_string()) options.sep_token = sep[0].get<std::string>();
      } else if (post_type == "TemplateProcessing") {
        // [CLS] A [SEP] and [CLS] A [SEP] B [SEP] (B's part with type id 1): the BERT template, nothing else.
        const auto pieces = [&](const char* key) {
          std::vector<std::pair<std::string, std::int64_t>> out;  // ("A"/"B" or special token, type id)
          const auto it = post->find(key);
          if (it == post->end() || !it->is_array()) fail(std::string("post_processor.") + key, "missing");
          for (const auto& item : *it) {
            const bool special = item.contains("SpecialToken");
            const auto& body = special ? item.at("SpecialToken") : item.at("Sequence");
            std::string name(special ? "" : "$");  // append(): GCC 12 gives a false -Wrestrict warning on operator+
            name.append(body.at("id").get<std::string>());
            out.emplace_back(std::move(name), body.value("type_id", std::int64_t{0}));
          }
          return out;
        };
        const auto single = pieces("single");
        const auto pair = pieces("pair");
        const bool bert_single = single.size() == 3 && single[1].first == "$A" && single[0].first[0] != '$' &&
                                 single[2].first[0] != '$' && single[0].second == 0 && single[2].second == 0;
        const bool bert_pair = pair.size() == 5 && pair[0] == single[0] && pair[1].first == "$A" && pair[2] == single[2] &&
                               pair[3] == std::pair<std::string, std::int64_t>{"$B", 1} && pair[4].first == single[2].first &&
                               pair[4].second == 1;
        if (!bert_single || !bert_pair)
          fail("post_processor", "ftlib's WordPiece builds [CLS] A [SEP] (B [SEP]) only; this template differs");
        options.cls_token = single[0].first;
        options.sep_token = single[2].first;
      } else {
        fail("post_processor.type", "expected TemplateProcessing or BertProcessing, got \"" + post_type + "\"");
      }
    }
    if (const nlohmann::json* padding = object(j, "padding", "padding")) {
      if (const auto it = padding->find("pad_token"); it != padding->end() && it->is_string()) options.pad_token = it->get<std::string>();
    }
    return WordPieceTokenizer(std::move(vocab), std::move(options), path.string());
  }

  /// @brief Loads a checkpoint directory's vocab.txt with tokenizer_config.json / special_tokens_map.json
  /// settings (do_lower_case, strip_accents, tokenize_chinese_chars, special tokens, model_max_length).
  [[nodiscard]] static WordPieceTokenizer from_pretrained(const std::filesystem::path& dir) {
    if (!std::filesystem::is_directory(dir)) {
      throw io_error(dir, "not a directory (expected a checkpoint directory containing vocab.txt)");
    }
    WordPieceOptions options;
    for (const char* name : {"special_tokens_map.json", "tokenizer_config.json"}) {
      const auto path = dir / name;
      if (!std::filesystem::exists(path)) continue;
      const nlohmann::json config = io::read_json_file(path);
      if (!config.is_object()) throw parse_error(SourceLocation{path.string(), {}, {}}, "expected a JSON object");
      const auto flag = [&](const char* key, bool& target) {
        if (const auto it = config.find(key); it != config.end() && !it->is_null()) {
          if (!it->is_boolean()) throw parse_error(SourceLocation{path.string(), {}, {}}, std::string(key) + " must be true or false");
          target = it->get<bool>();
        }
      };
      flag("do_lower_case", options.lowercase);
      flag("tokenize_chinese_chars", options.tokenize_chinese_chars);
      if (const auto it = config.find("strip_accents"); it != config.end()) {
        if (it->is_boolean()) options.strip_accents = it->get<bool>();
        else if (!it->is_null()) throw parse_error(SourceLocation{path.string(), {}, {}}, "strip_accents must be true, false or null");
      }
      if (const auto it = config.find("model_max_length"); it != config.end() && it->is_number_unsigned()) {
        // HF writes a huge sentinel (1e30) when the limit is unknown.
        const auto v = it->get<std::uint64_t>();
        options.model_max_length = v < (std::uint64_t{1} << 32) ? std::optional<std::size_t>(v) : std::nullopt;
      }
      using wordpiece::detail::token_string;
      if (auto t = token_string(config, "unk_token")) options.unk_token = *t;
      if (auto t = token_string(config, "cls_token")) options.cls_token = *t;
      if (auto t = token_string(config, "sep_token")) options.sep_token = *t;
      if (auto t = token_string(config, "pad_token")) options.pad_token = *t;
      if (auto t = token_string(config, "mask_token")) options.mask_token = *t;
    }
    // transformers 5's save_pretrained writes tokenizer.json only; older checkpoints have vocab.txt.
    if (!std::filesystem::exists(dir / "vocab.txt") && std::filesystem::exists(dir / "tokenizer.json"))
      return from_tokenizer_json(dir / "tokenizer.json", std::move(options));
    return from_vocab_file(dir / "vocab.txt", std::move(options));
  }

  /// @brief The pieces of `text` (no special tokens added, no truncation).
  [[nodiscard]] Segment tokenize(std::string_view text) const {
    Segment out;
    out.ids.reserve(text.size() / 4 + 4);
    out.tokens.reserve(text.size() / 4 + 4);
    tokenize_into(text, out);
    return out;
  }

  /// @brief Encodes one text: [CLS] pieces [SEP], truncated and padded as `options` say.
  [[nodiscard]] Encoding encode(std::string_view text, const EncodeOptions& options = {}) const {
    validate_options(options, false);
    return post_process(tokenize(text), std::nullopt, special_, options);
  }

  /// @brief Encodes a text pair: [CLS] A [SEP] B [SEP] with type ids 0 then 1.
  [[nodiscard]] Encoding encode_pair(std::string_view first, std::string_view second,
                                     const EncodeOptions& options = {}) const {
    validate_options(options, true);
    return post_process(tokenize(first), tokenize(second), special_, options);
  }

  /// @brief Encodes texts on `threads` threads (0 = all cores); same result as encoding them in order.
  [[nodiscard]] std::vector<Encoding> encode_batch(const std::vector<std::string>& texts,
                                                   const EncodeOptions& options = {}, std::size_t threads = 0) const {
    return encode_batch_with(*this, texts, options, threads, special_);
  }

  /// @brief Encodes text pairs on `threads` threads (0 = all cores).
  [[nodiscard]] std::vector<Encoding> encode_batch(const std::vector<TextPair>& pairs,
                                                   const EncodeOptions& options = {}, std::size_t threads = 0) const {
    return encode_batch_with(*this, pairs, options, threads, special_);
  }

  /// @brief Text of ids as HF's decode(ids, skip_special_tokens, clean_up_tokenization_spaces=True) gives it.
  [[nodiscard]] std::string decode(const std::vector<std::int64_t>& ids, bool skip_special_tokens = false) const {
    std::string out;
    std::string piece;
    bool first = true;
    for (const std::int64_t id : ids) {
      const std::string& token = id_to_token(id);
      if (skip_special_tokens && is_special(id)) continue;
      // HF's WordPiece decoder: "##x" glues to the previous piece, others get a leading space;
      // its per-token cleanup then removes spaces before punctuation.
      if (first) piece = token;
      else if (token.starts_with("##")) piece.assign(token, 2);
      else piece = " " + token;
      first = false;
      clean_up(piece, true);
      out += piece;
    }
    clean_up(out, false);  // transformers' clean_up_tokenization on the whole string
    return out;
  }

  /// @brief Number of entries in the vocabulary.
  [[nodiscard]] std::size_t vocab_size() const noexcept { return vocab_.size(); }
  /// @brief Id of the padding token.
  [[nodiscard]] std::int64_t pad_token_id() const noexcept { return special_.pad_id; }
  /// @brief Id of the unknown-word token.
  [[nodiscard]] std::int64_t unk_token_id() const noexcept { return unk_id_; }
  /// @brief Id of the classification token.
  [[nodiscard]] std::int64_t cls_token_id() const noexcept { return special_.cls_id; }
  /// @brief Id of the separator token.
  [[nodiscard]] std::int64_t sep_token_id() const noexcept { return special_.sep_id; }
  /// @brief The special tokens of the template and padding.
  [[nodiscard]] const SpecialTokens& special_tokens() const noexcept { return special_; }
  /// @brief The options this tokenizer was built with.
  [[nodiscard]] const WordPieceOptions& options() const noexcept { return options_; }

  /// @brief The vocabulary entry of id; option_error when id is out of range.
  [[nodiscard]] const std::string& id_to_token(std::int64_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= vocab_.size()) {
      throw option_error("token id " + std::to_string(id) + " is out of range: the vocabulary (" + source_ +
                         ") has ids 0.." + std::to_string(vocab_.size() - 1));
    }
    return vocab_[static_cast<std::size_t>(id)];
  }

  /// @brief The id of a vocabulary entry (e.g. "hello", "##ing", "[CLS]"), if it is one.
  [[nodiscard]] std::optional<std::int64_t> token_to_id(std::string_view token) const noexcept {
    const std::int32_t id = words_.find(token);
    if (id < 0) return std::nullopt;
    return id;
  }

  /// @brief Writes vocab.txt, tokenizer_config.json and special_tokens_map.json into dir, so that
  /// transformers' AutoTokenizer.from_pretrained(dir) loads the same tokenizer.
  void save(const std::filesystem::path& dir) const {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw io_error(dir, "cannot create directory: " + ec.message());
    std::string vocab_text;
    for (const auto& token : vocab_) {
      vocab_text += token;
      vocab_text += '\n';
    }
    io::write_file_atomically(dir / "vocab.txt", vocab_text);
    nlohmann::json special = {{"unk_token", options_.unk_token}, {"sep_token", options_.sep_token},
                              {"pad_token", options_.pad_token}, {"cls_token", options_.cls_token},
                              {"mask_token", options_.mask_token}};
    io::write_json_file(dir / "special_tokens_map.json", special);
    nlohmann::json config = special;
    config["tokenizer_class"] = "BertTokenizer";
    config["do_lower_case"] = options_.lowercase;
    config["do_basic_tokenize"] = true;
    config["tokenize_chinese_chars"] = options_.tokenize_chinese_chars;
    config["strip_accents"] = options_.strip_accents ? nlohmann::json(*options_.strip_accents) : nlohmann::json(nullptr);
    config["clean_up_tokenization_spaces"] = true;
    if (options_.model_max_length) config["model_max_length"] = *options_.model_max_length;
    io::write_json_file(dir / "tokenizer_config.json", config);
  }

 private:
  enum class AsciiKind : std::uint8_t { word, space, control, punctuation };

  struct Literal {
    std::string text;
    std::int32_t id;
  };

  /// Per-call scratch state of the streaming normalizer.
  struct WordState {
    std::string word;
    std::size_t chars = 0;  // code points in word
    // Kept combining marks at the end of word (ccc, bytes), for NFD's canonical reordering.
    std::vector<std::pair<int, std::size_t>> marks;
  };

  [[nodiscard]] bool is_special(std::int64_t id) const noexcept {
    return std::any_of(literals_.begin(), literals_.end(), [id](const Literal& l) { return l.id == id; });
  }

  static void clean_up(std::string& s, bool per_token) {
    using wordpiece::detail::replace_all;
    replace_all(s, " .", ".");
    replace_all(s, " ?", "?");
    replace_all(s, " !", "!");
    replace_all(s, " ,", ",");
    replace_all(s, " ' ", "'");
    replace_all(s, " n't", "n't");
    replace_all(s, " 'm", "'m");
    if (per_token) replace_all(s, " do not", " don't");
    replace_all(s, " 's", "'s");
    replace_all(s, " 've", "'ve");
    replace_all(s, " 're", "'re");
  }

  void push(Segment& out, std::int32_t id) const {
    out.ids.push_back(id);
    out.tokens.push_back(vocab_[static_cast<std::size_t>(id)]);
  }

  // A matched piece's token is the piece itself (with "##" after the start of a word): building it
  // from the word avoids touching vocab_, a second cache miss per word.
  static void push_piece(Segment& out, std::int32_t id, std::string_view piece, bool continuation) {
    out.ids.push_back(id);
    if (continuation) {
      std::string token;
      token.reserve(piece.size() + 2);
      token += "##";
      token += piece;
      out.tokens.push_back(std::move(token));
    } else {
      out.tokens.emplace_back(piece);
    }
  }

  /// Greedy longest-match-first WordPiece of one normalized word.
  void wordpiece(std::string_view w, std::size_t chars, Segment& out) const {
    if (chars > options_.max_input_chars_per_word) {
      push(out, static_cast<std::int32_t>(unk_id_));
      return;
    }
    if (const std::int32_t id = words_.find(w); id >= 0) {
      push_piece(out, id, w, false);
      return;
    }
    const std::size_t mark = out.ids.size();
    std::size_t start = 0;
    while (start < w.size()) {
      const auto& index = start == 0 ? words_ : continuations_;
      std::size_t end = std::min(w.size(), start + index.max_length());
      while (end < w.size() && end > start && (static_cast<unsigned char>(w[end]) & 0xC0) == 0x80) --end;
      std::int32_t found = -1;
      while (end > start) {
        found = index.find(w.substr(start, end - start));
        if (found >= 0) break;
        --end;
        while (end > start && (static_cast<unsigned char>(w[end]) & 0xC0) == 0x80) --end;
      }
      if (found < 0) {
        out.ids.resize(mark);
        out.tokens.resize(mark);
        push(out, static_cast<std::int32_t>(unk_id_));
        return;
      }
      push_piece(out, found, w.substr(start, end - start), start != 0);
      start = end;
    }
  }

  void flush(WordState& st, Segment& out) const {
    if (!st.word.empty()) wordpiece(st.word, st.chars, out);
    st.word.clear();
    st.chars = 0;
    st.marks.clear();
  }

  /// Appends one normalized, non-ASCII-fast-path code point to the current word.
  void append(WordState& st, char32_t cp, Segment& out) const {
    if (unicode::is_punctuation(cp)) {
      flush(st, out);
      unicode::append_utf8(st.word, cp);
      st.chars = 1;
      flush(st, out);
      return;
    }
    if (unicode::is_whitespace(cp)) {
      flush(st, out);
      return;
    }
    const int ccc = (strip_accents_ && cp >= 0x300) ? unicode::combining_class(cp) : 0;
    if (ccc == 0) {
      st.marks.clear();
      unicode::append_utf8(st.word, cp);
    } else {
      // NFD orders a run of combining marks by combining class (stable); only kept marks matter.
      std::string bytes;
      unicode::append_utf8(bytes, cp);
      std::size_t insert_at = st.word.size();
      std::size_t k = st.marks.size();
      while (k > 0 && st.marks[k - 1].first > ccc) {
        insert_at -= st.marks[k - 1].second;
        --k;
      }
      st.word.insert(insert_at, bytes);
      st.marks.insert(st.marks.begin() + static_cast<std::ptrdiff_t>(k), {ccc, bytes.size()});
    }
    ++st.chars;
  }

  /// Normalizes one non-ASCII code point: NFD + drop Mn (strip_accents), then lowercase.
  void normalize_into(WordState& st, char32_t cp, Segment& out) const {
    std::array<char32_t, 32> buffer{};
    std::size_t n = 1;
    buffer[0] = cp;
    if (strip_accents_) n = unicode::decompose_nfd(cp, buffer.data(), buffer.size());
    for (std::size_t i = 0; i < n; ++i) {
      char32_t c = buffer[i];
      if (strip_accents_ && unicode::is_nonspacing_mark(c)) continue;
      if (options_.lowercase) {
        if (c == 0x130 && !strip_accents_) {  // Rust's full lowercase mapping of U+0130 is "i" + U+0307
          append(st, U'i', out);
          append(st, 0x307, out);
          continue;
        }
        c = unicode::to_lower(c);
      }
      append(st, c, out);
    }
  }

  void tokenize_into(std::string_view text, Segment& out) const {
    unicode::require_valid_utf8(text);
    WordState st;
    st.word.reserve(64);
    std::size_t pos = 0;
    const std::size_t n = text.size();
    while (pos < n) {
      const auto byte = static_cast<unsigned char>(text[pos]);
      if (starts_literal_[byte]) {
        const Literal* hit = nullptr;
        for (const auto& lit : literals_) {
          if (text.compare(pos, lit.text.size(), lit.text) == 0) {
            hit = &lit;
            break;
          }
        }
        if (hit != nullptr) {
          flush(st, out);
          push(out, hit->id);
          pos += hit->text.size();
          continue;
        }
      }
      if (byte < 0x80) {
        switch (ascii_kind_[byte]) {
          case AsciiKind::word:
            st.word.push_back(ascii_lower_[byte]);
            ++st.chars;
            st.marks.clear();
            break;
          case AsciiKind::space:
            flush(st, out);
            break;
          case AsciiKind::control:
            break;
          case AsciiKind::punctuation:
            flush(st, out);
            st.word.push_back(static_cast<char>(byte));
            st.chars = 1;
            flush(st, out);
            break;
        }
        ++pos;
        continue;
      }
      const char32_t cp = unicode::decode_utf8(text, pos);
      if (options_.clean_text) {
        if (cp == 0xFFFD || unicode::is_control(cp)) continue;
        if (unicode::is_whitespace(cp)) {
          flush(st, out);
          continue;
        }
      }
      if (options_.tokenize_chinese_chars && unicode::is_cjk_ideograph(cp)) {
        flush(st, out);
        normalize_into(st, cp, out);
        flush(st, out);
        continue;
      }
      normalize_into(st, cp, out);
    }
    flush(st, out);
  }

  std::vector<std::string> vocab_;
  WordPieceOptions options_;
  std::string source_;
  bool strip_accents_ = true;
  wordpiece::detail::VocabIndex words_;
  wordpiece::detail::VocabIndex continuations_;
  std::int64_t unk_id_ = 0;
  SpecialTokens special_;
  std::vector<Literal> literals_;
  std::array<bool, 256> starts_literal_{};
  std::array<AsciiKind, 128> ascii_kind_{};
  std::array<char, 128> ascii_lower_{};
};

}  // namespace ftlib
