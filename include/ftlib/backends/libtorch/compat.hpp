#pragma once
// The one place that knows which LibTorch it is compiled against (Debian's 1.13 CPU build, or a
// current 2.x with CUDA). Everything version-specific goes through these few functions. Both sides of
// every branch are compiled and tested: against 1.13 and against PyPI's torch 2.15 (scripts/test.sh
// --libtorch pypi); the build-side differences (CUDA, rpath, ABI, oneDNN) are cmake/ftlibDependencies.cmake's.

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <c10/core/Allocator.h>
#include <torch/version.h>

#include <cstddef>
#include <cstring>
#include <string>

#include "ftlib/core/error.hpp"

namespace ftlib::libtorch::compat {

/// @brief LibTorch's version as major * 100 + minor (113 for 1.13, 204 for 2.4).
inline constexpr int torch_version = TORCH_VERSION_MAJOR * 100 + TORCH_VERSION_MINOR;

/// @brief "1.13", "2.4", ...: the LibTorch this was compiled against, for messages.
[[nodiscard]] inline std::string torch_version_string() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR);
}

/// @brief True when at::scaled_dot_product_attention exists (LibTorch >= 2.0).
inline constexpr bool has_sdpa = torch_version >= 200;

/// @brief Fused attention softmax(q k^T / sqrt(d) + mask) v with `keep` a boolean mask broadcastable
///        to [B, heads, T, T] (true = attend). Only callable when has_sdpa.
inline at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                               const at::Tensor& keep, double dropout_p) {
#if TORCH_VERSION_MAJOR >= 2
  // The default scale is 1/sqrt(d_head), the same as HF's; the positional form works from 2.0 on.
  return at::scaled_dot_product_attention(q, k, v, keep, dropout_p, /*is_causal=*/false);
#else
  (void)q, (void)k, (void)v, (void)keep, (void)dropout_p;
  throw ftlib::error("scaled_dot_product_attention needs LibTorch >= 2.0 (this build uses " + torch_version_string() + ")");
#endif
}

// Autocast state per device type. 2.4 replaced the per-device functions (set_cpu_enabled, ...) by
// ones that take the device type and deprecated the old names.

/// @brief Whether autocast is on for `device_type` (CPU or CUDA).
inline bool is_autocast_enabled(c10::DeviceType device_type) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  return at::autocast::is_autocast_enabled(device_type);
#else
  return device_type == c10::DeviceType::CPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

/// @brief Turns autocast on or off for `device_type`.
inline void set_autocast_enabled(c10::DeviceType device_type, bool enabled) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_enabled(device_type, enabled);
#else
  if (device_type == c10::DeviceType::CPU) {
    at::autocast::set_cpu_enabled(enabled);
  } else {
    at::autocast::set_enabled(enabled);
  }
#endif
}

/// @brief The lower-precision type autocast uses on `device_type`.
inline at::ScalarType get_autocast_dtype(c10::DeviceType device_type) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  return at::autocast::get_autocast_dtype(device_type);
#else
  return device_type == c10::DeviceType::CPU ? at::autocast::get_autocast_cpu_dtype()
                                             : at::autocast::get_autocast_gpu_dtype();
#endif
}

/// @brief Sets the lower-precision type autocast uses on `device_type`.
inline void set_autocast_dtype(c10::DeviceType device_type, at::ScalarType dtype) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_dtype(device_type, dtype);
#else
  if (device_type == c10::DeviceType::CPU) {
    at::autocast::set_autocast_cpu_dtype(dtype);
  } else {
    at::autocast::set_autocast_gpu_dtype(dtype);
  }
#endif
}

/// @brief c10::Allocator with the virtual functions of the LibTorch in use implemented over two that
///        do not change: allocate_bytes(n) and raw_deleter_fn(). 2.3 made allocate() non-const and
///        added copy_data().
class CpuAllocatorBase : public c10::Allocator {
 public:
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
  c10::DataPtr allocate(size_t n) override { return allocate_bytes(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }
#else
  c10::DataPtr allocate(size_t n) const override { return allocate_bytes(n); }
#endif
  c10::DeleterFnPtr raw_deleter() const override { return raw_deleter_fn(); }

 protected:
  virtual c10::DataPtr allocate_bytes(std::size_t n) const = 0;
  virtual c10::DeleterFnPtr raw_deleter_fn() const = 0;
};

}  // namespace ftlib::libtorch::compat
