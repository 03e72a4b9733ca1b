#pragma once
// Inline SVG charts for self-contained HTML reports: a line chart of series against the step and a
// heat map of a matrix. Each returns one <svg> element that scales with its container (viewBox,
// width 100%), uses no script, font or stylesheet from outside, and escapes every text it prints.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ftlib::reports {

/// @brief `text` with &, <, >, " and ' escaped for HTML text and attribute values.
[[nodiscard]] inline std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

/// @brief A number as a chart or table shows it: up to `digits` significant digits.
[[nodiscard]] inline std::string format_number(double v, int digits = 4) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

/// @brief One line of a chart: its name (the legend) and its (step, value) points in step order.
struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;
  bool markers = false;  ///< draw a dot at each point (sparse series such as evaluations)
  bool connected = true; ///< join the points by a line (false: a scatter of dots)
};

/// @brief The colours of series 0, 1, ... (a colour-blind-safe palette, Okabe-Ito).
[[nodiscard]] inline std::string_view series_colour(std::size_t i) {
  static constexpr std::string_view palette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"};
  return palette[i % std::size(palette)];
}

namespace detail {

// At most `max_bytes` of a UTF-8 label (never splitting a character), with an ellipsis when cut.
inline std::string shorten(const std::string& label, std::size_t max_bytes = 14) {
  if (label.size() <= max_bytes) return label;
  std::size_t cut = max_bytes - 1;
  while (cut > 0 && (static_cast<unsigned char>(label[cut]) & 0xC0) == 0x80) --cut;
  return label.substr(0, cut) + "\u2026";
}

// About `target` round tick values (1, 2 or 5 times a power of ten) covering [lo, hi].
inline std::vector<double> nice_ticks(double lo, double hi, int target = 5) {
  if (!(hi > lo)) {
    const double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (raw <= step) break;
  }
  std::vector<double> ticks;
  for (double t = std::floor(lo / step) * step; t <= hi + step * 0.5 && ticks.size() < 50; t += step) ticks.push_back(t);
  return ticks;
}

inline std::string coord(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace detail

/// @brief Options of line_chart.
struct LineChartOptions {
  std::string x_label = "step";
  std::string y_label;
  std::optional<double> marker_x;   ///< a dashed vertical line (e.g. the best step)
  std::string marker_label;         ///< its label
};

/// @brief An SVG line chart of `series` (non-finite values are left out). Empty series are skipped;
///        with no point at all it says so instead of drawing axes.
[[nodiscard]] inline std::string line_chart(const std::vector<Series>& series, const LineChartOptions& options = {}) {
  // Small enough a viewBox that its text stays readable when a phone scales the chart to ~350 px.
  constexpr double width = 480, height = 280, left = 58, right = 14, top = 14, bottom = 44;
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const auto& s : series) {
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x), y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
    }
  }
  if (!std::isfinite(x_lo)) return "<p class=\"empty\">no values logged yet</p>";
  const auto x_ticks = detail::nice_ticks(x_lo, x_hi, 4);
  const auto y_ticks = detail::nice_ticks(y_lo, y_hi);
  x_lo = std::min(x_lo, x_ticks.front()), x_hi = std::max(x_hi, x_ticks.back());
  y_lo = std::min(y_lo, y_ticks.front()), y_hi = std::max(y_hi, y_ticks.back());
  const auto px = [&](double x) { return left + (x - x_lo) / (x_hi - x_lo) * (width - left - right); };
  const auto py = [&](double y) { return height - bottom - (y - y_lo) / (y_hi - y_lo) * (height - top - bottom); };

  std::string svg = "<svg class=\"chart\" viewBox=\"0 0 480 280\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">";
  svg += "<title>" + html_escape(options.y_label) + " against " + html_escape(options.x_label) + "</title>";
  for (const double t : y_ticks) {
    const auto y = detail::coord(py(t));
    svg += "<line class=\"grid\" x1=\"" + detail::coord(left) + "\" x2=\"" + detail::coord(width - right) + "\" y1=\"" + y + "\" y2=\"" + y + "\"/>";
    svg += "<text class=\"tick\" x=\"" + detail::coord(left - 6) + "\" y=\"" + y + "\" text-anchor=\"end\" dominant-baseline=\"middle\">" +
           format_number(t, 3) + "</text>";
  }
  for (const double t : x_ticks) {
    const auto x = detail::coord(px(t));
    svg += "<line class=\"grid\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + detail::coord(top) + "\" y2=\"" + detail::coord(height - bottom) + "\"/>";
    svg += "<text class=\"tick\" x=\"" + x + "\" y=\"" + detail::coord(height - bottom + 16) + "\" text-anchor=\"middle\">" + format_number(t, 6) + "</text>";
  }
  svg += "<text class=\"axis\" x=\"" + detail::coord((left + width - right) / 2) + "\" y=\"" + detail::coord(height - 6) +
         "\" text-anchor=\"middle\">" + html_escape(options.x_label) + "</text>";
  if (options.marker_x && std::isfinite(*options.marker_x)) {
    const auto x = detail::coord(px(*options.marker_x));
    svg += "<line class=\"marker\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + detail::coord(top) + "\" y2=\"" + detail::coord(height - bottom) + "\"/>";
    svg += "<text class=\"tick\" x=\"" + x + "\" y=\"" + detail::coord(top + 10) + "\" dx=\"-4\" text-anchor=\"end\">" + html_escape(options.marker_label) + "</text>";
  }
  for (std::size_t i = 0; i < series.size(); ++i) {
    const auto colour = std::string(series_colour(i));
    std::string points, dots;
    for (const auto& [x, y] : series[i].points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      points += detail::coord(px(x)) + "," + detail::coord(py(y)) + " ";
      if (series[i].markers)
        dots += "<circle cx=\"" + detail::coord(px(x)) + "\" cy=\"" + detail::coord(py(y)) + "\" r=\"3\" fill=\"" + colour + "\"/>";
    }
    if (points.empty()) continue;
    if (!series[i].connected) {
      svg += "<g class=\"scatter\" data-series=\"" + html_escape(series[i].name) + "\">" + dots + "</g>";
      continue;
    }
    svg += "<polyline class=\"series\" data-series=\"" + html_escape(series[i].name) + "\" fill=\"none\" stroke=\"" + colour +
           "\" stroke-width=\"2\" points=\"" + points + "\"/>" + dots;
  }
  svg += "</svg>";
  std::string legend = "<div class=\"legend\">";
  for (std::size_t i = 0; i < series.size(); ++i) {
    legend += "<span><i style=\"background:" + std::string(series_colour(i)) + "\"></i>" + html_escape(series[i].name) + "</span>";
  }
  return svg + legend + "</div>";
}

/// @brief An SVG heat map of a square count matrix (rows: true label, columns: predicted), each
///        cell shaded by its share of the row and showing its count.
[[nodiscard]] inline std::string confusion_heat_map(const std::vector<std::vector<double>>& matrix, const std::vector<std::string>& names) {
  const std::size_t n = matrix.size();
  if (n == 0) return "<p class=\"empty\">no confusion matrix</p>";
  const double label_space = 90, cell = std::max(14.0, std::min(56.0, 560.0 / static_cast<double>(n)));
  const double size = label_space + cell * static_cast<double>(n) + 8;
  const bool show_counts = n <= 20;
  const auto name = [&](std::size_t i) { return i < names.size() ? names[i] : std::to_string(i); };
  std::string svg = "<svg class=\"heatmap\" viewBox=\"0 0 " + detail::coord(size) + " " + detail::coord(size + 20) +
                    "\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\"><title>confusion matrix</title>";
  for (std::size_t i = 0; i < n; ++i) {
    double row_total = 0;
    for (const double v : matrix[i]) row_total += v;
    const double y = label_space + cell * static_cast<double>(i);
    svg += "<text class=\"tick\" x=\"" + detail::coord(label_space - 6) + "\" y=\"" + detail::coord(y + cell / 2) +
           "\" text-anchor=\"end\" dominant-baseline=\"middle\">" + html_escape(detail::shorten(name(i))) + "</text>";
    for (std::size_t j = 0; j < n && j < matrix[i].size(); ++j) {
      const double share = row_total > 0 ? matrix[i][j] / row_total : 0.0;
      const double x = label_space + cell * static_cast<double>(j);
      // White to the palette's blue; text turns white on dark cells.
      const int r = static_cast<int>(std::lround(255 - share * (255 - 0x00))), g = static_cast<int>(std::lround(255 - share * (255 - 0x72))),
                b = static_cast<int>(std::lround(255 - share * (255 - 0xB2)));
      char fill[16];
      std::snprintf(fill, sizeof fill, "#%02x%02x%02x", r, g, b);
      svg += "<rect class=\"cell\" x=\"" + detail::coord(x) + "\" y=\"" + detail::coord(y) + "\" width=\"" + detail::coord(cell) +
             "\" height=\"" + detail::coord(cell) + "\" fill=\"" + fill + "\"><title>true " + html_escape(name(i)) + ", predicted " +
             html_escape(name(j)) + ": " + format_number(matrix[i][j], 12) + "</title></rect>";
      if (show_counts) {
        svg += "<text class=\"count\" x=\"" + detail::coord(x + cell / 2) + "\" y=\"" + detail::coord(y + cell / 2) +
               "\" text-anchor=\"middle\" dominant-baseline=\"middle\" fill=\"" + (share > 0.5 ? "#fff" : "#222") + "\">" +
               format_number(matrix[i][j], 12) + "</text>";
      }
    }
  }
  for (std::size_t j = 0; j < n; ++j) {
    const double x = label_space + cell * static_cast<double>(j) + cell / 2;
    svg += "<text class=\"tick\" x=\"" + detail::coord(x) + "\" y=\"" + detail::coord(label_space - 6) +
           "\" text-anchor=\"start\" transform=\"rotate(-45 " + detail::coord(x) + " " + detail::coord(label_space - 6) + ")\">" +
           html_escape(detail::shorten(name(j))) + "</text>";
  }
  svg += "<text class=\"axis\" x=\"" + detail::coord(label_space) + "\" y=\"" + detail::coord(size + 14) +
         "\">rows: true label, columns: predicted</text></svg>";
  return svg;
}

/// @brief Predicted against true values (regression) as a scatter of dots, with the line y = x where a
///        perfect model's points would lie.
[[nodiscard]] inline std::string scatter_chart(const std::vector<double>& truth, const std::vector<double>& predicted) {
  Series dots{"rows", {}, true, false};
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (std::size_t i = 0; i < truth.size() && i < predicted.size(); ++i) {
    if (!std::isfinite(truth[i]) || !std::isfinite(predicted[i])) continue;
    dots.points.emplace_back(truth[i], predicted[i]);
    lo = std::min({lo, truth[i], predicted[i]}), hi = std::max({hi, truth[i], predicted[i]});
  }
  std::vector<Series> series{dots};
  if (std::isfinite(lo)) series.push_back(Series{"predicted = true", {{lo, lo}, {hi, hi}}, false, true});
  LineChartOptions options;
  options.x_label = "true value";
  options.y_label = "predicted value";
  return line_chart(series, options);
}

/// @brief Grouped horizontal bars of each label's precision, recall and F1 (multi-label), on a 0..1 scale.
[[nodiscard]] inline std::string per_label_bars(const std::vector<std::string>& names, const std::vector<std::array<double, 3>>& scores) {
  const std::size_t n = std::min(names.size(), scores.size());
  if (n == 0) return "<p class=\"empty\">no labels</p>";
  constexpr double width = 480, label_space = 100, right = 40, bar = 7, gap = 10;
  const double group = 3 * bar + gap;
  const double height = 24 + group * static_cast<double>(n) + 20;
  const double span = width - label_space - right;
  std::string svg = "<svg class=\"bars\" viewBox=\"0 0 480 " + detail::coord(height) +
                    "\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\"><title>precision, recall and F1 per label</title>";
  for (const double t : {0.0, 0.5, 1.0}) {
    const auto x = detail::coord(label_space + t * span);
    svg += "<line class=\"grid\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"16\" y2=\"" + detail::coord(height - 20) + "\"/>";
    svg += "<text class=\"tick\" x=\"" + x + "\" y=\"12\" text-anchor=\"middle\">" + format_number(t, 2) + "</text>";
  }
  static constexpr const char* measure[] = {"precision", "recall", "F1"};
  for (std::size_t i = 0; i < n; ++i) {
    const double y = 20 + group * static_cast<double>(i);
    svg += "<text class=\"tick\" x=\"" + detail::coord(label_space - 6) + "\" y=\"" + detail::coord(y + 1.5 * bar) +
           "\" text-anchor=\"end\" dominant-baseline=\"middle\">" + html_escape(detail::shorten(names[i])) + "</text>";
    for (std::size_t k = 0; k < 3; ++k) {
      const double v = std::isfinite(scores[i][k]) ? std::clamp(scores[i][k], 0.0, 1.0) : 0.0;
      svg += "<rect class=\"bar\" x=\"" + detail::coord(label_space) + "\" y=\"" + detail::coord(y + bar * static_cast<double>(k)) +
             "\" width=\"" + detail::coord(v * span) + "\" height=\"" + detail::coord(bar - 1) + "\" fill=\"" + std::string(series_colour(k)) +
             "\"><title>" + html_escape(names[i]) + " " + measure[k] + ": " + format_number(scores[i][k], 4) + "</title></rect>";
    }
  }
  svg += "</svg><div class=\"legend\">";
  for (std::size_t k = 0; k < 3; ++k)
    svg += "<span><i style=\"background:" + std::string(series_colour(k)) + "\"></i>" + measure[k] + "</span>";
  return svg + "</div>";
}

}  // namespace ftlib::reports
