// `ftlib train`: fine-tune (or train from scratch) a DistilBERT/ALBERT classifier on a CSV/TSV/JSONL
// file, with flags named like transformers' TrainingArguments (kebab-case) and the same defaults.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "ftlib/distributed/launch_environment.hpp"
#include "ftlib/distributed/local_launcher.hpp"
#include "ftlib/reports/run_report.hpp"
#include "output_paths.hpp"

namespace ftlib::cli {
namespace {

struct TrainFlags {
  std::string model;
  std::string tokenizer;
  std::string train, validation, test;
  LabelFlags labels;
  std::string problem_type;  // empty: the checkpoint's, else single-label (multi-label with --label-columns)
  std::string class_weights;  // "balanced" or w1,w2,...
  std::string output;
  std::optional<double> dropout;
  std::optional<std::int64_t> patience;
  bool no_shuffle = false;
  bool no_load_best = false;
  bool skip_nonfinite = false;
  bool bf16 = false;
  bool fp16 = false;
  bool disable_tqdm = false;
  std::optional<bool> greater_is_better;
  std::optional<std::int64_t> save_total_limit;
  std::string resume;
  const CLI::Option* resume_option = nullptr;  // given without a path: the newest checkpoint in --output
  bool overwrite_output = false;
  std::vector<std::string> report_to{"tensorboard"};
  std::string logging_dir;
  BackendFlags backend;
  std::int64_t nproc_per_node = 1;  // > 1: start that many local workers (torchrun's --nproc-per-node)
  std::optional<int> master_port;
  std::int64_t ddp_timeout = 1800;
  bool ddp_check_replicas = false;
  TrainingArguments args;
};

std::vector<std::string> names_for(const TextClassificationDataset& d, std::optional<std::int64_t> offset) {
  auto names = d.id2label();
  if (d.problem_type() != ProblemType::single_label_classification) return names;
  bool defaults = true;
  for (std::size_t i = 0; i < names.size(); ++i) defaults = defaults && names[i] == "LABEL_" + std::to_string(i);
  // Integer labels are named by their values in the file (stars 1..5 with --label-offset 1 -> "1".."5").
  if (defaults)
    for (std::size_t i = 0; i < names.size(); ++i) names[i] = std::to_string(static_cast<std::int64_t>(i) + offset.value_or(0));
  return names;
}

// The problem type of the run: --problem-type, else multi-label for --label-columns, else what the
// checkpoint was fine-tuned for (its config.json), else single-label classification.
ProblemType problem_type_for(const TrainFlags& f, const arch::ClassificationLabels& checkpoint) {
  if (!f.problem_type.empty()) return parse_problem_type(f.problem_type, "--problem-type");
  if (!f.labels.label_columns.empty()) return ProblemType::multi_label_classification;
  if (!checkpoint.problem_type.empty()) return parse_problem_type(checkpoint.problem_type);
  return ProblemType::single_label_classification;
}

// --class-weights: "balanced" (scikit-learn's n_rows / (n_classes * rows of the class)) or one weight per label.
std::vector<double> class_weights_for(const std::string& flag, const TextClassificationDataset& train, ProblemType type) {
  const SourceLocation where{"--class-weights", {}, {}};
  if (type != ProblemType::single_label_classification)
    throw option_error(where, "class weights apply to single_label_classification, not " + std::string(to_string(type)));
  const auto& names = train.id2label();
  std::vector<double> weights;
  if (flag == "balanced") return balanced_class_weights(train.label_counts(), names);
  std::size_t start = 0;
  while (start <= flag.size()) {
    const auto end = std::min(flag.find(',', start), flag.size());
    const std::string item = flag.substr(start, end - start);
    std::size_t used = 0;
    double w = 0.0;
    try {
      w = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size())
      throw option_error(where, "'" + item + "' is not a number; expected 'balanced' or one weight per label (w1,w2,...)");
    weights.push_back(w);
    start = end + 1;
  }
  if (weights.size() != names.size())
    throw option_error(where, std::to_string(weights.size()) + " weights for the " + std::to_string(names.size()) +
                                  " labels of the training data (" + join_names(names) + ")");
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (!std::isfinite(weights[i]) || weights[i] < 0)
      throw option_error(where, "the weight of label '" + names[i] + "' is " + std::to_string(weights[i]) + "; weights must be finite and >= 0");
  }
  return weights;
}

// Whether --report-to asks for TensorBoard ("tensorboard" or "all"; "none" alone turns it off).
bool reports_to_tensorboard(const std::vector<std::string>& report_to) {
  bool tensorboard = false;
  for (const auto& r : report_to) {
    if (r == "tensorboard" || r == "all") tensorboard = true;
    else if (r != "none")
      throw option_error(SourceLocation{"--report-to", {}, {}},
                         "'" + r + "' is not available: ftlib reports to tensorboard (or none); report.html is always written");
  }
  if (tensorboard && std::find(report_to.begin(), report_to.end(), "none") != report_to.end())
    throw option_error(SourceLocation{"--report-to", {}, {}}, "'none' cannot be combined with other integrations");
  return tensorboard;
}

// What was run, for run_settings.json and report.html.
nlohmann::json run_settings(const TrainFlags& f, const ModelSpec& spec, const std::vector<std::string>& names, std::size_t train_rows,
                            std::optional<std::size_t> validation_rows, std::optional<std::size_t> test_rows) {
  nlohmann::json data = {{"train", f.train}, {"train_rows", train_rows}, {"text_column", f.labels.text_column}};
  if (f.labels.label_columns.empty()) data["label_column"] = f.labels.label_column;
  else data["label_columns"] = f.labels.label_columns;
  if (f.labels.label_offset) data["label_offset"] = *f.labels.label_offset;
  if (spec.options.problem_type == ProblemType::multi_label_classification && f.labels.label_columns.empty())
    data["label_separator"] = f.labels.label_separator;
  if (validation_rows) {
    data["validation"] = f.validation;
    data["validation_rows"] = *validation_rows;
  }
  if (test_rows) {
    data["test"] = f.test;
    data["test_rows"] = *test_rows;
  }
  nlohmann::json settings = {{"model", f.model},
          {"model_dir", spec.dir.string()},
          {"model_type", spec.model_type},
          {"from_scratch", spec.from_scratch},
          {"problem_type", std::string(to_string(spec.options.problem_type.value_or(ProblemType::single_label_classification)))},
          {"labels", names},
          {"data", data},
          {"backend", {{"name", f.backend.backend}, {"device", spec.options.device}, {"threads", spec.threads},
                       {"precision", f.bf16 ? "bf16" : f.fp16 ? "fp16" : "fp32"},
                       {"execution", spec.options.unpadded ? "unpadded" : "padded"}}},
          {"training_arguments", f.args.to_json()}};
  if (spec.options.class_weights) {
    settings["class_weights"] = *spec.options.class_weights;
    settings["class_weights_from"] = f.class_weights == "balanced" ? "balanced" : "explicit";
  }
  return settings;
}

void run_train(TrainFlags& f) {
  const auto launch = distributed::LaunchEnvironment::from_environment();
  if (f.nproc_per_node > 1 || f.master_port) {
    if (launch.distributed())
      throw option_error(SourceLocation{"--nproc-per-node", {}, {}}, "this process is already " + launch.describe() +
                                                                    " of a launched run (WORLD_SIZE is set): start the run with "
                                                                    "torchrun or with --nproc-per-node, not both");
    if (f.master_port && (*f.master_port < 1 || *f.master_port > 65535))
      throw option_error(SourceLocation{"--master-port", {}, {}}, "must be in 1..65535, got " + std::to_string(*f.master_port));
    if (f.nproc_per_node > 1) {
      distributed::LocalLaunchOptions o;
      o.nproc_per_node = f.nproc_per_node;
      if (f.master_port) o.master_port = static_cast<std::uint16_t>(*f.master_port);
      throw ExitRequest{distributed::run_local_workers(o, distributed::worker_command_line({"--nproc-per-node", "--master-port"}), std::cerr)};
    }
  }
  if (f.nproc_per_node < 1)
    throw option_error(SourceLocation{"--nproc-per-node", {}, {}}, "must be >= 1, got " + std::to_string(f.nproc_per_node));
  if (f.ddp_timeout < 1) throw option_error(SourceLocation{"--ddp-timeout", {}, {}}, "must be >= 1 second, got " + std::to_string(f.ddp_timeout));
  if (launch.distributed() && f.fp16)
    throw option_error(SourceLocation{"--fp16", {}, {}}, "float16 loss scaling is not supported in data-parallel runs yet; use --bf16 or fp32");
  const bool main_process = launch.rank == 0;
  // Only rank 0 talks; the others report errors only (each names its rank).
  std::ostringstream muted;
  std::ostream& say = main_process ? std::cerr : muted;
  TrainingArguments& args = f.args;
  check_output_directory("--output", f.output);
  args.output_dir = f.output;
  args.shuffle = !f.no_shuffle;
  args.early_stopping_patience = f.patience;
  args.greater_is_better = f.greater_is_better;
  args.save_total_limit = f.save_total_limit;
  if (f.skip_nonfinite) args.on_nonfinite_loss = NonFiniteLoss::skip;
  if (!f.resume.empty()) args.resume_from_checkpoint = f.resume;
  else if (f.resume_option != nullptr && f.resume_option->count() > 0) args.resume_from_checkpoint = "last";
  args.overwrite_output_dir = f.overwrite_output;
  args.load_best_model_at_end = !f.validation.empty() && !f.no_load_best;
  const bool tensorboard = reports_to_tensorboard(f.report_to);
  if (f.patience && f.validation.empty())
    throw option_error(SourceLocation{"--early-stopping-patience", {}, {}}, "needs a --validation file to evaluate on");
  args.validate();

  const auto dir = resolve_model_dir(f.model);
  ModelSpec spec;
  spec.dir = dir;
  spec.model_type = model_type_of(dir);
  spec.from_scratch = !std::filesystem::exists(dir / "model.safetensors") && !std::filesystem::exists(dir / "pytorch_model.bin");
  spec.threads = f.backend.threads;
  spec.options = model_options(f.backend, f.bf16, f.fp16);
  spec.allow_nonfinite_weights = f.backend.allow_nonfinite_weights;
  spec.options.dropout = f.dropout;
  spec.options.seed = static_cast<std::uint64_t>(args.seed);
  spec.launch = launch;
  spec.distributed.timeout = std::chrono::seconds(f.ddp_timeout);
  spec.distributed.check_replicas = f.ddp_check_replicas;
  // NCCL process groups (one GPU per worker, by LOCAL_RANK) are not built yet: Gloo carries CPU tensors only here.
  if (launch.distributed() && spec.options.device != "cpu")
    throw option_error(SourceLocation{"--device", {}, {}}, "data-parallel training runs on the CPU (c10d Gloo) for now; NCCL across GPUs "
                                                          "is not built yet: train on --device cpu, or on one GPU without torchrun");
  auto tokenizer = load_tokenizer(dir, f.tokenizer);

  const auto checkpoint_labels = model_labels(dir, spec.model_type);
  const ProblemType problem_type = problem_type_for(f, checkpoint_labels);
  // A config.json with a problem_type comes from a fine-tuned classifier: its head was trained for that
  // problem, and continuing it as another would score with the wrong loss.
  if (!spec.from_scratch && !checkpoint_labels.problem_type.empty() && parse_problem_type(checkpoint_labels.problem_type) != problem_type)
    throw option_error(SourceLocation{f.problem_type.empty() ? "--label-columns" : "--problem-type", {}, {}},
                       std::string(to_string(problem_type)) + " does not match the checkpoint's head: " + (dir / "config.json").string() +
                           " was fine-tuned for " + checkpoint_labels.problem_type + " (num_labels " + std::to_string(checkpoint_labels.num_labels()) +
                           "). Start from its base model, or keep --problem-type " + checkpoint_labels.problem_type);
  const auto train = TextClassificationDataset::load(f.train, dataset_options(f.labels, problem_type));
  const auto names = names_for(train, f.labels.label_offset);
  spec.options.id2label = names;
  spec.options.problem_type = problem_type;
  if (!f.class_weights.empty()) spec.options.class_weights = class_weights_for(f.class_weights, train, problem_type);
  std::optional<TextClassificationDataset> validation, test;
  if (!f.validation.empty()) validation = load_labelled(f.validation, f.labels, problem_type, names);
  if (!f.test.empty()) test = load_labelled(f.test, f.labels, problem_type, names);

  say << "ftlib train: " << spec.model_type << " from " << dir.string() << " on " << f.backend.backend << "/" << spec.options.device
            << "; " << to_string(problem_type) << ", " << train.size() << " training rows";
  if (problem_type != ProblemType::regression) say << ", " << names.size() << " labels (" << join_names(names) << ")";
  if (spec.options.class_weights) {
    say << ", class weights";
    for (const double w : *spec.options.class_weights) say << ' ' << w;
  }
  if (validation) say << ", " << validation->size() << " validation rows";
  if (test) say << ", " << test->size() << " test rows";
  say << '\n';
  if (launch.distributed())
    say << "data-parallel: " << launch.world_size << " processes (c10d Gloo, rendezvous " << launch.master_addr << ":" << launch.master_port
        << "), " << args.per_device_train_batch_size << " rows per process per micro-batch, "
        << launch.world_size * args.per_device_train_batch_size * args.gradient_accumulation_steps << " per optimizer step\n";
  if (args.resume_from_checkpoint) {
    say << "resuming from "
              << (args.resumes_from_last_checkpoint() ? "the newest checkpoint in " + args.output_dir.string()
                                                      : args.resume_from_checkpoint->string())
              << ": weights, optimizer state, schedule, data position and RNG come from there\n";
  } else if (spec.from_scratch) {
    say << "\n*** " << dir.string() << " has no model.safetensors or pytorch_model.bin: TRAINING FROM SCRATCH ***\n"
              << "*** (random initialisation from config.json; no pretrained weights are used) ***\n\n";
  }
  auto session = make_session(f.backend, spec, std::move(tokenizer), args);
  if (const auto report = session->load_report(); !report.empty()) say << report;

  // Rank 0 alone writes: the settings, the logs, the checkpoints (the Trainer's), the model, the report.
  const bool resumed = args.resume_from_checkpoint.has_value();
  std::optional<JsonlLogger> log;
  std::optional<ProgressBar> bar;
  std::optional<TensorBoardLogger> board;
  if (main_process) {
    std::filesystem::create_directories(args.output_dir);
    nlohmann::json settings = run_settings(f, spec, names, train.size(), validation ? std::optional(validation->size()) : std::nullopt,
                                           test ? std::optional(test->size()) : std::nullopt);
    settings["backend"]["world_size"] = launch.world_size;
    io::write_json_file(args.output_dir / "run_settings.json", settings);
    log.emplace(args.output_dir / "train_log.jsonl", /*append=*/resumed);
    if (!f.disable_tqdm) bar.emplace(std::cerr);
    if (tensorboard) board.emplace(f.logging_dir.empty() ? TensorBoardLogger::run_directory(args.output_dir, resumed)
                                                       : std::filesystem::path(f.logging_dir));
  }
  const TrainResult result = session->fit(train, validation ? &*validation : nullptr,
                                          RunCallbacks{bar ? &*bar : nullptr, log ? &*log : nullptr, board ? &*board : nullptr});
  // Every process evaluates its share below (the gather is collective); only rank 0 reports.
  std::ostream& out = main_process ? std::cout : muted;

  out << "trained " << result.state.global_step << " steps (" << result.state.epoch << " epochs) in " << result.runtime_s
            << " s, mean training loss " << result.training_loss;
  if (result.stopped_early) out << "; stopped early";
  if (result.state.best_step) out << "; best " << args.metric_for_best_model << " " << *result.state.best_metric << " at step " << *result.state.best_step;
  if (result.restored_best) out << " (restored)";
  if (result.state.skipped_steps > 0) out << "; " << result.state.skipped_steps << " non-finite steps skipped";
  out << '\n';

  session->save(args.output_dir);
  nlohmann::json metrics;
  metrics["train"] = {{"global_step", result.state.global_step}, {"epoch", result.state.epoch}, {"train_loss", result.training_loss},
                      {"train_runtime", result.runtime_s}, {"train_samples_per_second", result.samples_per_second},
                      {"stopped_early", result.stopped_early}};
  if (result.state.best_step) metrics["train"]["best_step"] = *result.state.best_step;
  if (validation) {
    const auto r = session->evaluate(*validation);
    print_report(out, "validation", r);
    metrics["validation"] = metrics_json(r);
  }
  if (test) {
    const auto r = session->evaluate(*test);
    print_report(out, "test", r);
    metrics["test"] = metrics_json(r);
  }
  if (!main_process) return;
  io::write_json_file(args.output_dir / "metrics.json", metrics);
  const auto report = reports::write_report(reports::read_run(args.output_dir));
  std::cout << "\nmodel, tokenizer and metrics.json written to " << args.output_dir.string() << "; the run's report: "
            << report.string() << '\n';
  if (board) std::cout << "TensorBoard events: " << board->run_dir().string() << " (tensorboard --logdir " << (args.output_dir / "runs").string() << ")\n";
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto flags = std::make_shared<TrainFlags>();
  TrainingArguments& a = flags->args;
  auto* cmd = app.add_subcommand("train", "Fine-tune a classifier (flags follow transformers' TrainingArguments)");
  cmd->add_option("--model", flags->model, "checkpoint directory or hub name (config.json without weights = from scratch)")->required();
  cmd->add_option("--tokenizer", flags->tokenizer, "vocab.txt / spiece.model / directory (default: the model directory)");
  cmd->add_option("--train", flags->train, "training file (CSV, TSV or JSONL)")->required();
  cmd->add_option("--validation", flags->validation, "validation file, evaluated every --eval-steps");
  cmd->add_option("--test", flags->test, "test file, evaluated once at the end");
  add_label_flags(*cmd, flags->labels);
  cmd->add_option("--problem-type", flags->problem_type,
                  "single_label_classification, multi_label_classification or regression (default: the checkpoint's, "
                  "else single-label; multi-label with --label-columns)");
  cmd->add_option("--class-weights", flags->class_weights,
                  "single-label: weight each class in the cross-entropy: 'balanced' (n / (k * count)) or w1,w2,... in label order");
  cmd->add_option("--multi-label-threshold", a.multi_label_threshold, "multi-label: a label is predicted when its probability is >= this")
      ->capture_default_str();
  cmd->add_option("--output", flags->output, "output directory (model, tokenizer, checkpoints, metrics.json, train_log.jsonl)")->required();
  cmd->add_option("--learning-rate", a.learning_rate, "peak learning rate")->capture_default_str();
  cmd->add_option("--weight-decay", a.weight_decay, "AdamW weight decay")->capture_default_str();
  cmd->add_flag("--decay-bias-and-layer-norm", a.decay_bias_and_layer_norm,
                "decay biases and LayerNorm weights too (the notebook's plain AdamW); transformers' Trainer excludes them");
  cmd->add_option("--adam-beta1", a.adam_beta1)->capture_default_str();
  cmd->add_option("--adam-beta2", a.adam_beta2)->capture_default_str();
  cmd->add_option("--adam-epsilon", a.adam_epsilon)->capture_default_str();
  cmd->add_option("--per-device-train-batch-size", a.per_device_train_batch_size)->capture_default_str();
  cmd->add_option("--per-device-eval-batch-size", a.per_device_eval_batch_size)->capture_default_str();
  cmd->add_option("--num-train-epochs", a.num_train_epochs)->capture_default_str();
  cmd->add_option("--max-steps", a.max_steps, "optimizer steps (> 0 overrides --num-train-epochs)")->capture_default_str();
  cmd->add_option("--warmup-steps", a.warmup_steps)->capture_default_str();
  cmd->add_option("--warmup-ratio", a.warmup_ratio)->capture_default_str();
  cmd->add_option("--lr-scheduler-type", a.lr_scheduler_type, "linear, cosine, polynomial, constant, constant_with_warmup")->capture_default_str();
  cmd->add_option("--eval-steps", a.eval_steps, "evaluate every N steps (0 = each epoch)")->capture_default_str();
  cmd->add_option("--save-steps", a.save_steps, "checkpoint every N steps (0 = at each evaluation)")->capture_default_str();
  cmd->add_option("--save-total-limit", flags->save_total_limit,
                  "keep at most N checkpoints; the best is never deleted (N=1 keeps the best and the newest)");
  cmd->add_option("--logging-steps", a.logging_steps)->capture_default_str();
  cmd->add_option("--early-stopping-patience", flags->patience, "stop after N evaluations without improvement");
  cmd->add_option("--early-stopping-threshold", a.early_stopping_threshold)->capture_default_str();
  cmd->add_option("--metric-for-best-model", a.metric_for_best_model, "eval_loss, eval_accuracy, eval_f1_macro, ...")->capture_default_str();
  cmd->add_option("--greater-is-better", flags->greater_is_better, "default: false for *loss, true otherwise");
  cmd->add_flag("--no-load-best-model-at-end", flags->no_load_best, "keep the last weights instead of the best evaluated ones");
  cmd->add_option("--max-grad-norm", a.max_grad_norm)->capture_default_str();
  cmd->add_option("--gradient-accumulation-steps", a.gradient_accumulation_steps)->capture_default_str();
  cmd->add_option("--seed", a.seed)->capture_default_str();
  cmd->add_flag("--bf16", flags->bf16, "bfloat16 autocast (libtorch)");
  cmd->add_flag("--fp16", flags->fp16, "float16 autocast (libtorch, CUDA)");
  cmd->add_option("--max-length", a.max_length, "tokens per row after truncation")->capture_default_str();
  cmd->add_flag("--no-shuffle", flags->no_shuffle, "keep the file's row order");
  cmd->add_flag("--group-by-length", a.group_by_length, "batch rows of similar length together");
  cmd->add_flag("--pad-to-max-length", a.pad_to_max_length, "pad every batch to --max-length (default: to its longest row)");
  cmd->add_option("--dropout", flags->dropout, "override every dropout probability of the model");
  flags->resume_option = cmd->add_option("--resume-from-checkpoint", flags->resume,
                                         "continue exactly from a checkpoint-<step> directory; without a path (or "
                                         "'last'): from the newest complete one in --output")
                            ->expected(0, 1);
  cmd->add_flag("--overwrite-output-dir", flags->overwrite_output,
                "delete the checkpoints of an earlier run in --output first (without it such a run is refused)");
  cmd->add_flag("--skip-nonfinite-steps", flags->skip_nonfinite, "skip steps whose loss is NaN/inf instead of stopping");
  cmd->add_option("--dataloader-num-threads", a.dataloader_num_threads, "tokenizer threads (0 = all)")->capture_default_str();
  cmd->add_flag("--disable-tqdm", flags->disable_tqdm, "no progress bar");
  cmd->add_option("--report-to", flags->report_to,
                  "tensorboard (event files under --output/runs/), all (the same) or none; report.html is always written")
      ->capture_default_str();
  cmd->add_option("--logging-dir", flags->logging_dir,
                  "TensorBoard run directory (default: --output/runs/<date>_<host>, a resumed run's newest there)");
  add_backend_flags(*cmd, flags->backend);
  cmd->add_option("--nproc-per-node", flags->nproc_per_node,
                  "train data-parallel in N local worker processes (torchrun's flag; each takes --per-device-train-batch-size "
                  "rows per micro-batch); under torchrun itself leave it out")
      ->capture_default_str();
  cmd->add_option("--master-port", flags->master_port, "with --nproc-per-node: the rendezvous port on 127.0.0.1 (default: a free one)");
  cmd->add_option("--ddp-timeout", flags->ddp_timeout,
                  "data-parallel: seconds a process waits for the others (rendezvous, each collective) before it stops with an error")
      ->capture_default_str();
  cmd->add_flag("--ddp-check-replicas", flags->ddp_check_replicas,
                "data-parallel debug mode: after every step check that every process holds the same weights");
  cmd->callback([flags] { run_train(*flags); });
}

}  // namespace ftlib::cli
