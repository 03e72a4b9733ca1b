// libFuzzer target: SentencePiece (ALBERT) encoding of arbitrary bytes with albert's spiece.model
// ($FTLIB_FUZZ_SPIECE, default ../shared/vocab/albert-base-v2/spiece.model).
#include "ftlib/tokenizers/sentencepiece.hpp"
#include "fuzz_support.hpp"

namespace {
const ftlib::SentencePieceTokenizer& tokenizer() {
  static const auto t = ftlib::SentencePieceTokenizer::from_model_file(
      ftlib::fuzz::env_or("FTLIB_FUZZ_SPIECE", FTLIB_SOURCE_DIR "/../shared/vocab/albert-base-v2/spiece.model"));
  return t;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = ftlib::fuzz::as_text(data, size);
  ftlib::EncodeOptions truncated;
  truncated.max_length = 16;
  ftlib::fuzz::refuse_or_accept([&] { (void)tokenizer().encode(text); });
  ftlib::fuzz::refuse_or_accept([&] { (void)tokenizer().encode_pair(text.substr(0, size / 2), text.substr(size / 2), truncated); });
  return 0;
}
