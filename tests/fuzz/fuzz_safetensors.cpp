// libFuzzer target: safetensors files (header length, header JSON, dtypes, shapes, offsets), read
// through the same memory mapping the library uses; every tensor of an accepted file is converted.
#include <vector>

#include "ftlib/hf/safetensors.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = ftlib::fuzz::write_scratch("model.safetensors", ftlib::fuzz::as_text(data, size));
  ftlib::fuzz::refuse_or_accept([&] {
    const auto file = ftlib::hf::SafetensorsFile::open(path);
    std::vector<float> values;
    for (const auto& t : file.tensors()) {
      if (!ftlib::hf::is_floating(t.dtype)) continue;
      values.resize(static_cast<std::size_t>(t.numel()));
      file.copy_float32(t.name, values);
    }
  });
  return 0;
}
