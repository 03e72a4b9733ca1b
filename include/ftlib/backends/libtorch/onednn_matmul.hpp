#pragma once
// The float32 CPU matrix products of the LibTorch backend through oneDNN's dnnl_sgemm, forward and
// backward, when the build found oneDNN (FTLIB_HAS_ONEDNN_SGEMM, set by cmake/ftlibDependencies.cmake):
// the Linear layers (y = x W^T + b) and attention's per-head products (q k^T and probs v).
//
// Why: LibTorch's CPU mm/bmm go to its BLAS. With OpenBLAS (Debian's LibTorch) that BLAS runs on
// its own pthread pool next to ATen's OpenMP pool, and on a small machine the two pools take turns
// spinning on the same cores (perf: ~35% of a 2-thread DistilBERT step in sched_yield and OpenMP
// spin-waits). dnnl_sgemm runs on the OpenMP pool ATen already uses (torch::set_num_threads applies),
// with AVX-512 kernels. Same math; the sums are ordered differently, so results differ from
// at::linear by float32 rounding (the model fixtures hold either way).

#include <cstdint>
#include <vector>

#include <ATen/Parallel.h>

#include <torch/autograd.h>
#include <torch/types.h>

#include "ftlib/backends/libtorch/compat.hpp"
#include "ftlib/backends/onednn_sgemm.hpp"
#include "ftlib/core/error.hpp"

namespace ftlib::libtorch::detail {

using ftlib::detail::has_onednn_sgemm;
using ftlib::detail::onednn_sgemm;

/// @brief C = op(A) op(B) + beta C for contiguous 2-D float32 CPU tensors.
inline void onednn_sgemm(bool transpose_a, bool transpose_b, const torch::Tensor& a, const torch::Tensor& b, float beta,
                         torch::Tensor& c) {
  onednn_sgemm(transpose_a, transpose_b, c.size(0), c.size(1), transpose_a ? a.size(0) : a.size(1), 1.0f,
               a.data_ptr<float>(), a.size(1), b.data_ptr<float>(), b.size(1), beta, c.data_ptr<float>(), c.size(1));
}

/// @brief Per matrix of a [B, H, rows, cols] batch: C = alpha op(A) op(B), C freshly allocated and
///        contiguous. A and B may be strided views (attention's heads are transposes of [B, T, H, d])
///        as long as their last axis is dense. One single-threaded sgemm per matrix, the matrices
///        spread over ATen's threads (each is too small to split).
[[nodiscard]] inline torch::Tensor onednn_batched_sgemm(bool transpose_a, bool transpose_b, const torch::Tensor& a,
                                                        const torch::Tensor& b, float alpha) {
  const auto dense_rows = [](const torch::Tensor& t) { return t.stride(3) == 1 ? t : t.contiguous(); };
  const torch::Tensor a4 = dense_rows(a);
  const torch::Tensor b4 = dense_rows(b);
  const std::int64_t m = transpose_a ? a4.size(3) : a4.size(2);
  const std::int64_t k = transpose_a ? a4.size(2) : a4.size(3);
  const std::int64_t n = transpose_b ? b4.size(2) : b4.size(3);
  const std::int64_t heads = a4.size(1);
  torch::Tensor c = torch::empty({a4.size(0), heads, m, n}, a4.options());
  const float* pa = a4.data_ptr<float>();
  const float* pb = b4.data_ptr<float>();
  float* pc = c.data_ptr<float>();
  at::parallel_for(0, a4.size(0) * heads, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      const std::int64_t batch = i / heads;
      const std::int64_t head = i % heads;
      onednn_sgemm(transpose_a, transpose_b, m, n, k, alpha, pa + batch * a4.stride(0) + head * a4.stride(1),
                   a4.stride(2), pb + batch * b4.stride(0) + head * b4.stride(1), b4.stride(2), 0.0f,
                   pc + i * m * n, n);
    }
  });
  return c;
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

/// @brief The autograd function behind attention's products: C = alpha A op(B) per [B, H] matrix.
struct OneDnnBatchedMatmulFunction : torch::autograd::Function<OneDnnBatchedMatmulFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& a, const torch::Tensor& b,
                               bool transpose_b, double alpha) {
    ctx->save_for_backward({a, b});
    ctx->saved_data["transpose_b"] = transpose_b;
    ctx->saved_data["alpha"] = alpha;
    return onednn_batched_sgemm(false, transpose_b, a, b, static_cast<float>(alpha));
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& a = saved[0];
    const torch::Tensor& b = saved[1];
    const bool transpose_b = ctx->saved_data["transpose_b"].toBool();
    const auto alpha = static_cast<float>(ctx->saved_data["alpha"].toDouble());
    const torch::Tensor& dc = grad_outputs[0];
    torch::Tensor da, db;
    // C = a A B:   dA = a dC B^T, dB = a A^T dC.   C = a A B^T: dA = a dC B, dB = a dC^T A.
    if (ctx->needs_input_grad(0)) da = onednn_batched_sgemm(false, !transpose_b, dc, b, alpha);
    if (ctx->needs_input_grad(1))
      db = transpose_b ? onednn_batched_sgemm(true, false, dc, a, alpha) : onednn_batched_sgemm(true, false, a, dc, alpha);
    return {da, db, torch::Tensor(), torch::Tensor()};
  }
};

/// @brief Whether a product of these operands takes the oneDNN path: a oneDNN build, float32 CPU
///        tensors, and no CPU autocast (under which at::linear / at::matmul compute in bf16).
[[nodiscard]] inline bool uses_onednn(const torch::Tensor& x, const torch::Tensor& weight) {
  return has_onednn_sgemm && x.device().is_cpu() && weight.device().is_cpu() && x.scalar_type() == torch::kFloat &&
         weight.scalar_type() == torch::kFloat && x.dim() >= 2 &&
         !compat::is_autocast_enabled(c10::DeviceType::CPU);
}

/// @brief y = x W^T + b, W [out, in]: oneDNN's sgemm where uses_onednn, else at::linear.
[[nodiscard]] inline torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (uses_onednn(x, weight) && bias.defined() && bias.scalar_type() == torch::kFloat)
    return OneDnnLinearFunction::apply(x, weight, bias);
  return at::linear(x, weight, bias);
}

/// @brief alpha * a op(b) for [B, H, rows, cols] tensors: oneDNN's sgemm per matrix for float32 CPU
///        operands outside autocast, else at::matmul.
[[nodiscard]] inline torch::Tensor batched_matmul(const torch::Tensor& a, const torch::Tensor& b, bool transpose_b,
                                                  double alpha) {
  if (uses_onednn(a, b) && a.dim() == 4 && b.dim() == 4)
    return OneDnnBatchedMatmulFunction::apply(a, b, transpose_b, alpha);
  const torch::Tensor product = at::matmul(a, transpose_b ? b.transpose(-1, -2) : b);
  return alpha == 1.0 ? product : product.mul_(alpha);
}

}  // namespace ftlib::libtorch::detail
