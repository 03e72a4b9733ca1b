#include "cli_common.hpp"

#include "backend_module.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "ftlib/arch/model_config.hpp"
#include "ftlib/arch/registry.hpp"
#include "ftlib/hf/hub.hpp"

namespace ftlib::cli {

std::string BackendFlags::default_backend() { return has_backend_module("libtorch") ? "libtorch" : "eigen"; }

void add_backend_flags(CLI::App& cmd, BackendFlags& flags) {
  cmd.add_option("--backend", flags.backend, "libtorch or eigen")->check(CLI::IsMember({"libtorch", "eigen"}))->capture_default_str();
  cmd.add_option("--device", flags.device, "cpu, cuda or cuda:N (libtorch)")->capture_default_str();
  // Fewer threads than cores on a shared machine: OpenMP threads wait for each other at every
  // operation, so one descheduled thread stalls them all.
  cmd.add_option("--threads", flags.threads, "CPU compute threads (0: OMP_NUM_THREADS, else all cores)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  cmd.add_flag("--allow-nonfinite-weights", flags.allow_nonfinite_weights,
               "load a checkpoint whose weights hold NaN or inf (refused by default: its outputs would be NaN)");
  cmd.add_flag("--padded-execution", flags.padded_execution,
               "compute every padded position, as HuggingFace does (default: the real tokens only; the results agree "
               "to float32 rounding)");
}

ModelOptions model_options(const BackendFlags& flags, bool bf16, bool fp16) {
  if (bf16 && fp16) throw option_error(SourceLocation{"--bf16", {}, {}}, "cannot be combined with --fp16; choose one");
  ModelOptions options;
  options.device = flags.device;
  if (fp16 && flags.device.rfind("cuda", 0) != 0)
    throw option_error(SourceLocation{"--fp16", {}, {}}, "float16 autocast needs a CUDA device, but --device is " + flags.device +
                                                             "; use --bf16 on the CPU (or --device cuda)");
  options.precision = bf16 ? Precision::bf16 : fp16 ? Precision::fp16 : Precision::fp32;
  options.unpadded = !flags.padded_execution;
  return options;
}

std::string flag_of_field(const std::string& field) {
  // Fields the tool sets under another name; every other field is its flag in kebab case.
  static const std::map<std::string, std::string> renamed = {
      {"precision", "--bf16/--fp16"}, {"output_dir", "--output"}, {"on_nonfinite_loss", "--skip-nonfinite-steps"},
      {"per_device_eval_batch_size", "--per-device-eval-batch-size"}, {"id2label", ""}, {"num_labels", ""},
      {"attention", ""}, {"ignore_mismatched_sizes", ""}, {"unpadded", "--padded-execution"}};
  if (const auto it = renamed.find(field); it != renamed.end()) return it->second;
  if (field.empty() || field.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos) return {};
  std::string flag = "--" + field;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

std::filesystem::path resolve_model_dir(const std::string& name_or_path) {
  if (std::filesystem::is_directory(name_or_path)) return name_or_path;
  if (std::filesystem::exists(name_or_path))
    throw option_error(SourceLocation{"--model", {}, {}}, name_or_path + " is a file; expected a checkpoint directory or a hub model name");
  return hf::resolve_pretrained(name_or_path);
}

std::string model_type_of(const std::filesystem::path& dir) {
  const auto config = dir / "config.json";
  if (!std::filesystem::exists(config)) throw io_error(config, "not found (a model directory needs config.json)");
  return arch::read_model_type(config);
}

std::unique_ptr<Session> make_session(const BackendFlags& flags, const ModelSpec& spec, AutoTokenizer tokenizer,
                                      TrainingArguments args) {
  return backend_module(flags.backend).make_session(spec, std::move(tokenizer), std::move(args));
}

AutoTokenizer load_tokenizer(const std::filesystem::path& model_dir, const std::string& explicit_path) {
  if (!explicit_path.empty()) return AutoTokenizer::from_pretrained(explicit_path);
  const bool has_files = std::filesystem::exists(model_dir / "vocab.txt") || std::filesystem::exists(model_dir / "spiece.model") ||
                         std::filesystem::exists(model_dir / "tokenizer.json");
  if (!has_files)
    throw option_error(SourceLocation{"--tokenizer", {}, {}},
                       model_dir.string() + " has no tokenizer files (vocab.txt, spiece.model or tokenizer.json); pass --tokenizer "
                                            "PATH (a vocab.txt, an spiece.model or a directory holding one)");
  return AutoTokenizer::from_pretrained(model_dir);
}

void add_label_flags(CLI::App& cmd, LabelFlags& flags) {
  cmd.add_option("--text-column", flags.text_column, "column (or JSONL key) of the text")->capture_default_str();
  cmd.add_option("--label-column", flags.label_column,
                 "column (or JSONL key) of the label: a class, a number (regression) or the labels of a row (multi-label)")
      ->capture_default_str();
  cmd.add_option("--label-offset", flags.label_offset, "subtract from integer labels (1 maps stars 1..5 to ids 0..4)");
  cmd.add_option("--label-separator", flags.label_separator, "multi-label: what separates the labels of a cell (\"toys;books\")")
      ->capture_default_str();
  cmd.add_option("--label-columns", flags.label_columns, "multi-label: one 0/1 column per label, comma-separated (the names are the labels)")
      ->delimiter(',');
}

DatasetOptions dataset_options(const LabelFlags& flags, ProblemType problem_type) {
  DatasetOptions options;
  options.text_column = flags.text_column;
  options.label_column = flags.label_column;
  options.problem_type = problem_type;
  options.label_separator = flags.label_separator;
  options.label_columns = flags.label_columns;
  if (flags.label_offset) {
    if (problem_type != ProblemType::single_label_classification)
      throw option_error(SourceLocation{"--label-offset", {}, {}}, "is for integer class labels (single_label_classification), not " +
                                                                      std::string(to_string(problem_type)));
    options.label_mode = LabelMode::integer;
    options.label_offset = *flags.label_offset;
  }
  if (!flags.label_columns.empty() && problem_type != ProblemType::multi_label_classification)
    throw option_error(SourceLocation{"--label-columns", {}, {}}, "one 0/1 column per label is multi_label_classification, but the problem type is " +
                                                                     std::string(to_string(problem_type)));
  return options;
}

namespace {
bool default_names(const std::vector<std::string>& names) {
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] != "LABEL_" + std::to_string(i)) return false;
  return true;
}

std::map<std::string, std::int64_t> label_map(const std::vector<std::string>& id2label) {
  std::map<std::string, std::int64_t> label2id;
  for (std::size_t i = 0; i < id2label.size(); ++i) label2id.emplace(id2label[i], static_cast<std::int64_t>(i));
  return label2id;
}
}  // namespace

TextClassificationDataset load_labelled(const std::filesystem::path& path, const LabelFlags& flags, ProblemType problem_type,
                                        const std::vector<std::string>& id2label) {
  DatasetOptions options = dataset_options(flags, problem_type);
  switch (problem_type) {
    case ProblemType::regression:
      options.label_names = id2label;
      break;
    case ProblemType::multi_label_classification:
      options.label2id = label_map(id2label);
      break;
    case ProblemType::single_label_classification:
      if (flags.label_offset.has_value() || default_names(id2label)) {
        options.label_mode = LabelMode::integer;
        options.label_offset = flags.label_offset.value_or(0);
        options.num_labels = id2label.size();
        options.label_names = id2label;
      } else {
        options.label_mode = LabelMode::string;
        options.label2id = label_map(id2label);
      }
      break;
  }
  return TextClassificationDataset::load(path, options);
}

arch::ClassificationLabels model_labels(const std::filesystem::path& dir, const std::string& type) {
  return arch::visit_architecture(type, [&](auto a) {
    return arch::ModelConfig<typename decltype(a)::type>::load(dir / "config.json").labels;
  });
}

void print_report(std::ostream& out, const std::string& title, const EvalResult& r) {
  out << "\n== " << title << " (" << r.num_examples << " examples) ==\n";
  char line[200];
  if (r.regression_metrics) {
    const auto& m = *r.regression_metrics;
    std::snprintf(line, sizeof line, "loss %.4f   mse %.4f   rmse %.4f   mae %.4f   r2 %.4f   pearson %.4f   spearman %.4f\n", r.loss, m.mse,
                  m.rmse, m.mae, m.r2, m.pearson, m.spearman);
    out << line << std::flush;
    return;
  }
  if (r.multi_label_metrics) {
    const auto& m = *r.multi_label_metrics;
    std::snprintf(line, sizeof line, "loss %.4f   subset accuracy %.4f   micro-F1 %.4f   macro-F1 %.4f   weighted-F1 %.4f   (threshold %.2f)\n",
                  r.loss, m.subset_accuracy, m.micro_f1, m.macro_f1, m.weighted_f1, m.threshold);
    out << line << '\n' << m.report(4) << std::flush;
    return;
  }
  if (!r.metrics) {
    out << "(no labels)\n";
    return;
  }
  const auto& m = *r.metrics;
  std::snprintf(line, sizeof line, "loss %.4f   accuracy %.4f   macro-F1 %.4f   weighted-F1 %.4f\n", r.loss, m.accuracy, m.macro_f1,
                m.weighted_f1);
  out << line << "\nconfusion matrix (rows = true label, columns = predicted):\n";
  std::size_t width = 6;
  for (const auto& n : m.label_names) width = std::max(width, n.size() + 1);
  for (const auto& row : m.confusion)
    for (const auto v : row) width = std::max(width, std::to_string(v).size() + 1);
  const auto name = [&](std::size_t i) { return i < m.label_names.size() ? m.label_names[i] : std::to_string(i); };
  out << std::string(width, ' ');
  for (std::size_t j = 0; j < m.num_labels; ++j) out << std::string(width - name(j).size(), ' ') << name(j);
  out << '\n';
  for (std::size_t i = 0; i < m.num_labels; ++i) {
    out << std::string(width - name(i).size(), ' ') << name(i);
    for (std::size_t j = 0; j < m.num_labels; ++j) {
      const auto v = std::to_string(m.confusion[i][j]);
      out << std::string(width - v.size(), ' ') << v;
    }
    out << '\n';
  }
  out << '\n' << m.report(4) << std::flush;
}

nlohmann::json metrics_json(const EvalResult& r) {
  nlohmann::json j;
  j["num_examples"] = r.num_examples;
  j["problem_type"] = std::string(to_string(r.problem_type));
  if (r.has_loss) j["loss"] = r.loss;
  // NaN (a correlation of constant values) has no JSON form: null, as Python's json writes NaN.
  const auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  if (r.regression_metrics) {
    for (const auto& [k, v] : r.regression_metrics->summary()) j[k] = number(v);
    // Predicted against true values for the report's scatter plot: every row, or 2000 evenly spaced ones.
    const std::size_t n = r.targets.size();
    const std::size_t stride = std::max<std::size_t>(1, (n + 1999) / 2000);
    nlohmann::json truth = nlohmann::json::array(), predicted = nlohmann::json::array();
    for (std::size_t i = 0; i < n && i < r.logits.data.size(); i += stride) {
      truth.push_back(r.targets[i]);
      predicted.push_back(r.logits.data[i]);
    }
    j["points"] = {{"true", std::move(truth)}, {"predicted", std::move(predicted)}};
  }
  if (r.multi_label_metrics) {
    const auto& m = *r.multi_label_metrics;
    for (const auto& [k, v] : m.summary()) j[k] = number(v);
    j["threshold"] = m.threshold;
    j["label_names"] = m.label_names;
    nlohmann::json per_label = nlohmann::json::array();
    for (std::size_t i = 0; i < m.per_label.size(); ++i) {
      const auto& c = m.per_label[i];
      per_label.push_back({{"label", i < m.label_names.size() ? m.label_names[i] : std::to_string(i)},
                           {"precision", c.precision}, {"recall", c.recall}, {"f1", c.f1}, {"support", c.support}});
    }
    j["per_class"] = std::move(per_label);
  }
  if (r.metrics) {
    for (const auto& [k, v] : r.metrics->summary()) j[k] = v;
    j["confusion_matrix"] = r.metrics->confusion;
    j["label_names"] = r.metrics->label_names;
    nlohmann::json per_class = nlohmann::json::array();
    for (std::size_t i = 0; i < r.metrics->per_class.size(); ++i) {
      const auto& c = r.metrics->per_class[i];
      per_class.push_back({{"label", i < r.metrics->label_names.size() ? r.metrics->label_names[i] : std::to_string(i)},
                           {"precision", c.precision}, {"recall", c.recall}, {"f1", c.f1}, {"support", c.support}});
    }
    j["per_class"] = std::move(per_class);
  }
  return j;
}

}  // namespace ftlib::cli
