#pragma once
// What the libFuzzer targets share: the rule (an input either parses or throws an ftlib::error;
// anything else - a crash, a sanitizer report, another exception - is a finding) and a scratch file
// for the readers that take a path.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>

#include "ftlib/core/error.hpp"
#include "ftlib/tokenizers/encoding.hpp"

namespace ftlib::fuzz {

/// @brief The input as a string view.
[[nodiscard]] inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// @brief Runs f(); an ftlib::error is an accepted outcome (a refused input), any other exception
///        escapes and libFuzzer reports it.
template <class F>
void refuse_or_accept(F&& f) {
  try {
    f();
  } catch (const ftlib::error&) {
  }
}

/// @brief A per-process scratch directory in /dev/shm (or $TMPDIR) for readers that take a path;
///        removed at exit by the fuzzing script, not per input (that would cost more than parsing).
[[nodiscard]] inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    auto d = base / ("ftlib-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

/// @brief Writes the input to scratch_dir()/name and returns the path.
inline std::filesystem::path write_scratch(const std::string& name, std::string_view bytes) {
  const auto path = scratch_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

/// @brief $name, or `fallback` when unset.
[[nodiscard]] inline std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

/// @brief The encoding targets' body: the input as one text, and split in two as a truncated pair.
template <class Tokenizer>
void encode_as_text_and_pair(const Tokenizer& tokenizer, std::string_view text) {
  EncodeOptions truncated;
  truncated.max_length = 16;
  refuse_or_accept([&] { (void)tokenizer.encode(text); });
  refuse_or_accept([&] { (void)tokenizer.encode_pair(text.substr(0, text.size() / 2), text.substr(text.size() / 2), truncated); });
}

}  // namespace ftlib::fuzz
