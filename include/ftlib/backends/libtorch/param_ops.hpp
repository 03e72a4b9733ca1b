#pragma once
// ParamOps<torch::Tensor>: the element-wise operations the shared AdamW needs, as in-place torch
// ops (the same ops, in the same order, as torch.optim.AdamW's single-tensor path), plus a fused
// one-pass adamw_step for contiguous float32 CPU tensors.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/types.h>

#include "ftlib/core/batch.hpp"
#include "ftlib/core/host_tensor.hpp"
#include "ftlib/core/error.hpp"
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
  /// @brief True when adamw_step(p, g, m, v, ...) takes the one-pass kernel: all four are dense,
  ///        contiguous float32 CPU tensors with p's shape. Anything else (CUDA, other dtypes, views
  ///        with strides) takes adamw_step_op_by_op.
  static bool fuses_adamw_step(const torch::Tensor& p, const torch::Tensor& g, const torch::Tensor& m,
                               const torch::Tensor& v) {
    const auto fusable = [&](const torch::Tensor& t) {
      return t.defined() && t.layout() == torch::kStrided && t.is_cpu() && t.scalar_type() == torch::kFloat &&
             t.is_contiguous() && t.sizes() == p.sizes();
    };
    return fusable(p) && fusable(g) && fusable(m) && fusable(v);
  }
  /// @brief One AdamW update (see adamw_step_op_by_op) in one pass over the elements, on ATen's
  ///        threads; elsewhere adamw_step_op_by_op. Per element it keeps torch's operations, their order
  ///        and their roundings. Where ATen's kernels and this code disagree on fusing a multiply-add
  ///        into an FMA (ATen's AVX2 lerp_ uses one; a build without -mfma cannot), a value can differ
  ///        from the op-by-op form in the last bit; built with FMA (-march=native on x86-64) it matched
  ///        bit for bit in our tests.
  static void adamw_step(torch::Tensor& p, const torch::Tensor& g, torch::Tensor& m, torch::Tensor& v,
                         const AdamWStepScalars& s) {
    const torch::NoGradGuard no_grad;
    if (!fuses_adamw_step(p, g, m, v)) {
      adamw_step_op_by_op(p, g, m, v, s);
      return;
    }
    // Scalars rounded to float as torch rounds a Scalar argument of a float32 op.
    const Float32Step f{static_cast<float>(s.decay),       static_cast<float>(1.0 - s.beta1),
                        static_cast<float>(s.beta2),       static_cast<float>(1.0 - s.beta2),
                        static_cast<float>(-s.step_size),  static_cast<float>(s.bias_correction2_sqrt),
                        static_cast<float>(s.eps)};
    float* const pp = p.data_ptr<float>();
    const float* const gp = g.data_ptr<float>();
    float* const mp = m.data_ptr<float>();
    float* const vp = v.data_ptr<float>();
    at::parallel_for(0, p.numel(), kAdamWGrain, [=](std::int64_t begin, std::int64_t end) {
      for (std::int64_t lo = begin; lo < end; lo += detail::kAdamWBlock)
        adamw_block(pp + lo, gp + lo, mp + lo, vp + lo, std::min(detail::kAdamWBlock, end - lo), f);
    });
    // Writes through data pointers bypass the version counter the in-place ops bump; bump it so that
    // autograd still refuses a graph that saved p before this step.
    torch::autograd::impl::bump_version(p);
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
  /// ATen's own element-wise grain (at::internal::GRAIN_SIZE): smaller tensors stay on the calling thread.
  static constexpr std::int64_t kAdamWGrain = 32768;

  struct Float32Step {
    float decay, w1, beta2, w2, neg_step, bias_correction2_sqrt, eps;
  };

  /// n <= kAdamWBlock elements; the per-element formulas of mul_, lerp_, mul_ + addcmul_, sqrt, div,
  /// add_ and addcdiv_ (ATen's CPU kernels), in that order.
  static void adamw_block(float* __restrict p, const float* __restrict g, float* __restrict m,
                          float* __restrict v, std::int64_t n, const Float32Step& f) {
    alignas(64) float denom[detail::kAdamWBlock];
    // The products torch rounds before its next op (p * decay, v * beta2) are stored in this loop, not
    // in the one that adds to them, where the compiler could contract them into an FMA.
    if (std::abs(f.w1) < 0.5F) {  // lerp's two forms, chosen by the weight as in ATen
      for (std::int64_t i = 0; i < n; ++i) {
        p[i] = p[i] * f.decay;
        m[i] = m[i] + f.w1 * (g[i] - m[i]);
        v[i] = v[i] * f.beta2;
      }
    } else {
      const float one_minus_w1 = 1.0F - f.w1;
      for (std::int64_t i = 0; i < n; ++i) {
        p[i] = p[i] * f.decay;
        m[i] = g[i] - (g[i] - m[i]) * one_minus_w1;
        v[i] = v[i] * f.beta2;
      }
    }
    for (std::int64_t i = 0; i < n; ++i) {
      v[i] = v[i] + f.w2 * g[i] * g[i];
      denom[i] = v[i];
    }
    detail::sqrt_in_place(denom, n);
    for (std::int64_t i = 0; i < n; ++i) p[i] = p[i] + f.neg_step * m[i] / (denom[i] / f.bias_correction2_sqrt + f.eps);
  }

  static std::string shape_string(const torch::Tensor& t) {
    std::string out = "[";
    for (std::int64_t i = 0; i < t.dim(); ++i) out += (i ? ", " : "") + std::to_string(t.size(i));
    return out + "]";
  }
};

}  // namespace ftlib
