// libFuzzer target for the torch.save reader: any input must parse or throw an ftlib::error, and
// every tensor of an accepted input must read without touching memory outside the input.
//   clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I include \
//       tests/fuzz/fuzz_pytorch_checkpoint.cpp -o fuzz_pytorch_checkpoint
//   ./fuzz_pytorch_checkpoint -max_total_time=60 corpus/ tests/data/pytorch_checkpoints/{,bad/}*.bin

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "ftlib/hf/pytorch_checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    const auto file = ftlib::hf::PytorchCheckpointFile::parse(bytes, "fuzz.bin");
    std::vector<float> floats;
    for (const auto& t : file.tensors()) {
      if (ftlib::hf::is_floating(t.dtype)) {
        floats.resize(static_cast<std::size_t>(t.numel()));
        file.copy_float32(t.name, floats);
      } else {
        (void)file.to_int64(t.name);
      }
      if (file.layout(t.name).contiguous) (void)file.bytes(t.name);
    }
  } catch (const ftlib::error&) {
    // A refused input: the expected outcome for almost all of them.
  }
  return 0;
}
