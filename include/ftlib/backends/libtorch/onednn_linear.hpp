#pragma once
// y = x W^T + b for float32 CPU tensors through oneDNN's dnnl_sgemm, forward and backward, when the
// build found oneDNN (FTLIB_HAS_ONEDNN_SGEMM, set by cmake/ftlibDependencies.cmake).
//
// Why: LibTorch's CPU Linear goes to its BLAS. With OpenBLAS (Debian's LibTorch) that BLAS runs on
// its own pthread pool next to ATen's OpenMP pool, and on a small machine the two pools take turns
// spinning on the same cores (perf: ~35% of a 2-thread DistilBERT step in sched_yield and OpenMP
// spin-waits). dnnl_sgemm runs on the OpenMP pool ATen already uses (torch::set_num_threads applies),
// with AVX-512 kernels. Same math; the sums are ordered differently, so results differ from
// at::linear by float32 rounding (the model fixtures hold either way).

#include <cstdint>
#include <vector>

#include <torch/autograd.h>
#include <torch/types.h>

#if defined(FTLIB_HAS_ONEDNN_SGEMM)
#include <oneapi/dnnl/dnnl.h>
#endif

#include "ftlib/backends/libtorch/compat.hpp"
#include "ftlib/error.hpp"

namespace ftlib::libtorch::detail {

/// @brief True when this build routes float32 CPU Linear layers through oneDNN.
#if defined(FTLIB_HAS_ONEDNN_SGEMM)
inline constexpr bool has_onednn_sgemm = true;
#else
inline constexpr bool has_onednn_sgemm = false;
#endif

/// @brief Row-major C[M, N] = op(A) op(B) + beta * C, op = transpose when asked; A, B, C contiguous
///        float32 CPU tensors (2-D).
inline void onednn_sgemm(bool transpose_a, bool transpose_b, const torch::Tensor& a, const torch::Tensor& b, float beta,
                         torch::Tensor& c) {
#if defined(FTLIB_HAS_ONEDNN_SGEMM)
  const std::int64_t m = c.size(0);
  const std::int64_t n = c.size(1);
  const std::int64_t k = transpose_a ? a.size(0) : a.size(1);
  const dnnl_status_t status =
      dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', m, n, k, 1.0f, a.data_ptr<float>(), a.size(1),
                 b.data_ptr<float>(), b.size(1), beta, c.data_ptr<float>(), n);
  if (status != dnnl_success)
    throw tensor_error("oneDNN sgemm failed (status " + std::to_string(static_cast<int>(status)) + ") on a " +
                       std::to_string(m) + " x " + std::to_string(k) + " x " + std::to_string(n) + " product");
#else
  (void)transpose_a, (void)transpose_b, (void)a, (void)b, (void)beta, (void)c;
  throw ftlib::error("onednn_sgemm: this build has no oneDNN");
#endif
}

/// @brief The autograd function behind the oneDNN Linear: saves the flattened input and the weight,
///        and computes dX = dY W, dW = dY^T X, db = sum over rows of dY, each only when needed.
struct OneDnnLinearFunction : torch::autograd::Function<OneDnnLinearFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias) {
    const std::int64_t in = weight.size(1);
    const torch::Tensor rows = x.reshape({-1, in}).contiguous();
    const torch::Tensor w = weight.contiguous();
    // Start from the bias and accumulate the product into it (beta = 1), as addmm does.
    torch::Tensor y = bias.expand({rows.size(0), weight.size(0)}).contiguous();
    onednn_sgemm(false, true, rows, w, 1.0f, y);
    ctx->save_for_backward({rows, w});
    std::vector<std::int64_t> out_shape(x.sizes().begin(), x.sizes().end());
    out_shape.back() = weight.size(0);
    ctx->saved_data["input_shape"] = x.sizes().vec();
    return y.view(out_shape);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& rows = saved[0];
    const torch::Tensor& w = saved[1];
    const torch::Tensor dy = grad_outputs[0].reshape({rows.size(0), w.size(0)}).contiguous();
    torch::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) {
      dx = torch::empty({rows.size(0), w.size(1)}, rows.options());
      onednn_sgemm(false, false, dy, w, 0.0f, dx);
      dx = dx.view(ctx->saved_data["input_shape"].toIntVector());
    }
    if (ctx->needs_input_grad(1)) {
      dw = torch::empty({w.size(0), w.size(1)}, w.options());
      onednn_sgemm(true, false, dy, rows, 0.0f, dw);
    }
    if (ctx->needs_input_grad(2)) db = dy.sum(0);
    return {dx, dw, db};
  }
};

/// @brief Whether `linear` takes the oneDNN path for these operands: a oneDNN build, float32 CPU
///        tensors, and no CPU autocast (which wants at::linear to cast to bf16).
[[nodiscard]] inline bool uses_onednn_linear(const torch::Tensor& x, const torch::Tensor& weight) {
  return has_onednn_sgemm && x.device().is_cpu() && weight.device().is_cpu() && x.scalar_type() == torch::kFloat &&
         weight.scalar_type() == torch::kFloat && x.dim() >= 2 &&
         !compat::is_autocast_enabled(c10::DeviceType::CPU);
}

/// @brief y = x W^T + b, W [out, in]: oneDNN's sgemm where uses_onednn_linear, else at::linear.
[[nodiscard]] inline torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (uses_onednn_linear(x, weight) && bias.defined() && bias.scalar_type() == torch::kFloat)
    return OneDnnLinearFunction::apply(x, weight, bias);
  return at::linear(x, weight, bias);
}

}  // namespace ftlib::libtorch::detail
