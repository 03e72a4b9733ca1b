#pragma once
// ParamOps<torch::Tensor>: the element-wise operations the shared AdamW needs, as in-place torch
// ops (the same ops, in the same order, as torch.optim.AdamW's single-tensor path).

#include <cstring>
#include <string>

#include <torch/types.h>

#include "ftlib/batch.hpp"
#include "ftlib/error.hpp"
#include "ftlib/optim/adamw.hpp"

namespace ftlib {

/// @brief AdamW's parameter operations on torch::Tensor (any device, float dtypes).
template <>
struct ParamOps<torch::Tensor> {
  /// @brief Zeros with t's shape, dtype and device.
  static torch::Tensor zeros_like(const torch::Tensor& t) {
    return torch::zeros_like(t, torch::MemoryFormat::Contiguous);
  }
  /// @brief t *= a.
  static void scale(torch::Tensor& t, double a) {
    const torch::NoGradGuard no_grad;
    t.mul_(a);
  }
  /// @brief t += a * (c - t).
  static void lerp(torch::Tensor& t, const torch::Tensor& c, double a) {
    const torch::NoGradGuard no_grad;
    t.lerp_(c, a);
  }
  /// @brief t = a * t + b * c^2.
  static void scale_add_square(torch::Tensor& t, double a, const torch::Tensor& c, double b) {
    const torch::NoGradGuard no_grad;
    t.mul_(a).addcmul_(c, c, b);
  }
  /// @brief p -= step * m / (sqrt(v) / bias_correction2_sqrt + eps).
  static void adam_update(torch::Tensor& p, const torch::Tensor& m, const torch::Tensor& v, double step,
                          double bias_correction2_sqrt, double eps) {
    const torch::NoGradGuard no_grad;
    const torch::Tensor denom = (v.sqrt() / bias_correction2_sqrt).add_(eps);
    p.addcdiv_(m, denom, -step);
  }
  /// @brief A float32 host copy.
  static HostTensor to_host(const torch::Tensor& t) {
    const torch::Tensor cpu = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
    HostTensor out;
    out.shape.assign(cpu.sizes().begin(), cpu.sizes().end());
    out.data.resize(static_cast<std::size_t>(cpu.numel()));
    if (!out.data.empty()) std::memcpy(out.data.data(), cpu.data_ptr<float>(), out.data.size() * sizeof(float));
    return out;
  }
  /// @brief `host` as a tensor shaped, typed and placed like `like`; throws tensor_error on a size mismatch.
  static torch::Tensor from_host(const HostTensor& host, const torch::Tensor& like) {
    if (host.numel() != like.numel() || static_cast<std::int64_t>(host.data.size()) != like.numel())
      throw tensor_error("cannot restore a tensor of " + std::to_string(host.data.size()) +
                         " elements into one of shape " + shape_string(like) + " (" +
                         std::to_string(like.numel()) + " elements)");
    const torch::Tensor cpu = torch::from_blob(const_cast<float*>(host.data.data()), like.sizes(), torch::kFloat);
    return cpu.to(like.options(), /*non_blocking=*/false, /*copy=*/true).contiguous();
  }

 private:
  static std::string shape_string(const torch::Tensor& t) {
    std::string out = "[";
    for (std::int64_t i = 0; i < t.dim(); ++i) out += (i ? ", " : "") + std::to_string(t.size(i));
    return out + "]";
  }
};

}  // namespace ftlib
