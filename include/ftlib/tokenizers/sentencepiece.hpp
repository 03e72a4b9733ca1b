#pragma once
// ALBERT's tokenizer: HuggingFace's slow `AlbertTokenizer` reproduced with SentencePiece's unigram model.
// Text -> (lower-case outside literal special tokens) -> split on literal special tokens ->
// preprocess_text (Python whitespace join, `` '' -> ", NFKD, drop combining marks, lower) ->
// SentencePiece unigram -> the digit-comma re-split -> ids -> slow truncate_sequences ->
// [CLS] A [SEP] (B [SEP]) via the shared post-processing.
//
// The SentencePiece part (model file, normalizer, Viterbi search, decoder) is ftlib's own
// (sentencepiece_model.hpp), identical to libsentencepiece 0.1.97 but without loading it: that
// library's embedded protobuf runtime clashes with LibTorch's. Needs only ftlib::ftlib (utf8proc);
// the ftlib::sentencepiece target remains for find_package components.

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <bitset>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ftlib/core/error.hpp"
#include "ftlib/io/atomic_file.hpp"
#include "ftlib/io/json_file.hpp"
#include "ftlib/tokenizers/encoding.hpp"
#include "ftlib/tokenizers/post_processing.hpp"
#include "ftlib/tokenizers/sentencepiece_model.hpp"
#include "ftlib/tokenizers/unicode.hpp"

namespace ftlib {

/// @brief How SentencePieceTokenizer pre-processes text and which literal special tokens it knows
/// (HF AlbertTokenizer's constructor arguments; the defaults are albert-base-v2's).
struct SentencePieceOptions {
  bool do_lower_case = true;       ///< lower-case the text (Python str.lower() semantics)
  bool remove_space = true;        ///< strip and collapse whitespace (Python str.split() semantics)
  bool keep_accents = false;       ///< false: NFKD and drop combining marks
  std::string cls_token = "[CLS]";  ///< classification token, also HF's bos_token
  std::string sep_token = "[SEP]";  ///< separator token, also HF's eos_token
  std::string unk_token = "<unk>";  ///< unknown token
  std::string pad_token = "<pad>";  ///< padding token
  std::string mask_token = "[MASK]";  ///< mask token (strips the whitespace on its left only)
  std::size_t model_max_length = 512;  ///< written to tokenizer_config.json by save()
  bool clean_up_tokenization_spaces = false;  ///< decode() applies HF's clean_up_tokenization (" ." -> ".", …)
  /// @brief Odd-budget rule of longest_first pair truncation (the slow tokenizer's by default).
  PairTruncationRule pair_truncation = PairTruncationRule::slow_first_gets_extra;

  /// @brief Sets do_lower_case.
  SentencePieceOptions& with_lower_case(bool v) { do_lower_case = v; return *this; }
  /// @brief Sets remove_space.
  SentencePieceOptions& with_remove_space(bool v) { remove_space = v; return *this; }
  /// @brief Sets keep_accents.
  SentencePieceOptions& with_keep_accents(bool v) { keep_accents = v; return *this; }
  /// @brief Sets pair_truncation.
  SentencePieceOptions& with_pair_truncation(PairTruncationRule r) { pair_truncation = r; return *this; }
};

namespace detail::spm {

/// @brief Result of a UTF-8 check: whether it is valid, whether it is pure ASCII, where it fails.
struct Utf8Check {
  bool valid = true;
  bool ascii = true;
  std::size_t error_offset = 0;
};

/// @brief Validates UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF) and notes pure ASCII.
[[nodiscard]] inline Utf8Check check_utf8(std::string_view s) noexcept {
  Utf8Check r;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // Skip ASCII eight bytes at a time: review text is nearly all ASCII.
    while (i + 8 <= n) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    r.ascii = false;
    const std::size_t len = unicode::utf8_sequence_length(s, i);
    if (len == 0) {
      r.valid = false;
      r.error_offset = i;
      return r;
    }
    i += len;
  }
  return r;
}

using unicode::append_utf8;
using unicode::decode_utf8;


/// @brief Python's str.isspace() set, which str.split() and str.strip() use.
[[nodiscard]] constexpr bool is_python_space(char32_t c) noexcept {
  if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/// @brief Python's str.isdigit() for one code point: decimal digits (Nd) plus Numeric_Type=Digit.
[[nodiscard]] inline bool is_python_digit(char32_t c) noexcept {
  if (c < 0x80) return c >= '0' && c <= '9';
  // Numeric_Type=Digit code points that are not Nd (Unicode 14, as in CPython 3.11).
  static constexpr std::array<std::pair<char32_t, char32_t>, 20> digit_ranges{{
      {0xB2, 0xB3}, {0xB9, 0xB9}, {0x1369, 0x1371}, {0x19DA, 0x19DA}, {0x2070, 0x2070},
      {0x2074, 0x2079}, {0x2080, 0x2089}, {0x2460, 0x2468}, {0x2474, 0x247C}, {0x2488, 0x2490},
      {0x24EA, 0x24EA}, {0x24F5, 0x24FD}, {0x24FF, 0x24FF}, {0x2776, 0x277E}, {0x2780, 0x2788},
      {0x278A, 0x2792}, {0x10A40, 0x10A43}, {0x10E60, 0x10E68}, {0x11052, 0x1105A}, {0x1F100, 0x1F10A}}};
  for (const auto& [lo, hi] : digit_ranges) {
    if (c >= lo && c <= hi) return true;
  }
  return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_ND;
}

/// @brief Code points that Unicode 15 (utf8proc 2.8) assigned but Unicode 14 (CPython 3.11's
/// unicodedata, which produced the reference) did not: Python leaves them alone (no decomposition,
/// combining class 0), so do we.
[[nodiscard]] constexpr bool unassigned_in_python(char32_t c) noexcept {
  return (c >= 0x10EFD && c <= 0x10EFF) || (c >= 0x11F41 && c <= 0x11F42) || (c >= 0x1E030 && c <= 0x1E06D) ||
         c == 0x1E08F || (c >= 0x1E4EC && c <= 0x1E4EF);
}

/// @brief Python's one-code-point str.lower(): utf8proc's simple mapping agrees with CPython 3.11
/// for every code point except U+0130, whose full lowercase is "i" + U+0307.
template <class Out>
inline void python_lower_one(char32_t c, Out&& emit) {
  if (c < 0x80) {
    emit(static_cast<char32_t>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  } else if (c == 0x130) {
    emit(U'i');
    emit(static_cast<char32_t>(0x307));
  } else {
    emit(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
  }
}

[[nodiscard]] inline bool is_cased(char32_t c) noexcept {
  const auto cp = static_cast<utf8proc_int32_t>(c);
  const auto cat = utf8proc_category(cp);
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT ||
         utf8proc_tolower(cp) != cp || utf8proc_toupper(cp) != cp;
}

[[nodiscard]] inline bool is_case_ignorable(char32_t c) noexcept {
  switch (c) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4: case 0x2018:
    case 0x2019: case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07:
    case 0xFF0E: case 0xFF1A:
      return true;
    default:
      break;
  }
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME || cat == UTF8PROC_CATEGORY_CF ||
         cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_SK;
}

/// @brief Python's Final_Sigma condition for the capital sigma at `i` of `s`.
[[nodiscard]] inline bool is_final_sigma(const std::u32string& s, std::size_t i) {
  std::size_t j = i;
  bool cased_before = false;
  while (j > 0) {
    const char32_t c = s[--j];
    if (is_case_ignorable(c)) continue;
    cased_before = is_cased(c);
    break;
  }
  if (!cased_before) return false;
  for (std::size_t k = i + 1; k < s.size(); ++k) {
    if (is_case_ignorable(s[k])) continue;
    return !is_cased(s[k]);
  }
  return true;
}

/// @brief Python's str.lower() over a whole string (full mapping of U+0130, Final_Sigma), as UTF-8.
inline void python_lower_to_utf8(const std::u32string& s, std::string& out) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char32_t c = s[i];
    if (c == 0x3A3) {
      append_utf8(out, is_final_sigma(s, i) ? char32_t{0x3C2} : char32_t{0x3C3});
      continue;
    }
    python_lower_one(c, [&out](char32_t l) { append_utf8(out, l); });
  }
}

/// @brief unicodedata.normalize("NFKD") of one code point with the combining marks (class != 0)
/// dropped. Canonical reordering only permutes marks, which are all dropped, so it is skipped.
template <class Out>
inline void nfkd_without_marks(char32_t c, Out&& emit) {
  if (c < 0x80 || unassigned_in_python(c)) {
    emit(c);
    return;
  }
  std::array<utf8proc_int32_t, 32> buf{};
  int boundclass = 0;
  const auto n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buf.data(),
                                         static_cast<utf8proc_ssize_t>(buf.size()),
                                         static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT),
                                         &boundclass);
  if (n <= 0 || n > static_cast<utf8proc_ssize_t>(buf.size())) {
    emit(c);
    return;
  }
  for (utf8proc_ssize_t k = 0; k < n; ++k) {
    const auto d = static_cast<char32_t>(buf[static_cast<std::size_t>(k)]);
    if (utf8proc_get_property(buf[static_cast<std::size_t>(k)])->combining_class == 0) emit(d);
  }
}

/// @brief Python's str.rstrip() / str.lstrip() (no arguments) on valid UTF-8.
[[nodiscard]] inline std::string_view python_rstrip(std::string_view s) noexcept {
  while (!s.empty()) {
    // Find the start of the last code point.
    std::size_t start = s.size() - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    std::size_t i = start;
    if (!is_python_space(decode_utf8(s, i))) break;
    s.remove_suffix(s.size() - start);
  }
  return s;
}

[[nodiscard]] inline std::string_view python_lstrip(std::string_view s) noexcept {
  while (!s.empty()) {
    std::size_t i = 0;
    if (!is_python_space(decode_utf8(s, i))) break;
    s.remove_prefix(i);
  }
  return s;
}

/// @brief Python's s.replace(from, to): every non-overlapping occurrence, left to right.
inline void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  std::size_t start = 0;
  for (std::size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, start)) {
    out.append(s, start, pos - start);
    out.append(to);
    start = pos + from.size();
  }
  if (start == 0) return;
  out.append(s, start, std::string::npos);
  s = std::move(out);
}

/// @brief transformers' PreTrainedTokenizerBase.clean_up_tokenization (English spacing fixes).
inline void clean_up_tokenization(std::string& s) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 10> rules{{
      {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}}};
  for (const auto& [from, to] : rules) replace_all(s, from, to);
}

}  // namespace detail::spm

/// @brief ALBERT's SentencePiece tokenizer with the exact behaviour of HF transformers' slow
/// AlbertTokenizer. Immutable after construction; copies share the loaded model; thread-safe.
class SentencePieceTokenizer {
 public:
  /// @brief Loads a SentencePiece model file (spiece.model). Throws io_error when the file cannot be
  /// read, parse_error when it is not a SentencePiece model or lacks a special token.
  [[nodiscard]] static SentencePieceTokenizer from_model_file(const std::filesystem::path& path,
                                                              SentencePieceOptions options = {}) {
    std::string bytes = io::read_text_file(path, "SentencePiece model file");
    return SentencePieceTokenizer(path, std::move(bytes), std::move(options));
  }

  /// @brief Loads `dir`/spiece.model with the settings of `dir`/tokenizer_config.json and
  /// `dir`/special_tokens_map.json when present (what transformers' save_pretrained writes).
  [[nodiscard]] static SentencePieceTokenizer from_pretrained(const std::filesystem::path& dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      throw io_error(dir, "not a directory (expected a tokenizer folder with spiece.model)");
    }
    SentencePieceOptions options;
    const auto config_path = dir / "tokenizer_config.json";
    if (std::filesystem::exists(config_path, ec)) apply_config(config_path, options, true);
    const auto map_path = dir / "special_tokens_map.json";
    if (std::filesystem::exists(map_path, ec)) apply_config(map_path, options, false);
    return from_model_file(dir / "spiece.model", std::move(options));
  }

  /// @brief Encodes one text: [CLS] pieces [SEP], truncated and padded as `options` say.
  [[nodiscard]] Encoding encode(std::string_view text, const EncodeOptions& options = {}) const {
    return post_process(to_segment(encode_ids(text)), std::nullopt, special_, options);
  }

  /// @brief Encodes a text pair: [CLS] A [SEP] B [SEP] with type ids 0…0 1…1. longest_first follows
  /// options().pair_truncation (HF slow by default: the first text gets the extra token of an odd budget).
  [[nodiscard]] Encoding encode_pair(std::string_view text, std::string_view text_pair,
                                     const EncodeOptions& options = {}) const {
    return post_process(to_segment(encode_ids(text)), to_segment(encode_ids(text_pair)), special_, options,
                        options_.pair_truncation);
  }

  /// @brief Encodes many texts on `threads` threads (0 = all cores); same result as encode() per row,
  /// then the batch's padding.
  [[nodiscard]] std::vector<Encoding> encode_batch(const std::vector<std::string>& texts,
                                                   const EncodeOptions& options = {}, std::size_t threads = 0) const {
    return encode_batch_with(*this, texts, options, threads, special_);
  }

  /// @brief Encodes many text pairs on `threads` threads (0 = all cores).
  [[nodiscard]] std::vector<Encoding> encode_batch(const std::vector<TextPair>& pairs,
                                                   const EncodeOptions& options = {}, std::size_t threads = 0) const {
    return encode_batch_with(*this, pairs, options, threads, special_);
  }

  /// @brief The piece ids of `text` without special tokens, truncation or padding.
  /// Throws parse_error when `text` is not valid UTF-8.
  [[nodiscard]] std::vector<std::int64_t> encode_ids(std::string_view text) const {
    const bool ascii = check_input(text);
    std::vector<std::int64_t> ids;
    ids.reserve(text.size() / 3 + 4);
    std::string scratch;
    EncodeScratch piece_ids;
    if (ascii && !may_hold_special_token(text)) {
      // The common case: one chunk, and preprocess_text's ASCII lower-casing equals HF's pre-lowering.
      scratch.reserve(text.size());
      preprocess_ascii(text, scratch);
      encode_preprocessed(scratch, piece_ids, ids);
      return ids;
    }
    std::string lowered;
    std::string_view source = text;
    if (options_.do_lower_case) {
      lowered = lower_outside_special_tokens(text);
      source = lowered;
    }
    for_each_chunk(source, [&](std::string_view chunk, int special) {
      if (special >= 0) {
        ids.push_back(special_ids_[static_cast<std::size_t>(special)]);
        return;
      }
      scratch.clear();
      preprocess_into(chunk, scratch);
      encode_preprocessed(scratch, piece_ids, ids);
    });
    return ids;
  }

  /// @brief The pieces of `text` (HF's tokenizer.tokenize(text)), special-token literals included.
  [[nodiscard]] std::vector<std::string> tokenize(std::string_view text) const {
    const auto ids = encode_ids(text);
    std::vector<std::string> pieces;
    pieces.reserve(ids.size());
    for (const auto id : ids) pieces.push_back(model_->id_to_piece(static_cast<int>(id)));
    return pieces;
  }

  /// @brief HF AlbertTokenizer.preprocess_text: whitespace join, quotes, accents, lower case.
  [[nodiscard]] std::string preprocess_text(std::string_view text) const {
    check_input(text);
    std::string out;
    preprocess_into(text, out);
    return out;
  }

  /// @brief Text of `ids` as transformers' slow AlbertTokenizer.decode: runs of ordinary pieces go through SentencePiece's decoder ("▁" -> space, the leading one
  /// dropped), special tokens are written as they are with one space before a run of them, and the
  /// result is stripped (then clean_up_tokenization when options().clean_up_tokenization_spaces is set,
  /// read from tokenizer_config.json). skip_special_tokens drops [CLS], [SEP], <pad>, <unk> and [MASK], as HF does.
  [[nodiscard]] std::string decode(const std::vector<std::int64_t>& ids, bool skip_special_tokens = false) const {
    std::string out;
    std::vector<int> run;
    bool prev_is_special = false;
    const auto flush = [&] {
      if (run.empty()) return;
      out += model_->decode(run);
      run.clear();
    };
    for (const auto id : ids) {
      check_id(id);
      const int special = special_index(id);
      if (special < 0) {
        run.push_back(static_cast<int>(id));
        prev_is_special = false;
        continue;
      }
      if (skip_special_tokens) continue;
      if (!prev_is_special) out.push_back(' ');
      flush();
      out += special_tokens_[static_cast<std::size_t>(special)];
      prev_is_special = true;
    }
    flush();
    std::string text(detail::spm::python_lstrip(detail::spm::python_rstrip(out)));
    if (options_.clean_up_tokenization_spaces) detail::spm::clean_up_tokenization(text);
    return text;
  }

  /// @brief Number of pieces in the model (30000 for albert-base-v2).
  [[nodiscard]] std::size_t vocab_size() const noexcept { return vocab_size_; }
  /// @brief Id of the padding token (<pad>).
  [[nodiscard]] std::int64_t pad_token_id() const noexcept { return special_.pad_id; }
  /// @brief Id of the classification token ([CLS]).
  [[nodiscard]] std::int64_t cls_token_id() const noexcept { return special_.cls_id; }
  /// @brief Id of the separator token ([SEP]).
  [[nodiscard]] std::int64_t sep_token_id() const noexcept { return special_.sep_id; }
  /// @brief Id of the unknown token (<unk>).
  [[nodiscard]] std::int64_t unk_token_id() const noexcept { return special_ids_[unk_index]; }
  /// @brief Id of the mask token ([MASK]).
  [[nodiscard]] std::int64_t mask_token_id() const noexcept { return special_ids_[mask_index]; }
  /// @brief The special tokens the shared post-processing uses.
  [[nodiscard]] const SpecialTokens& special_tokens() const noexcept { return special_; }
  /// @brief The pre-processing options this tokenizer was built with.
  [[nodiscard]] const SentencePieceOptions& options() const noexcept { return options_; }

  /// @brief The piece with this id; throws ftlib::error when the id is outside the vocabulary.
  [[nodiscard]] std::string id_to_token(std::int64_t id) const {
    check_id(id);
    return model_->id_to_piece(static_cast<int>(id));
  }

  /// @brief The id of this piece, or nullopt when the model has no such piece.
  [[nodiscard]] std::optional<std::int64_t> token_to_id(std::string_view token) const {
    const int id = model_->piece_to_id(token);
    if (id < 0 || model_->id_to_piece(id) != token) return std::nullopt;
    return id;
  }

  /// @brief Writes spiece.model, tokenizer_config.json and special_tokens_map.json into `dir`
  /// (created if needed), readable by from_pretrained() and by transformers' AutoTokenizer.
  void save(const std::filesystem::path& dir) const {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw io_error(dir, "cannot create directory: " + ec.message());
    io::write_file_atomically(dir / "spiece.model", *model_bytes_);
    const nlohmann::json mask = {{"__type", "AddedToken"}, {"content", options_.mask_token},
                                 {"lstrip", true},         {"normalized", false},
                                 {"rstrip", false},        {"single_word", false}};
    nlohmann::json map = {{"bos_token", options_.cls_token}, {"eos_token", options_.sep_token},
                          {"unk_token", options_.unk_token}, {"sep_token", options_.sep_token},
                          {"pad_token", options_.pad_token}, {"cls_token", options_.cls_token},
                          {"mask_token", mask}};
    nlohmann::json config = map;
    config["tokenizer_class"] = "AlbertTokenizer";
    config["do_lower_case"] = options_.do_lower_case;
    config["remove_space"] = options_.remove_space;
    config["keep_accents"] = options_.keep_accents;
    config["model_max_length"] = options_.model_max_length;
    config["clean_up_tokenization_spaces"] = options_.clean_up_tokenization_spaces;
    map["mask_token"].erase("__type");
    io::write_json_file(dir / "tokenizer_config.json", config);
    io::write_json_file(dir / "special_tokens_map.json", map);
  }

 private:
  static constexpr std::string_view underline = "\xE2\x96\x81";  // U+2581, SentencePiece's space
  // Order of special_tokens_ / special_ids_.
  /// Buffers reused across the chunks of one encode call.
  struct EncodeScratch {
    std::vector<int> ids;
    std::string normalized;
    std::vector<SentencePieceModel::Span> spans;
  };

  static constexpr std::size_t cls_index = 0, sep_index = 1, unk_index = 2, pad_index = 3, mask_index = 4;

  SentencePieceTokenizer(const std::filesystem::path& path, std::string bytes, SentencePieceOptions options)
      : options_(std::move(options)), model_bytes_(std::make_shared<const std::string>(std::move(bytes))) {
    model_ = std::make_shared<const SentencePieceModel>(SentencePieceModel::parse(*model_bytes_, path));
    vocab_size_ = model_->size();
    special_tokens_ = {options_.cls_token, options_.sep_token, options_.unk_token, options_.pad_token,
                       options_.mask_token};
    const std::array<const char*, 5> names{"cls_token", "sep_token", "unk_token", "pad_token", "mask_token"};
    for (std::size_t k = 0; k < special_tokens_.size(); ++k) {
      const auto id = token_to_id(special_tokens_[k]);
      if (!id) {
        throw parse_error(SourceLocation{path.string(), {}, {}},
                          std::string("the SentencePiece model has no piece \"") + special_tokens_[k] +
                              "\" for " + names[k] + " (an ALBERT model needs [CLS], [SEP], <unk>, <pad>, [MASK])");
      }
      special_ids_[k] = *id;
      if (special_tokens_[k].empty()) {
        throw parse_error(SourceLocation{path.string(), {}, {}}, std::string(names[k]) + " must not be empty");
      }
      const auto first = static_cast<unsigned char>(special_tokens_[k][0]);
      first_bytes_.set(first);
      // A token starting with a lower-case letter (or non-ASCII) could be created by lower-casing.
      if ((first >= 'a' && first <= 'z') || first >= 0x80) could_be_made_by_lowering_ = true;
    }
    special_ = SpecialTokens{special_ids_[cls_index], special_ids_[sep_index], special_ids_[pad_index],
                             options_.cls_token,      options_.sep_token,      options_.pad_token};
    // Pieces the digit-comma rule re-splits: longer than one character, ending in <digit>",".
    splits_at_comma_.assign(vocab_size_, false);
    for (std::size_t id = 0; id < vocab_size_; ++id) {
      const std::string& piece = model_->id_to_piece(static_cast<int>(id));
      if (piece.size() < 2 || piece.back() != ',') continue;
      std::size_t start = piece.size() - 2;
      while (start > 0 && (static_cast<unsigned char>(piece[start]) & 0xC0) == 0x80) --start;
      std::size_t i = start;
      if (detail::spm::is_python_digit(detail::spm::decode_utf8(piece, i))) splits_at_comma_[id] = true;
    }
    comma_id_ = model_->piece_to_id(",");
  }

  static void apply_config(const std::filesystem::path& path, SentencePieceOptions& options, bool is_config) {
    const nlohmann::json j = io::read_json_file(path);
    if (!j.is_object()) {
      throw parse_error(SourceLocation{path.string(), 1, 1}, "expected a JSON object");
    }
    const auto flag = [&](const char* key, bool& target) {
      if (!j.contains(key) || j[key].is_null()) return;
      if (!j[key].is_boolean()) {
        throw parse_error(SourceLocation{path.string(), {}, {}},
                          std::string("\"") + key + "\" must be true or false, got " + j[key].dump());
      }
      target = j[key].get<bool>();
    };
    const auto token = [&](const char* key, std::string& target) {
      if (!j.contains(key) || j[key].is_null()) return;
      const auto& v = j[key];
      if (v.is_string()) {
        target = v.get<std::string>();
      } else if (v.is_object() && v.contains("content") && v["content"].is_string()) {
        target = v["content"].get<std::string>();
      } else {
        throw parse_error(SourceLocation{path.string(), {}, {}},
                          std::string("\"") + key + "\" must be a string or an object with \"content\", got " +
                              v.dump());
      }
    };
    if (is_config) {
      if (j.contains("tokenizer_class") && j["tokenizer_class"].is_string()) {
        const auto cls = j["tokenizer_class"].get<std::string>();
        if (cls != "AlbertTokenizer" && cls != "AlbertTokenizerFast") {
          throw parse_error(SourceLocation{path.string(), {}, {}},
                            "tokenizer_class is \"" + cls +
                                "\", but SentencePieceTokenizer implements AlbertTokenizer / AlbertTokenizerFast");
        }
      }
      flag("do_lower_case", options.do_lower_case);
      flag("remove_space", options.remove_space);
      flag("keep_accents", options.keep_accents);
      flag("clean_up_tokenization_spaces", options.clean_up_tokenization_spaces);
      if (j.contains("model_max_length") && j["model_max_length"].is_number_unsigned()) {
        // transformers writes a huge sentinel (1e30) when unknown; keep ALBERT's 512 then.
        const auto v = j["model_max_length"].get<std::uint64_t>();
        if (v > 0 && v < (1ULL << 31)) options.model_max_length = static_cast<std::size_t>(v);
      }
    }
    token("cls_token", options.cls_token);
    token("sep_token", options.sep_token);
    token("unk_token", options.unk_token);
    token("pad_token", options.pad_token);
    token("mask_token", options.mask_token);
  }

  /// Throws parse_error unless `text` is valid UTF-8; returns whether it is pure ASCII.
  static bool check_input(std::string_view text) {
    const auto check = detail::spm::check_utf8(text);
    if (!check.valid) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(text[check.error_offset])));
      throw parse_error(SourceLocation{"<input text>", {}, {}},
                        "the text is not valid UTF-8: byte " + std::string(hex) + " at byte offset " +
                            std::to_string(check.error_offset) + " does not start a valid UTF-8 sequence");
    }
    return check.ascii;
  }

  /// False when no literal special token can appear in this ASCII text, even after lower-casing.
  [[nodiscard]] bool may_hold_special_token(std::string_view text) const noexcept {
    if (could_be_made_by_lowering_) return true;
    return std::any_of(text.begin(), text.end(),
                       [this](char c) { return first_bytes_.test(static_cast<unsigned char>(c)); });
  }

  void check_id(std::int64_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= vocab_size_) {
      throw error("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                  std::to_string(vocab_size_ - 1) + ")");
    }
  }

  [[nodiscard]] int special_index(std::int64_t id) const noexcept {
    for (std::size_t k = 0; k < special_ids_.size(); ++k) {
      if (special_ids_[k] == id) return static_cast<int>(k);
    }
    return -1;
  }

  /// The literal special token starting at byte `i` (longest match), or -1.
  [[nodiscard]] int special_at(std::string_view s, std::size_t i, std::size_t& length) const noexcept {
    if (!first_bytes_.test(static_cast<unsigned char>(s[i]))) return -1;
    int best = -1;
    length = 0;
    for (std::size_t k = 0; k < special_tokens_.size(); ++k) {
      const std::string& t = special_tokens_[k];
      if (t.size() > length && s.compare(i, t.size(), t) == 0) {
        best = static_cast<int>(k);
        length = t.size();
      }
    }
    return best;
  }

  /// HF's tokenize() with do_lower_case: every character except literal special tokens is
  /// lower-cased one code point at a time, before the text is split on special tokens.
  [[nodiscard]] std::string lower_outside_special_tokens(std::string_view text) const {
    std::string out;
    out.reserve(text.size() + 8);
    std::size_t i = 0;
    while (i < text.size()) {
      const auto byte = static_cast<unsigned char>(text[i]);
      std::size_t length = 0;
      if (special_at(text, i, length) >= 0) {
        out.append(text.substr(i, length));
        i += length;
      } else if (byte < 0x80) {
        out.push_back(static_cast<char>(byte >= 'A' && byte <= 'Z' ? byte + 32 : byte));
        ++i;
      } else {
        detail::spm::python_lower_one(detail::spm::decode_utf8(text, i),
                                      [&out](char32_t c) { detail::spm::append_utf8(out, c); });
      }
    }
    return out;
  }

  /// Splits on literal special tokens (earliest, longest match) and calls f(chunk, -1) for text
  /// and f(token, index) for special tokens. Whitespace next to a special token is stripped as HF
  /// does (only on the left of [MASK]); it only matters with remove_space=false.
  template <class F>
  void for_each_chunk(std::string_view s, F&& f) const {
    struct Piece {
      std::string_view text;
      int special;
    };
    std::vector<Piece> pieces;
    std::size_t start = 0;
    for (std::size_t i = 0; i < s.size();) {
      std::size_t length = 0;
      const int special = special_at(s, i, length);
      if (special < 0) {
        ++i;
        continue;
      }
      if (i > start) pieces.push_back({s.substr(start, i - start), -1});
      pieces.push_back({s.substr(i, length), special});
      i += length;
      start = i;
    }
    if (pieces.empty()) {
      f(s, -1);
      return;
    }
    if (start < s.size()) pieces.push_back({s.substr(start), -1});
    for (std::size_t k = 0; k < pieces.size(); ++k) {
      if (pieces[k].special < 0) continue;
      const bool strip_right = pieces[k].special != static_cast<int>(mask_index);
      if (strip_right && k + 1 < pieces.size() && pieces[k + 1].special < 0) {
        pieces[k + 1].text = detail::spm::python_lstrip(pieces[k + 1].text);
      }
      if (k > 0 && pieces[k - 1].special < 0) pieces[k - 1].text = detail::spm::python_rstrip(pieces[k - 1].text);
    }
    for (const auto& p : pieces) {
      if (!p.text.empty()) f(p.text, p.special);
    }
  }

  /// AlbertTokenizer.preprocess_text of valid UTF-8, appended to `out`.
  void preprocess_into(std::string_view text, std::string& out) const {
    if (detail::spm::check_utf8(text).ascii) {
      preprocess_ascii(text, out);
      return;
    }
    // 1. " ".join(text.strip().split())
    std::u32string joined;
    joined.reserve(text.size());
    bool pending_space = false;
    for (std::size_t i = 0; i < text.size();) {
      const char32_t c = detail::spm::decode_utf8(text, i);
      if (options_.remove_space && detail::spm::is_python_space(c)) {
        pending_space = !joined.empty();
        continue;
      }
      if (pending_space) {
        joined.push_back(U' ');
        pending_space = false;
      }
      joined.push_back(c);
    }
    // 2. `` and '' -> "   3. NFKD without combining marks
    std::u32string normalized;
    normalized.reserve(joined.size() + 8);
    const auto emit = [&normalized](char32_t c) { normalized.push_back(c); };
    for (std::size_t i = 0; i < joined.size(); ++i) {
      char32_t c = joined[i];
      if ((c == U'`' || c == U'\'') && i + 1 < joined.size() && joined[i + 1] == c) {
        c = U'"';
        ++i;
      }
      if (options_.keep_accents) {
        emit(c);
      } else {
        detail::spm::nfkd_without_marks(c, emit);
      }
    }
    // 4. str.lower()
    if (options_.do_lower_case) {
      detail::spm::python_lower_to_utf8(normalized, out);
    } else {
      for (const char32_t c : normalized) detail::spm::append_utf8(out, c);
    }
  }

  void preprocess_ascii(std::string_view text, std::string& out) const {
    // The result is never longer than `text`: written in place, then cut to its length.
    const std::size_t base = out.size();
    out.resize(base + text.size());
    char* const begin = out.data() + base;
    char* w = begin;
    bool pending_space = false;
    const bool lower = options_.do_lower_case;
    const bool remove_space = options_.remove_space;
    for (std::size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (remove_space && detail::spm::is_python_space(static_cast<unsigned char>(c))) {
        pending_space = w != begin;
        continue;
      }
      if (pending_space) {
        *w++ = ' ';
        pending_space = false;
      }
      if ((c == '`' || c == '\'') && i + 1 < text.size() && text[i + 1] == c) {
        *w++ = '"';
        ++i;
        continue;
      }
      if (lower && c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
      *w++ = c;
    }
    out.resize(base + static_cast<std::size_t>(w - begin));
  }

  /// SentencePiece encoding of a pre-processed chunk plus AlbertTokenizer._tokenize's rule: a piece
  /// ending in <digit>"," is re-encoded without the comma and the comma becomes its own piece.
  void encode_preprocessed(const std::string& text, EncodeScratch& scratch, std::vector<std::int64_t>& ids) const {
    if (text.empty()) return;
    scratch.ids.clear();
    model_->encode(text, scratch.ids, scratch.normalized, scratch.spans);
    for (const int id : scratch.ids) {
      if (!splits_at_comma_[static_cast<std::size_t>(id)]) {
        ids.push_back(id);
        continue;
      }
      const std::string& piece = model_->id_to_piece(id);
      std::string stripped;
      for (std::size_t i = 0; i + 1 < piece.size();) {
        if (piece.compare(i, underline.size(), underline) == 0) {
          i += underline.size();
        } else {
          stripped.push_back(piece[i++]);
        }
      }
      std::vector<std::string> sub = model_->encode_as_pieces(stripped);
      const bool had_prefix = piece.compare(0, underline.size(), underline) == 0;
      if (!had_prefix && !sub.empty() && sub.front().compare(0, underline.size(), underline) == 0) {
        if (sub.front().size() == underline.size()) {
          sub.erase(sub.begin());
        } else {
          sub.front().erase(0, underline.size());
        }
      }
      for (const auto& p : sub) ids.push_back(model_->piece_to_id(p));
      ids.push_back(comma_id_);
    }
  }

  [[nodiscard]] Segment to_segment(std::vector<std::int64_t> ids) const {
    Segment s;
    s.tokens.reserve(ids.size());
    for (const auto id : ids) s.tokens.push_back(model_->id_to_piece(static_cast<int>(id)));
    s.ids = std::move(ids);
    return s;
  }

  SentencePieceOptions options_;
  std::shared_ptr<const std::string> model_bytes_;  // the model file as loaded, for save()
  std::shared_ptr<const SentencePieceModel> model_;
  std::size_t vocab_size_ = 0;
  std::array<std::string, 5> special_tokens_;
  std::array<std::int64_t, 5> special_ids_{};
  std::bitset<256> first_bytes_;
  bool could_be_made_by_lowering_ = false;
  SpecialTokens special_;
  std::vector<bool> splits_at_comma_;
  int comma_id_ = 0;
};

}  // namespace ftlib
