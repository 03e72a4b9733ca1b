// libFuzzer target: the JSONL reader (one JSON object per line: depth bound, duplicate keys,
// number overflow, invalid UTF-8).
#include <sstream>

#include "ftlib/data/jsonl.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ftlib::fuzz::refuse_or_accept([&] {
    std::istringstream in{std::string(ftlib::fuzz::as_text(data, size))};
    ftlib::JsonlReader reader(in, "fuzz.jsonl");
    ftlib::JsonlRecord record;
    while (reader.next(record)) {
    }
  });
  return 0;
}
