#pragma once
// oneDNN's float32 GEMM, shared by both backends' CPU matrix products when the build found oneDNN
// (FTLIB_HAS_ONEDNN_SGEMM, set by cmake/ftlibDependencies.cmake). dnnl_sgemm runs on the OpenMP
// threads LibTorch and the Eigen backend already use, with AVX-512 kernels: on the 2-core machine of
// docs/benchmarks.md, 518 GFLOP/s against 258 for LibTorch's OpenBLAS and 175 for Eigen's own GEMM.

#include <cstdint>
#include <string>

#if defined(FTLIB_HAS_ONEDNN_SGEMM)
#include <oneapi/dnnl/dnnl.h>
#endif

#include "ftlib/core/error.hpp"

namespace ftlib::detail {

/// @brief True when this build has oneDNN's sgemm.
#if defined(FTLIB_HAS_ONEDNN_SGEMM)
inline constexpr bool has_onednn_sgemm = true;
#else
inline constexpr bool has_onednn_sgemm = false;
#endif

/// @brief Row-major C[m, n] = alpha op(A) op(B) + beta C on float32 memory, op = transpose when
///        asked; lda/ldb/ldc are the row strides of A, B and C as stored. Throws ftlib::error in a
///        build without oneDNN (callers test has_onednn_sgemm first).
inline void onednn_sgemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                         const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                         std::int64_t ldc) {
#if defined(FTLIB_HAS_ONEDNN_SGEMM)
  const dnnl_status_t status = dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', m, n, k, alpha, a, lda, b,
                                          ldb, beta, c, ldc);
  if (status != dnnl_success)
    throw tensor_error("oneDNN sgemm failed (status " + std::to_string(static_cast<int>(status)) + ") on a " +
                       std::to_string(m) + " x " + std::to_string(k) + " x " + std::to_string(n) + " product");
#else
  (void)transpose_a, (void)transpose_b, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b,
      (void)ldb, (void)beta, (void)c, (void)ldc;
  throw ftlib::error("onednn_sgemm: this build has no oneDNN");
#endif
}

}  // namespace ftlib::detail
