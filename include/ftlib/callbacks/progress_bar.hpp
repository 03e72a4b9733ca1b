#pragma once
// A tqdm-like progress bar. On a terminal it redraws one line in place ('\r'):
//   Training:  45%|█████████           | 45/100 [00:12<00:15,  3.61it/s, loss=0.1234]
// Anywhere else (a log file, a CI console) it writes plain lines now and then instead:
//   Training:  40% 40/100 [00:11<00:16, 3.61it/s, loss=0.1234]
// It writes to any std::ostream and takes an injectable clock, so its output can be tested.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ftlib/core/trainer_state.hpp"

#if defined(_WIN32)
#include <io.h>
#else
#include <unistd.h>
#endif

namespace ftlib {

/// @brief How a ProgressBar looks and how often it writes.
struct ProgressBarOptions {
  std::string unit = "it";             ///< what is counted ("it", "batch", "B")
  std::optional<bool> tty;             ///< redraw in place? unset: when the stream is std::cout/cerr/clog on a terminal
  double redraw_interval_s = 0.1;      ///< terminal: at most one redraw per interval (the last one always)
  double plain_interval_s = 30.0;      ///< plain: a line at least this often...
  int plain_percent_step = 10;         ///< plain: ...and one each time progress passes a multiple of this percent
  std::size_t bar_width = 20;          ///< terminal: characters in the bar
  std::function<double()> clock;       ///< seconds on a monotonic clock; unset: std::chrono::steady_clock
};

namespace callbacks::detail {

// tqdm's format_interval: M:SS as "MM:SS", or "H:MM:SS" past an hour.
inline std::string format_interval(double seconds) {
  const auto total = static_cast<long long>(seconds < 0 ? 0 : seconds);
  const long long h = total / 3600;
  const long long m = total / 60 % 60;
  const long long s = total % 60;
  char buffer[32];
  if (h > 0) {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", h, m, s);
  } else {
    std::snprintf(buffer, sizeof buffer, "%02lld:%02lld", m, s);
  }
  return buffer;
}

// Postfix numbers: 4 decimals for ordinary values (loss=0.1234), scientific for tiny ones (lr=5.000e-05).
inline std::string format_postfix_value(double value) {
  char buffer[32];
  const double magnitude = value < 0 ? -value : value;
  std::snprintf(buffer, sizeof buffer, magnitude != 0.0 && magnitude < 1e-3 ? "%.3e" : "%.4f", value);
  return buffer;
}

inline std::size_t display_width(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

inline bool is_terminal(const std::ostream& out) {
#if defined(_WIN32)
  if (&out == &std::cout) return _isatty(1) != 0;
  if (&out == &std::cerr || &out == &std::clog) return _isatty(2) != 0;
#else
  if (&out == &std::cout) return isatty(1) != 0;
  if (&out == &std::cerr || &out == &std::clog) return isatty(2) != 0;
#endif
  return false;
}

}  // namespace callbacks::detail

/// @brief A progress bar over a known (or unknown, total 0) number of steps.
class ProgressBar {
 public:
  /// @brief A bar that writes to `out` (std::cerr by default); call start() to begin.
  explicit ProgressBar(std::ostream& out = std::cerr, ProgressBarOptions options = {})
      : out_(&out), options_(std::move(options)) {
    if (!options_.clock) {
      options_.clock = [] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
      };
    }
    tty_ = options_.tty.value_or(callbacks::detail::is_terminal(out));
  }
  /// @brief A bar over `total` steps labelled `description`, started now.
  ProgressBar(std::ostream& out, std::size_t total, std::string description, ProgressBarOptions options = {})
      : ProgressBar(out, std::move(options)) {
    start(total, std::move(description));
  }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  /// @brief Takes over an open bar; the moved-from bar writes nothing more.
  ProgressBar(ProgressBar&& other) noexcept { *this = std::move(other); }
  /// @brief Closes this bar if open, then takes over `other`.
  ProgressBar& operator=(ProgressBar&& other) noexcept {
    if (this == &other) return *this;
    if (out_ != nullptr && open_) close();
    out_ = other.out_;
    options_ = std::move(other.options_);
    tty_ = other.tty_;
    open_ = std::exchange(other.open_, false);
    total_ = other.total_;
    count_ = other.count_;
    description_ = std::move(other.description_);
    postfix_ = std::move(other.postfix_);
    start_time_ = other.start_time_;
    last_draw_time_ = other.last_draw_time_;
    last_line_time_ = other.last_line_time_;
    last_bucket_ = other.last_bucket_;
    last_width_ = other.last_width_;
    printed_count_ = other.printed_count_;
    return *this;
  }
  /// @brief Closes the bar if it is still open.
  ~ProgressBar() {
    if (out_ != nullptr && open_) close();
  }

  /// @brief Begins a new bar (closing an open one): `total` steps (0 = unknown), labelled `description`.
  void start(std::size_t total, std::string description = {}) {
    if (open_) close();
    total_ = total;
    description_ = std::move(description);
    count_ = 0;
    postfix_.clear();
    start_time_ = options_.clock();
    last_draw_time_ = start_time_;
    last_line_time_ = start_time_;
    last_bucket_ = 0;
    last_width_ = 0;
    printed_count_.reset();
    open_ = true;
    if (tty_) draw();
  }

  /// @brief Advances by `n` steps and redraws or prints as the options say.
  void update(std::size_t n = 1) {
    if (!open_) start(0);
    count_ += n;
    const double now = options_.clock();
    if (tty_) {
      if (now - last_draw_time_ >= options_.redraw_interval_s || (total_ > 0 && count_ >= total_)) draw(now);
      return;
    }
    bool print = now - last_line_time_ >= options_.plain_interval_s;
    if (total_ > 0 && options_.plain_percent_step > 0) {
      const std::size_t bucket = std::min(count_, total_) * 100 / total_ / static_cast<std::size_t>(options_.plain_percent_step);
      if (bucket > last_bucket_) {
        last_bucket_ = bucket;
        print = true;
      }
    }
    if (print) print_line(now);
  }

  /// @brief Sets the text after the rate, e.g. "loss=0.1234" (shown from the next draw on).
  void set_postfix(std::string postfix) { postfix_ = std::move(postfix); }
  /// @brief Sets the postfix from name/value pairs: {{"loss", 0.1234}} -> "loss=0.1234".
  void set_postfix(const std::vector<std::pair<std::string, double>>& values) {
    std::string text;
    for (const auto& [name, value] : values) {
      text += (text.empty() ? "" : ", ") + name + "=" + callbacks::detail::format_postfix_value(value);
    }
    postfix_ = std::move(text);
  }

  /// @brief Prints `message` on its own line without breaking the bar (tqdm.write): on a terminal
  /// the bar is wiped, the message printed and the bar redrawn below it.
  void write(std::string_view message) {
    if (tty_ && open_) *out_ << '\r' << std::string(last_width_, ' ') << '\r';
    *out_ << message << '\n';
    if (tty_ && open_) {
      last_width_ = 0;
      draw();
    }
    *out_ << std::flush;
  }

  /// @brief Draws the final state and ends the line; a closed bar writes nothing more until start().
  void close() {
    if (!open_) return;
    const double now = options_.clock();
    if (tty_) {
      draw(now);
      *out_ << '\n' << std::flush;
    } else if (printed_count_ != count_) {
      print_line(now);
    }
    open_ = false;
  }

  /// @brief Steps counted so far.
  [[nodiscard]] std::size_t count() const noexcept { return count_; }
  /// @brief The total (0 = unknown).
  [[nodiscard]] std::size_t total() const noexcept { return total_; }
  /// @brief True when the bar redraws in place.
  [[nodiscard]] bool redraws() const noexcept { return tty_; }
  /// @brief Seconds since start().
  [[nodiscard]] double elapsed() const { return options_.clock() - start_time_; }

  /// @brief The status text as it would be shown now (without the bar on a non-terminal).
  [[nodiscard]] std::string line() const { return format(options_.clock()); }

  // --- as a Trainer callback (callbacks/traits.hpp): one bar over the run's optimizer steps -------

  /// @brief Starts the bar (at the resumed step when resuming).
  void on_train_begin(const TrainerState& s) {
    start(static_cast<std::size_t>(s.max_steps), "Training");
    if (s.global_step > 0) update(static_cast<std::size_t>(s.global_step));
  }
  /// @brief Advances by one step, showing loss, learning rate and epoch.
  void on_step_end(const TrainerState& s) {
    set_postfix(std::vector<std::pair<std::string, double>>{{"loss", s.last_loss}, {"lr", s.last_learning_rate}, {"epoch", s.epoch}});
    update(1);
  }
  /// @brief Prints each evaluation's main metrics above the bar, as transformers' Trainer prints them.
  void on_evaluate(const TrainerState& s, const std::map<std::string, double>& metrics) {
    std::string line = "step " + std::to_string(s.global_step) + ":";
    for (const char* name : {"eval_loss", "eval_accuracy", "eval_f1_macro"}) {
      if (const auto it = metrics.find(name); it != metrics.end())
        line += std::string(" ") + name + "=" + callbacks::detail::format_postfix_value(it->second);
    }
    write(line);
  }
  /// @brief Ends the bar's line.
  void on_train_end(const TrainerState&) { close(); }

 private:
  [[nodiscard]] std::string format(double now) const {
    using callbacks::detail::format_interval;
    const double elapsed = now - start_time_;
    const bool known_rate = elapsed > 0.0 && count_ > 0;
    const double rate = known_rate ? static_cast<double>(count_) / elapsed : 0.0;
    char buffer[64];
    std::string rate_text;
    if (!known_rate) {
      rate_text = "?" + options_.unit + "/s";
    } else if (rate >= 1.0) {
      std::snprintf(buffer, sizeof buffer, tty_ ? "%5.2f" : "%.2f", rate);
      rate_text = buffer + options_.unit + "/s";
    } else {
      std::snprintf(buffer, sizeof buffer, tty_ ? "%5.2f" : "%.2f", 1.0 / rate);
      rate_text = buffer + ("s/" + options_.unit);
    }
    std::string out = description_.empty() ? "" : description_ + ": ";
    if (total_ > 0) {
      const std::size_t shown = std::min(count_, total_);
      const std::size_t percent = shown * 100 / total_;
      std::snprintf(buffer, sizeof buffer, "%3zu%%", percent);
      out += buffer;
      out += tty_ ? "|" + bar(shown) + "| " : " ";
      out += std::to_string(count_) + "/" + std::to_string(total_);
      const std::string eta =
          known_rate ? format_interval(static_cast<double>(total_ - shown) / rate) : std::string("?");
      out += " [" + format_interval(elapsed) + "<" + eta + ", " + rate_text;
    } else {
      out += std::to_string(count_) + options_.unit + " [" + format_interval(elapsed) + ", " + rate_text;
    }
    if (!postfix_.empty()) out += ", " + postfix_;
    return out + "]";
  }

  // Eighth-block characters give the bar sub-character resolution, as tqdm's does.
  [[nodiscard]] std::string bar(std::size_t shown) const {
    static constexpr std::string_view partial[] = {"", "\u258F", "\u258E", "\u258D", "\u258C", "\u258B", "\u258A", "\u2589"};
    const std::size_t eighths = shown * options_.bar_width * 8 / total_;
    const std::size_t full = eighths / 8;
    std::string out;
    for (std::size_t i = 0; i < full; ++i) out += "\u2588";
    std::size_t used = full;
    if (full < options_.bar_width) {
      out += partial[eighths % 8];
      if (eighths % 8 != 0) ++used;
    }
    out.append(options_.bar_width - used, ' ');
    return out;
  }

  void draw() { draw(options_.clock()); }
  void draw(double now) {
    const std::string text = format(now);
    const std::size_t width = callbacks::detail::display_width(text);
    *out_ << '\r' << text;
    if (width < last_width_) *out_ << std::string(last_width_ - width, ' ');  // wipe a longer previous line
    *out_ << std::flush;
    last_width_ = width;
    last_draw_time_ = now;
  }

  void print_line(double now) {
    *out_ << format(now) << '\n' << std::flush;
    last_line_time_ = now;
    printed_count_ = count_;
  }

  std::ostream* out_ = nullptr;
  ProgressBarOptions options_;
  bool tty_ = false;
  bool open_ = false;
  std::size_t total_ = 0;
  std::size_t count_ = 0;
  std::string description_;
  std::string postfix_;
  double start_time_ = 0.0;
  double last_draw_time_ = 0.0;
  double last_line_time_ = 0.0;
  std::size_t last_bucket_ = 0;
  std::size_t last_width_ = 0;
  std::optional<std::size_t> printed_count_;
};

}  // namespace ftlib
