#pragma once
// HostTensor: a float tensor in host memory, the value type in which logits, optimizer state,
// checkpoints and parameter snapshots cross between the backend-free code and a backend.

#include <cstdint>
#include <vector>

namespace ftlib {

/// @brief A float tensor in host memory, row-major. Used for logits, optimizer state and I/O.
struct HostTensor {
  std::vector<std::int64_t> shape;
  std::vector<float> data;

  [[nodiscard]] std::int64_t numel() const noexcept {
    std::int64_t n = 1;
    for (const auto d : shape) n *= d;
    return n;
  }
};

}  // namespace ftlib
