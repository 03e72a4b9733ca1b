#pragma once
// The Unicode facts BERT-style normalization needs (UTF-8 decoding with validation, general
// categories, NFD, lowercase), via utf8proc (Unicode 15 in utf8proc 2.8). The predicates follow
// HF `tokenizers`' Rust BertNormalizer/BertPreTokenizer, not Python's unicodedata: "control" is
// Cc/Cf/Co only (unassigned code points are kept, so a new emoji becomes [UNK] instead of vanishing)
// and "whitespace" is Rust's char::is_whitespace (the White_Space property).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <utf8proc.h>

#include "ftlib/core/error.hpp"

namespace ftlib::unicode {

/// @brief Returned by find_invalid_utf8 when the text is valid.
inline constexpr std::size_t npos = std::string_view::npos;

/// @brief Length of the UTF-8 sequence starting at s[pos], or 0 when it is not valid UTF-8
/// (bad lead byte, truncated, overlong, surrogate or above U+10FFFF). pos must be < s.size().
[[nodiscard]] inline std::size_t utf8_sequence_length(std::string_view s, std::size_t pos) noexcept {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) return 1;
  const std::size_t left = s.size() - pos;
  const auto cont = [&](std::size_t i) {
    return i < left && (static_cast<unsigned char>(s[pos + i]) & 0xC0) == 0x80;
  };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    const auto b1 = static_cast<unsigned char>(s[pos + 1]);
    if (b0 == 0xE0 && b1 < 0xA0) return 0;   // overlong
    if (b0 == 0xED && b1 >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const auto b1 = static_cast<unsigned char>(s[pos + 1]);
    if (b0 == 0xF0 && b1 < 0x90) return 0;   // overlong
    if (b0 == 0xF4 && b1 >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

/// @brief Byte offset of the first invalid UTF-8 sequence in s, or npos when s is valid UTF-8.
[[nodiscard]] inline std::size_t find_invalid_utf8(std::string_view s) noexcept {
  std::size_t pos = 0;
  while (pos < s.size()) {
    // Eight ASCII bytes at a time: the common case for English text.
    while (pos + 8 <= s.size()) {
      std::uint64_t word = 0;
      for (std::size_t i = 0; i < 8; ++i) word |= static_cast<std::uint64_t>(static_cast<unsigned char>(s[pos + i])) << (8 * i);
      if (word & 0x8080808080808080ULL) break;
      pos += 8;
    }
    if (pos >= s.size()) break;
    const std::size_t n = utf8_sequence_length(s, pos);
    if (n == 0) return pos;
    pos += n;
  }
  return npos;
}

/// @brief Throws parse_error naming `what` and the byte offset when s is not valid UTF-8.
inline void require_valid_utf8(std::string_view s, std::string_view what = "input text") {
  const std::size_t bad = find_invalid_utf8(s);
  if (bad == npos) return;
  char hex[8];
  const auto byte = static_cast<unsigned char>(s[bad]);
  const char* digits = "0123456789ABCDEF";
  hex[0] = '0'; hex[1] = 'x'; hex[2] = digits[byte >> 4]; hex[3] = digits[byte & 15]; hex[4] = '\0';
  throw parse_error(std::string(what) + " is not valid UTF-8: invalid byte sequence starting with " + hex +
                    " at byte offset " + std::to_string(bad) + " (expected UTF-8 encoded text)");
}

/// @brief Decodes the (already validated) UTF-8 sequence at s[pos], advancing pos past it.
[[nodiscard]] inline char32_t decode_utf8(std::string_view s, std::size_t& pos) noexcept {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  const auto at = [&](std::size_t i) { return static_cast<char32_t>(static_cast<unsigned char>(s[pos + i]) & 0x3F); };
  char32_t cp = 0;
  if (b0 < 0x80) {
    cp = b0;
    pos += 1;
  } else if (b0 < 0xE0) {
    cp = (static_cast<char32_t>(b0 & 0x1F) << 6) | at(1);
    pos += 2;
  } else if (b0 < 0xF0) {
    cp = (static_cast<char32_t>(b0 & 0x0F) << 12) | (at(1) << 6) | at(2);
    pos += 3;
  } else {
    cp = (static_cast<char32_t>(b0 & 0x07) << 18) | (at(1) << 12) | (at(2) << 6) | at(3);
    pos += 4;
  }
  return cp;
}

/// @brief Appends the UTF-8 encoding of cp to out.
inline void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

/// @brief Number of code points in valid UTF-8 text.
[[nodiscard]] inline std::size_t count_code_points(std::string_view s) noexcept {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

/// @brief The utf8proc general category of cp.
[[nodiscard]] inline utf8proc_category_t category(char32_t cp) noexcept {
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

/// @brief Canonical combining class of cp (0 for starters).
[[nodiscard]] inline int combining_class(char32_t cp) noexcept {
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->combining_class;
}

/// @brief Rust's char::is_whitespace (White_Space property), which BERT also applies to \t \n \r.
[[nodiscard]] constexpr bool is_whitespace(char32_t cp) noexcept {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

/// @brief BERT's "control": categories Cc, Cf, Co (not \t \n \r), which clean_text deletes.
[[nodiscard]] inline bool is_control(char32_t cp) noexcept {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  if (cp < 0x80) return cp < 0x20 || cp == 0x7F;
  const auto c = category(cp);
  return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CO;
}

/// @brief The CJK ideograph ranges BERT puts spaces around (HF tokenizers' is_chinese_char, verbatim,
/// including its gap at U+2B820..U+2B91F).
[[nodiscard]] constexpr bool is_cjk_ideograph(char32_t cp) noexcept {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/// @brief ASCII punctuation (33-47, 58-64, 91-96, 123-126).
[[nodiscard]] constexpr bool is_ascii_punctuation(char32_t cp) noexcept {
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
         (cp >= 123 && cp <= 126);
}

/// @brief BERT's punctuation: ASCII punctuation or any Unicode P* character.
[[nodiscard]] inline bool is_punctuation(char32_t cp) noexcept {
  if (cp < 0x80) return is_ascii_punctuation(cp);
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

/// @brief Category Mn (the marks strip_accents removes; Mc and Me stay).
[[nodiscard]] inline bool is_nonspacing_mark(char32_t cp) noexcept {
  return cp >= 0x300 && category(cp) == UTF8PROC_CATEGORY_MN;
}

/// @brief Simple lowercase mapping of cp (per code point: no final-sigma rule).
[[nodiscard]] inline char32_t to_lower(char32_t cp) noexcept {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

/// @brief Canonical decomposition (NFD, including Hangul syllables) of one code point into out
/// (capacity `capacity`, 4 * 8 is always enough); returns the number of code points written.
[[nodiscard]] inline std::size_t decompose_nfd(char32_t cp, char32_t* out, std::size_t capacity) noexcept {
  if (cp < 0xC0) {
    out[0] = cp;
    return 1;
  }
  int boundclass = 0;
  static_assert(sizeof(char32_t) == sizeof(utf8proc_int32_t));
  const utf8proc_ssize_t n = utf8proc_decompose_char(
      static_cast<utf8proc_int32_t>(cp), reinterpret_cast<utf8proc_int32_t*>(out),
      static_cast<utf8proc_ssize_t>(capacity), UTF8PROC_DECOMPOSE, &boundclass);
  if (n <= 0 || static_cast<std::size_t>(n) > capacity) {
    out[0] = cp;
    return 1;
  }
  return static_cast<std::size_t>(n);
}

}  // namespace ftlib::unicode
