#pragma once
// Named parameters of the Eigen models: value + gradient tensors under HuggingFace state_dict names,
// transformers' initialisation, gradient clipping, and loading/saving them as safetensors.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ftlib/backends/eigen/tensor.hpp"
#include "ftlib/core/batch.hpp"
#include "ftlib/core/host_tensor.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/io/atomic_file.hpp"
#include "ftlib/hf/checkpoint.hpp"
#include "ftlib/hf/safetensors.hpp"
#include "ftlib/models/model_concept.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace ftlib::eigen {

/// @brief Sets the most threads the Eigen backend's OpenMP loops and split products use (small loops
///        still run on one thread, see detail::threads_for); 0 keeps the default (OMP_NUM_THREADS, else
///        every core). Eigen's own GEMM threading stays off (detail::use_own_threading).
inline void set_num_threads(int threads) {
  if (threads <= 0) return;
  detail::use_own_threading();
#if defined(_OPENMP)
  omp_set_num_threads(threads);
#endif
}

/// @brief How transformers initialises a parameter that a checkpoint does not provide.
enum class ParamInit {
  normal,  ///< N(0, initializer_range): Linear and Embedding weights (padding row 0 for embeddings)
  zeros,   ///< biases, LayerNorm bias
  ones,    ///< LayerNorm weight
  fixed,   ///< computed once (DistilBERT's sinusoidal table); never trained
};

/// @brief One named parameter: handles to its value and gradient storage.
template <class S>
struct Param {
  std::string name;             ///< HuggingFace state_dict name
  BasicTensor<S> value;         ///< the weights
  BasicTensor<S> grad;          ///< accumulated gradient, same shape
  ParamInit init = ParamInit::normal;  ///< transformers' init rule for it
  bool trainable = true;        ///< false for fixed tables (no gradient, no optimizer update)
  std::int64_t padding_row = -1;  ///< embedding row zeroed at init (padding_idx), -1 for none
};

/// @brief y = x W^T + b parameters.
template <class S>
struct LinearParams {
  Param<S> weight;  ///< [out, in]
  Param<S> bias;    ///< [out]
};

/// @brief LayerNorm parameters.
template <class S>
struct LayerNormParams {
  Param<S> weight;  ///< [dim]
  Param<S> bias;    ///< [dim]
};

/// @brief Every parameter of a model, in registration order (the order of HF's state_dict). This is the
///        backend's parameter registry: checkpoint loading matches files against what was registered here.
template <class S>
class ParameterStore {
 public:
  /// @brief A store that allocates what is registered, or (allocate = false) records names and shapes only.
  explicit ParameterStore(bool allocate = true) : allocate_(allocate) {}

  /// @brief Registers a parameter (zero value and gradient, unless the store only records shapes) and
  ///        returns handles to it.
  Param<S> add(std::string name, std::vector<std::int64_t> shape, ParamInit init, std::int64_t padding_row = -1) {
    if (index_.contains(name)) throw tensor_error("parameter '" + name + "' registered twice");
    const bool trainable = init != ParamInit::fixed;
    expected_.push_back(hf::ExpectedParameter{name, shape, trainable});
    Param<S> p{name, allocate_ ? BasicTensor<S>(shape) : BasicTensor<S>(), allocate_ ? BasicTensor<S>(shape) : BasicTensor<S>(),
               init, trainable, padding_row};
    index_.emplace(std::move(name), params_.size());
    params_.push_back(p);
    return p;
  }
  /// @brief Whether registered parameters get storage (false: names and shapes only).
  [[nodiscard]] bool allocates() const noexcept { return allocate_; }
  /// @brief Every registered parameter's name, shape and trainability, registration order.
  [[nodiscard]] const std::vector<hf::ExpectedParameter>& expected() const noexcept { return expected_; }
  /// @brief `prefix.weight` [out, in] and `prefix.bias` [out].
  LinearParams<S> add_linear(const std::string& prefix, std::int64_t in, std::int64_t out) {
    return {add(prefix + ".weight", {out, in}, ParamInit::normal), add(prefix + ".bias", {out}, ParamInit::zeros)};
  }
  /// @brief `prefix.weight` (ones) and `prefix.bias` (zeros), [dim].
  LayerNormParams<S> add_layer_norm(const std::string& prefix, std::int64_t dim) {
    return {add(prefix + ".weight", {dim}, ParamInit::ones), add(prefix + ".bias", {dim}, ParamInit::zeros)};
  }

  /// @brief Every parameter, registration order.
  [[nodiscard]] const std::vector<Param<S>>& all() const noexcept { return params_; }
  /// @brief The parameter called `name`, or nullptr.
  [[nodiscard]] const Param<S>* find(std::string_view name) const {
    const auto it = index_.find(std::string(name));
    return it == index_.end() ? nullptr : &params_[it->second];
  }
  /// @brief The parameter called `name`; tensor_error when absent.
  [[nodiscard]] const Param<S>& at(std::string_view name) const {
    const auto* p = find(name);
    if (p == nullptr) throw tensor_error("the model has no parameter '" + std::string(name) + "'");
    return *p;
  }

  /// @brief transformers' init of the named parameters (all when `names` is empty): normal(0, std) weights
  ///        with the padding row zeroed, zero biases, LayerNorm weight 1; fixed tables are left alone.
  void initialize(std::mt19937_64& gen, double std, const std::vector<std::string>& names = {}) {
    std::normal_distribution<double> normal(0.0, std);
    for (auto& p : params_) {
      if (!names.empty() && std::find(names.begin(), names.end(), p.name) == names.end()) continue;
      S* d = p.value.data();
      switch (p.init) {
        case ParamInit::normal:
          for (std::int64_t i = 0; i < p.value.numel(); ++i) d[i] = static_cast<S>(normal(gen));
          if (p.padding_row >= 0 && p.padding_row < p.value.size(0)) p.value.matrix().row(p.padding_row).setZero();
          break;
        case ParamInit::zeros: p.value.set_zero(); break;
        case ParamInit::ones: p.value.array().setOnes(); break;
        case ParamInit::fixed: break;
      }
    }
  }

  /// @brief Sets every gradient to zero.
  void zero_grad() {
    for (auto& p : params_) p.grad.set_zero();
  }

  /// @brief torch.nn.utils.clip_grad_norm_ (L2): total = ||all grads||; when max_norm / (total + 1e-6) < 1,
  ///        every gradient is scaled by it. Returns the total norm before clipping.
  double clip_grad_norm(double max_norm) {
    double sum = 0.0;
    for (const auto& p : params_) {
      if (!p.trainable) continue;
      sum += p.grad.vector().template cast<double>().squaredNorm();
    }
    const double total = std::sqrt(sum);
    const double coef = max_norm / (total + 1e-6);
    if (coef < 1.0)
      for (auto& p : params_)
        if (p.trainable) p.grad.array() *= static_cast<S>(coef);
    return total;
  }

  /// @brief The optimizer's view: every parameter, fixed ones with has_grad = false (AdamW skips them).
  [[nodiscard]] std::vector<ParameterRef<BasicTensor<S>>> refs() const {
    std::vector<ParameterRef<BasicTensor<S>>> out;
    out.reserve(params_.size());
    for (const auto& p : params_) out.push_back({p.name, p.value, p.grad, p.trainable});
    return out;
  }

  /// @brief Every value as a float host tensor, by name (what model.safetensors holds).
  [[nodiscard]] std::map<std::string, HostTensor> state_dict() const {
    std::map<std::string, HostTensor> out;
    for (const auto& p : params_) out.emplace(p.name, p.value.to_host());
    return out;
  }

  /// @brief Copies the tensors a load plan (hf::plan_checkpoint_load: transformers' matching of names,
  ///        base-model prefix, shape checks) takes from `file` into the parameters, converting to S.
  template <class File>
  void load(const File& file, const hf::LoadReport& plan) {
    for (const auto& t : plan.loaded) {
      const auto it = index_.find(t.name);
      if (it == index_.end()) throw tensor_error("the model has no parameter '" + t.name + "' to load into");
      Param<S>& p = params_[it->second];
      if (file.info(t.checkpoint_name).shape != p.value.shape())
        throw tensor_error(SourceLocation{file.path().string(), {}, {}},
                           "tensor '" + t.checkpoint_name + "' has shape " +
                               hf::shape_to_string(file.info(t.checkpoint_name).shape) + ", the model expects " +
                               hf::shape_to_string(p.value.shape()) + " for '" + t.name + "'");
      if constexpr (std::is_same_v<S, float>) {
        file.copy_float32(t.checkpoint_name, std::span<float>(p.value.data(), static_cast<std::size_t>(p.value.numel())));
      } else {
        p.value.copy_from(BasicTensor<S>::from_host(file.to_float32(t.checkpoint_name)));
      }
    }
  }

 private:
  bool allocate_ = true;
  std::vector<Param<S>> params_;
  std::vector<hf::ExpectedParameter> expected_;
  std::map<std::string, std::size_t, std::less<>> index_;
};

namespace detail {

/// @brief Writes config.json and model.safetensors into `dir`, each atomically, keeping other files there
///        (tokenizer files); a new `dir` appears complete (io::write_into_directory).
template <class Config>
void save_checkpoint(const std::filesystem::path& dir, const Config& config,
                     const std::map<std::string, HostTensor>& tensors) {
  io::write_into_directory(dir, [&](const std::filesystem::path& target) {
    hf::save_safetensors(target / "model.safetensors", tensors, hf::transformers_metadata());
    config.save(target / "config.json");
  });
}

/// @brief Checks a batch against a model's limits; tensor_error naming the field and what was expected.
inline void check_batch(const Batch& batch, std::int64_t max_positions, bool needs_labels) {
  const std::int64_t n = batch.batch_size * batch.seq_len;
  if (batch.batch_size <= 0 || batch.seq_len <= 0)
    throw tensor_error("batch: batch_size and seq_len must be positive, got " + std::to_string(batch.batch_size) +
                       " x " + std::to_string(batch.seq_len));
  const auto check_size = [&](const std::vector<std::int64_t>& v, const char* field, bool optional) {
    if (optional && v.empty()) return;
    if (static_cast<std::int64_t>(v.size()) != n)
      throw tensor_error(std::string("batch: ") + field + " holds " + std::to_string(v.size()) + " values, expected " +
                         std::to_string(batch.batch_size) + " x " + std::to_string(batch.seq_len) + " = " +
                         std::to_string(n));
  };
  check_size(batch.input_ids, "input_ids", false);
  check_size(batch.attention_mask, "attention_mask", true);
  check_size(batch.token_type_ids, "token_type_ids", true);
  if (batch.seq_len > max_positions)
    throw tensor_error("batch: seq_len " + std::to_string(batch.seq_len) + " exceeds max_position_embeddings " +
                       std::to_string(max_positions) + " of the model (truncate the inputs)");
  // The labels' form and values are the loss's to check (LossSpec::check_labels).
  if (needs_labels && !batch.has_labels())
    throw tensor_error("batch: forward_backward needs labels, the batch has none");
}

/// @brief The attention mask of a batch, all ones when the batch has none.
inline std::vector<std::int64_t> attention_mask_of(const Batch& batch) {
  if (!batch.attention_mask.empty()) return batch.attention_mask;
  return std::vector<std::int64_t>(static_cast<std::size_t>(batch.batch_size * batch.seq_len), 1);
}

}  // namespace detail

}  // namespace ftlib::eigen
