#pragma once
// Incremental UTF-8 validation for the readers: they see one byte at a time from a buffer, so a
// byte-wise state machine lets them report the exact line and column of a malformed character
// without a second pass over the text.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ftlib::data::detail {

/// @brief Validates UTF-8 one byte at a time (Unicode Table 3-7: no overlongs, surrogates or > U+10FFFF).
class Utf8Validator {
 public:
  /// @brief What a byte was: the first byte of a character, a continuation byte, or invalid.
  enum class Step { start, continuation, invalid };

  /// @brief Consumes one byte. After `invalid` the validator is reset and ready for the next character.
  [[nodiscard]] constexpr Step feed(unsigned char byte) noexcept {
    if (remaining_ > 0) {
      if (byte < low_ || byte > high_) {
        reset();
        return Step::invalid;
      }
      low_ = 0x80;
      high_ = 0xBF;
      --remaining_;
      return Step::continuation;
    }
    if (byte < 0x80) return Step::start;
    if (byte >= 0xC2 && byte <= 0xDF) return expect(1, 0x80, 0xBF);
    if (byte == 0xE0) return expect(2, 0xA0, 0xBF);  // no overlong 3-byte forms
    if (byte == 0xED) return expect(2, 0x80, 0x9F);  // no UTF-16 surrogates
    if (byte >= 0xE1 && byte <= 0xEF) return expect(2, 0x80, 0xBF);
    if (byte == 0xF0) return expect(3, 0x90, 0xBF);  // no overlong 4-byte forms
    if (byte >= 0xF1 && byte <= 0xF3) return expect(3, 0x80, 0xBF);
    if (byte == 0xF4) return expect(3, 0x80, 0x8F);  // nothing above U+10FFFF
    return Step::invalid;
  }

  /// @brief True when no multi-byte character is half-read.
  [[nodiscard]] constexpr bool complete() const noexcept { return remaining_ == 0; }

  /// @brief Forgets a half-read character.
  constexpr void reset() noexcept {
    remaining_ = 0;
    low_ = 0x80;
    high_ = 0xBF;
  }

 private:
  constexpr Step expect(int remaining, unsigned char low, unsigned char high) noexcept {
    remaining_ = remaining;
    low_ = low;
    high_ = high;
    return Step::start;
  }

  int remaining_ = 0;
  unsigned char low_ = 0x80;
  unsigned char high_ = 0xBF;
};

/// @brief "0xE9" style text for a byte in messages.
[[nodiscard]] inline std::string hex_byte(unsigned char byte) {
  constexpr std::string_view digits = "0123456789ABCDEF";
  return std::string("0x") + digits[byte >> 4] + digits[byte & 0xF];
}

/// @brief Where the first malformed UTF-8 character of a string is, and why.
struct Utf8Problem {
  std::size_t byte_offset;  ///< 0-based byte offset of the offending byte
  std::size_t column;       ///< 1-based character column of the malformed character
  unsigned char byte;       ///< the offending byte
  std::optional<unsigned char> lead;  ///< the lead byte of the character it broke, if it broke one
  bool at_end = false;      ///< the text ended inside a multi-byte character

  /// @brief "invalid UTF-8: byte 0xFF cannot start a character" and the like.
  [[nodiscard]] std::string describe() const {
    constexpr std::string_view hint = " (is the file Latin-1 or Windows-1252? convert it to UTF-8)";
    if (byte == 0 && !lead && !at_end)
      return "a NUL byte (0x00) in the text: valid UTF-8, but no text file has one (is the file binary, or UTF-16? "
             "save it as UTF-8)";
    if (at_end) return "invalid UTF-8: the text ends inside the multi-byte character begun by byte " + hex_byte(*lead);
    if (lead) {
      return "invalid UTF-8: byte " + hex_byte(*lead) + " begins a multi-byte character but is followed by " +
             hex_byte(byte) + std::string(hint);
    }
    return "invalid UTF-8: byte " + hex_byte(byte) + " cannot start a character" + std::string(hint);
  }
};

/// @brief Feeds one byte, keeping a character column and the lead byte, and returns a problem if
///        the byte makes the text malformed. Shared by find_invalid_utf8 and the streaming readers.
class Utf8Tracker {
 public:
  /// @brief Consumes one byte at `byte_offset`; returns the problem if it is malformed.
  [[nodiscard]] std::optional<Utf8Problem> feed(unsigned char byte, std::size_t byte_offset) noexcept {
    const bool inside = !validator_.complete();
    // NUL is valid UTF-8 but never text: it truncates C strings downstream and marks binary files.
    if (byte == 0 && !inside) return Utf8Problem{byte_offset, column_ + 1, byte, std::nullopt};
    switch (validator_.feed(byte)) {
      case Utf8Validator::Step::start:
        ++column_;
        lead_ = byte;
        return std::nullopt;
      case Utf8Validator::Step::continuation: return std::nullopt;
      case Utf8Validator::Step::invalid: break;
    }
    if (inside) return Utf8Problem{byte_offset, column_, byte, lead_};
    return Utf8Problem{byte_offset, column_ + 1, byte, std::nullopt};
  }
  /// @brief The problem, if the text ended inside a multi-byte character.
  [[nodiscard]] std::optional<Utf8Problem> finish(std::size_t byte_offset) const noexcept {
    if (validator_.complete()) return std::nullopt;
    return Utf8Problem{byte_offset, column_, lead_, lead_, true};
  }
  /// @brief Starts a new line: columns count from 1 again.
  void new_line() noexcept { column_ = 0; }
  /// @brief Counts a character without validating it (for readers told not to validate).
  void new_column() noexcept { ++column_; }
  /// @brief The 1-based column of the last character started (0 before any).
  [[nodiscard]] std::size_t column() const noexcept { return column_; }
  /// @brief True when no multi-byte character is half-read.
  [[nodiscard]] bool complete() const noexcept { return validator_.complete(); }

 private:
  Utf8Validator validator_;
  std::size_t column_ = 0;
  unsigned char lead_ = 0;
};

/// @brief The first malformed character of `text` (columns counted in characters), or nothing.
[[nodiscard]] inline std::optional<Utf8Problem> find_invalid_utf8(std::string_view text) noexcept {
  Utf8Tracker tracker;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (auto problem = tracker.feed(static_cast<unsigned char>(text[i]), i)) return problem;
  }
  return tracker.finish(text.size());
}

}  // namespace ftlib::data::detail
