// Differential test: ftlib's own SentencePiece implementation (sentencepiece_model.hpp) against the
// real libsentencepiece (SentencePieceProcessor) on the ALBERT model. Built only when the library
// is found; it is the one program that links it (the tool and ftlib::sentencepiece do not).
// Compared: Encode ids, EncodeAsPieces, Decode, PieceToId, on (a) every review text of
// shared/data/amazon_reviews_5class, (b) every fixture text, raw and after AlbertTokenizer's
// pre-processing, (c) 20,000 seeded random strings mixing scripts, whitespace, marks and emoji.

#include <doctest/doctest.h>
#include <sentencepiece_processor.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "ftlib/data/csv.hpp"
#include "ftlib/tokenizers/sentencepiece.hpp"
#include "ftlib/tokenizers/sentencepiece_model.hpp"
#include "ftlib/tokenizers/unicode.hpp"
#include "test_support.hpp"

namespace {

std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

using ftlib::unicode::append_utf8;

/// Seeded random text drawn from many kinds of characters, in runs, so that words, numbers and
/// whitespace runs form as well as isolated oddities.
class RandomText {
 public:
  explicit RandomText(std::uint32_t seed) : rng_(seed) {}

  std::string next() {
    std::string out;
    const int runs = pick(0, 12);
    for (int r = 0; r < runs; ++r) {
      const int kind = pick(0, 17);
      const int n = pick(1, 8);
      for (int k = 0; k < n; ++k) append_utf8(out, draw(kind));
    }
    return out;
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  char32_t range(char32_t lo, char32_t hi) {
    return static_cast<char32_t>(std::uniform_int_distribution<std::uint32_t>(lo, hi)(rng_));
  }
  template <std::size_t N>
  char32_t one_of(const char32_t (&set)[N]) {
    return set[static_cast<std::size_t>(pick(0, static_cast<int>(N) - 1))];
  }

  char32_t draw(int kind) {
    static constexpr char32_t spaces[] = {U' ', U' ', U' ', U'\t', U'\n', U'\r', 0x0B, 0x0C, 0xA0, 0x85, 0x1680,
                                          0x2000, 0x2002, 0x2003, 0x2009, 0x200A, 0x200B, 0x2028, 0x2029, 0x202F,
                                          0x205F, 0x3000, 0xFEFF, 0x2581};
    static constexpr char32_t punct[] = {U'.', U',', U'!', U'?', U';', U':', U'\'', U'"', U'`', U'(', U')', U'[',
                                         U']', U'{', U'}', U'-', U'_', U'/', U'\\', U'@', U'#', U'$', U'%', U'^',
                                         U'&', U'*', U'+', U'=', U'<', U'>', U'|', U'~', 0x2013, 0x2014, 0x2018,
                                         0x2019, 0x201C, 0x201D, 0x2026, 0xA3, 0x20AC, 0xA5, 0xB7, 0xBF, 0xA1};
    static constexpr char32_t ligatures[] = {0xFB00, 0xFB01, 0xFB02, 0xFB03, 0xFB04, 0xFB05, 0xFB06, 0x132, 0x133,
                                             0x1C4,  0x1C5,  0x1C6,  0x1C7,  0x1C8,  0x1C9,  0x1CA,  0x1CB, 0x1CC,
                                             0x2122, 0x2121, 0x2116, 0x33A1, 0x3392, 0x2460, 0x2474, 0x2488, 0xBD,
                                             0xB2,   0xB3,   0xB9,   0x2075, 0x2082, 0x212B, 0x2126, 0x1E9E, 0xDF};
    static constexpr char32_t specials[] = {U'[', U'C', U'L', U'S', U']', U'<', U'u', U'n', U'k', U'>', U'M', U'A'};
    switch (kind) {
      case 0: return range(U'a', U'z');
      case 1: return range(U'A', U'Z');
      case 2: return range(U'0', U'9');
      case 3: return one_of(punct);
      case 4: return one_of(spaces);
      case 5: return range(0xC0, 0x24F);      // Latin-1 and Latin Extended (accents)
      case 6: return range(0x300, 0x36F);     // combining marks
      case 7: return range(0x4E00, 0x9FFF);   // CJK
      case 8: return pick(0, 1) ? range(0x3040, 0x30FF) : range(0xAC00, 0xD7A3);  // kana, Hangul
      case 9: {                                // emoji, ZWJ, variation selector
        const int which = pick(0, 5);
        if (which == 0) return 0x200D;
        if (which == 1) return 0xFE0F;
        return pick(0, 1) ? range(0x1F300, 0x1F6FF) : range(0x1F900, 0x1F9FF);
      }
      case 10: return range(0xFF01, 0xFF9F);  // fullwidth and halfwidth forms
      case 11: return one_of(ligatures);
      case 12: return range(0x00, 0x1F);      // control characters
      case 13: {                               // Greek, Cyrillic, Arabic, Devanagari, Thai
        static constexpr char32_t starts[] = {0x370, 0x400, 0x600, 0x900, 0xE00};
        const char32_t s = one_of(starts);
        return range(s, s + 0x7F);
      }
      case 14: {                               // any scalar value
        char32_t c = 0;
        do {
          c = pick(0, 3) ? range(0x80, 0xFFFF) : range(0x10000, 0x10FFFF);
        } while (c >= 0xD800 && c <= 0xDFFF);
        return c;
      }
      case 15: return one_of(specials);
      case 16: return range(0x2000, 0x2BFF);  // general punctuation, symbols, arrows, math
      default: return range(0x20, 0x7E);
    }
  }

  std::mt19937 rng_;
};

struct Comparison {
  const sentencepiece::SentencePieceProcessor& lib;
  const ftlib::SentencePieceModel& ours;
  std::size_t texts = 0;
  std::size_t mismatches = 0;
  std::size_t shown = 0;

  void check(const std::string& text, const char* where) {
    ++texts;
    std::vector<int> expected;
    const auto status = lib.Encode(text, &expected);
    REQUIRE(status.ok());
    const std::vector<int> got = ours.encode(text);
    std::vector<std::string> expected_pieces;
    REQUIRE(lib.Encode(text, &expected_pieces).ok());
    const std::vector<std::string> got_pieces = ours.encode_as_pieces(text);
    std::string expected_text;
    REQUIRE(lib.Decode(expected, &expected_text).ok());
    const std::string got_text = ours.decode(expected);
    if (got == expected && got_pieces == expected_pieces && got_text == expected_text) return;
    ++mismatches;
    if (shown++ < 10) {
      std::cout << "MISMATCH (" << where << ") text: " << nlohmann::json(text).dump(-1, ' ', false,
                                                                                  nlohmann::json::error_handler_t::replace)
                << "\n  library ids: " << nlohmann::json(expected).dump() << "\n  ftlib ids:   "
                << nlohmann::json(got).dump() << "\n  library pieces: "
                << nlohmann::json(expected_pieces).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n  ftlib pieces:   "
                << nlohmann::json(got_pieces).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n  library decode: "
                << nlohmann::json(expected_text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n  ftlib decode:   "
                << nlohmann::json(got_text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
  }
};

}  // namespace

TEST_CASE("ftlib's SentencePiece equals libsentencepiece on the ALBERT model") {
  const auto model_path = ftlib::testing::shared_path("vocab/albert-base-v2/spiece.model");
  if (!model_path) return;
  sentencepiece::SentencePieceProcessor lib;
  REQUIRE(lib.Load(model_path->string()).ok());
  const auto ours = ftlib::SentencePieceModel::parse(read_bytes(*model_path), *model_path);
  const auto tokenizer = ftlib::SentencePieceTokenizer::from_model_file(*model_path);

  SUBCASE("vocabulary: IdToPiece and PieceToId") {
    REQUIRE(ours.size() == static_cast<std::size_t>(lib.GetPieceSize()));
    std::size_t differ = 0;
    for (int id = 0; id < lib.GetPieceSize(); ++id) {
      if (ours.id_to_piece(id) != lib.IdToPiece(id)) ++differ;
      if (ours.piece_to_id(lib.IdToPiece(id)) != lib.PieceToId(lib.IdToPiece(id))) ++differ;
    }
    for (const char* s : {"", "no-such-piece", "\xE2\x96\x81", "<unk>", "<s>", "[CLS]", "hello"}) {
      if (ours.piece_to_id(s) != lib.PieceToId(s)) ++differ;
    }
    CHECK(differ == 0);
    CHECK(ours.unk_id() == lib.unk_id());
  }

  Comparison cmp{lib, ours};

  SUBCASE("(a) every review text") {
    const auto dir = ftlib::testing::shared_path("data/amazon_reviews_5class");
    if (!dir) return;
    for (const char* split : {"train.csv", "validation.csv", "test.csv"}) {
      ftlib::CsvReader reader(*dir / split);
      const auto column = reader.column_index("review_body");
      REQUIRE(column);
      ftlib::CsvRow row;
      while (reader.next(row)) {
        cmp.check(row[*column], split);
        cmp.check(tokenizer.preprocess_text(row[*column]), split);
      }
    }
    std::cout << "reviews (raw and pre-processed): " << cmp.texts - cmp.mismatches << "/" << cmp.texts
              << " identical\n";
    CHECK(cmp.texts > 0);
    CHECK(cmp.mismatches == 0);
  }

  SUBCASE("(b) every fixture text") {
    for (const char* file : {"single.jsonl", "single_max32.jsonl", "pairs_max64.jsonl"}) {
      const auto path = ftlib::testing::shared_path(std::string("fixtures/tokenizers/albert-base-v2/") + file);
      if (!path) return;
      std::ifstream in(*path);
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty()) continue;
        const auto row = nlohmann::json::parse(line);
        for (const char* key : {"text", "text_pair"}) {
          if (!row.contains(key)) continue;
          const auto text = row.at(key).get<std::string>();
          cmp.check(text, file);
          cmp.check(tokenizer.preprocess_text(text), file);
        }
      }
    }
    std::cout << "fixture texts (raw and pre-processed): " << cmp.texts - cmp.mismatches << "/" << cmp.texts
              << " identical\n";
    CHECK(cmp.texts > 0);
    CHECK(cmp.mismatches == 0);
  }

  SUBCASE("(c) 20,000 seeded random strings") {
    RandomText random(20240601);
    for (int i = 0; i < 20000; ++i) cmp.check(random.next(), "random");
    std::cout << "random strings: " << cmp.texts - cmp.mismatches << "/" << cmp.texts << " identical\n";
    CHECK(cmp.mismatches == 0);
  }
}
