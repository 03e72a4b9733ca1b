#pragma once
// A streaming RFC 4180 reader: quoted fields with delimiters, doubled quotes and line breaks,
// CRLF/LF/CR line ends, a UTF-8 byte-order mark, an optional header row and any one-byte
// delimiter (',' for CSV, '\t' for TSV). It reads the file through a fixed-size buffer and hands
// out one record at a time, so memory stays constant however long the file is; every record and
// field knows the line and column it starts at, for error messages.

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ftlib/data/utf8.hpp"
#include "ftlib/core/error.hpp"

namespace ftlib {

/// @brief How a delimited text file is read.
struct CsvOptions {
  char delimiter = ',';        ///< field separator: ',' for CSV, '\t' for TSV
  char quote = '"';            ///< quote character; a doubled quote inside a quoted field is one quote
  bool has_header = true;      ///< the first record names the columns
  bool validate_utf8 = true;   ///< reject malformed UTF-8 with its line and column
  bool skip_blank_lines = true;  ///< an empty line between records is not a record (as pandas does)
  std::size_t buffer_size = std::size_t{1} << 16;  ///< bytes read from the file at a time

  /// @brief Options for tab-separated files.
  [[nodiscard]] static CsvOptions tsv() {
    CsvOptions options;
    options.delimiter = '\t';
    return options;
  }
};

/// @brief Where a field starts in the file (1-based line, 1-based character column).
struct CsvPosition {
  std::size_t line = 0;    ///< 1-based line
  std::size_t column = 0;  ///< 1-based column, counted in characters (UTF-8 code points)
};

/// @brief One record. Reused by CsvReader::next so its strings keep their capacity.
struct CsvRow {
  std::vector<std::string> fields;       ///< the unquoted field values
  std::vector<CsvPosition> positions;    ///< where each field starts (the quote, for quoted fields)
  std::size_t line = 0;                  ///< line where the record starts
  std::size_t record = 0;                ///< 1-based index among data records (the header is not counted)

  /// @brief Number of fields.
  [[nodiscard]] std::size_t size() const noexcept { return fields.size(); }
  /// @brief Field i.
  [[nodiscard]] const std::string& operator[](std::size_t i) const { return fields[i]; }
};

/// @brief Streams the records of a CSV/TSV file (RFC 4180), one at a time, in constant memory.
class CsvReader {
 public:
  /// @brief Opens `path`; reads the header row (or checks the file is not empty) right away.
  explicit CsvReader(const std::filesystem::path& path, CsvOptions options = {})
      : options_(std::move(options)), name_(path.string()) {
    auto file = std::make_unique<std::ifstream>(path, std::ios::binary);
    if (!file->is_open()) {
      throw io_error(path, std::string("cannot open for reading: ") + std::strerror(errno));
    }
    owned_ = std::move(file);
    in_ = owned_.get();
    start();
  }

  /// @brief Reads from a stream; `name` stands for the file in error messages (e.g. "<stdin>").
  CsvReader(std::istream& in, std::string name, CsvOptions options = {})
      : options_(std::move(options)), name_(std::move(name)), in_(&in) {
    start();
  }

  /// @brief The header's column names (empty when the options say there is no header).
  [[nodiscard]] const std::vector<std::string>& header() const noexcept { return header_; }
  /// @brief Line of the header row (1, unless blank lines precede it).
  [[nodiscard]] std::size_t header_line() const noexcept { return header_line_; }
  /// @brief The index of the first column called `name`, if any.
  [[nodiscard]] std::optional<std::size_t> column_index(std::string_view name) const {
    const auto it = std::find(header_.begin(), header_.end(), name);
    if (it == header_.end()) return std::nullopt;
    return static_cast<std::size_t>(it - header_.begin());
  }
  /// @brief The name errors use for the input.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// @brief The number of fields every record must have (0 until known).
  [[nodiscard]] std::size_t expected_fields() const noexcept { return expected_fields_; }

  /// @brief Reads the next data record into `row`; false at the end of the file.
  /// @throws parse_error for an unterminated quote, a wrong field count, stray text after a
  ///         closing quote or malformed UTF-8, naming file:line:column.
  bool next(CsvRow& row) {
    if (pending_) {
      std::swap(row, *pending_);
      pending_.reset();
      return true;
    }
    if (!read_record(row)) return false;
    row.record = ++records_;
    check_field_count(row);
    return true;
  }

 private:
  enum class State { field_start, unquoted, quoted, quote_in_quoted };

  void start() {
    buffer_.resize(std::max<std::size_t>(options_.buffer_size, 16));
    CsvRow first;
    // A UTF-8 byte-order mark is not part of the first field name.
    if (fill() && buffer_end_ >= 3 && static_cast<unsigned char>(buffer_[0]) == 0xEF &&
        static_cast<unsigned char>(buffer_[1]) == 0xBB && static_cast<unsigned char>(buffer_[2]) == 0xBF) {
      buffer_pos_ = 3;
      byte_offset_ = 3;
    }
    if (!read_record(first)) {
      throw parse_error(SourceLocation{name_, std::nullopt, std::nullopt},
                        options_.has_header ? "the file is empty (expected a header row)"
                                            : "the file is empty (expected at least one record)");
    }
    expected_fields_ = first.fields.size();
    if (options_.has_header) {
      header_ = std::move(first.fields);
      header_line_ = first.line;
    } else {
      first.record = ++records_;
      pending_ = std::move(first);
    }
  }

  // Refills the buffer; false at the end of the input.
  bool fill() {
    if (buffer_pos_ < buffer_end_) return true;
    if (eof_) return false;
    in_->read(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    buffer_end_ = static_cast<std::size_t>(in_->gcount());
    buffer_pos_ = 0;
    if (buffer_end_ == 0) {
      if (in_->bad()) throw io_error(name_ + ": read failed");
      eof_ = true;
      return false;
    }
    return true;
  }

  [[noreturn]] void fail(std::size_t line, std::size_t column, const std::string& message) const {
    throw parse_error(SourceLocation{name_, line, column}, message);
  }

  void check_field_count(const CsvRow& row) const {
    if (row.fields.size() == expected_fields_) return;
    const std::string source = options_.has_header ? "as in the header" : "as in the first record";
    std::string message = "wrong number of fields: expected " + std::to_string(expected_fields_) + " (" + source +
                          "), got " + std::to_string(row.fields.size());
    if (row.fields.size() > expected_fields_) {
      const auto& extra = row.positions[expected_fields_];
      message += "; the first extra field starts here";
      if (options_.delimiter == ',') message += " (a text containing ',' must be quoted)";
      fail(extra.line, extra.column, message);
    }
    throw parse_error(SourceLocation{name_, row.line, std::nullopt}, message);
  }

  // Reads one record (header or data); false when only blank lines (or nothing) remain.
  bool read_record(CsvRow& row) {
    std::size_t count = 0;  // fields written so far; row.fields is reused beyond it
    auto begin_field = [&](std::size_t line, std::size_t column) {
      if (row.fields.size() <= count) {
        row.fields.emplace_back();
        row.positions.emplace_back();
      }
      row.fields[count].clear();
      row.positions[count] = CsvPosition{line, column};
    };
    auto end_field = [&] { ++count; };
    auto finish = [&] {
      row.fields.resize(count);
      row.positions.resize(count);
    };

    State state = State::field_start;
    bool in_record = false;  // a byte of this record (other than a line end) has been seen
    CsvPosition quote_open;
    while (true) {
      if (!fill()) {
        if (state == State::quoted) {
          fail(quote_open.line, quote_open.column,
               "unterminated quoted field: the quote opened here is never closed");
        }
        if (options_.validate_utf8) {
          if (auto problem = utf8_.finish(byte_offset_)) fail(line_, problem->column, problem->describe());
        }
        if (!in_record) return false;
        if (state == State::field_start) begin_field(line_, utf8_.column() + 1);  // "a," ends in an empty field
        end_field();
        finish();
        return true;
      }
      const char c = buffer_[buffer_pos_++];
      ++byte_offset_;

      // Line ends: "\r\n" is one line end, and so is a lone '\r' or '\n'.
      if (c == '\n' && after_cr_) {
        after_cr_ = false;
        if (state == State::quoted) row.fields[count].push_back(c);
        continue;
      }
      after_cr_ = c == '\r';
      const bool line_end = c == '\n' || c == '\r';
      if (line_end) {
        if (options_.validate_utf8 && !utf8_.complete()) {
          auto problem = utf8_.feed(static_cast<unsigned char>(c), byte_offset_ - 1);
          fail(line_, problem->column, problem->describe());
        }
        const CsvPosition here{line_, utf8_.column() + 1};
        ++line_;
        utf8_.new_line();
        switch (state) {
          case State::quoted: row.fields[count].push_back(c); continue;
          case State::field_start:
            if (!in_record) {
              if (options_.skip_blank_lines) continue;
              row.line = here.line;
            }
            begin_field(here.line, here.column);  // an empty last field ("a,\n"), or an empty line
            [[fallthrough]];
          case State::unquoted:
          case State::quote_in_quoted:
            end_field();
            finish();
            return true;
        }
      }

      // Position of this character (continuation bytes share the column of their lead byte).
      std::size_t column = utf8_.column();
      if (options_.validate_utf8) {
        if (auto problem = utf8_.feed(static_cast<unsigned char>(c), byte_offset_ - 1)) {
          fail(line_, problem->column, problem->describe());
        }
        column = utf8_.column();
      } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
        utf8_.new_column();
        column = utf8_.column();
      }
      if (!in_record) {
        in_record = true;
        row.line = line_;
      }

      switch (state) {
        case State::field_start:
          begin_field(line_, column);
          if (c == options_.quote) {
            quote_open = CsvPosition{line_, column};
            state = State::quoted;
          } else if (c == options_.delimiter) {
            end_field();
          } else {
            row.fields[count].push_back(c);
            state = State::unquoted;
          }
          break;
        case State::unquoted:
          if (c == options_.delimiter) {
            end_field();
            state = State::field_start;
          } else {
            row.fields[count].push_back(c);  // a quote inside an unquoted field is kept as is
          }
          break;
        case State::quoted:
          if (c == options_.quote) {
            state = State::quote_in_quoted;
          } else {
            row.fields[count].push_back(c);
          }
          break;
        case State::quote_in_quoted:
          if (c == options_.quote) {
            row.fields[count].push_back(c);
            state = State::quoted;
          } else if (c == options_.delimiter) {
            end_field();
            state = State::field_start;
          } else {
            fail(line_, column,
                 std::string("unexpected character '") + c +
                     "' after the closing quote of a quoted field (a quote inside a quoted field must be "
                     "doubled: \"\"); the field's quote opened at line " + std::to_string(quote_open.line) +
                     ", column " + std::to_string(quote_open.column));
          }
          break;
      }
    }
  }

  CsvOptions options_;
  std::string name_;
  std::unique_ptr<std::istream> owned_;
  std::istream* in_ = nullptr;
  std::vector<char> buffer_;
  std::size_t buffer_pos_ = 0;
  std::size_t buffer_end_ = 0;
  std::size_t byte_offset_ = 0;
  bool eof_ = false;
  bool after_cr_ = false;
  std::size_t line_ = 1;
  data::detail::Utf8Tracker utf8_;
  std::vector<std::string> header_;
  std::size_t header_line_ = 0;
  std::size_t expected_fields_ = 0;
  std::size_t records_ = 0;
  std::optional<CsvRow> pending_;
};

}  // namespace ftlib
