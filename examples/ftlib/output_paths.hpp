#pragma once
// Output paths of the tool's commands: an output that is one of the command's inputs would be
// truncated before it is read, and one that is a directory cannot be written as a file.

#include <filesystem>
#include <initializer_list>
#include <string>
#include <system_error>

#include "ftlib/core/error.hpp"

namespace ftlib::cli {

/// @brief option_error naming `flag` when the file `output` is an existing directory or the same file
///        as one of `inputs` (paths that do not exist, and "-", are never the same).
inline void check_output_file(const std::string& flag, const std::filesystem::path& output,
                              std::initializer_list<std::filesystem::path> inputs) {
  namespace fs = std::filesystem;
  if (output.empty() || output == "-") return;
  std::error_code ec;
  if (fs::is_directory(output, ec))
    throw option_error(SourceLocation{flag, {}, {}}, output.string() + " is a directory; give a file name");
  for (const auto& input : inputs) {
    if (input.empty() || input == "-") continue;
    if (fs::equivalent(output, input, ec))
      throw option_error(SourceLocation{flag, {}, {}}, output.string() + " is also an input (" + input.string() +
                                                           "); writing it would destroy that input before it is read");
  }
}

/// @brief option_error naming `flag` when the directory `output` exists as something else (a file).
inline void check_output_directory(const std::string& flag, const std::filesystem::path& output) {
  std::error_code ec;
  if (std::filesystem::exists(output, ec) && !std::filesystem::is_directory(output, ec))
    throw option_error(SourceLocation{flag, {}, {}}, output.string() + " exists and is not a directory");
}

}  // namespace ftlib::cli
