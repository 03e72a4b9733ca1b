// Every case of shared/fixtures/tokenizers/bert-base-uncased/*.jsonl (produced by HuggingFace
// `tokenizers`, the Rust library behind BertTokenizerFast) must come out id-, token- and
// type-id-identical. ALBERT (SentencePiece) fixtures are checked in test_tokenizers_sentencepiece.cpp.

#include <doctest/doctest.h>

#include <cstddef>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/tokenizers/wordpiece.hpp"
#include "test_support.hpp"

namespace {

struct FileResult {
  std::size_t total = 0;
  std::size_t matching = 0;
};

std::string preview(const std::string& text) {
  std::string out = nlohmann::json(text.size() > 80 ? text.substr(0, 80) + "..." : text).dump();
  return out;
}

// Runs one fixture file; `options` are what the file's cases were produced with.
FileResult run_fixture_file(const ftlib::WordPieceTokenizer& tokenizer, const std::filesystem::path& file,
                            const ftlib::EncodeOptions& options) {
  std::ifstream in(file);
  REQUIRE_MESSAGE(in.good(), "cannot open " << file);
  FileResult result;
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    const auto row = nlohmann::json::parse(line);
    const auto text = row.at("text").get<std::string>();
    const bool is_pair = row.contains("text_pair");
    const auto encoding = is_pair ? tokenizer.encode_pair(text, row.at("text_pair").get<std::string>(), options)
                                  : tokenizer.encode(text, options);
    const auto ids = row.at("ids").get<std::vector<std::int64_t>>();
    const auto tokens = row.at("tokens").get<std::vector<std::string>>();
    std::vector<std::int64_t> type_ids(ids.size(), 0);
    if (row.contains("token_type_ids")) type_ids = row.at("token_type_ids").get<std::vector<std::int64_t>>();
    ++result.total;
    const bool ok = encoding.ids == ids && encoding.tokens == tokens && encoding.type_ids == type_ids &&
                    encoding.attention_mask == std::vector<std::int64_t>(ids.size(), 1);
    if (ok) {
      ++result.matching;
    } else {
      std::ostringstream diff;
      diff << file.filename().string() << ":" << line_number << " " << row.at("id").get<std::string>() << " ("
           << row.at("category").get<std::string>() << ") text " << preview(text) << "\n  expected "
           << nlohmann::json(tokens).dump() << "\n  got      " << nlohmann::json(encoding.tokens).dump()
           << "\n  expected ids " << nlohmann::json(ids).dump() << "\n  got ids      "
           << nlohmann::json(encoding.ids).dump();
      if (encoding.type_ids != type_ids) diff << "\n  type_ids differ";
      FAIL_CHECK(diff.str());
    }
  }
  return result;
}

}  // namespace

TEST_CASE("bert-base-uncased: every shared HF fixture case matches") {
  const auto vocab = ftlib::testing::shared_path("vocab/bert-base-uncased/vocab.txt");
  const auto dir = ftlib::testing::shared_path("fixtures/tokenizers/bert-base-uncased");
  if (!vocab || !dir) return;
  ftlib::WordPieceOptions uncased;
  uncased.lowercase = true;
  const auto tokenizer = ftlib::WordPieceTokenizer::from_vocab_file(*vocab, uncased);

  struct Case {
    const char* file;
    ftlib::EncodeOptions options;
    std::size_t rows;  // as the fixture README states: a truncated fixture file must not pass
  };
  const std::vector<Case> cases = {
      {"single.jsonl", ftlib::EncodeOptions{}.with_truncation(ftlib::Truncation::none), 774},
      {"single_max32.jsonl", ftlib::EncodeOptions{}.with_max_length(32).with_truncation(ftlib::Truncation::longest_first), 774},
      {"pairs_max64.jsonl", ftlib::EncodeOptions{}.with_max_length(64).with_truncation(ftlib::Truncation::longest_first), 184},
  };
  for (const auto& c : cases) {
    const auto path = *dir / c.file;
    REQUIRE_MESSAGE(std::filesystem::exists(path), path.string());
    const FileResult r = run_fixture_file(tokenizer, path, c.options);
    std::cout << "bert-base-uncased: " << r.matching << "/" << r.total << " cases match (" << c.file << ")\n";
    CHECK(r.total == c.rows);
    CHECK(r.matching == r.total);
  }
}

TEST_CASE("bert-base-uncased: from_pretrained on a directory gives the same encodings as the vocab file") {
  const auto vocab = ftlib::testing::shared_path("vocab/bert-base-uncased/vocab.txt");
  if (!vocab) return;
  const auto tokenizer = ftlib::WordPieceTokenizer::from_pretrained(vocab->parent_path());
  // The README's check value: HF tokenizers encodes "Hello, my dog is cute" as below.
  CHECK(tokenizer.encode("Hello, my dog is cute").ids ==
        std::vector<std::int64_t>{101, 7592, 1010, 2026, 3899, 2003, 10140, 102});
}

// ALBERT (SentencePiece) fixture conformance lives in its own test file, owned by the SentencePiece
// tokenizer (tests/test_tokenizers_sentencepiece.cpp), so that file can be built only when the
// ftlib::sentencepiece component is available.
