// `ftlib evaluate`: loss, accuracy, macro-F1, confusion matrix and report of a saved classifier on a
// labelled file; labels are mapped through the model's label2id (or integers with --label-offset).

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "output_paths.hpp"
#include "ftlib/arch/registry.hpp"
#include "ftlib/arch/model_config.hpp"

namespace ftlib::cli {
namespace {

struct EvaluateFlags {
  std::string model, tokenizer, data, output;
  LabelFlags labels;
  double threshold = 0.5;
  std::int64_t max_length = 512;
  std::int64_t batch_size = 8;
  BackendFlags backend;
};

void run_evaluate(const EvaluateFlags& f) {
  const auto dir = resolve_model_dir(f.model);
  ModelSpec spec;
  spec.dir = dir;
  spec.model_type = model_type_of(dir);
  spec.threads = f.backend.threads;
  spec.options = model_options(f.backend);
  spec.inference = true;
  spec.allow_nonfinite_weights = f.backend.allow_nonfinite_weights;
  check_output_file("--output", f.output, {f.data, f.model, f.tokenizer});
  // The data is read the way the model was trained: its config's labels and problem type.
  const auto labels = model_labels(dir, spec.model_type);
  const ProblemType problem_type = resolve_problem_type(labels.problem_type, labels.num_labels());
  const auto data = load_labelled(f.data, f.labels, problem_type, labels.id2label);
  TrainingArguments args;
  args.multi_label_threshold = f.threshold;
  args.max_length = f.max_length;
  args.per_device_eval_batch_size = f.batch_size;
  args.validate();
  auto session = make_session(f.backend, spec, load_tokenizer(dir, f.tokenizer), args);
  if (const auto report = session->load_report(); !report.empty()) std::cerr << report;
  const auto result = session->evaluate(data);
  print_report(std::cout, "evaluation of " + dir.string() + " on " + f.data, result);
  if (!f.output.empty()) io::write_json_file(f.output, metrics_json(result));
}

}  // namespace

void add_evaluate_command(CLI::App& app) {
  auto flags = std::make_shared<EvaluateFlags>();
  auto* cmd = app.add_subcommand("evaluate", "Evaluate a saved classifier on a labelled file");
  cmd->add_option("--model", flags->model, "model directory (or hub name)")->required();
  cmd->add_option("--tokenizer", flags->tokenizer, "tokenizer files (default: the model directory)");
  cmd->add_option("--data", flags->data, "labelled CSV, TSV or JSONL file")->required();
  add_label_flags(*cmd, flags->labels);
  cmd->add_option("--multi-label-threshold", flags->threshold, "multi-label: a label is predicted when its probability is >= this")
      ->capture_default_str();
  cmd->add_option("--max-length", flags->max_length)->capture_default_str();
  cmd->add_option("--per-device-eval-batch-size", flags->batch_size)->capture_default_str();
  cmd->add_option("--output", flags->output, "also write the metrics as JSON here");
  add_backend_flags(*cmd, flags->backend);
  cmd->callback([flags] { run_evaluate(*flags); });
}

}  // namespace ftlib::cli
