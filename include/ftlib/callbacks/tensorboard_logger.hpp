#pragma once
// A Trainer callback writing TensorBoard event files, as transformers' TensorBoardCallback does: every
// logged record's numbers become scalars at the record's step, named the way transformers rewrites
// them ("loss" -> "train/loss", "eval_loss" -> "eval/loss", "test_accuracy" -> "test/accuracy"), in
// OUTPUT/runs/<Mon><DD>_<HH>-<MM>-<SS>_<hostname>/events.out.tfevents.<time>.<hostname>.<pid>.0.
// A resumed run writes a new event file into the newest run directory, opened by a "session start"
// at the first step it will log again, so TensorBoard drops what the interrupted run logged after
// its checkpoint (the JsonlLogger drops the same records).

#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "ftlib/core/error.hpp"
#include "ftlib/core/trainer_state.hpp"
#include "ftlib/io/tfevents.hpp"

namespace ftlib {

/// @brief Writes a run's logged scalars as TensorBoard events into one run directory.
class TensorBoardLogger {
 public:
  /// @brief Logs into `run_dir` (created when missing); the event file is opened when training begins.
  explicit TensorBoardLogger(std::filesystem::path run_dir) : run_dir_(std::move(run_dir)) {}

  /// @brief The run directory transformers' Trainer would use under `output_dir`
  ///        (runs/<Mon><DD>_<HH>-<MM>-<SS>_<hostname>, local time); for a resumed run the newest
  ///        existing one there, so the resumed events continue the same TensorBoard run.
  [[nodiscard]] static std::filesystem::path run_directory(const std::filesystem::path& output_dir, bool resumed) {
    const auto runs = output_dir / "runs";
    if (resumed) {
      std::error_code ec;
      std::optional<std::filesystem::path> newest;
      std::filesystem::file_time_type newest_time{};
      for (const auto& entry : std::filesystem::directory_iterator(runs, ec)) {
        if (!entry.is_directory(ec)) continue;
        const auto t = entry.last_write_time(ec);
        if (!newest || t > newest_time) {
          newest = entry.path();
          newest_time = t;
        }
      }
      if (newest) return *newest;
    }
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%b%d_%H-%M-%S", &local);
    return runs / (std::string(stamp) + "_" + hostname());
  }

  /// @brief The scalars of one logged record, named as transformers' rewrite_logs names them; "step"
  ///        is the x axis, not a scalar, and values that are not numbers are left out.
  [[nodiscard]] static std::vector<io::ScalarValue> scalars_of(const nlohmann::json& record) {
    std::vector<io::ScalarValue> out;
    if (!record.is_object()) return out;
    for (const auto& [key, value] : record.items()) {
      if (key == "step" || !value.is_number()) continue;
      std::string tag;
      if (key.starts_with("eval_")) tag = "eval/" + key.substr(5);
      else if (key.starts_with("test_")) tag = "test/" + key.substr(5);
      else tag = "train/" + key;
      out.push_back({std::move(tag), value.get<float>()});
    }
    return out;
  }

  /// @brief As a Trainer callback: opens a new event file; a resumed run starts it with a session
  ///        start at the first step it logs again.
  void on_train_begin(const TrainerState& state) {
    open();
    if (state.global_step > 0) writer_->write(io::session_start_event(wall_time(), state.global_step + 1));
  }

  /// @brief As a Trainer callback: writes the record's scalars at its step.
  void on_log(const TrainerState& state, const nlohmann::json& record) {
    const auto values = scalars_of(record);
    if (values.empty()) return;
    if (!writer_) open();
    const auto it = record.find("step");
    const std::int64_t step = it != record.end() && it->is_number_integer() ? it->get<std::int64_t>() : state.global_step;
    writer_->write(io::scalars_event(wall_time(), step, values));
  }

  /// @brief The run directory.
  [[nodiscard]] const std::filesystem::path& run_dir() const noexcept { return run_dir_; }
  /// @brief The event file being written (empty before training begins).
  [[nodiscard]] std::filesystem::path event_file() const { return writer_ ? writer_->path() : std::filesystem::path(); }

 private:
  static std::string hostname() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
    return name;
  }

  static double wall_time() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }

  void open() {
    std::error_code ec;
    std::filesystem::create_directories(run_dir_, ec);
    if (ec) throw io_error(run_dir_, "cannot create directory: " + ec.message());
    // torch's SummaryWriter naming; the counter keeps two files of one second and process apart.
    const std::string stem = "events.out.tfevents." + std::to_string(static_cast<std::int64_t>(wall_time())) + "." + hostname() +
                             "." + std::to_string(::getpid()) + ".";
    int counter = 0;
    while (std::filesystem::exists(run_dir_ / (stem + std::to_string(counter)))) ++counter;
    writer_.emplace(run_dir_ / (stem + std::to_string(counter)), wall_time());
  }

  std::filesystem::path run_dir_;
  std::optional<io::EventFileWriter> writer_;
};

}  // namespace ftlib
