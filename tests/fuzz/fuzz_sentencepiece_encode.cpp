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
  ftlib::fuzz::encode_as_text_and_pair(tokenizer(), ftlib::fuzz::as_text(data, size));
  return 0;
}
