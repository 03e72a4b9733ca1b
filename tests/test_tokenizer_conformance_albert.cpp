// Every row of the albert-base-v2 fixtures (produced by HF's slow AlbertTokenizer with
// sentencepiece 0.1.97) must come out of SentencePieceTokenizer with exactly the same ids,
// tokens and token type ids.

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ftlib/tokenizers/sentencepiece.hpp"
#include "ftlib/tokenizers/tokenizer_concept.hpp"
#include "test_support.hpp"

namespace {

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  }
  return rows;
}

template <class T>
std::string show(const std::vector<T>& v) {
  return nlohmann::json(v).dump();
}

/// Runs one fixture file; returns {matching rows, rows}.
std::pair<std::size_t, std::size_t> run_file(const ftlib::SentencePieceTokenizer& tokenizer,
                                             const std::string& file, const ftlib::EncodeOptions& options,
                                             bool pairs) {
  const auto path = ftlib::testing::shared_path("fixtures/tokenizers/albert-base-v2/" + file);
  if (!path) return {0, 0};
  const auto rows = read_jsonl(*path);
  std::size_t matches = 0;
  std::size_t shown = 0;
  for (const auto& row : rows) {
    const auto text = row.at("text").get<std::string>();
    const ftlib::Encoding e = pairs ? tokenizer.encode_pair(text, row.at("text_pair").get<std::string>(), options)
                                    : tokenizer.encode(text, options);
    const auto ids = row.at("ids").get<std::vector<std::int64_t>>();
    const auto tokens = row.at("tokens").get<std::vector<std::string>>();
    const auto type_ids = pairs ? row.at("token_type_ids").get<std::vector<std::int64_t>>()
                                : std::vector<std::int64_t>(ids.size(), 0);
    const bool ok = e.ids == ids && e.tokens == tokens && e.type_ids == type_ids &&
                    e.attention_mask == std::vector<std::int64_t>(ids.size(), 1);
    if (ok) {
      ++matches;
    } else if (shown++ < 10) {
      std::cout << "MISMATCH " << file << " " << row.at("id").get<std::string>() << " ("
                << row.at("category").get<std::string>() << ")\n  text:     " << nlohmann::json(text).dump()
                << "\n  expected: " << show(ids) << "\n  got:      " << show(e.ids)
                << "\n  expected tokens: " << show(tokens) << "\n  got tokens:      " << show(e.tokens)
                << "\n  expected types:  " << show(type_ids) << "\n  got types:       " << show(e.type_ids)
                << "\n";
    }
  }
  std::cout << "albert-base-v2 " << file << ": " << matches << "/" << rows.size() << " match\n";
  return {matches, rows.size()};
}

}  // namespace

static_assert(ftlib::Tokenizer<ftlib::SentencePieceTokenizer>);

TEST_CASE("albert-base-v2 fixtures: HF slow AlbertTokenizer ids, tokens and type ids") {
  const auto model = ftlib::testing::shared_path("vocab/albert-base-v2/spiece.model");
  if (!model) return;
  const auto tokenizer = ftlib::SentencePieceTokenizer::from_model_file(*model);

  SUBCASE("single.jsonl: no truncation") {
    const auto [matches, rows] = run_file(tokenizer, "single.jsonl", ftlib::EncodeOptions{}, false);
    CHECK(rows == 774);  // the fixture README's count: a truncated file must not pass
    CHECK(matches == rows);
  }
  SUBCASE("single_max32.jsonl: longest_first to 32") {
    const auto options = ftlib::EncodeOptions{}.with_max_length(32).with_truncation(ftlib::Truncation::longest_first);
    const auto [matches, rows] = run_file(tokenizer, "single_max32.jsonl", options, false);
    CHECK(rows == 774);
    CHECK(matches == rows);
  }
  SUBCASE("pairs_max64.jsonl: longest_first to 64 (slow truncate_sequences)") {
    const auto options = ftlib::EncodeOptions{}.with_max_length(64).with_truncation(ftlib::Truncation::longest_first);
    const auto [matches, rows] = run_file(tokenizer, "pairs_max64.jsonl", options, true);
    CHECK(rows == 184);
    CHECK(matches == rows);
  }
}
