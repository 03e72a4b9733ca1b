#pragma once
// Appends one JSON object per line to a file (a training log in the shape of transformers'
// state.log_history: {"loss": ..., "learning_rate": ..., "epoch": ..., "step": ...}). Each line is
// flushed as it is written, so the log is readable (tail -f, jq) while training runs and survives a crash.

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

#include "ftlib/core/error.hpp"
#include "ftlib/core/trainer_state.hpp"

namespace ftlib {

/// @brief Writes JSON Lines records to a file, one flushed line per call.
class JsonlLogger {
 public:
  /// @brief Opens `path` for appending (or truncates it when `append` is false), creating missing
  ///        parent directories.
  /// @throws io_error when the file cannot be opened.
  explicit JsonlLogger(std::filesystem::path path, bool append = true) : path_(std::move(path)) {
    if (path_.has_parent_path()) {
      std::error_code ec;
      std::filesystem::create_directories(path_.parent_path(), ec);
      if (ec) throw io_error(path_.parent_path(), "cannot create directory: " + ec.message());
    }
    out_.open(path_, std::ios::binary | (append ? std::ios::app : std::ios::trunc));
    if (!out_.is_open()) throw io_error(path_, std::string("cannot open for writing: ") + std::strerror(errno));
  }

  /// @brief Appends `record` as one line (NaN and infinities become null, as nlohmann::json writes them).
  /// @throws io_error when the write fails.
  void log(const nlohmann::json& record) {
    out_ << record.dump() << '\n';
    out_.flush();
    if (!out_) throw io_error(path_, "write failed");
  }

  /// @brief Appends {"step": step, ["epoch": epoch,] name: value...}: a training or evaluation entry.
  void log(std::int64_t step, const std::map<std::string, double>& values, std::optional<double> epoch = std::nullopt) {
    nlohmann::json record = nlohmann::json::object();
    for (const auto& [name, value] : values) record[name] = value;
    if (epoch) record["epoch"] = *epoch;
    record["step"] = step;
    log(record);
  }

  /// @brief As a Trainer callback (callbacks/traits.hpp): appends every logged step and evaluation record.
  void on_log(const TrainerState&, const nlohmann::json& record) { log(record); }

  /// @brief The file written to.
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
  std::ofstream out_;
};

}  // namespace ftlib
