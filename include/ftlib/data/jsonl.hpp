#pragma once
// A streaming JSON Lines reader: one JSON object per line, blank lines skipped, a UTF-8
// byte-order mark and CRLF line ends tolerated. Reads a line at a time (constant memory) and
// reports malformed lines as file:line:column.

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "ftlib/data/utf8.hpp"
#include "ftlib/error.hpp"

namespace ftlib {

/// @brief One parsed line of a JSONL file.
struct JsonlRecord {
  nlohmann::json value;   ///< the line's JSON object
  std::size_t line = 0;   ///< 1-based line number in the file
  std::size_t record = 0; ///< 1-based index among records (blank lines are not counted)
};

/// @brief Streams the objects of a JSON Lines file, one line at a time.
class JsonlReader {
 public:
  /// @brief Opens `path` for reading.
  explicit JsonlReader(const std::filesystem::path& path) : name_(path.string()) {
    auto file = std::make_unique<std::ifstream>(path, std::ios::binary);
    if (!file->is_open()) {
      throw io_error(path, std::string("cannot open for reading: ") + std::strerror(errno));
    }
    owned_ = std::move(file);
    in_ = owned_.get();
  }

  /// @brief Reads from a stream; `name` stands for the file in error messages.
  JsonlReader(std::istream& in, std::string name) : name_(std::move(name)), in_(&in) {}

  /// @brief The name errors use for the input.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  /// @brief Reads the next object into `record`; false at the end of the file.
  /// @throws parse_error naming file:line:column for malformed JSON, malformed UTF-8, a line that
  ///         is not an object, or a file without any object ("empty file").
  bool next(JsonlRecord& record) {
    while (std::getline(*in_, line_text_)) {
      ++line_;
      std::string_view text = line_text_;
      if (line_ == 1 && text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      if (text.find_first_not_of(" \t\r\f\v") == std::string_view::npos) continue;

      if (auto problem = data::detail::find_invalid_utf8(text)) {
        throw parse_error(SourceLocation{name_, line_, problem->column}, problem->describe());
      }
      try {
        record.value = nlohmann::json::parse(text);
      } catch (const nlohmann::json::parse_error& e) {
        // nlohmann counts bytes from 1 (e.byte is the byte it stopped at); give the character column.
        const std::size_t byte = e.byte == 0 ? 0 : std::min<std::size_t>(e.byte - 1, text.size());
        throw parse_error(SourceLocation{name_, line_, character_column(text, byte)},
                          "invalid JSON: " + parser_reason(e.what()));
      }
      if (!record.value.is_object()) {
        throw parse_error(SourceLocation{name_, line_, std::nullopt},
                          std::string("expected a JSON object on each line, got ") + record.value.type_name());
      }
      record.line = line_;
      record.record = ++records_;
      return true;
    }
    if (in_->bad()) throw io_error(name_ + ": read failed");
    if (records_ == 0 && !reported_empty_) {
      reported_empty_ = true;
      throw parse_error(SourceLocation{name_, std::nullopt, std::nullopt},
                        "the file is empty (expected one JSON object per line)");
    }
    return false;
  }

 private:
  // nlohmann's message counts lines within the one line it was given ("parse error at line 1,
  // column 24: syntax error ..."); keep only the reason, the location is ours.
  static std::string parser_reason(std::string_view what) {
    const auto at = what.find("parse error at line ");
    if (at == std::string_view::npos) return std::string(what);
    const auto colon = what.find(": ", at);
    return std::string(colon == std::string_view::npos ? what : what.substr(colon + 2));
  }

  static std::size_t character_column(std::string_view text, std::size_t byte) {
    std::size_t column = 1;
    for (std::size_t i = 0; i < byte && i < text.size(); ++i) {
      if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++column;
    }
    return column;
  }

  std::string name_;
  std::unique_ptr<std::istream> owned_;
  std::istream* in_ = nullptr;
  std::string line_text_;
  std::size_t line_ = 0;
  std::size_t records_ = 0;
  bool reported_empty_ = false;
};

}  // namespace ftlib
