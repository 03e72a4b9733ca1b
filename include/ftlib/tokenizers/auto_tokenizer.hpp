#pragma once
// AutoTokenizer: picks the tokenizer a checkpoint needs (WordPiece for BERT/DistilBERT, SentencePiece
// for ALBERT) from its files, like transformers' AutoTokenizer.from_pretrained, and forwards to it.
// Which tokenizer a model_type uses comes from its architecture spec (arch/registry.hpp).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/arch/registry.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/io/json_file.hpp"
#include "ftlib/tokenizers/encoding.hpp"
#include "ftlib/tokenizers/post_processing.hpp"
#include "ftlib/tokenizers/sentencepiece.hpp"
#include "ftlib/tokenizers/tokenizer_concept.hpp"
#include "ftlib/tokenizers/wordpiece.hpp"

namespace ftlib {

namespace auto_tokenizer::detail {

// The tokenizer kind of a tokenizer_config.json tokenizer_class ("BertTokenizerFast", ...).
inline std::optional<arch::TokenizerKind> kind_of_class(std::string_view name) {
  if (name.ends_with("Fast")) name.remove_suffix(4);
  if (name == "BertTokenizer" || name == "DistilBertTokenizer") return arch::TokenizerKind::wordpiece;
  if (name == "AlbertTokenizer") return arch::TokenizerKind::sentencepiece;
  return std::nullopt;
}

// The string member `key` of a JSON file, when the file exists and has one.
inline std::optional<std::string> json_string(const std::filesystem::path& path, const char* key) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
  const nlohmann::json j = io::read_json_file(path);
  if (!j.is_object()) return std::nullopt;
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// Whether `path` is a tokenizers tokenizer.json holding a WordPiece model.
inline bool is_wordpiece_json(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  const nlohmann::json j = io::read_json_file(path);
  return j.is_object() && j.contains("model") && j["model"].is_object() && j["model"].value("type", std::string()) == "WordPiece";
}

}  // namespace auto_tokenizer::detail

/// @brief A WordPiece or SentencePiece tokenizer chosen from a checkpoint's files; satisfies Tokenizer.
class AutoTokenizer {
 public:
  /// @brief The tokenizers AutoTokenizer can hold.
  using Variant = std::variant<WordPieceTokenizer, SentencePieceTokenizer>;

  /// @brief Wraps a WordPiece tokenizer.
  explicit AutoTokenizer(WordPieceTokenizer tokenizer) : tokenizer_(std::move(tokenizer)) {}
  /// @brief Wraps a SentencePiece tokenizer.
  explicit AutoTokenizer(SentencePieceTokenizer tokenizer) : tokenizer_(std::move(tokenizer)) {}

  /// @brief Loads from a checkpoint directory (tokenizer_config.json's tokenizer_class, else
  /// config.json's model_type, else whichever of vocab.txt / spiece.model is there), or from a
  /// vocab.txt or spiece.model file given directly.
  [[nodiscard]] static AutoTokenizer from_pretrained(const std::filesystem::path& path) {
    using arch::TokenizerKind;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      throw io_error(path, "not found (expected a checkpoint directory, a vocab.txt or an spiece.model)");
    }
    if (!std::filesystem::is_directory(path, ec)) {
      if (path.extension() == ".model") return AutoTokenizer(SentencePieceTokenizer::from_model_file(path));
      if (path.extension() == ".txt") return AutoTokenizer(WordPieceTokenizer::from_vocab_file(path));
      if (path.filename() == "tokenizer.json") return AutoTokenizer(WordPieceTokenizer::from_tokenizer_json(path));
      throw io_error(path, "unknown tokenizer file (expected vocab.txt for WordPiece or spiece.model for SentencePiece)");
    }
    std::optional<TokenizerKind> kind;
    const auto config_path = path / "tokenizer_config.json";
    if (const auto cls = auto_tokenizer::detail::json_string(config_path, "tokenizer_class")) {
      kind = auto_tokenizer::detail::kind_of_class(*cls);
      if (!kind) {
        throw parse_error(SourceLocation{config_path.string(), {}, {}},
                          "tokenizer_class \"" + *cls +
                              "\" is not supported (expected BertTokenizer, DistilBertTokenizer or AlbertTokenizer)");
      }
    }
    if (!kind) {
      if (const auto type = auto_tokenizer::detail::json_string(path / "config.json", "model_type"))
        kind = arch::tokenizer_kind_of(*type);
    }
    if (!kind) {
      if (std::filesystem::exists(path / "vocab.txt", ec) ||
          (!std::filesystem::exists(path / "spiece.model", ec) && auto_tokenizer::detail::is_wordpiece_json(path / "tokenizer.json"))) {
        kind = TokenizerKind::wordpiece;
      } else if (std::filesystem::exists(path / "spiece.model", ec)) {
        kind = TokenizerKind::sentencepiece;
      } else {
        throw io_error(path, "no tokenizer files found (expected vocab.txt for BERT/DistilBERT or spiece.model for ALBERT)");
      }
    }
    if (*kind == TokenizerKind::wordpiece) return AutoTokenizer(WordPieceTokenizer::from_pretrained(path));
    if (!std::filesystem::exists(path / "spiece.model", ec) && std::filesystem::exists(path / "tokenizer.json", ec))
      throw io_error(path, "has a SentencePiece (Unigram) tokenizer.json but no spiece.model; ftlib reads ALBERT "
                           "tokenizers from spiece.model (copy it from the base model, e.g. albert-base-v2)");
    return AutoTokenizer(SentencePieceTokenizer::from_pretrained(path));
  }

  /// @brief Encodes one text (see Tokenizer).
  [[nodiscard]] Encoding encode(std::string_view text, const EncodeOptions& options = {}) const {
    return std::visit([&](const auto& t) { return t.encode(text, options); }, tokenizer_);
  }
  /// @brief Encodes a text pair (see Tokenizer).
  [[nodiscard]] Encoding encode_pair(std::string_view first, std::string_view second,
                                     const EncodeOptions& options = {}) const {
    return std::visit([&](const auto& t) { return t.encode_pair(first, second, options); }, tokenizer_);
  }
  /// @brief Encodes texts on `threads` threads (0 = all cores).
  [[nodiscard]] std::vector<Encoding> encode_batch(const std::vector<std::string>& texts,
                                                   const EncodeOptions& options = {}, std::size_t threads = 0) const {
    return std::visit([&](const auto& t) { return t.encode_batch(texts, options, threads); }, tokenizer_);
  }
  /// @brief Encodes text pairs on `threads` threads (0 = all cores).
  [[nodiscard]] std::vector<Encoding> encode_batch(const std::vector<TextPair>& pairs,
                                                   const EncodeOptions& options = {}, std::size_t threads = 0) const {
    return std::visit([&](const auto& t) { return t.encode_batch(pairs, options, threads); }, tokenizer_);
  }
  /// @brief Text of ids (see the wrapped tokenizer's decode).
  [[nodiscard]] std::string decode(const std::vector<std::int64_t>& ids, bool skip_special_tokens = false) const {
    return std::visit([&](const auto& t) { return t.decode(ids, skip_special_tokens); }, tokenizer_);
  }
  /// @brief Number of vocabulary entries.
  [[nodiscard]] std::size_t vocab_size() const {
    return std::visit([](const auto& t) -> std::size_t { return t.vocab_size(); }, tokenizer_);
  }
  /// @brief Id of the padding token.
  [[nodiscard]] std::int64_t pad_token_id() const {
    return std::visit([](const auto& t) -> std::int64_t { return t.pad_token_id(); }, tokenizer_);
  }
  /// @brief The special tokens of the template and padding.
  [[nodiscard]] const SpecialTokens& special_tokens() const {
    return std::visit([](const auto& t) -> const SpecialTokens& { return t.special_tokens(); }, tokenizer_);
  }
  /// @brief The vocabulary entry of id.
  [[nodiscard]] std::string id_to_token(std::int64_t id) const {
    return std::visit([&](const auto& t) -> std::string { return t.id_to_token(id); }, tokenizer_);
  }
  /// @brief The id of a vocabulary entry, if it is one.
  [[nodiscard]] std::optional<std::int64_t> token_to_id(std::string_view token) const {
    return std::visit([&](const auto& t) { return t.token_to_id(token); }, tokenizer_);
  }
  /// @brief Writes the tokenizer files (see the wrapped tokenizer's save).
  void save(const std::filesystem::path& dir) const {
    std::visit([&](const auto& t) { t.save(dir); }, tokenizer_);
  }

  /// @brief The model's position limit from tokenizer_config.json (HF's model_max_length), if known.
  [[nodiscard]] std::optional<std::size_t> model_max_length() const {
    return std::visit([](const auto& t) -> std::optional<std::size_t> { return t.options().model_max_length; },
                      tokenizer_);
  }

  /// @brief "wordpiece" or "sentencepiece".
  [[nodiscard]] std::string_view kind() const noexcept {
    return std::holds_alternative<WordPieceTokenizer>(tokenizer_) ? "wordpiece" : "sentencepiece";
  }
  /// @brief The wrapped tokenizer.
  [[nodiscard]] const Variant& variant() const noexcept { return tokenizer_; }

 private:
  Variant tokenizer_;
};

static_assert(Tokenizer<AutoTokenizer>);

}  // namespace ftlib
