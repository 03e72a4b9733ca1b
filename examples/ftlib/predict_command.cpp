// `ftlib predict`: the prediction of every row of a CSV/TSV/JSONL file, written as JSON Lines: label
// and softmax probabilities (single-label), the labels at or over the threshold and each sigmoid
// probability (multi-label), or the value (regression); always the logits.

#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "output_paths.hpp"

namespace ftlib::cli {
namespace {

struct PredictFlags {
  std::string model, tokenizer, input, output;
  std::string text_column = "text";
  double threshold = 0.5;
  std::int64_t max_length = 512;
  std::int64_t batch_size = 8;
  BackendFlags backend;
};

void run_predict(const PredictFlags& f) {
  const auto dir = resolve_model_dir(f.model);
  ModelSpec spec;
  spec.dir = dir;
  spec.model_type = model_type_of(dir);
  spec.threads = f.backend.threads;
  spec.options = model_options(f.backend);
  spec.inference = true;
  spec.allow_nonfinite_weights = f.backend.allow_nonfinite_weights;
  DatasetOptions options;
  options.text_column = f.text_column;
  options.label_column = "\x1f" "ftlib-no-label";  // never a real column: read texts only
  options.require_labels = false;
  check_output_file("--output", f.output, {f.input, f.model, f.tokenizer});
  const auto data = TextClassificationDataset::load(f.input, options);
  std::vector<std::string> texts;
  texts.reserve(data.size());
  for (std::size_t i = 0; i < data.size(); ++i) texts.emplace_back(data.text(i));
  TrainingArguments args;
  args.max_length = f.max_length;
  args.per_device_eval_batch_size = f.batch_size;
  args.multi_label_threshold = f.threshold;
  args.validate();
  auto session = make_session(f.backend, spec, load_tokenizer(dir, f.tokenizer), args);
  if (const auto report = session->load_report(); !report.empty()) std::cerr << report;
  const auto names = session->id2label();
  const auto p = session->predict(texts);
  std::ofstream file;
  if (!f.output.empty()) {
    file.open(f.output, std::ios::binary | std::ios::trunc);
    if (!file) throw io_error(f.output, "cannot open for writing");
  }
  std::ostream& out = f.output.empty() ? std::cout : file;
  const auto cols = static_cast<std::size_t>(p.logits.shape.at(1));
  const auto row_of = [&](const std::vector<float>& v, std::size_t i) {
    return std::vector<float>(v.begin() + static_cast<std::ptrdiff_t>(i * cols), v.begin() + static_cast<std::ptrdiff_t>((i + 1) * cols));
  };
  const auto name = [&](std::size_t id) { return id < names.size() ? names[id] : std::to_string(id); };
  const std::size_t rows = texts.size();
  for (std::size_t i = 0; i < rows; ++i) {
    nlohmann::json j;
    switch (p.problem_type) {
      case ProblemType::single_label_classification: {
        const auto id = static_cast<std::size_t>(p.labels[i]);
        j["label"] = name(id);
        j["label_id"] = id;
        j["probabilities"] = row_of(p.probabilities.data, i);
        break;
      }
      case ProblemType::multi_label_classification: {
        nlohmann::json labels = nlohmann::json::array();
        for (const auto id : p.label_sets[i]) labels.push_back(name(static_cast<std::size_t>(id)));
        j["labels"] = std::move(labels);
        j["label_ids"] = p.label_sets[i];
        j["probabilities"] = row_of(p.probabilities.data, i);
        break;
      }
      case ProblemType::regression:
        j["value"] = p.values[i];
        break;
    }
    j["logits"] = row_of(p.logits.data, i);
    out << j.dump() << '\n';
  }
  out.flush();
  if (!out) throw io_error(f.output.empty() ? "<stdout>" : f.output, "write failed");
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto flags = std::make_shared<PredictFlags>();
  auto* cmd = app.add_subcommand("predict", "Predict for new text (JSONL out: label and probabilities; multi-label: labels over the threshold; regression: value; and logits)");
  cmd->add_option("--model", flags->model, "model directory (or hub name)")->required();
  cmd->add_option("--tokenizer", flags->tokenizer, "tokenizer files (default: the model directory)");
  cmd->add_option("--input", flags->input, "CSV, TSV or JSONL file of texts")->required();
  cmd->add_option("--text-column", flags->text_column)->capture_default_str();
  cmd->add_option("--multi-label-threshold", flags->threshold, "multi-label: a label is predicted when its probability is >= this")
      ->capture_default_str();
  cmd->add_option("--max-length", flags->max_length)->capture_default_str();
  cmd->add_option("--per-device-eval-batch-size", flags->batch_size)->capture_default_str();
  cmd->add_option("--output", flags->output, "JSONL output file (default: stdout)");
  add_backend_flags(*cmd, flags->backend);
  cmd->callback([flags] { run_predict(*flags); });
}

}  // namespace ftlib::cli
