// libFuzzer target: spiece.model (the protobuf, byte pieces, the precompiled charsmap trie), then
// encoding a few texts with whatever model was accepted.
#include "ftlib/tokenizers/sentencepiece_model.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ftlib::fuzz::refuse_or_accept([&] {
    const auto model = ftlib::SentencePieceModel::parse(ftlib::fuzz::as_text(data, size), "spiece.model");
    for (const char* text : {"Hello world", "  \xC3\xA9t\xC3\xA9 \xE2\x80\x94 caf\xC3\xA9 ", "\xEF\xBC\xA1\xEF\xBC\xA2 12345"})
      (void)model.encode(text);
  });
  return 0;
}
