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

  /// @brief As a Trainer callback: a run resumed from step N drops the records of steps after N that an
  ///        interrupted run had already written (they are about to be logged again), keeping the rest.
  void on_train_begin(const TrainerState& state) {
    if (state.global_step > 0) drop_records_after(state.global_step);
  }

  /// @brief Rewrites the file without the records whose "step" is greater than `step` (atomically
  ///        enough for a log: the kept lines are written to a temporary file that replaces it).
  void drop_records_after(std::int64_t step) {
    out_.close();
    std::ifstream in(path_, std::ios::binary);
    std::string kept, line;
    bool dropped = false;
    while (std::getline(in, line)) {
      nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      const auto it = record.is_object() ? record.find("step") : record.end();
      // A line that does not parse was cut short by the crash: it goes too.
      if (!record.is_object() || (it != record.end() && it->is_number_integer() && it->get<std::int64_t>() > step)) {
        dropped = true;
        continue;
      }
      kept += line + '\n';
    }
    in.close();
    if (dropped) {
      const auto tmp = std::filesystem::path(path_.string() + ".tmp");
      {
        std::ofstream rewrite(tmp, std::ios::binary | std::ios::trunc);
        rewrite << kept;
        if (!rewrite.flush()) throw io_error(tmp, "write failed");
      }
      std::error_code ec;
      std::filesystem::rename(tmp, path_, ec);
      if (ec) throw io_error(path_, "cannot replace: " + ec.message());
    }
    out_.open(path_, std::ios::binary | std::ios::app);
    if (!out_.is_open()) throw io_error(path_, std::string("cannot open for writing: ") + std::strerror(errno));
  }

  /// @brief The file written to.
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
  std::ofstream out_;
};

}  // namespace ftlib
