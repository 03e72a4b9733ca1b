#pragma once
// The one exception type ftlib throws: every failure says where (file:line:col, tensor, flag)
// and what was expected, so a user can fix their input without a debugger.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ftlib {

/// @brief Where an error happened in an input the user gave us.
struct SourceLocation {
  std::string file;                  ///< path of the file, or a name such as "<stdin>" or "--flag"
  std::optional<std::size_t> line;   ///< 1-based line
  std::optional<std::size_t> column; ///< 1-based column (in characters of the line, or a field number where said)

  /// @brief "file:line:col", dropping the parts that are unknown.
  [[nodiscard]] std::string to_string() const {
    std::string out = file;
    if (line) {
      // append() rather than operator+: GCC 12 gives a false -Wrestrict warning on the latter.
      out.append(":").append(std::to_string(*line));
      if (column) out.append(":").append(std::to_string(*column));
    }
    return out;
  }
};

namespace detail {

// what() is a C string: a NUL byte quoted from the input would cut the message short, so it is
// written as \0 (other bytes are kept).
[[nodiscard]] inline std::string printable(std::string text) {
  for (std::size_t i = text.find('\0'); i != std::string::npos; i = text.find('\0', i + 2)) text.replace(i, 1, "\\0");
  return text;
}

}  // namespace detail

/// @brief Base class of every exception ftlib throws.
class error : public std::runtime_error {
 public:
  explicit error(const std::string& message)
      : std::runtime_error(detail::printable(message)), message_(detail::printable(message)) {}
  error(const SourceLocation& where, const std::string& message)
      : std::runtime_error(detail::printable(where.to_string().append(": ").append(message))),
        where_(where),
        message_(detail::printable(message)) {}

  /// @brief The input location the error refers to (a file, or the field of an options struct), when it
  ///        refers to one.
  [[nodiscard]] const std::optional<SourceLocation>& where() const noexcept { return where_; }
  /// @brief What went wrong, without the location (what() is "location: message").
  [[nodiscard]] const std::string& message() const noexcept { return message_; }

 private:
  std::optional<SourceLocation> where_;
  std::string message_;
};

/// @brief An input file (CSV, JSONL, config.json, safetensors, vocab) is malformed.
class parse_error : public error {
 public:
  using error::error;
};

/// @brief A tensor has the wrong name, shape or dtype for the model it is loaded into.
class tensor_error : public error {
 public:
  using error::error;
};

/// @brief An option value is invalid; where() names its field (TrainingArguments::learning_rate is
///        "learning_rate") or, in the tool, its flag.
class option_error : public error {
 public:
  using error::error;
};

/// @brief Reading or writing a file failed at the operating-system level.
class io_error : public error {
 public:
  using error::error;
  io_error(const std::filesystem::path& path, std::string_view what)
      : error(path.string() + ": " + std::string(what)) {}
};

}  // namespace ftlib
