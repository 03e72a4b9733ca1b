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

#include "ftlib/io/json_file.hpp"

#include "ftlib/data/utf8.hpp"
#include "ftlib/core/error.hpp"

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
      record.value = io::parse_json(text, name_, line_);
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
  std::string name_;
  std::unique_ptr<std::istream> owned_;
  std::istream* in_ = nullptr;
  std::string line_text_;
  std::size_t line_ = 0;
  std::size_t records_ = 0;
  bool reported_empty_ = false;
};

}  // namespace ftlib
