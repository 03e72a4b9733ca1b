// libFuzzer target: vocab.txt (any bytes as a WordPiece vocabulary), then encoding a text with it.
#include "ftlib/tokenizers/wordpiece.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = ftlib::fuzz::write_scratch("vocab.txt", ftlib::fuzz::as_text(data, size));
  ftlib::fuzz::refuse_or_accept([&] {
    const auto tokenizer = ftlib::WordPieceTokenizer::from_vocab_file(path);
    (void)tokenizer.encode("Hello, my dog is cute [SEP] unaffable");
  });
  return 0;
}
