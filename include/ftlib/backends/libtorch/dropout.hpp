#pragma once
// Dropout for the LibTorch backend. On the CPU, LibTorch 1.13 draws dropout masks with bernoulli_,
// a serial loop over the Mersenne twister (without MKL): ~15% of a bf16 DistilBERT-base step on two
// cores. Here each call takes one 64-bit key from the current CPU generator (the model's own stream,
// see generator.hpp) and derives element i's keep/drop from a counter-based hash of (key, i), so the
// mask is filled in parallel, is the same for any thread count, and the stream (hence exact resume)
// still lives in the generator's saved state. Forward applies the mask in the same pass, and backward
// keeps the mask as one bit per element instead of a tensor of x's dtype (8 x 512 DistilBERT in
// float32: ~700 MiB less). Other devices keep at::dropout (CUDA's is already a parallel
// counter-based generator).

#include <algorithm>
#include <cstdint>
#include <mutex>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/Generator.h>
#include <c10/util/BFloat16.h>
#include <torch/autograd.h>
#include <torch/types.h>

namespace ftlib::libtorch::detail {

/// @brief splitmix64's output function: a bijective 64-bit mix whose outputs over a counter pass
///        BigCrush (Steele, Lea, Flood 2014).
[[nodiscard]] constexpr std::uint64_t mix64(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// @brief Bit i % 64 of words[i / 64] is set when element i of the stream `key` is kept (probability
///        keep). Two elements per 64-bit draw, each compared as a 24-bit uniform like torch's float
///        draws; bits past n are left as drawn and never read.
inline void fill_keep_bits(std::uint64_t* words, std::int64_t n, std::uint64_t key, float keep) {
  constexpr std::uint64_t golden_gamma = 0x9E3779B97F4A7C15ULL;
  const auto threshold = static_cast<std::uint32_t>(static_cast<double>(keep) * 16777216.0);  // keep * 2^24
  at::parallel_for(0, (n + 63) / 64, 256, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t w = begin; w < end; ++w) {
      std::uint64_t word = 0;
      for (int j = 0; j < 32; ++j) {
        const auto pair = static_cast<std::uint64_t>(w * 32 + j);
        const std::uint64_t bits = mix64(key + (pair + 1) * golden_gamma);
        word |= static_cast<std::uint64_t>(static_cast<std::uint32_t>(bits >> 40) < threshold) << (2 * j);
        word |= static_cast<std::uint64_t>(static_cast<std::uint32_t>((bits >> 8) & 0xFFFFFFu) < threshold) << (2 * j + 1);
      }
      words[w] = word;
    }
  });
}

/// @brief out[i] = in[i] * multiplier where bit i of `words` is set, else 0 (in float, rounded once
///        to Scalar: the same as in * noise with noise = multiplier in Scalar).
template <class Scalar>
void apply_keep_bits(const Scalar* in, const std::uint64_t* words, std::int64_t n, float multiplier, Scalar* out) {
  // Word by word: the inner loop over one word's 64 elements has no data-dependent loads, so the
  // compiler vectorises it (a per-element words[i / 64] lookup defeats that).
  at::parallel_for(0, (n + 63) / 64, 256, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t w = begin; w < end; ++w) {
      const std::uint64_t word = words[w];
      const std::int64_t base = w * 64;
      const std::int64_t count = std::min<std::int64_t>(64, n - base);
      for (std::int64_t j = 0; j < count; ++j) {
        const float factor = ((word >> j) & 1u) != 0 ? multiplier : 0.0f;
        out[base + j] = static_cast<Scalar>(static_cast<float>(in[base + j]) * factor);
      }
    }
  });
}

/// @brief y = x * mask * multiplier (float32 or bf16 CPU tensors); keeps only the mask, one bit per
///        element, for backward (at::dropout keeps a whole tensor of x's dtype).
struct DropoutFunction : torch::autograd::Function<DropoutFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, double keep,
                               std::int64_t key) {
    const torch::Tensor in = x.contiguous();
    const std::int64_t n = in.numel();
    torch::Tensor words = at::empty({(n + 63) / 64}, in.options().dtype(torch::kLong));
    auto* bits = reinterpret_cast<std::uint64_t*>(words.data_ptr<std::int64_t>());
    fill_keep_bits(bits, n, static_cast<std::uint64_t>(key), static_cast<float>(keep));
    const float multiplier = multiplier_for(in.scalar_type(), keep);
    torch::Tensor out = at::empty_like(in);
    scale_kept(in, bits, multiplier, out);
    ctx->save_for_backward({words});
    ctx->saved_data["multiplier"] = static_cast<double>(multiplier);
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const torch::Tensor words = ctx->get_saved_variables()[0];
    const torch::Tensor grad = grad_outputs[0].contiguous();
    torch::Tensor grad_in = at::empty_like(grad);
    scale_kept(grad, reinterpret_cast<const std::uint64_t*>(words.data_ptr<std::int64_t>()),
          static_cast<float>(ctx->saved_data["multiplier"].toDouble()), grad_in);
    return {grad_in, torch::Tensor(), torch::Tensor()};
  }

  /// 1 / keep as the dtype holds it (bf16 rounds it), so that the product is at::dropout's.
  static float multiplier_for(torch::ScalarType dtype, double keep) {
    const float scale = 1.0f / static_cast<float>(keep);
    return dtype == torch::kBFloat16 ? static_cast<float>(c10::BFloat16(scale)) : scale;
  }

  static void scale_kept(const torch::Tensor& in, const std::uint64_t* bits, float multiplier, torch::Tensor& out) {
    if (in.scalar_type() == torch::kFloat) {
      apply_keep_bits<float>(in.data_ptr<float>(), bits, in.numel(), multiplier, out.data_ptr<float>());
    } else {
      apply_keep_bits<c10::BFloat16>(in.data_ptr<c10::BFloat16>(), bits, in.numel(), multiplier,
                                     out.data_ptr<c10::BFloat16>());
    }
  }
};

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
  // One key per call from the model's stream; the mask is a function of (key, element index).
  return DropoutFunction::apply(x, 1.0 - p, static_cast<std::int64_t>(draw_cpu_key()));
}

}  // namespace ftlib::libtorch::detail
