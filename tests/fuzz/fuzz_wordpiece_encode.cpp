// libFuzzer target: WordPiece encoding of arbitrary bytes (as one text, and split into a pair) with
// the BERT vocabulary ($FTLIB_FUZZ_VOCAB, default ../shared/vocab/bert-base-uncased/vocab.txt).
#include "ftlib/tokenizers/wordpiece.hpp"
#include "fuzz_support.hpp"

namespace {
const ftlib::WordPieceTokenizer& tokenizer() {
  static const auto t = ftlib::WordPieceTokenizer::from_vocab_file(
      ftlib::fuzz::env_or("FTLIB_FUZZ_VOCAB", FTLIB_SOURCE_DIR "/../shared/vocab/bert-base-uncased/vocab.txt"));
  return t;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ftlib::fuzz::encode_as_text_and_pair(tokenizer(), ftlib::fuzz::as_text(data, size));
  return 0;
}
