#pragma once
// Dropout for the LibTorch backend. On the CPU, LibTorch 1.13 draws dropout masks with bernoulli_,
// a serial loop over the Mersenne twister (without MKL): ~15% of a bf16 DistilBERT-base step on two
// cores. Here each call takes one 64-bit key from the current CPU generator (the model's own stream,
// see generator.hpp) and derives element i's keep/drop from a counter-based hash of (key, i), so the
// mask is filled in parallel, is the same for any thread count, and the stream (hence exact resume)
// still lives in the generator's saved state. Other devices keep at::dropout (CUDA's is already a
// parallel counter-based generator).

#include <cstdint>
#include <mutex>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/Generator.h>
#include <c10/util/BFloat16.h>
#include <torch/types.h>

namespace ftlib::libtorch::detail {

/// @brief splitmix64's output function: a bijective 64-bit mix whose outputs over a counter pass
///        BigCrush (Steele, Lea, Flood 2014).
[[nodiscard]] constexpr std::uint64_t mix64(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// @brief out[i] = scale when element i of the stream `key` is kept (probability keep), else 0.
///        Two elements per 64-bit draw, each compared as a 24-bit uniform like torch's float draws.
template <class Scalar>
void fill_dropout_noise(Scalar* out, std::int64_t n, std::uint64_t key, float keep, Scalar scale) {
  constexpr std::uint64_t golden_gamma = 0x9E3779B97F4A7C15ULL;
  const auto threshold = static_cast<std::uint32_t>(static_cast<double>(keep) * 16777216.0);  // keep * 2^24
  const Scalar zero(0.0f);
  at::parallel_for(0, (n + 1) / 2, 1 << 14, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t pair = begin; pair < end; ++pair) {
      const std::uint64_t bits = mix64(key + static_cast<std::uint64_t>(pair + 1) * golden_gamma);
      const std::int64_t i = 2 * pair;
      out[i] = static_cast<std::uint32_t>(bits >> 40) < threshold ? scale : zero;
      if (i + 1 < n) out[i + 1] = static_cast<std::uint32_t>((bits >> 8) & 0xFFFFFFu) < threshold ? scale : zero;
    }
  });
}

/// @brief One 64-bit draw from the current default CPU generator (a model's stream inside its
///        DropoutGenerator::Scope).
[[nodiscard]] inline std::uint64_t draw_cpu_key() {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  const std::lock_guard<std::mutex> lock(generator.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(generator)->random64();
}

/// @brief Inverted dropout (kept elements scaled by 1 / (1 - p)) when training and p > 0, else x.
[[nodiscard]] inline torch::Tensor apply_dropout(const torch::Tensor& x, double p, bool training) {
  if (!training || p <= 0.0) return x;
  const bool cpu_kernel = x.device().is_cpu() && p < 1.0 &&
                          (x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kBFloat16);
  if (!cpu_kernel) return at::dropout(x, p, true);
  const auto keep = static_cast<float>(1.0 - p);
  const float scale = 1.0f / keep;
  torch::Tensor noise = at::empty(x.sizes(), x.options().requires_grad(false));
  const std::uint64_t key = draw_cpu_key();
  if (x.scalar_type() == torch::kFloat) {
    fill_dropout_noise<float>(noise.data_ptr<float>(), noise.numel(), key, keep, scale);
  } else {
    fill_dropout_noise<c10::BFloat16>(noise.data_ptr<c10::BFloat16>(), noise.numel(), key, keep, c10::BFloat16(scale));
  }
  return x * noise;
}

}  // namespace ftlib::libtorch::detail
