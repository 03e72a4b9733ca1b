#pragma once
// report.html: one self-contained page (inline SVG and CSS; no script, font or request) that shows a
// training run from the files `ftlib train` leaves in its output directory:
//   train_log.jsonl    the logged records (training loss, learning rate, grad norm; every evaluation)
//   metrics.json       the final evaluations (confusion matrix, per-class scores) and timings; absent
//                      while the run is still going or when it was interrupted
//   run_settings.json  what was run: model, data, backend and the TrainingArguments
// A run in progress or cut short is drawn from what is there, and the page says what is missing.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/core/error.hpp"
#include "ftlib/io/atomic_file.hpp"
#include "ftlib/io/json_file.hpp"
#include "ftlib/reports/svg_charts.hpp"

namespace ftlib::reports {

/// @brief What a run directory holds, as read for a report.
struct RunRecord {
  std::filesystem::path dir;        ///< the run (output) directory
  nlohmann::json log = nlohmann::json::array();  ///< the records of train_log.jsonl, in file order
  nlohmann::json metrics;           ///< metrics.json, or null when it is not there (yet)
  nlohmann::json settings;          ///< run_settings.json, or null
  std::vector<std::string> notes;   ///< what was missing or skipped, shown on the page
};

/// @brief Reads a run directory. A train_log.jsonl line that is not a JSON object (a line cut
///        short by a kill) is skipped and noted; a metrics.json or run_settings.json that does not
///        parse is noted and left out, so an interrupted run still gets a report.
/// @throws io_error when `dir` has no train_log.jsonl.
[[nodiscard]] inline RunRecord read_run(const std::filesystem::path& dir) {
  RunRecord run;
  run.dir = dir;
  const auto log_path = dir / "train_log.jsonl";
  std::ifstream in(log_path, std::ios::binary);
  if (!in) throw io_error(log_path, "cannot read: not the output directory of a training run (no train_log.jsonl)");
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object()) {
      run.notes.push_back("train_log.jsonl line " + std::to_string(line_number) + " is not a JSON object (cut short?): skipped");
      continue;
    }
    run.log.push_back(std::move(record));
  }
  const auto read_optional = [&](const std::string& name, nlohmann::json& into, const std::string& missing) {
    const auto path = dir / name;
    if (!std::filesystem::exists(path)) {
      run.notes.push_back(missing);
      return;
    }
    try {
      into = io::read_json_file(path);
    } catch (const error& e) {
      run.notes.push_back(std::string(e.what()) + ": left out");
    }
  };
  read_optional("metrics.json", run.metrics, "no metrics.json: the run is still going or was interrupted, so the final evaluation is not shown");
  read_optional("run_settings.json", run.settings, "no run_settings.json: the settings of the run are not shown");
  return run;
}

namespace detail {

inline constexpr std::string_view report_css = R"(
:root{color-scheme:light;--fg:#1d1d1f;--muted:#5f6368;--line:#d9dce1;--bg:#fff;--panel:#f7f8fa}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:16px}
h1{font-size:1.4em;margin:.2em 0;overflow-wrap:anywhere}h2{font-size:1.1em;margin:1.4em 0 .5em}
.sub{color:var(--muted);margin:0 0 1em;overflow-wrap:anywhere}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,460px),1fr));gap:16px}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:12px;min-width:0}
.panel h3{font-size:1em;margin:0 0 .4em}
svg{width:100%;height:auto;display:block}
.chart .grid{stroke:var(--line);stroke-width:1}.chart .marker{stroke:#888;stroke-dasharray:4 4}
.tick{font-size:13px;fill:var(--muted)}.axis{font-size:13px;fill:var(--muted)}.count{font-size:14px}
.heatmap{max-width:560px}
.bars{max-width:560px}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:.85em;color:var(--muted);margin-top:4px}
.legend i{display:inline-block;width:12px;height:3px;margin-right:5px;vertical-align:middle}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:8px 12px;min-width:130px}
.card b{display:block;font-size:1.25em}.card span{color:var(--muted);font-size:.85em}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;font-size:.9em;width:100%}
th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
td.text{text-align:left;white-space:normal;overflow-wrap:anywhere}
.notes{color:#8a4b00;background:#fff6e5;border:1px solid #f0d9a8;border-radius:8px;padding:8px 12px}
.empty{color:var(--muted)}
)";

// (step, value) of `key` in every record that has it as a number.
inline Series series_of(const nlohmann::json& log, const std::string& key, std::string name, bool markers) {
  Series s{std::move(name), {}, markers};
  for (const auto& r : log) {
    const auto v = r.find(key);
    const auto step = r.find("step");
    if (v == r.end() || step == r.end() || !v->is_number() || !step->is_number()) continue;
    s.points.emplace_back(step->get<double>(), v->get<double>());
  }
  return s;
}

// Evaluation metrics logged by every evaluation: eval_* but the loss and the timings.
inline std::vector<std::string> evaluation_metric_keys(const nlohmann::json& log) {
  static const std::set<std::string> not_metrics = {"eval_loss", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second"};
  std::vector<std::string> keys;
  for (const auto& r : log)
    for (const auto& [k, v] : r.items())
      if (k.starts_with("eval_") && v.is_number() && !not_metrics.contains(k) && std::find(keys.begin(), keys.end(), k) == keys.end())
        keys.push_back(k);
  return keys;
}

inline std::string panel(const std::string& title, const std::string& body) {
  return "<section class=\"panel\"><h3>" + html_escape(title) + "</h3>" + body + "</section>";
}

inline std::string card(const std::string& label, const std::string& value) {
  return "<div class=\"card\"><b>" + html_escape(value) + "</b><span>" + html_escape(label) + "</span></div>";
}

inline std::string json_scalar_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return format_number(v.get<double>(), 6);
  return v.dump();
}

// Rows "key | value" of a JSON object, nested objects as dotted keys.
inline void flatten(const nlohmann::json& j, const std::string& prefix, std::vector<std::pair<std::string, std::string>>& rows) {
  for (const auto& [k, v] : j.items()) {
    const std::string key = prefix.empty() ? k : prefix + "." + k;
    if (v.is_object()) flatten(v, key, rows);
    else rows.emplace_back(key, json_scalar_text(v));
  }
}

// The confusion matrix and per-class table of one final evaluation in metrics.json.
inline std::string evaluation_section(const std::string& title, const nlohmann::json& m) {
  std::string out = "<h2>" + html_escape(title) + "</h2><div class=\"cards\">";
  for (const auto& [key, label] : std::vector<std::pair<std::string, std::string>>{
           {"accuracy", "accuracy"}, {"subset_accuracy", "subset accuracy"}, {"f1_micro", "micro-F1"}, {"f1_macro", "macro-F1"},
           {"f1_weighted", "weighted-F1"}, {"mse", "MSE"}, {"rmse", "RMSE"}, {"mae", "MAE"}, {"r2", "R²"}, {"pearson", "Pearson"},
           {"spearman", "Spearman"}, {"loss", "loss"}, {"num_examples", "examples"}}) {
    if (const auto it = m.find(key); it != m.end() && it->is_number()) out += card(label, json_scalar_text(*it));
  }
  out += "</div><div class=\"grid\">";
  std::vector<std::string> names;
  if (const auto it = m.find("label_names"); it != m.end() && it->is_array())
    for (const auto& n : *it) names.push_back(n.is_string() ? n.get<std::string>() : n.dump());
  if (const auto it = m.find("confusion_matrix"); it != m.end() && it->is_array()) {
    std::vector<std::vector<double>> matrix;
    for (const auto& row : *it) {
      std::vector<double> values;
      if (row.is_array())
        for (const auto& v : row) values.push_back(v.is_number() ? v.get<double>() : 0.0);
      matrix.push_back(std::move(values));
    }
    out += panel("confusion matrix", confusion_heat_map(matrix, names));
  }
  if (const auto it = m.find("points"); it != m.end() && it->is_object()) {
    const auto values = [&](const char* key) {
      std::vector<double> out;
      if (const auto v = it->find(key); v != it->end() && v->is_array())
        for (const auto& x : *v) out.push_back(x.is_number() ? x.get<double>() : std::numeric_limits<double>::quiet_NaN());
      return out;
    };
    out += panel("predicted against true value", scatter_chart(values("true"), values("predicted")));
  }
  if (const auto it = m.find("per_class"); it != m.end() && it->is_array() && m.value("problem_type", std::string()) == "multi_label_classification") {
    std::vector<std::string> labels;
    std::vector<std::array<double, 3>> scores;
    for (const auto& c : *it) {
      labels.push_back(c.value("label", std::string()));
      scores.push_back({c.value("precision", 0.0), c.value("recall", 0.0), c.value("f1", 0.0)});
    }
    out += panel("per-label precision, recall and F1 (threshold " + json_scalar_text(m.value("threshold", nlohmann::json(0.5))) + ")",
                 per_label_bars(labels, scores));
  }
  if (const auto it = m.find("per_class"); it != m.end() && it->is_array()) {
    std::string table = "<div class=\"table-wrap\"><table class=\"per-class\"><thead><tr><th>label</th><th>precision</th><th>recall</th>"
                        "<th>F1</th><th>support</th></tr></thead><tbody>";
    for (const auto& c : *it) {
      table += "<tr><td>" + html_escape(c.value("label", std::string())) + "</td>";
      for (const char* k : {"precision", "recall", "f1", "support"})
        table += "<td>" + (c.contains(k) ? html_escape(json_scalar_text(c[k])) : std::string()) + "</td>";
      table += "</tr>";
    }
    out += panel("per-class scores", table + "</tbody></table></div>");
  }
  return out + "</div>";
}

}  // namespace detail

/// @brief The report page of a run.
[[nodiscard]] inline std::string render_html(const RunRecord& run) {
  const nlohmann::json& log = run.log;
  std::optional<double> best_step;
  if (run.metrics.is_object() && run.metrics.contains("train") && run.metrics["train"].contains("best_step") &&
      run.metrics["train"]["best_step"].is_number())
    best_step = run.metrics["train"]["best_step"].get<double>();
  std::int64_t last_step = 0;
  for (const auto& r : log)
    if (const auto it = r.find("step"); it != r.end() && it->is_number_integer()) last_step = std::max(last_step, it->get<std::int64_t>());

  std::string title = "ftlib run";
  if (run.settings.is_object() && run.settings.contains("model") && run.settings["model"].is_string())
    title += ": " + run.settings["model"].get<std::string>();

  std::string html = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>" +
                     html_escape(title) + "</title><style>" + std::string(detail::report_css) + "</style></head><body><main>";
  html += "<h1>" + html_escape(title) + "</h1><p class=\"sub\">" + html_escape(run.dir.string()) + " &middot; " +
          std::to_string(log.size()) + " log records, last step " + std::to_string(last_step) +
          (run.metrics.is_null() ? " &middot; <b>in progress or interrupted</b>" : " &middot; finished") + "</p>";
  if (!run.notes.empty()) {
    html += "<div class=\"notes\">";
    for (const auto& n : run.notes) html += "<div>" + html_escape(n) + "</div>";
    html += "</div>";
  }

  // Headline numbers: the final evaluation, else the newest one logged.
  html += "<div class=\"cards\">";
  if (run.metrics.is_object() && run.metrics.contains("train")) {
    const auto& t = run.metrics["train"];
    for (const auto& [key, label] : std::vector<std::pair<std::string, std::string>>{{"train_loss", "mean training loss"},
                                                                                      {"global_step", "steps"},
                                                                                      {"epoch", "epochs"},
                                                                                      {"best_step", "best step"},
                                                                                      {"train_runtime", "training seconds"},
                                                                                      {"train_samples_per_second", "samples / s"}})
      if (const auto it = t.find(key); it != t.end() && it->is_number()) html += detail::card(label, detail::json_scalar_text(*it));
  }
  html += "</div>";

  LineChartOptions steps;
  if (best_step) {
    steps.marker_x = best_step;
    steps.marker_label = "best";
  }
  html += "<h2>Training</h2><div class=\"grid\">";
  steps.y_label = "loss";
  html += detail::panel("loss", line_chart({detail::series_of(log, "loss", "training loss", false),
                                            detail::series_of(log, "eval_loss", "validation loss", true)},
                                           steps));
  const auto metric_keys = detail::evaluation_metric_keys(log);
  if (!metric_keys.empty()) {
    std::vector<Series> metric_series;
    for (const auto& k : metric_keys) metric_series.push_back(detail::series_of(log, k, k.substr(5), true));
    steps.y_label = "evaluation metrics";
    html += detail::panel("evaluation metrics", line_chart(metric_series, steps));
  }
  LineChartOptions plain;
  plain.y_label = "learning rate";
  html += detail::panel("learning rate", line_chart({detail::series_of(log, "learning_rate", "learning rate", false)}, plain));
  plain.y_label = "gradient norm";
  html += detail::panel("gradient norm (before clipping)", line_chart({detail::series_of(log, "grad_norm", "gradient norm", false)}, plain));
  html += "</div>";

  if (run.metrics.is_object()) {
    for (const auto& [key, label] : std::vector<std::pair<std::string, std::string>>{{"validation", "Validation set (final model)"},
                                                                                      {"test", "Test set (final model)"}})
      if (const auto it = run.metrics.find(key); it != run.metrics.end() && it->is_object()) html += detail::evaluation_section(label, *it);
  }

  // Evaluations as logged, newest last: a table of every evaluation metric and its timing.
  std::string evals;
  for (const auto& r : log) {
    if (!r.contains("eval_loss") && !r.contains("eval_accuracy")) continue;
    evals += "<tr><td>" + html_escape(detail::json_scalar_text(r.value("step", nlohmann::json()))) + "</td>";
    for (const auto& k : std::vector<std::string>{"eval_loss", "eval_accuracy", "eval_f1_macro", "eval_runtime"})
      evals += "<td>" + (r.contains(k) ? html_escape(detail::json_scalar_text(r[k])) : std::string()) + "</td>";
    evals += "</tr>";
  }
  if (!evals.empty()) {
    html += "<h2>Evaluations</h2><div class=\"table-wrap\"><table class=\"evaluations\"><thead><tr><th>step</th><th>loss</th>"
            "<th>accuracy</th><th>macro-F1</th><th>seconds</th></tr></thead><tbody>" +
            evals + "</tbody></table></div>";
  }

  if (run.settings.is_object()) {
    std::vector<std::pair<std::string, std::string>> rows;
    detail::flatten(run.settings, "", rows);
    html += "<h2>Settings</h2><div class=\"table-wrap\"><table class=\"settings\"><tbody>";
    for (const auto& [k, v] : rows) html += "<tr><td>" + html_escape(k) + "</td><td class=\"text\">" + html_escape(v) + "</td></tr>";
    html += "</tbody></table></div>";
  }
  return html + "</main></body></html>\n";
}

/// @brief Writes the report of `run` as report.html in its directory (atomically); returns its path.
inline std::filesystem::path write_report(const RunRecord& run) {
  const auto path = run.dir / "report.html";
  io::write_file_atomically(path, render_html(run));
  return path;
}

}  // namespace ftlib::reports
