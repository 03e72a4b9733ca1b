#pragma once
// The weights file of a checkpoint directory, whatever its format: model.safetensors (preferred, as
// transformers prefers it) or pytorch_model.bin (torch.save's zip, read without executing anything).
// Loaders read tensors through this one type.

#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include "ftlib/core/error.hpp"
#include "ftlib/core/host_tensor.hpp"
#include "ftlib/hf/pytorch_checkpoint.hpp"
#include "ftlib/hf/safetensors.hpp"

namespace ftlib::hf {

/// @brief An open weights file (safetensors or pytorch_model.bin) with the read interface both share.
class CheckpointWeights {
 public:
  /// @brief The weights of checkpoint directory `dir`: model.safetensors when present, else
  ///        pytorch_model.bin; io_error naming the directory when it has neither (or only shards).
  [[nodiscard]] static CheckpointWeights open_directory(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists(dir / "model.safetensors", ec)) return CheckpointWeights(SafetensorsFile::open(dir / "model.safetensors"));
    if (fs::exists(dir / "pytorch_model.bin", ec)) return CheckpointWeights(PytorchCheckpointFile::open(dir / "pytorch_model.bin"));
    for (const char* index : {"model.safetensors.index.json", "pytorch_model.bin.index.json"}) {
      if (fs::exists(dir / index, ec))
        throw io_error(dir / index, "a sharded checkpoint: ftlib reads single-file checkpoints only (model.safetensors "
                                    "or pytorch_model.bin); merge the shards, e.g. with transformers' save_pretrained("
                                    "max_shard_size=\"100GB\")");
    }
    throw io_error(dir / "model.safetensors", "not found, nor pytorch_model.bin (expected a HuggingFace checkpoint directory)");
  }
  /// @brief A safetensors file.
  explicit CheckpointWeights(SafetensorsFile file) : file_(std::move(file)) {}
  /// @brief A pytorch_model.bin file.
  explicit CheckpointWeights(PytorchCheckpointFile file) : file_(std::move(file)) {}

  /// @brief "safetensors" or "pytorch_model.bin".
  [[nodiscard]] std::string_view format() const noexcept {
    return std::holds_alternative<SafetensorsFile>(file_) ? "safetensors" : "pytorch_model.bin";
  }
  /// @brief The file's path.
  [[nodiscard]] const std::filesystem::path& path() const noexcept {
    return std::visit([](const auto& f) -> const std::filesystem::path& { return f.path(); }, file_);
  }
  /// @brief Every tensor (name, dtype, shape).
  [[nodiscard]] const std::vector<TensorInfo>& tensors() const noexcept {
    return std::visit([](const auto& f) -> const std::vector<TensorInfo>& { return f.tensors(); }, file_);
  }
  /// @brief Whether a tensor of that name exists.
  [[nodiscard]] bool contains(std::string_view name) const {
    return std::visit([&](const auto& f) { return f.contains(name); }, file_);
  }
  /// @brief The entry of `name`; tensor_error when absent.
  [[nodiscard]] const TensorInfo& info(std::string_view name) const {
    return std::visit([&](const auto& f) -> const TensorInfo& { return f.info(name); }, file_);
  }
  /// @brief The floating tensor `name` as float32.
  [[nodiscard]] HostTensor to_float32(std::string_view name) const {
    return std::visit([&](const auto& f) { return f.to_float32(name); }, file_);
  }
  /// @brief safetensors' __metadata__ (empty for pytorch_model.bin).
  [[nodiscard]] std::map<std::string, std::string> metadata() const {
    if (const auto* st = std::get_if<SafetensorsFile>(&file_)) return st->metadata();
    return {};
  }
  /// @brief Converts `name` to float32 into `out` (size numel).
  void copy_float32(std::string_view name, std::span<float> out) const {
    std::visit([&](const auto& f) { f.copy_float32(name, out); }, file_);
  }

 private:
  std::variant<SafetensorsFile, PytorchCheckpointFile> file_;
};

}  // namespace ftlib::hf
