#pragma once
// Reading and writing JSON (config.json, tokenizer_config.json, trainer_state.json, JSONL rows,
// safetensors headers) in one place: every read bounds the nesting depth before parsing (a deeply
// nested file must not overflow the stack), and every failure is a parse_error naming the file,
// line and column. Writing goes through io::AtomicFile.

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/core/error.hpp"
#include "ftlib/io/atomic_file.hpp"

namespace ftlib::io {

/// @brief Deepest nesting of arrays/objects any ftlib JSON reader accepts (configs need < 10).
inline constexpr std::size_t max_json_depth = 256;

/// @brief 1-based line and column (in characters: UTF-8 continuation bytes do not count) of byte
///        `offset` of `text`, named after `file`; `first_line` is the line the text starts on.
[[nodiscard]] inline SourceLocation location_in_text(std::string_view file, std::string_view text, std::size_t offset,
                                                     std::size_t first_line = 1) {
  if (offset > text.size()) offset = text.size();
  std::size_t line = first_line, column = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++column;
    }
  }
  return SourceLocation{std::string(file), line, column};
}

namespace detail {

// nlohmann's message counts lines within the text it was given ("[json.exception.parse_error.101]
// parse error at line 1, column 24: syntax error ..."); keep only the reason, the location is ours.
[[nodiscard]] inline std::string parser_reason(std::string_view what) {
  const auto at = what.find("parse error at line ");
  if (at == std::string_view::npos) return std::string(what);
  const auto colon = what.find(": ", at);
  return std::string(colon == std::string_view::npos ? what : what.substr(colon + 2));
}

}  // namespace detail

/// @brief parse_error at the first bracket nested deeper than max_json_depth, if any.
inline void check_json_depth(std::string_view text, std::string_view file, std::size_t first_line = 1,
                             std::size_t max_depth = max_json_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth)
        throw parse_error(location_in_text(file, text, i, first_line),
                          "JSON nested deeper than " + std::to_string(max_depth) + " levels");
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

/// @brief Parses JSON text (Json: nlohmann::json or nlohmann::ordered_json) named `file` in messages,
///        starting on line `first_line` of it; parse_error with file:line:col when malformed, too deep,
///        or holding a number out of range.
template <class Json = nlohmann::json>
[[nodiscard]] Json parse_json(std::string_view text, std::string_view file, std::size_t first_line = 1) {
  check_json_depth(text, file, first_line);
  // A key given twice in one object would silently keep the last value: refuse it. Objects nest at
  // most max_json_depth deep (checked above), so the key sets stay small.
  std::vector<std::set<std::string, std::less<>>> keys;
  std::string duplicate;
  const auto on_event = [&](int, typename Json::parse_event_t event, Json& parsed) {
    using Event = typename Json::parse_event_t;
    if (event == Event::object_start) keys.emplace_back();
    if (event == Event::object_end && !keys.empty()) keys.pop_back();
    if (event == Event::key && !keys.empty() && parsed.is_string() && duplicate.empty() &&
        !keys.back().insert(parsed.template get<std::string>()).second)
      duplicate = parsed.template get<std::string>();
    return true;
  };
  try {
    Json value = Json::parse(text.begin(), text.end(), on_event);
    if (!duplicate.empty()) {
      const auto at = text.find("\"" + duplicate + "\"", text.find("\"" + duplicate + "\"") + 1);
      throw parse_error(location_in_text(file, text, at == std::string_view::npos ? 0 : at, first_line),
                        "invalid JSON: the key \"" + duplicate + "\" appears twice in one object");
    }
    return value;
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann counts bytes from 1 (e.byte is the byte it stopped at).
    throw parse_error(location_in_text(file, text, e.byte > 0 ? e.byte - 1 : 0, first_line),
                      "invalid JSON: " + detail::parser_reason(e.what()));
  } catch (const nlohmann::json::exception& e) {
    // out_of_range 406, a number such as 1e400: nlohmann quotes the number but not where it is.
    const std::string_view what = e.what();
    const auto open = what.find('\''), close = what.rfind('\'');
    const std::string_view number = open != std::string_view::npos && close > open ? what.substr(open + 1, close - open - 1) : "";
    const auto at = number.empty() ? std::string_view::npos : text.find(number);
    if (at == std::string_view::npos)
      throw parse_error(SourceLocation{std::string(file), first_line == 1 ? std::nullopt : std::optional(first_line), {}},
                        "invalid JSON: " + detail::parser_reason(what));
    throw parse_error(location_in_text(file, text, at, first_line),
                      "invalid JSON: the number " + std::string(number) + " is out of the range of a double");
  }
}

/// @brief The whole file as bytes; io_error naming it (and `what` it should be) when it cannot be read.
[[nodiscard]] inline std::string read_text_file(const std::filesystem::path& path, std::string_view what = "file") {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw io_error(path, "cannot open " + std::string(what) + ": no such file");
  if (std::filesystem::is_directory(path, ec)) throw io_error(path, "cannot open " + std::string(what) + ": it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error(path, "cannot open " + std::string(what) + ": " + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw io_error(path, "cannot read " + std::string(what));
  return text;
}

/// @brief Reads and parses a JSON file (see parse_json).
template <class Json = nlohmann::json>
[[nodiscard]] Json read_json_file(const std::filesystem::path& path) {
  return parse_json<Json>(read_text_file(path, "JSON file"), path.string());
}

/// @brief How write_json_file formats.
enum class JsonStyle {
  plain,         ///< indent 2, UTF-8 as is (tokenizer files, trainer_state.json, metrics.json)
  transformers,  ///< indent 2, non-ASCII escaped as \uXXXX (transformers' config.json, json.dumps' default)
};

/// @brief `value` as a file's text: indent 2 and a final newline; keys are sorted (nlohmann::json keeps them so).
[[nodiscard]] inline std::string json_text(const nlohmann::json& value, JsonStyle style = JsonStyle::plain) {
  return value.dump(2, ' ', style == JsonStyle::transformers) + '\n';
}

/// @brief Writes `value` as a JSON file, atomically.
inline void write_json_file(const std::filesystem::path& path, const nlohmann::json& value, JsonStyle style = JsonStyle::plain) {
  write_file_atomically(path, json_text(value, style));
}

}  // namespace ftlib::io
