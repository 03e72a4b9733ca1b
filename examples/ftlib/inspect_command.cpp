// `ftlib inspect DIR|MODEL_ID`: what a checkpoint directory holds, from config.json and the
// weights file's header alone (no weights read; the parameter registry comes from the Eigen module): architecture, sizes, labels, parameter
// counts by dtype, how it would load into a sequence classifier, and which tokenizer files exist.

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "backend_module.hpp"
#include "commands.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/arch/registry.hpp"
#include "ftlib/hf/checkpoint.hpp"
#include "ftlib/hf/checkpoint_weights.hpp"
#include "ftlib/arch/model_config.hpp"
#include "ftlib/io/json_file.hpp"
#include "ftlib/models/pretrained.hpp"
#include "ftlib/hf/hub.hpp"
#include "ftlib/hf/safetensors.hpp"

namespace ftlib::cli {
namespace {

struct InspectArgs {
  std::string model;
  bool json = false;
  bool tensors = false;
};

struct DTypeCount {
  std::int64_t tensors = 0;
  std::int64_t parameters = 0;
  std::uint64_t bytes = 0;
};

/// "52,421"
std::string grouped(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string human_bytes(std::uint64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes);
  int u = 0;
  while (value >= 1000.0 && u < 4) {
    value /= 1000.0;
    ++u;
  }
  std::ostringstream out;
  out.precision(u == 0 ? 0 : 1);
  out << std::fixed << value << ' ' << units[u];
  return out.str();
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

// The parameters a classifier of this config registers, from a backend's own registry (the Eigen
// module reads it without allocating weights); error when no backend module offers it.
std::vector<hf::ExpectedParameter> registered_parameters(const nlohmann::json& config, const std::filesystem::path& source) {
  for (const char* backend : {"eigen", "libtorch"}) {
    if (!has_backend_module(backend)) continue;
    const auto& module = backend_module(backend);
    if (module.expected_parameters != nullptr) return module.expected_parameters(config, source);
  }
  throw error("no backend module of this ftlib lists a classifier's parameters (the eigen module does)");
}

nlohmann::json report_json(const hf::LoadReport& r) {
  nlohmann::json mismatched = nlohmann::json::array();
  for (const auto& m : r.mismatched) {
    mismatched.push_back({{"name", m.name}, {"expected_shape", m.expected_shape}, {"file_shape", m.file_shape}});
  }
  return {{"loaded", r.loaded.size()},
          {"missing_keys", r.missing_keys},
          {"unexpected_keys", r.unexpected_keys},
          {"mismatched", mismatched}};
}

template <class Arch>
void describe(const std::filesystem::path& dir, const arch::ModelConfig<Arch>& config, const nlohmann::json& raw_config,
              const InspectArgs& args) {
  std::optional<hf::CheckpointWeights> weights;
  if (std::filesystem::exists(dir / "model.safetensors") || std::filesystem::exists(dir / "pytorch_model.bin"))
    weights = hf::CheckpointWeights::open_directory(dir);

  std::map<std::string, DTypeCount> dtypes;
  std::int64_t parameters = 0;
  if (weights) {
    for (const auto& t : weights->tensors()) {
      auto& d = dtypes[std::string(hf::dtype_name(t.dtype))];
      ++d.tensors;
      d.parameters += t.numel();
      d.bytes += static_cast<std::uint64_t>(t.numel()) * hf::dtype_size(t.dtype);
      parameters += t.numel();
    }
  }
  std::optional<hf::LoadReport> report;
  std::string report_error;
  if (weights) {
    try {
      report = plan_pretrained_load<Arch>(registered_parameters(raw_config, dir / "config.json"), *weights,
                                          /*ignore_mismatched_sizes=*/true);
    } catch (const ftlib::error& e) {
      report_error = e.what();
    }
  }
  const std::vector<std::string> tokenizer_candidates{"vocab.txt",       "spiece.model",           "tokenizer.json",
                                                      "tokenizer_config.json", "special_tokens_map.json",
                                                      "added_tokens.json"};
  std::vector<std::string> tokenizer_files;
  for (const auto& f : tokenizer_candidates) {
    if (std::filesystem::is_regular_file(dir / f)) tokenizer_files.push_back(f);
  }

  if (args.json) {
    nlohmann::json out;
    out["directory"] = dir.string();
    out["model_type"] = Arch::model_type;
    out["architectures"] = config.architectures;
    out["config"] = raw_config;  // as stored: to_json() would normalise torch_dtype
    out["labels"] = config.labels.id2label;
    out["num_labels"] = config.num_labels();
    out["weights"] = weights ? nlohmann::json(weights->path().string()) : nlohmann::json(nullptr);
    out["num_tensors"] = weights ? weights->tensors().size() : 0;
    out["num_parameters"] = parameters;
    nlohmann::json d = nlohmann::json::object();
    for (const auto& [name, c] : dtypes) d[name] = {{"tensors", c.tensors}, {"parameters", c.parameters}, {"bytes", c.bytes}};
    out["dtypes"] = d;
    out["metadata"] = weights ? nlohmann::json(weights->metadata()) : nlohmann::json::object();
    if (report) out["classifier_load"] = report_json(*report);
    if (!report_error.empty()) out["classifier_load_error"] = report_error;
    out["tokenizer_files"] = tokenizer_files;
    if (args.tensors && weights) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& t : weights->tensors()) list.push_back({{"name", t.name}, {"dtype", hf::dtype_name(t.dtype)}, {"shape", t.shape}});
      out["tensors"] = list;
    }
    std::cout << out.dump(2) << '\n';
    return;
  }

  const auto row = [](const std::string& key, const std::string& value) {
    std::cout << key << std::string(key.size() < 20 ? 20 - key.size() : 1, ' ') << value << '\n';
  };
  row("directory", dir.string());
  row("model type", std::string(Arch::model_type));
  row("architectures", config.architectures.empty() ? "(none)" : join(config.architectures, ", "));
  row("sizes", config.arch.summary());
  std::vector<std::string> labels;
  for (std::size_t i = 0; i < config.labels.id2label.size(); ++i) labels.push_back(std::to_string(i) + "=" + config.labels.id2label[i]);
  row("labels (" + std::to_string(config.num_labels()) + ")", join(labels, ", "));
  if (!config.labels.problem_type.empty()) row("problem type", config.labels.problem_type);
  if (weights) {
    std::uint64_t bytes = 0;
    for (const auto& [name, c] : dtypes) bytes += c.bytes;
    row("weights", weights->path().filename().string() + ": " + std::to_string(weights->tensors().size()) + " tensors, " + grouped(parameters) +
                       " parameters, " + human_bytes(bytes));
    std::vector<std::string> parts;
    for (const auto& [name, c] : dtypes) {
      parts.push_back(name + ": " + std::to_string(c.tensors) + " tensors, " + grouped(c.parameters) + " parameters");
    }
    row("dtypes", join(parts, "; "));
    if (!weights->metadata().empty()) {
      std::vector<std::string> meta;
      for (const auto& [k, v] : weights->metadata()) meta.push_back(k + "=" + v);
      row("metadata", join(meta, ", "));
    }
  } else {
    row("weights", "no model.safetensors or pytorch_model.bin");
  }
  const std::string cls(Arch::classifier_architecture);
  if (report) {
    if (report->complete()) {
      row("as classifier", "loads completely into " + cls);
    } else {
      row("as classifier", "loading into " + cls + " (" + std::to_string(config.num_labels()) + " labels): " +
                               std::to_string(report->loaded.size()) + " loaded, " +
                               std::to_string(report->missing_keys.size()) + " newly initialised, " +
                               std::to_string(report->unexpected_keys.size()) + " unused, " +
                               std::to_string(report->mismatched.size()) + " shape mismatches");
      if (!report->missing_keys.empty()) row("  newly initialised", join(report->missing_keys, ", "));
      if (!report->unexpected_keys.empty()) row("  unused", join(report->unexpected_keys, ", "));
      for (const auto& m : report->mismatched) {
        row("  mismatch", m.name + ": file " + hf::shape_to_string(m.file_shape) + ", model " + hf::shape_to_string(m.expected_shape));
      }
    }
  } else if (!report_error.empty()) {
    row("as classifier", "cannot load: " + report_error);
  }
  row("tokenizer files", tokenizer_files.empty() ? "(none)" : join(tokenizer_files, ", "));
  if (args.tensors && weights) {
    std::cout << "tensors:\n";
    for (const auto& t : weights->tensors()) {
      std::cout << "  " << t.name << "  " << hf::dtype_name(t.dtype) << ' ' << hf::shape_to_string(t.shape) << '\n';
    }
  }
}

void run_inspect(const InspectArgs& args) {
  hf::HubOptions options;
  const auto dir = hf::resolve_pretrained(args.model, options);
  const auto config_path = dir / "config.json";
  if (!std::filesystem::exists(config_path)) throw io_error(config_path, "not found (is this a model directory?)");
  const auto raw = io::read_json_file(config_path);
  arch::visit_architecture(arch::model_type_of(raw, config_path), [&](auto a) {
    using Arch = typename decltype(a)::type;
    describe(dir, arch::ModelConfig<Arch>::from_json(raw, config_path), raw, args);
  });
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  auto* cmd = app.add_subcommand("inspect", "Describe a checkpoint directory (or hub model id): architecture, "
                                            "sizes, labels, parameters by dtype, tokenizer files");
  cmd->add_option("model", args->model, "Checkpoint directory, or a HuggingFace model id (cache, then download)")
      ->required();
  cmd->add_flag("--json", args->json, "Print one JSON object instead of text");
  cmd->add_flag("--tensors", args->tensors, "Also list every tensor (name, dtype, shape)");
  cmd->callback([args] { run_inspect(*args); });
}

}  // namespace ftlib::cli
