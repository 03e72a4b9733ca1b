// Unit tests of SentencePieceTokenizer (ALBERT). Expected values come from the HF-produced
// fixtures, from HF's documented behaviour (README of the fixtures) or from Python's own
// str/unicodedata results for the pre-processing.

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "ftlib/tokenizers/sentencepiece.hpp"
#include "ftlib/tokenizers/sentencepiece_model.hpp"
#include "ftlib/tokenizers/tokenizer_concept.hpp"
#include "test_support.hpp"

static_assert(ftlib::Tokenizer<ftlib::SentencePieceTokenizer>,
              "SentencePieceTokenizer must satisfy the Tokenizer concept");

namespace {

std::optional<ftlib::SentencePieceTokenizer> albert(ftlib::SentencePieceOptions options = {}) {
  const auto model = ftlib::testing::shared_path("vocab/albert-base-v2/spiece.model");
  if (!model) return std::nullopt;
  return ftlib::SentencePieceTokenizer::from_model_file(*model, std::move(options));
}

std::vector<nlohmann::json> fixture_rows(const std::string& file) {
  std::vector<nlohmann::json> rows;
  const auto path = ftlib::testing::shared_path("fixtures/tokenizers/albert-base-v2/" + file);
  if (!path) return rows;
  std::ifstream in(*path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  }
  return rows;
}

using ftlib::testing::message_of;

void write(const std::filesystem::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary);
  out << data;
}

}  // namespace

TEST_CASE("slow truncate_sequences(longest_first) lengths") {
  const auto slow_longest_first = [](std::size_t first, std::size_t second, std::size_t budget) {
    return ftlib::truncated_lengths(first, second, budget, ftlib::Truncation::longest_first,
                                    ftlib::PairTruncationRule::slow_first_gets_extra);
  };
  // Budget 61 (max_length 64 minus 3 special tokens), as in the fixtures' README.
  CHECK(slow_longest_first(100, 100, 61) == std::pair<std::size_t, std::size_t>{31, 30});
  CHECK(slow_longest_first(40, 100, 61) == std::pair<std::size_t, std::size_t>{31, 30});
  CHECK(slow_longest_first(100, 40, 61) == std::pair<std::size_t, std::size_t>{31, 30});
  CHECK(slow_longest_first(10, 100, 61) == std::pair<std::size_t, std::size_t>{10, 51});
  CHECK(slow_longest_first(100, 10, 61) == std::pair<std::size_t, std::size_t>{51, 10});
  CHECK(slow_longest_first(20, 30, 61) == std::pair<std::size_t, std::size_t>{20, 30});
  CHECK(slow_longest_first(30, 31, 60) == std::pair<std::size_t, std::size_t>{30, 30});
  // Reference: the one-token-at-a-time loop of transformers' truncate_sequences.
  for (std::size_t a = 0; a < 40; ++a) {
    for (std::size_t b = 0; b < 40; ++b) {
      for (std::size_t budget = 0; budget < 50; ++budget) {
        std::size_t x = a, y = b;
        while (x + y > budget) {
          if (x > y) --x; else --y;
        }
        CHECK(slow_longest_first(a, b, budget) == std::pair{x, y});
      }
    }
  }
}

TEST_CASE("preprocess_text follows Python's AlbertTokenizer.preprocess_text") {
  const auto tok = albert();
  if (!tok) return;
  // Expected strings computed with CPython 3.11's str/unicodedata.
  CHECK(tok->preprocess_text("  Cr\xC3\xA8me  Br\xC3\xBBl\xC3\xA9" "e\t``x''  ") == "creme brulee \"x\"");
  CHECK(tok->preprocess_text("a\xC2\xA0\xE3\x80\x80" "b\xE2\x80\x8B" "c") == "a b\xE2\x80\x8B" "c");  // U+200B is no space
  CHECK(tok->preprocess_text("a\xC2\x85" "b\x0b" "c") == "a b c");
  CHECK(tok->preprocess_text("\xEF\xAC\x81 \xE2\x91\xA0") == "fi 1");  // NFKD folds ligature and circled digit
  // Whole-string lower uses Final_Sigma: "ΟΔΟΣ ΟΔΟΣ." -> "οδος οδος."
  CHECK(tok->preprocess_text("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 \xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3.") ==
        "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82 \xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82.");
  CHECK(tok->preprocess_text("") == "");
  CHECK(tok->preprocess_text(" \t\n") == "");

  const auto keep = albert(ftlib::SentencePieceOptions{}.with_keep_accents(true).with_lower_case(false));
  REQUIRE(keep);
  CHECK(keep->preprocess_text("Caf\xC3\xA9") == "Caf\xC3\xA9");
  const auto keep_lower = albert(ftlib::SentencePieceOptions{}.with_keep_accents(true));
  REQUIRE(keep_lower);
  // Python: "İstanbul".lower() == "i̇stanbul" (full lower-case mapping of U+0130).
  CHECK(keep_lower->preprocess_text("\xC4\xB0stanbul") == "i\xCC\x87stanbul");
  const auto spaces = albert(ftlib::SentencePieceOptions{}.with_remove_space(false));
  REQUIRE(spaces);
  CHECK(spaces->preprocess_text("  A  b ") == "  a  b ");
}

TEST_CASE("known answers: HF's integration sentence and README examples") {
  const auto tok = albert();
  if (!tok) return;
  CHECK(tok->vocab_size() == 30000);
  CHECK(tok->pad_token_id() == 0);
  CHECK(tok->unk_token_id() == 1);
  CHECK(tok->cls_token_id() == 2);
  CHECK(tok->sep_token_id() == 3);
  CHECK(tok->mask_token_id() == 4);
  // vocab README: "Hello, my dog is cute" -> [2, 10975, 15, 51, 1952, 25, 10901, 3]
  const auto e = tok->encode("Hello, my dog is cute");
  CHECK(e.ids == std::vector<std::int64_t>{2, 10975, 15, 51, 1952, 25, 10901, 3});
  CHECK(e.type_ids == std::vector<std::int64_t>(8, 0));
  CHECK(e.attention_mask == std::vector<std::int64_t>(8, 1));
  // fixtures README, digit-comma rule.
  CHECK(tok->tokenize("I paid 1,500, then") ==
        std::vector<std::string>{"\xE2\x96\x81i", "\xE2\x96\x81paid", "\xE2\x96\x81" "1,500", ",",
                                 "\xE2\x96\x81then"});
  CHECK(tok->tokenize("1,000,000") == std::vector<std::string>{"\xE2\x96\x81" "1", ",000,000"});
  // Empty and whitespace-only input -> [CLS] [SEP].
  CHECK(tok->encode("").ids == std::vector<std::int64_t>{2, 3});
  CHECK(tok->encode(" \r\n\t").ids == std::vector<std::int64_t>{2, 3});
}

TEST_CASE("literal special tokens are kept, matched before splitting") {
  const auto tok = albert();
  if (!tok) return;
  const std::int64_t hello = *tok->token_to_id("\xE2\x96\x81hello");
  const std::int64_t world = *tok->token_to_id("\xE2\x96\x81world");
  CHECK(tok->encode("hello [MASK] world").ids == std::vector<std::int64_t>{2, hello, 4, world, 3});
  CHECK(tok->encode("hello[SEP]world").ids == std::vector<std::int64_t>{2, hello, 3, world, 3});
  CHECK(tok->encode("[CLS]<pad><unk>").ids == std::vector<std::int64_t>{2, 2, 0, 1, 3});
  // Lower-casing happens before the split (HF's per-character lowering), so "<UNK>" becomes "<unk>".
  CHECK(tok->encode("<UNK>").ids == std::vector<std::int64_t>{2, 1, 3});
  // "[mask]" is no special token: it is lower-case text.
  CHECK(tok->encode("[mask]").ids.size() > 3);
  // Whitespace next to the literal does not matter (stripped by HF and by preprocess_text).
  CHECK(tok->encode("  hello   [SEP]   world  ").ids == tok->encode("hello[SEP]world").ids);
}

TEST_CASE("pairs: template, type ids, empty second text") {
  const auto tok = albert();
  if (!tok) return;
  const auto a = tok->encode("Hello, my dog is cute");
  const auto p = tok->encode_pair("Hello, my dog is cute", "");
  // fixtures README: an empty second text gives [CLS] A [SEP] [SEP].
  std::vector<std::int64_t> expected = a.ids;
  expected.push_back(3);
  CHECK(p.ids == expected);
  std::vector<std::int64_t> types(a.ids.size(), 0);
  types.push_back(1);
  CHECK(p.type_ids == types);

  // Rust rule on request: the longer text gets the extra token.
  const auto opts = ftlib::EncodeOptions{}.with_max_length(64);
  const auto slow = tok->encode_pair("one two three four five six seven eight nine ten " + std::string(80, 'x'),
                                     "alpha beta gamma delta " + std::string(90, 'y'), opts);
  CHECK(slow.size() == 64);
  const auto count_type = [](const ftlib::Encoding& e, std::int64_t t) {
    return std::count(e.type_ids.begin(), e.type_ids.end(), t);
  };
  CHECK(count_type(slow, 0) == 31 + 2);
  CHECK(count_type(slow, 1) == 30 + 1);
  // The Rust rule on request: the longer text (here the second) gets the extra token. The lengths
  // before truncation come from encode_ids, so the expectation is the documented HF rule.
  const auto rust_tok = albert(ftlib::SentencePieceOptions{}.with_pair_truncation(
      ftlib::PairTruncationRule::rust_longer_gets_extra));
  REQUIRE(rust_tok);
  const std::string first = "hello world";
  const std::string second = "alpha beta gamma delta " + std::string(90, 'y');
  const auto n1 = static_cast<std::ptrdiff_t>(tok->encode_ids(first).size());
  REQUIRE(n1 < 30);
  const auto rust = rust_tok->encode_pair(first, second, opts);
  CHECK(rust.size() == 64);
  CHECK(count_type(rust, 0) == n1 + 2);
  const auto both_long = rust_tok->encode_pair(std::string(200, 'x'), "alpha beta gamma delta " + std::string(300, 'y'), opts);
  CHECK(tok->encode_ids(std::string(200, 'x')).size() < tok->encode_ids("alpha beta gamma delta " + std::string(300, 'y')).size());
  CHECK(count_type(both_long, 0) == 30 + 2);
  CHECK(count_type(both_long, 1) == 31 + 1);
}

TEST_CASE("decode follows transformers' slow AlbertTokenizer") {
  const auto tok = albert();
  if (!tok) return;
  const auto ids = tok->encode("Hello, my dog is cute").ids;
  CHECK(tok->decode(ids, true) == "hello, my dog is cute");
  // transformers' AlbertTokenizer.convert_tokens_to_string: a space before a special token that
  // follows text only when the previous token was not special, none after it; then strip().
  CHECK(tok->decode(ids, false) == "[CLS] hello, my dog is cute[SEP]");
  CHECK(tok->decode({2, 3}, false) == "[CLS][SEP]");
  CHECK(tok->decode({2, 10975, 1, 10975, 3}, true) == "hello hello");
  // clean_up_tokenization_spaces (from tokenizer_config.json): transformers' English spacing fixes.
  auto clean_options = ftlib::SentencePieceOptions{};
  clean_options.clean_up_tokenization_spaces = true;
  const auto clean = albert(clean_options);
  REQUIRE(clean);
  const auto spaced = tok->encode("it is n't ok , is it ? yes !").ids;
  CHECK(tok->decode(spaced, true) == "it is n't ok , is it ? yes !");
  CHECK(clean->decode(spaced, true) == "it isn't ok, is it? yes!");
  CHECK(tok->decode({}, false).empty());
  // Independent check over the ASCII reviews without unknown pieces: decoding gives the text
  // lower-cased with whitespace collapsed (SentencePiece's normalizer leaves such ASCII alone).
  std::size_t checked = 0;
  for (const auto& row : fixture_rows("single.jsonl")) {
    if (row.at("category") != "review") continue;
    const auto text = row.at("text").get<std::string>();
    const auto ids_row = row.at("ids").get<std::vector<std::int64_t>>();
    const bool ascii = std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    const bool quotes = text.find("``") != std::string::npos || text.find("''") != std::string::npos;
    if (!ascii || quotes || std::find(ids_row.begin(), ids_row.end(), 1) != ids_row.end()) continue;
    std::istringstream words(text);
    std::string word, expected;
    while (words >> word) {
      if (!expected.empty()) expected.push_back(' ');
      for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      expected += word;
    }
    if (expected.find_first_of("\x0b\x1c\x1d\x1e\x1f") != std::string::npos) continue;
    CHECK(tok->decode(ids_row, true) == expected);
    ++checked;
  }
  MESSAGE("decode checked on " << checked << " reviews");
  CHECK(checked >= 50);  // the filter must leave enough reviews for this to mean something
}

TEST_CASE("vocabulary lookups") {
  const auto tok = albert();
  if (!tok) return;
  CHECK(tok->id_to_token(2) == "[CLS]");
  CHECK(tok->id_to_token(0) == "<pad>");
  CHECK(tok->token_to_id("[MASK]") == std::optional<std::int64_t>{4});
  CHECK(tok->token_to_id(",") == std::optional<std::int64_t>{15});
  CHECK_FALSE(tok->token_to_id("no-such-piece-xyz").has_value());
  CHECK(message_of([&] { (void)tok->id_to_token(30000); }).find("token id 30000 is outside the vocabulary (0..29999)") !=
        std::string::npos);
  CHECK(message_of([&] { (void)tok->decode({5, -1}); }).find("token id -1") != std::string::npos);
}

TEST_CASE("encode_batch equals encode per row, with batch padding") {
  const auto tok = albert();
  if (!tok) return;
  const std::vector<std::string> texts{"Hello, my dog is cute", "", "A much longer text with several more words in it."};
  const auto opts = ftlib::EncodeOptions{}.with_padding(ftlib::Padding::longest);
  const auto batch = tok->encode_batch(texts, opts, 2);
  REQUIRE(batch.size() == 3);
  const std::size_t longest = tok->encode(texts[2]).size();
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto single = tok->encode(texts[i]);
    CHECK(batch[i].size() == longest);
    CHECK(std::equal(single.ids.begin(), single.ids.end(), batch[i].ids.begin()));
    CHECK(std::all_of(batch[i].ids.begin() + static_cast<std::ptrdiff_t>(single.size()), batch[i].ids.end(),
                      [](std::int64_t id) { return id == 0; }));
  }
  const std::vector<ftlib::TextPair> pairs{{"first", "second"}, {"a", ""}};
  const auto pb = tok->encode_batch(pairs, ftlib::EncodeOptions{}, 0);
  CHECK(pb[0].ids == tok->encode_pair("first", "second").ids);
  CHECK(pb[1].ids == tok->encode_pair("a", "").ids);
}

TEST_CASE("errors name the problem and the file") {
  const auto tok = albert();
  if (!tok) return;
  SUBCASE("invalid UTF-8 input") {
    const std::string bad = std::string("abc") + '\xFF' + "def";
    CHECK_THROWS_AS((void)tok->encode(bad), ftlib::parse_error);
    const auto msg = message_of([&] { (void)tok->encode(bad); });
    CHECK(msg.find("not valid UTF-8") != std::string::npos);
    CHECK(msg.find("0xFF at byte offset 3") != std::string::npos);
    // Truncated sequence, overlong form and an encoded surrogate are rejected too.
    CHECK_THROWS_AS((void)tok->encode("caf\xC3"), ftlib::parse_error);
    CHECK_THROWS_AS((void)tok->encode("\xC0\xAF"), ftlib::parse_error);
    CHECK_THROWS_AS((void)tok->encode_pair("ok", "\xED\xA0\x80"), ftlib::parse_error);
  }
  SUBCASE("missing model file") {
    ftlib::testing::TempDir dir;
    const auto path = dir.path() / "nope.model";
    CHECK_THROWS_AS((void)ftlib::SentencePieceTokenizer::from_model_file(path), ftlib::io_error);
    const auto msg = message_of([&] { (void)ftlib::SentencePieceTokenizer::from_model_file(path); });
    CHECK(msg.find(path.string()) != std::string::npos);
    CHECK(msg.find("no such file") != std::string::npos);
  }
  SUBCASE("corrupt model file") {
    ftlib::testing::TempDir dir;
    const auto path = dir.path() / "spiece.model";
    write(path, "this is not a protobuf \xFF\xFF\xFF\xFF");
    CHECK_THROWS_AS((void)ftlib::SentencePieceTokenizer::from_model_file(path), ftlib::parse_error);
    const auto msg = message_of([&] { (void)ftlib::SentencePieceTokenizer::from_model_file(path); });
    CHECK(msg.find(path.string()) != std::string::npos);
    CHECK(msg.find("not a valid SentencePiece model") != std::string::npos);
  }
  SUBCASE("from_pretrained without spiece.model") {
    ftlib::testing::TempDir dir;
    const auto msg = message_of([&] { (void)ftlib::SentencePieceTokenizer::from_pretrained(dir.path()); });
    CHECK(msg.find((dir.path() / "spiece.model").string()) != std::string::npos);
  }
  SUBCASE("malformed tokenizer_config.json") {
    ftlib::testing::TempDir dir;
    tok->save(dir.path());
    write(dir.path() / "tokenizer_config.json", "{\n  \"do_lower_case\": true,\n  oops\n}\n");
    CHECK_THROWS_AS((void)ftlib::SentencePieceTokenizer::from_pretrained(dir.path()), ftlib::parse_error);
    const auto msg = message_of([&] { (void)ftlib::SentencePieceTokenizer::from_pretrained(dir.path()); });
    CHECK(msg.find((dir.path() / "tokenizer_config.json").string() + ":3:") != std::string::npos);
    write(dir.path() / "tokenizer_config.json", R"({"do_lower_case": "yes"})");
    CHECK(message_of([&] { (void)ftlib::SentencePieceTokenizer::from_pretrained(dir.path()); })
              .find("\"do_lower_case\" must be true or false") != std::string::npos);
    write(dir.path() / "tokenizer_config.json", R"({"tokenizer_class": "T5Tokenizer"})");
    CHECK(message_of([&] { (void)ftlib::SentencePieceTokenizer::from_pretrained(dir.path()); })
              .find("tokenizer_class is \"T5Tokenizer\"") != std::string::npos);
  }
  SUBCASE("special token missing from the model") {
    const auto model = ftlib::testing::shared_path("vocab/albert-base-v2/spiece.model");
    REQUIRE(model);
    auto options = ftlib::SentencePieceOptions{};
    options.mask_token = "<mask>";
    const auto msg = message_of([&] { (void)ftlib::SentencePieceTokenizer::from_model_file(*model, options); });
    CHECK(msg.find("no piece \"<mask>\" for mask_token") != std::string::npos);
  }
}

TEST_CASE("save writes files from_pretrained reads back") {
  const auto tok = albert(ftlib::SentencePieceOptions{}.with_keep_accents(true));
  if (!tok) return;
  ftlib::testing::TempDir dir;
  tok->save(dir.path() / "out");
  const auto out = dir.path() / "out";
  CHECK(std::filesystem::file_size(out / "spiece.model") ==
        std::filesystem::file_size(*ftlib::testing::shared_path("vocab/albert-base-v2/spiece.model")));
  std::ifstream config_in(out / "tokenizer_config.json");
  const auto config = nlohmann::json::parse(config_in);
  CHECK(config.at("tokenizer_class") == "AlbertTokenizer");
  CHECK(config.at("do_lower_case") == true);
  CHECK(config.at("keep_accents") == true);
  CHECK(config.at("unk_token") == "<unk>");
  CHECK(config.at("mask_token").at("content") == "[MASK]");
  std::ifstream map_in(out / "special_tokens_map.json");
  const auto map = nlohmann::json::parse(map_in);
  CHECK(map.at("cls_token") == "[CLS]");
  CHECK(map.at("pad_token") == "<pad>");

  const auto back = ftlib::SentencePieceTokenizer::from_pretrained(out);
  CHECK(back.options().keep_accents);
  CHECK(back.options().do_lower_case);
  CHECK(back.encode("Caf\xC3\xA9 [MASK] test").ids == tok->encode("Caf\xC3\xA9 [MASK] test").ids);
  // With the default options restored the fixtures still match.
  const auto defaults = albert();
  REQUIRE(defaults);
  defaults->save(dir.path() / "defaults");
  const auto reloaded = ftlib::SentencePieceTokenizer::from_pretrained(dir.path() / "defaults");
  std::size_t n = 0;
  for (const auto& row : fixture_rows("single.jsonl")) {
    if (n == 50) break;
    CHECK(reloaded.encode(row.at("text").get<std::string>()).ids == row.at("ids").get<std::vector<std::int64_t>>());
    ++n;
  }
  CHECK(n == 50);
}

namespace {

// Protobuf wire-format writers for hand-made model files (field numbers of sentencepiece_model.proto).
std::string varint(std::uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string field_bytes(int field, const std::string& bytes) {
  return varint(static_cast<std::uint64_t>(field) << 3 | 2) + varint(bytes.size()) + bytes;
}
std::string field_varint_value(int field, std::uint64_t v) { return varint(static_cast<std::uint64_t>(field) << 3) + varint(v); }
std::string piece(const std::string& text, float score, int type) {
  std::string s = field_bytes(1, text);
  std::uint32_t u;
  std::memcpy(&u, &score, 4);
  s += varint(2 << 3 | 5);
  for (int k = 0; k < 4; ++k) s.push_back(static_cast<char>((u >> (8 * k)) & 0xFF));
  s += field_varint_value(3, static_cast<std::uint64_t>(type));
  return field_bytes(1, s);
}

std::string parse_message(const std::string& bytes) {
  return message_of([&] { (void)ftlib::SentencePieceModel::parse(bytes, "hand.model"); });
}

}  // namespace

TEST_CASE("SentencePieceModel: a hand-made model, and errors that name the file and the problem") {
  // <unk>, "▁", "a", "b", "ab", "▁ab"; no charsmap (identity normalizer).
  const std::string u = "\xE2\x96\x81";
  std::string model = piece("<unk>", 0, 2) + piece(u, -1, 1) + piece("a", -2, 1) + piece("b", -2, 1) +
                      piece("ab", -3, 1) + piece(u + "ab", -3.5F, 1) + piece("[CLS]", 0, 3);
  const auto m = ftlib::SentencePieceModel::parse(model, "hand.model");
  CHECK(m.size() == 7);
  CHECK(m.unk_id() == 0);
  CHECK(m.piece_to_id("ab") == 4);
  CHECK(m.piece_to_id("[CLS]") == 6);
  CHECK(m.piece_to_id("zzz") == 0);
  // Normalizer defaults: dummy prefix, spaces collapsed and escaped, trailing space dropped.
  CHECK(m.normalize("  ab   b ") == u + "ab" + u + "b");
  CHECK(m.normalize(" \t") == u + "\t");  // without a charsmap a tab is not a space
  CHECK(m.normalize("   ").empty());
  // Viterbi by hand: "▁ab" (-3.5) beats "▁"+"ab" (-4) and "▁"+"a"+"b" (-5); "▁b" = "▁"(-1) + "b"(-2).
  CHECK(m.encode("ab b") == std::vector<int>{5, 1, 3});
  // Unknown characters: one <unk> for a run (score min - 10), then "a".
  CHECK(m.encode("xyza") == std::vector<int>{1, 0, 2});
  CHECK(m.encode_as_pieces("xyza") == std::vector<std::string>{u, "xyz", "a"});
  CHECK(m.decode(std::vector<int>{5, 1, 3, 6, 0}) == "ab b \xE2\x81\x87 ");

  CHECK(parse_message("").find("hand.model: not a valid SentencePiece model file (it has no pieces)") !=
        std::string::npos);
  CHECK(parse_message(model.substr(0, model.size() - 3)).find("runs past the end") != std::string::npos);
  CHECK(parse_message(model + "\x3C").find("unsupported wire type 4") != std::string::npos);
  CHECK(parse_message(model + field_bytes(2, field_varint_value(3, 2)))
            .find("model_type is 2; only unigram models") != std::string::npos);
  CHECK(parse_message(piece("a", 0, 1)).find("no piece of type UNKNOWN") != std::string::npos);
  CHECK(parse_message(model + piece("ab", 0, 1)).find("piece \"ab\" (id 7) is defined twice") != std::string::npos);
  CHECK(parse_message(model + piece("q", 0, 9)).find("unknown piece type 9") != std::string::npos);
  CHECK(parse_message(model + piece("", 0, 1)).find("(ModelProto.pieces[7], byte 9: the piece is empty)") !=
        std::string::npos);
  CHECK(parse_message(model + field_bytes(3, field_bytes(2, std::string("\xFF\xFF\x00\x00xyz", 7))))
            .find("precompiled_charsmap: its trie size (65535 bytes) exceeds the blob (7 bytes)") != std::string::npos);
  CHECK(parse_message(model + field_bytes(2, field_varint_value(40, 3)))
            .find("trainer_spec.unk_id is 3 but the UNKNOWN piece has id 0") != std::string::npos);
}
