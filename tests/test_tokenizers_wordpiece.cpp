// WordPieceTokenizer and the shared post-processing: truncation strategies, padding, pairs,
// decoding, batching, saving and error messages. Uses a tiny vocabulary written here (so every
// expected id is known by construction); bert-base-uncased behaviour is covered by the
// HuggingFace fixtures in test_tokenizer_conformance.cpp.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/data/dataset.hpp"
#include "ftlib/tokenizers/auto_tokenizer.hpp"
#include "ftlib/tokenizers/post_processing.hpp"
#include "ftlib/tokenizers/tokenizer_concept.hpp"
#include "ftlib/tokenizers/wordpiece.hpp"
#include "test_support.hpp"

namespace {

// id = index. Words "a".."z" are one token each, so a text of n letters has n pieces.
const std::vector<std::string> tiny_vocab = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",                                        // 0-4
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m",                     // 5-17
    "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z",                     // 18-30
    "un", "##aff", "##able", "hello", ",", "'", ".", "!", "cafe", "café", "Hello", "##s", "dog",  // 31-43
    "extraordinarily", "##ordinarily", "extra",  // 44-46: keys longer than the index's inline size
};

std::int64_t id_of(const std::string& token) {
  for (std::size_t i = 0; i < tiny_vocab.size(); ++i) {
    if (tiny_vocab[i] == token) return static_cast<std::int64_t>(i);
  }
  FAIL("token not in tiny vocab: " << token);
  return -1;
}

std::string letters(std::size_t n, char first = 'a') {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += ' ';
    out += static_cast<char>('a' + (first - 'a' + static_cast<int>(i)) % 26);
  }
  return out;
}

ftlib::WordPieceTokenizer tiny(ftlib::WordPieceOptions options = {}) {
  return ftlib::WordPieceTokenizer(tiny_vocab, std::move(options), "tiny");
}

std::vector<std::int64_t> prefix(const std::vector<std::int64_t>& v, std::size_t n) {
  return {v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n)};
}

}  // namespace

static_assert(ftlib::Tokenizer<ftlib::WordPieceTokenizer>);
static_assert(ftlib::Tokenizer<ftlib::AutoTokenizer>);

TEST_CASE("pieces, template and type ids of single texts and pairs") {
  const auto tok = tiny();
  const auto e = tok.encode("Hello, unaffable dogs!");
  CHECK(e.tokens == std::vector<std::string>{"[CLS]", "hello", ",", "un", "##aff", "##able", "dog", "##s", "!", "[SEP]"});
  CHECK(e.ids == std::vector<std::int64_t>{2, 34, 35, 31, 32, 33, 43, 42, 38, 3});
  CHECK(e.type_ids == std::vector<std::int64_t>(10, 0));
  CHECK(e.attention_mask == std::vector<std::int64_t>(10, 1));

  const auto p = tok.encode_pair("a b", "c");
  CHECK(p.tokens == std::vector<std::string>{"[CLS]", "a", "b", "[SEP]", "c", "[SEP]"});
  CHECK(p.type_ids == std::vector<std::int64_t>{0, 0, 0, 0, 1, 1});

  const auto none = tok.encode_pair("a b", "c", ftlib::EncodeOptions{}.without_special_tokens());
  CHECK(none.tokens == std::vector<std::string>{"a", "b", "c"});
  CHECK(none.type_ids == std::vector<std::int64_t>{0, 0, 1});

  CHECK(tok.encode("").tokens == std::vector<std::string>{"[CLS]", "[SEP]"});
  CHECK(tok.encode_pair("a", "").tokens == std::vector<std::string>{"[CLS]", "a", "[SEP]", "[SEP]"});
  CHECK(tok.encode("Extraordinarily extraordinarilys", ftlib::EncodeOptions{}.without_special_tokens()).tokens ==
        std::vector<std::string>{"extraordinarily", "extraordinarily", "##s"});
  CHECK(tok.encode("unordinarily extraextra", ftlib::EncodeOptions{}.without_special_tokens()).tokens ==
        std::vector<std::string>{"un", "##ordinarily", "[UNK]"});  // "##extra" is not in the vocab
  // A word with no matching piece at some position is one [UNK] as a whole.
  CHECK(tok.encode("unz").tokens == std::vector<std::string>{"[CLS]", "[UNK]", "[SEP]"});
}

TEST_CASE("cased and accent options") {
  ftlib::WordPieceOptions cased;
  cased.lowercase = false;
  const auto c = tiny(cased);
  CHECK(c.encode("Hello café", ftlib::EncodeOptions{}.without_special_tokens()).tokens ==
        std::vector<std::string>{"Hello", "café"});
  ftlib::WordPieceOptions strip = cased;
  strip.strip_accents = true;
  CHECK(tiny(strip).encode("Hello café", ftlib::EncodeOptions{}.without_special_tokens()).tokens ==
        std::vector<std::string>{"Hello", "cafe"});
  // Uncased: lowercase and (following lowercase) strip accents.
  CHECK(tiny().encode("HELLO CAFÉ", ftlib::EncodeOptions{}.without_special_tokens()).tokens ==
        std::vector<std::string>{"hello", "cafe"});
}

TEST_CASE("truncation strategies follow HF tokenizers' truncate_encodings") {
  const auto tok = tiny();
  const auto a = tok.encode(letters(10), ftlib::EncodeOptions{}.without_special_tokens()).ids;
  const auto b = tok.encode(letters(20, 'k'), ftlib::EncodeOptions{}.without_special_tokens()).ids;
  REQUIRE(a.size() == 10);
  REQUIRE(b.size() == 20);
  const auto pair = [&](std::size_t max_length, ftlib::Truncation t) {
    return tok.encode_pair(letters(10), letters(20, 'k'), ftlib::EncodeOptions{}.with_max_length(max_length).with_truncation(t));
  };
  const auto expect_pair = [&](const ftlib::Encoding& e, std::size_t n1, std::size_t n2) {
    std::vector<std::int64_t> ids{2};
    const auto pa = prefix(a, n1);
    const auto pb = prefix(b, n2);
    ids.insert(ids.end(), pa.begin(), pa.end());
    ids.push_back(3);
    ids.insert(ids.end(), pb.begin(), pb.end());
    ids.push_back(3);
    CHECK(e.ids == ids);
    std::vector<std::int64_t> types(n1 + 2, 0);
    types.insert(types.end(), n2 + 1, 1);
    CHECK(e.type_ids == types);
  };

  SUBCASE("longest_first, both sides cut, odd budget: the longer (second) side gets the extra token") {
    // budget 16 - 3 = 13: both exceed 13/2, so 6 and 7.
    expect_pair(pair(16, ftlib::Truncation::longest_first), 6, 7);
  }
  SUBCASE("longest_first, odd budget, first side longer: the first side gets the extra token") {
    const auto e = tok.encode_pair(letters(20, 'k'), letters(10), ftlib::EncodeOptions{}.with_max_length(16));
    CHECK(e.size() == 16);
    CHECK(std::count(e.type_ids.begin(), e.type_ids.end(), 0) == 7 + 2);
  }
  SUBCASE("longest_first, equal lengths, odd budget: the second side gets the extra token") {
    const auto e = tok.encode_pair(letters(10), letters(10), ftlib::EncodeOptions{}.with_max_length(16));
    CHECK(std::count(e.type_ids.begin(), e.type_ids.end(), 0) == 6 + 2);
    CHECK(std::count(e.type_ids.begin(), e.type_ids.end(), 1) == 7 + 1);
  }
  SUBCASE("longest_first, only the long side is cut when the short one fits in half the budget") {
    // budget 33 - 3 = 30 ... 30 >= 10 + 20: nothing to cut; with 28: budget 25, second keeps 15.
    expect_pair(pair(33, ftlib::Truncation::longest_first), 10, 20);
    expect_pair(pair(28, ftlib::Truncation::longest_first), 10, 15);
  }
  SUBCASE("only_first and only_second") {
    expect_pair(pair(28, ftlib::Truncation::only_second), 10, 15);
    expect_pair(pair(28, ftlib::Truncation::only_first), 5, 20);
    CHECK_THROWS_WITH_AS(pair(16, ftlib::Truncation::only_first),
                         doctest::Contains("the first text has 10 tokens but 17 must be removed"), ftlib::option_error);
  }
  SUBCASE("none keeps everything") {
    expect_pair(pair(16, ftlib::Truncation::none), 10, 20);
  }
  SUBCASE("single texts keep the first max_length - 2 pieces") {
    const auto e = tok.encode(letters(10), ftlib::EncodeOptions{}.with_max_length(5));
    std::vector<std::int64_t> ids{2};
    const auto pa = prefix(a, 3);
    ids.insert(ids.end(), pa.begin(), pa.end());
    ids.push_back(3);
    CHECK(e.ids == ids);
    CHECK(tok.encode(letters(10), ftlib::EncodeOptions{}.with_max_length(5).with_truncation(ftlib::Truncation::only_first)).ids == ids);
    CHECK(tok.encode(letters(10), ftlib::EncodeOptions{}.with_max_length(5).without_special_tokens()).ids == prefix(a, 5));
  }
  SUBCASE("impossible settings are option errors naming the option") {
    CHECK_THROWS_WITH_AS(tok.encode("a", ftlib::EncodeOptions{}.with_max_length(1)),
                         doctest::Contains("max_length=1 is smaller than the 2 special tokens"), ftlib::option_error);
    CHECK_THROWS_WITH_AS(tok.encode_pair("a", "b", ftlib::EncodeOptions{}.with_max_length(2)),
                         doctest::Contains("max_length=2 is smaller than the 3 special tokens a pair needs"),
                         ftlib::option_error);
    CHECK_THROWS_WITH_AS(tok.encode("a", ftlib::EncodeOptions{}.with_max_length(8).with_truncation(ftlib::Truncation::only_second)),
                         doctest::Contains("only_second needs a text pair"), ftlib::option_error);
    CHECK_THROWS_WITH_AS(tok.encode("a", ftlib::EncodeOptions{}.with_padding(ftlib::Padding::max_length)),
                         doctest::Contains("padding=max_length needs max_length"), ftlib::option_error);
  }
}

TEST_CASE("truncated_lengths: the Rust rule on hand-computed cases") {
  using ftlib::Truncation;
  using ftlib::truncated_lengths;
  // budget 61 (max_length 64 for a pair), as in the README's point 8.
  CHECK(truncated_lengths(100, 100, 61, Truncation::longest_first) == std::pair<std::size_t, std::size_t>{30, 31});
  CHECK(truncated_lengths(100, 80, 61, Truncation::longest_first) == std::pair<std::size_t, std::size_t>{31, 30});
  CHECK(truncated_lengths(80, 100, 61, Truncation::longest_first) == std::pair<std::size_t, std::size_t>{30, 31});
  CHECK(truncated_lengths(20, 100, 61, Truncation::longest_first) == std::pair<std::size_t, std::size_t>{20, 41});
  CHECK(truncated_lengths(100, 20, 61, Truncation::longest_first) == std::pair<std::size_t, std::size_t>{41, 20});
  CHECK(truncated_lengths(40, 100, 61, Truncation::longest_first) == std::pair<std::size_t, std::size_t>{30, 31});
  CHECK(truncated_lengths(100, std::nullopt, 30, Truncation::longest_first) == std::pair<std::size_t, std::size_t>{30, 0});
  CHECK(truncated_lengths(30, 31, 61, Truncation::longest_first) == std::pair<std::size_t, std::size_t>{30, 31});
}

TEST_CASE("padding: max_length per row, longest over a batch") {
  const auto tok = tiny();
  const auto e = tok.encode("a b", ftlib::EncodeOptions{}.with_max_length(6).with_padding(ftlib::Padding::max_length));
  CHECK(e.ids == std::vector<std::int64_t>{2, 5, 6, 3, 0, 0});
  CHECK(e.attention_mask == std::vector<std::int64_t>{1, 1, 1, 1, 0, 0});
  CHECK(e.type_ids == std::vector<std::int64_t>(6, 0));
  CHECK(e.tokens.back() == "[PAD]");

  const std::vector<std::string> texts = {"a", "a b c d", "a b"};
  const auto batch = tok.encode_batch(texts, ftlib::EncodeOptions{}.with_padding(ftlib::Padding::longest));
  REQUIRE(batch.size() == 3);
  for (const auto& row : batch) CHECK(row.size() == 6);
  CHECK(batch[0].attention_mask == std::vector<std::int64_t>{1, 1, 1, 0, 0, 0});
  CHECK(batch[0].ids == std::vector<std::int64_t>{2, 5, 3, 0, 0, 0});
  CHECK(batch[1].attention_mask == std::vector<std::int64_t>(6, 1));
  // Padding::longest on a single encode() is a batch of one: nothing to pad.
  CHECK(tok.encode("a", ftlib::EncodeOptions{}.with_padding(ftlib::Padding::longest)).size() == 3);

  std::vector<ftlib::Encoding> rows = {tok.encode("a"), tok.encode("a b c")};
  ftlib::pad_batch(rows, tok.pad_token_id(), "[PAD]", ftlib::Padding::max_length, 8);
  CHECK(rows[0].size() == 8);
  CHECK(rows[1].size() == 8);
}

TEST_CASE("encode_batch equals sequential encoding on any number of threads") {
  const auto vocab = ftlib::testing::shared_path("vocab/bert-base-uncased/vocab.txt");
  const auto tok = vocab ? ftlib::WordPieceTokenizer::from_vocab_file(*vocab) : tiny();
  std::vector<std::string> texts;
  std::vector<ftlib::TextPair> pairs;
  for (int i = 0; i < 103; ++i) {
    texts.push_back("Review number " + std::to_string(i) + ": " + letters(static_cast<std::size_t>(i % 37)) +
                    " unaffable, café! " + std::string(static_cast<std::size_t>(i % 5), '!'));
    pairs.emplace_back(texts.back(), letters(static_cast<std::size_t>(i % 11), 'c'));
  }
  const auto options = ftlib::EncodeOptions{}.with_max_length(24).with_padding(ftlib::Padding::longest);
  std::vector<ftlib::Encoding> sequential;
  std::vector<ftlib::Encoding> sequential_pairs;
  for (const auto& t : texts) sequential.push_back(tok.encode(t, ftlib::EncodeOptions{}.with_max_length(24)));
  for (const auto& [a, b] : pairs) sequential_pairs.push_back(tok.encode_pair(a, b, ftlib::EncodeOptions{}.with_max_length(24)));
  ftlib::pad_batch(sequential, tok.pad_token_id(), "[PAD]", ftlib::Padding::longest);
  ftlib::pad_batch(sequential_pairs, tok.pad_token_id(), "[PAD]", ftlib::Padding::longest);
  for (const std::size_t threads : {0u, 1u, 2u, 3u, 7u, 200u}) {
    CAPTURE(threads);
    const auto batch = tok.encode_batch(texts, options, threads);
    const auto batch_pairs = tok.encode_batch(pairs, options, threads);
    REQUIRE(batch.size() == texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) {
      CHECK(batch[i].ids == sequential[i].ids);
      CHECK(batch[i].tokens == sequential[i].tokens);
      CHECK(batch[i].attention_mask == sequential[i].attention_mask);
      CHECK(batch_pairs[i].ids == sequential_pairs[i].ids);
      CHECK(batch_pairs[i].type_ids == sequential_pairs[i].type_ids);
    }
  }
  CHECK(tok.encode_batch(std::vector<std::string>{}, options).empty());
  // An error on one row reaches the caller.
  std::vector<std::string> bad = texts;
  bad[57] = std::string("ok \xC3\x28 bad");
  CHECK_THROWS_AS(tok.encode_batch(bad, options, 3), ftlib::parse_error);
}

TEST_CASE("decode follows HF: ## pieces glue, spaces before punctuation go, special tokens kept unless asked") {
  const auto tok = tiny();
  const auto ids = tok.encode("Hello, unaffable dogs!").ids;
  CHECK(tok.decode(ids, true) == "hello, unaffable dogs!");
  CHECK(tok.decode(ids) == "[CLS] hello, unaffable dogs! [SEP]");  // HF default: keep special tokens
  CHECK(tok.decode({id_of("i"), id_of("'"), id_of("m"), id_of("a"), id_of(".")}) == "i'm a.");
  CHECK_THROWS_WITH_AS(tok.decode({5, 999}), doctest::Contains("token id 999 is out of range"), ftlib::option_error);

  const auto vocab = ftlib::testing::shared_path("vocab/bert-base-uncased/vocab.txt");
  if (!vocab) return;
  const auto bert = ftlib::WordPieceTokenizer::from_vocab_file(*vocab);
  // ids from the bert-base-uncased README (HF's encoding of "Hello, my dog is cute").
  CHECK(bert.decode({101, 7592, 1010, 2026, 3899, 2003, 10140, 102}, true) == "hello, my dog is cute");
}

TEST_CASE("vocabulary access") {
  const auto tok = tiny();
  CHECK(tok.vocab_size() == tiny_vocab.size());
  CHECK(tok.pad_token_id() == 0);
  CHECK(tok.unk_token_id() == 1);
  CHECK(tok.cls_token_id() == 2);
  CHECK(tok.sep_token_id() == 3);
  CHECK(tok.id_to_token(32) == "##aff");
  CHECK(tok.token_to_id("##aff") == 32);
  CHECK(tok.token_to_id("café") == 40);
  CHECK_FALSE(tok.token_to_id("nope").has_value());
  CHECK_THROWS_WITH_AS((void)tok.id_to_token(-1), doctest::Contains("out of range"), ftlib::option_error);
}

TEST_CASE("invalid UTF-8 input is an error that says so, not mangled text") {
  const auto tok = tiny();
  CHECK_THROWS_WITH_AS(tok.encode("abc\xFF" "def"),
                       "input text is not valid UTF-8: invalid byte sequence starting with 0xFF at byte offset 3 "
                       "(expected UTF-8 encoded text)",
                       ftlib::parse_error);
  CHECK_THROWS_WITH_AS(tok.encode("a\xC3"), doctest::Contains("at byte offset 1"), ftlib::parse_error);     // truncated
  CHECK_THROWS_WITH_AS(tok.encode("\xC0\xAF"), doctest::Contains("0xC0 at byte offset 0"), ftlib::parse_error);  // overlong
  CHECK_THROWS_WITH_AS(tok.encode("x\xED\xA0\x80"), doctest::Contains("0xED at byte offset 1"), ftlib::parse_error);  // surrogate
  CHECK_THROWS_AS(tok.encode_pair("ok", "\xF5\x80\x80\x80"), ftlib::parse_error);
}

TEST_CASE("loading errors name the file") {
  const ftlib::testing::TempDir dir;
  const std::string missing = (dir.path() / "missing-vocab.txt").string() + ": cannot open WordPiece vocabulary";
  const std::string vocab_path = (dir.path() / "vocab.txt").string();
  const std::string bad_json = (dir.path() / "tokenizer_config.json").string() + ":1:24: invalid JSON";
  CHECK_THROWS_WITH_AS(ftlib::WordPieceTokenizer::from_vocab_file(dir.path() / "missing-vocab.txt"),
                       doctest::Contains(missing.c_str()),
                       ftlib::io_error);
  CHECK_THROWS_WITH_AS(ftlib::WordPieceTokenizer::from_pretrained(dir.path()),
                       doctest::Contains(vocab_path.c_str()), ftlib::io_error);
  {
    std::ofstream(dir.path() / "vocab.txt") << "[PAD]\n[CLS]\n[SEP]\nhello\n";
  }
  CHECK_THROWS_WITH_AS(ftlib::WordPieceTokenizer::from_pretrained(dir.path()),
                       doctest::Contains("has no unknown token \"[UNK]\""), ftlib::parse_error);
  {
    std::ofstream(dir.path() / "tokenizer_config.json") << "{\"do_lower_case\": true,";
  }
  CHECK_THROWS_WITH_AS(ftlib::WordPieceTokenizer::from_pretrained(dir.path()),
                       doctest::Contains(bad_json.c_str()),
                       ftlib::parse_error);
}

TEST_CASE("save writes files from_pretrained (and transformers) read back") {
  const ftlib::testing::TempDir dir;
  ftlib::WordPieceOptions cased;
  cased.lowercase = false;
  const auto tok = tiny(cased);
  tok.save(dir.path());
  for (const char* f : {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json"}) {
    CHECK(std::filesystem::exists(dir.path() / f));
  }
  std::ifstream config_file(dir.path() / "tokenizer_config.json");
  const auto config = nlohmann::json::parse(config_file);
  CHECK(config.at("do_lower_case") == false);
  CHECK(config.at("tokenizer_class") == "BertTokenizer");
  CHECK(config.at("unk_token") == "[UNK]");

  const auto back = ftlib::WordPieceTokenizer::from_pretrained(dir.path());
  CHECK(back.vocab_size() == tok.vocab_size());
  CHECK_FALSE(back.options().lowercase);
  const std::string text = "Hello café, unaffable dogs!";
  CHECK(back.encode(text).ids == tok.encode(text).ids);
  CHECK(back.encode(text).tokens == std::vector<std::string>{"[CLS]", "Hello", "café", ",", "un", "##aff", "##able", "dog", "##s", "!", "[SEP]"});
}

TEST_CASE("AutoTokenizer picks the tokenizer from a checkpoint's files") {
  const ftlib::testing::TempDir dir;
  ftlib::WordPieceOptions cased;
  cased.lowercase = false;
  const auto tok = tiny(cased);
  tok.save(dir.path());
  const std::string text = "Hello café, unaffable dogs!";

  const auto from_dir = ftlib::AutoTokenizer::from_pretrained(dir.path());
  CHECK(from_dir.kind() == "wordpiece");
  CHECK(from_dir.encode(text).ids == tok.encode(text).ids);  // cased: tokenizer_config.json was read
  CHECK(from_dir.encode_pair(text, "a").type_ids == tok.encode_pair(text, "a").type_ids);
  CHECK(from_dir.vocab_size() == tok.vocab_size());
  CHECK(from_dir.pad_token_id() == 0);
  CHECK(from_dir.id_to_token(32) == "##aff");
  CHECK(from_dir.token_to_id("dog") == 43);
  CHECK(from_dir.decode(tok.encode(text).ids) == tok.decode(tok.encode(text).ids));
  CHECK(from_dir.encode_batch(std::vector<std::string>{text, "a"}, {}, 2)[1].ids == tok.encode("a").ids);

  // A vocab.txt given directly: default (uncased) options.
  const auto from_file = ftlib::AutoTokenizer::from_pretrained(dir.path() / "vocab.txt");
  CHECK(from_file.kind() == "wordpiece");
  CHECK(from_file.encode("HELLO").tokens == std::vector<std::string>{"[CLS]", "hello", "[SEP]"});

  const ftlib::testing::TempDir empty;
  const std::string empty_path = empty.path().string();
  CHECK_THROWS_WITH_AS(ftlib::AutoTokenizer::from_pretrained(empty.path()),
                       doctest::Contains("no tokenizer files found (expected vocab.txt"), ftlib::io_error);
  CHECK_THROWS_WITH_AS(ftlib::AutoTokenizer::from_pretrained(empty.path() / "nothing-here"),
                       doctest::Contains("not found"), ftlib::io_error);
  {
    std::ofstream(empty.path() / "tokenizer_config.json") << R"({"tokenizer_class": "GPT2Tokenizer"})";
  }
  CHECK_THROWS_WITH_AS(ftlib::AutoTokenizer::from_pretrained(empty.path()),
                       doctest::Contains("tokenizer_class \"GPT2Tokenizer\" is not supported"), ftlib::parse_error);
  {
    std::ofstream(empty.path() / "tokenizer_config.json") << R"({"tokenizer_class": "AlbertTokenizerFast"})";
  }
  const std::string spiece = (empty.path() / "spiece.model").string();
  CHECK_THROWS_WITH_AS(ftlib::AutoTokenizer::from_pretrained(empty.path()),
                       doctest::Contains(spiece.c_str()),
                       ftlib::error);
}

TEST_CASE("AutoTokenizer loads ALBERT's SentencePiece tokenizer") {
  const auto dir = ftlib::testing::shared_path("vocab/albert-base-v2");
  if (!dir) return;
  const auto direct = ftlib::SentencePieceTokenizer::from_pretrained(*dir);
  const std::string text = "Hello, my dog is cute";
  for (const auto& path : {*dir, *dir / "spiece.model"}) {
    const auto tok = ftlib::AutoTokenizer::from_pretrained(path);
    CHECK(tok.kind() == "sentencepiece");
    CHECK(tok.encode(text).ids == direct.encode(text).ids);
    CHECK(tok.pad_token_id() == direct.pad_token_id());
    CHECK(tok.vocab_size() == direct.vocab_size());
  }
}

TEST_CASE("tokenizer.json (what transformers 5 saves instead of vocab.txt) gives the vocab.txt tokenizer's ids") {
  const auto dir = ftlib::testing::shared_path("vocab/bert-base-uncased");
  if (!dir) return;
  const auto reviews = ftlib::testing::shared_path("data/amazon_reviews_5class/train.csv");
  if (!reviews) return;
  const auto from_vocab = ftlib::WordPieceTokenizer::from_vocab_file(*dir / "vocab.txt");
  const auto from_json = ftlib::WordPieceTokenizer::from_tokenizer_json(*dir / "tokenizer.json");
  CHECK(from_json.vocab_size() == from_vocab.vocab_size());
  const auto data = ftlib::TextClassificationDataset::load(*reviews, ftlib::DatasetOptions{}.with_text_column("review_body").with_label_column("stars"));
  REQUIRE(data.size() >= 400);
  std::size_t same = 0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    const auto a = from_vocab.encode(data.text(i)).ids;
    const auto b = from_json.encode(data.text(i)).ids;
    same += a == b;
  }
  CHECK(same == data.size());
  const auto pair_a = from_vocab.encode_pair("Hello there!", "General Kenobi.");
  const auto pair_b = from_json.encode_pair("Hello there!", "General Kenobi.");
  CHECK(pair_a.ids == pair_b.ids);
  CHECK(pair_a.type_ids == pair_b.type_ids);

  // A directory with tokenizer.json only loads the same tokenizer.
  const ftlib::testing::TempDir tmp;
  std::filesystem::copy_file(*dir / "tokenizer.json", tmp.path() / "tokenizer.json");
  const auto auto_tok = ftlib::AutoTokenizer::from_pretrained(tmp.path());
  CHECK(auto_tok.kind() == "wordpiece");
  CHECK(auto_tok.encode(data.text(0)).ids == from_vocab.encode(data.text(0)).ids);
}

TEST_CASE("tokenizer.json of another kind is refused, naming the field") {
  const auto dir = ftlib::testing::shared_path("vocab/albert-base-v2");
  if (!dir) return;
  CHECK_THROWS_WITH_AS((void)ftlib::WordPieceTokenizer::from_tokenizer_json(*dir / "tokenizer.json"),
                       doctest::Contains("field 'model.type': ftlib reads WordPiece tokenizer.json files, this one is \"Unigram\""),
                       ftlib::parse_error);
}
