// libFuzzer target: config.json of every architecture (JSON parse, typed fields, sizes and their
// memory budget, labels), and its write-back.
#include "ftlib/arch/registry.hpp"
#include "ftlib/io/json_file.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ftlib::fuzz::refuse_or_accept([&] {
    const auto json = ftlib::io::parse_json(ftlib::fuzz::as_text(data, size), "config.json");
    ftlib::arch::for_each_architecture([&](auto a) {
      using A = typename decltype(a)::type;
      ftlib::fuzz::refuse_or_accept([&] {
        const auto config = ftlib::arch::ModelConfig<A>::from_json(json, "config.json");
        (void)config.to_json();
      });
    });
    (void)ftlib::arch::model_type_of(json, "config.json");
  });
  return 0;
}
