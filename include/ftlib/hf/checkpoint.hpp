#pragma once
// Backend-free planning of "load this checkpoint into that classifier", as transformers'
// from_pretrained does it: which model parameters come from which checkpoint tensors, which are
// missing (to be freshly initialised), which checkpoint tensors go unused, and shape mismatches.
// The expected parameters come from the backend's own module tree (what it registered), never from
// a second list kept here.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ftlib/core/error.hpp"
#include "ftlib/hf/safetensors.hpp"

namespace ftlib::hf {

/// @brief A parameter a model expects, under its HuggingFace state_dict name.
struct ExpectedParameter {
  std::string name;                 ///< e.g. "distilbert.transformer.layer.0.attention.q_lin.weight"
  std::vector<std::int64_t> shape;  ///< torch shape (Linear weights are [out, in])
  bool trainable = true;            ///< false for DistilBERT's fixed sinusoidal position table
};

/// @brief One model parameter found in the checkpoint.
struct LoadedTensor {
  std::string name;             ///< model name
  std::string checkpoint_name;  ///< tensor name in the file (differs when the base-model prefix is added/removed)
};

/// @brief A parameter whose checkpoint tensor has another shape.
struct ShapeMismatch {
  std::string name;                          ///< model name
  std::string checkpoint_name;               ///< tensor name in the file
  std::vector<std::int64_t> expected_shape;  ///< the model's shape
  std::vector<std::int64_t> file_shape;      ///< the checkpoint's shape
};

/// @brief What loading a checkpoint into a model does, in transformers' terms.
struct LoadReport {
  std::vector<LoadedTensor> loaded;          ///< parameters to copy from the file, in model order
  std::vector<std::string> missing_keys;     ///< model names absent from the file (sorted): initialise freshly
  std::vector<std::string> unexpected_keys;  ///< file names the model does not use (sorted)
  std::vector<ShapeMismatch> mismatched;     ///< only with ignore_mismatched_sizes; initialise freshly too

  /// @brief True when every parameter was loaded and every tensor used.
  [[nodiscard]] bool complete() const noexcept {
    return missing_keys.empty() && unexpected_keys.empty() && mismatched.empty();
  }
  /// @brief Whether `name` (a model name) is loaded from the file.
  [[nodiscard]] bool is_loaded(std::string_view name) const {
    return std::any_of(loaded.begin(), loaded.end(), [&](const LoadedTensor& t) { return t.name == name; });
  }
};

/// @brief Options of plan_checkpoint_load.
struct LoadOptions {
  std::string base_model_prefix;         ///< "distilbert" / "albert": lets base-model checkpoints load into heads
  bool ignore_mismatched_sizes = false;  ///< transformers' flag: report mismatches instead of throwing
};

namespace detail {

inline bool starts_with_prefix(std::string_view name, std::string_view prefix) {
  return !prefix.empty() && name.size() > prefix.size() && name.starts_with(prefix) && name[prefix.size()] == '.';
}

/// @brief A checkpoint name as transformers reads it: TensorFlow-era LayerNorm names (bert-base-uncased's
///        own files) `X.gamma` / `X.beta` are renamed to `X.weight` / `X.bias` on load.
inline std::string modern_name(std::string_view name) {
  if (name.ends_with(".gamma")) return std::string(name.substr(0, name.size() - 6)) + ".weight";
  if (name.ends_with(".beta")) return std::string(name.substr(0, name.size() - 5)) + ".bias";
  return std::string(name);
}

/// @brief Buffers transformers never reports as unexpected (non-persistent in current code,
///        but present in checkpoints written by older versions).
inline bool is_ignored_buffer(std::string_view name) {
  return name.ends_with("embeddings.position_ids");
}

}  // namespace detail

/// @brief Matches `expected` against the tensors of `file` (a SafetensorsFile, PytorchCheckpointFile or
///        CheckpointWeights) as transformers' from_pretrained does.
///
/// With a base_model_prefix: a checkpoint whose names lack the prefix (saved from a base model)
/// loads into a model whose names have it, and the other way round. A shape mismatch is a
/// tensor_error naming the tensor, both shapes and the file, unless ignore_mismatched_sizes.
template <class File>
[[nodiscard]] LoadReport plan_checkpoint_load(std::span<const ExpectedParameter> expected, const File& file,
                                              const LoadOptions& options = {}) {
  const std::string_view prefix = options.base_model_prefix;
  const bool file_has_prefix = std::any_of(file.tensors().begin(), file.tensors().end(), [&](const TensorInfo& t) {
    return detail::starts_with_prefix(t.name, prefix);
  });
  const bool model_has_prefix = std::any_of(expected.begin(), expected.end(), [&](const ExpectedParameter& p) {
    return detail::starts_with_prefix(p.name, prefix);
  });
  const bool strip_model_prefix = !prefix.empty() && model_has_prefix && !file_has_prefix;
  const bool add_model_prefix = !prefix.empty() && !model_has_prefix && file_has_prefix;

  const auto checkpoint_name_of = [&](const std::string& model_name) -> std::string {
    if (strip_model_prefix && detail::starts_with_prefix(model_name, prefix)) return model_name.substr(prefix.size() + 1);
    if (add_model_prefix) return std::string(prefix) + "." + model_name;
    return model_name;
  };

  // Modern name -> name in the file.
  std::unordered_map<std::string, std::string> file_name_of;
  for (const auto& t : file.tensors()) file_name_of.emplace(detail::modern_name(t.name), t.name);

  LoadReport report;
  std::set<std::string> used;
  for (const auto& p : expected) {
    const auto found = file_name_of.find(checkpoint_name_of(p.name));
    if (found == file_name_of.end()) {
      report.missing_keys.push_back(p.name);
      continue;
    }
    const std::string& ckpt = found->second;
    used.insert(ckpt);
    const TensorInfo& t = file.info(ckpt);
    if (t.shape != p.shape) {
      if (!options.ignore_mismatched_sizes) {
        throw tensor_error(SourceLocation{file.path().string(), {}, {}},
                           "tensor '" + ckpt + "' has shape " + shape_to_string(t.shape) + ", the model expects " +
                               shape_to_string(p.shape) + " for '" + p.name +
                               "' (a checkpoint of another size or number of labels? config.json must match the weights)");
      }
      report.mismatched.push_back({p.name, ckpt, p.shape, t.shape});
      continue;
    }
    if (!is_floating(t.dtype)) {
      throw tensor_error(SourceLocation{file.path().string(), {}, {}},
                         "tensor '" + ckpt + "' has integer dtype " + std::string(dtype_name(t.dtype)) +
                             ", the model parameter '" + p.name + "' needs a floating dtype (F32, F16, BF16, F64)");
    }
    report.loaded.push_back({p.name, ckpt});
  }
  for (const auto& t : file.tensors()) {
    if (!used.contains(t.name) && !detail::is_ignored_buffer(t.name)) report.unexpected_keys.push_back(detail::modern_name(t.name));
  }
  std::sort(report.missing_keys.begin(), report.missing_keys.end());
  std::sort(report.unexpected_keys.begin(), report.unexpected_keys.end());
  return report;
}

namespace detail {

inline std::string python_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += ", ";
    out += "'" + items[i] + "'";
  }
  return out + "]";
}

inline std::string torch_size(const std::vector<std::int64_t>& shape) {
  std::string out = "torch.Size([";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "])";
}

}  // namespace detail

/// @brief transformers' warnings for this load ("Some weights of the model checkpoint at ... were not
///        used ...", "... newly initialized: [...]"), or its "All the weights ... were initialized" line.
[[nodiscard]] inline std::string format_load_report(const LoadReport& report, std::string_view model_class,
                                                    const std::filesystem::path& checkpoint) {
  const std::string cls(model_class);
  const std::string at = checkpoint.string();
  std::string out;
  if (!report.unexpected_keys.empty()) {
    out += "Some weights of the model checkpoint at " + at + " were not used when initializing " + cls + ": " +
           detail::python_list(report.unexpected_keys) + "\n";
    out += "- This IS expected if you are initializing " + cls +
           " from the checkpoint of a model trained on another task or with another architecture (e.g. initializing "
           "a BertForSequenceClassification model from a BertForPreTraining model).\n";
    out += "- This IS NOT expected if you are initializing " + cls +
           " from the checkpoint of a model that you expect to be exactly identical (initializing a "
           "BertForSequenceClassification model from a BertForSequenceClassification model).\n";
  }
  if (!report.missing_keys.empty()) {
    out += "Some weights of " + cls + " were not initialized from the model checkpoint at " + at +
           " and are newly initialized: " + detail::python_list(report.missing_keys) + "\n";
  }
  if (!report.mismatched.empty()) {
    out += "Some weights of " + cls + " were not initialized from the model checkpoint at " + at +
           " and are newly initialized because the shapes did not match:\n";
    for (const auto& m : report.mismatched) {
      out += "- " + m.name + ": found shape " + detail::torch_size(m.file_shape) + " in the checkpoint and " +
             detail::torch_size(m.expected_shape) + " in the model instantiated\n";
    }
  }
  if (!report.missing_keys.empty() || !report.mismatched.empty()) {
    out += "You should probably TRAIN this model on a down-stream task to be able to use it for predictions and "
           "inference.\n";
  }
  if (out.empty()) {
    out = "All the weights of " + cls + " were initialized from the model checkpoint at " + at + ".\n";
  }
  return out;
}

}  // namespace ftlib::hf
