// libFuzzer target: the CSV/TSV reader (RFC 4180, UTF-8 checks) over arbitrary bytes, both delimiters.
#include <sstream>

#include "ftlib/data/csv.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(ftlib::fuzz::as_text(data, size));
  for (const char delimiter : {',', '\t'}) {
    ftlib::fuzz::refuse_or_accept([&] {
      std::istringstream in(text);
      ftlib::CsvOptions options;
      options.delimiter = delimiter;
      options.buffer_size = 64;  // small buffers exercise the refill paths
      ftlib::CsvReader reader(in, "fuzz.csv", options);
      ftlib::CsvRow row;
      while (reader.next(row)) {
      }
    });
  }
  return 0;
}
