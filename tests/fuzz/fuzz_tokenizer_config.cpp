// libFuzzer target: tokenizer_config.json (and the special tokens it names) beside a fixed vocab.txt,
// loaded the way a checkpoint directory is.
#include <filesystem>

#include "ftlib/tokenizers/auto_tokenizer.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& dir = ftlib::fuzz::scratch_dir();
  static const bool vocab_written = [&] {
    (void)ftlib::fuzz::write_scratch("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\n");
    return true;
  }();
  (void)vocab_written;
  (void)ftlib::fuzz::write_scratch("tokenizer_config.json", ftlib::fuzz::as_text(data, size));
  ftlib::fuzz::refuse_or_accept([&] {
    const auto tokenizer = ftlib::AutoTokenizer::from_pretrained(dir);
    (void)tokenizer.encode("Hello worlds");
  });
  return 0;
}
