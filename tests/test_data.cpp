// Tests for include/ftlib/data: the CSV/TSV and JSONL readers and TextClassificationDataset.
// Inputs are written byte for byte into temporary files so every line and column in the
// expected messages can be counted by hand from the literal above it.

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ftlib/data/csv.hpp"
#include "ftlib/data/dataset.hpp"
#include "ftlib/data/jsonl.hpp"
#include "test_support.hpp"

namespace {

using ftlib::testing::TempDir;

std::filesystem::path write_file(const TempDir& dir, const std::string& name, const std::string& bytes) {
  const auto path = dir.path() / name;
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  return path;
}

// The message of the exception `f` throws, if it is an E; a text saying what happened otherwise.
using ftlib::testing::message_of;

std::vector<std::vector<std::string>> read_all(ftlib::CsvReader& reader, std::vector<std::size_t>* lines = nullptr) {
  std::vector<std::vector<std::string>> rows;
  ftlib::CsvRow row;
  while (reader.next(row)) {
    rows.push_back(row.fields);
    if (lines) lines->push_back(row.line);
  }
  return rows;
}

}  // namespace

// --------------------------------------------------------------------------------------------
// CSV reader
// --------------------------------------------------------------------------------------------

TEST_CASE("CsvReader: RFC 4180 quoting, CRLF, BOM, embedded line breaks and record line numbers") {
  // line 1: BOM + header; 2: quoted comma and doubled quote; 3: blank (skipped);
  // 4-5: a field with an embedded CRLF; 6: empty last field, LF ending; 7: no final newline.
  const std::string text =
      "\xEF\xBB\xBFreview_body,stars\r\n"
      "\"Good, \"\"really\"\" good\",5\r\n"
      "\r\n"
      "\"two\r\nlines\",3\r\n"
      "plain,\n"
      "caf\xC3\xA9,1";
  std::istringstream in(text);
  ftlib::CsvReader reader(in, "mem.csv");
  CHECK(reader.header() == std::vector<std::string>{"review_body", "stars"});
  CHECK(reader.column_index("stars") == 1);
  CHECK_FALSE(reader.column_index("label").has_value());

  std::vector<std::size_t> lines;
  const auto rows = read_all(reader, &lines);
  REQUIRE(rows.size() == 4);
  CHECK(rows[0] == std::vector<std::string>{"Good, \"really\" good", "5"});
  CHECK(rows[1] == std::vector<std::string>{"two\r\nlines", "3"});
  CHECK(rows[2] == std::vector<std::string>{"plain", ""});
  CHECK(rows[3] == std::vector<std::string>{"caf\xC3\xA9", "1"});
  CHECK(lines == std::vector<std::size_t>{2, 4, 6, 7});
}

TEST_CASE("CsvReader: field positions count characters, and records are numbered") {
  // "é" is one character: the second field of line 2 starts at column 4.
  std::istringstream in("a,b\n\xC3\xA9x,\"q\"\n");
  ftlib::CsvReader reader(in, "mem.csv");
  ftlib::CsvRow row;
  REQUIRE(reader.next(row));
  CHECK(row.record == 1);
  CHECK(row.positions[0].line == 2);
  CHECK(row.positions[0].column == 1);
  CHECK(row.positions[1].column == 4);
  CHECK(row[1] == "q");
  CHECK_FALSE(reader.next(row));
}

TEST_CASE("CsvReader: TSV, no header, lone CR line ends") {
  std::istringstream in("x\t\"has\ttab\"\ry\tz\r");
  auto options = ftlib::CsvOptions::tsv();
  options.has_header = false;
  ftlib::CsvReader reader(in, "mem.tsv", options);
  CHECK(reader.header().empty());
  std::vector<std::size_t> lines;
  const auto rows = read_all(reader, &lines);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0] == std::vector<std::string>{"x", "has\ttab"});
  CHECK(rows[1] == std::vector<std::string>{"y", "z"});
  CHECK(lines == std::vector<std::size_t>{1, 2});
}

TEST_CASE("CsvReader: a tiny buffer gives the same records as the default one") {
  // Quotes, CRLF pairs and multi-byte characters land on buffer boundaries with 16-byte reads.
  std::string text = "text,label\r\n";
  for (int i = 0; i < 50; ++i) {
    text += "\"row " + std::to_string(i) + ", \"\"quoted\"\"\r\nna\xC3\xAFve \xE2\x82\xAC\"," + std::to_string(i % 5) + "\r\n";
  }
  std::istringstream a(text);
  std::istringstream b(text);
  ftlib::CsvOptions small;
  small.buffer_size = 16;
  ftlib::CsvReader big_reader(a, "a");
  ftlib::CsvReader small_reader(b, "b", small);
  std::vector<std::size_t> big_lines;
  std::vector<std::size_t> small_lines;
  const auto big_rows = read_all(big_reader, &big_lines);
  const auto small_rows = read_all(small_reader, &small_lines);
  CHECK(big_rows.size() == 50);
  CHECK(big_rows == small_rows);
  CHECK(big_lines == small_lines);
  CHECK(big_lines.back() == 2 + 49 * 2);
  CHECK(big_rows[7][0] == "row 7, \"quoted\"\r\nna\xC3\xAFve \xE2\x82\xAC");
}

TEST_CASE("CsvReader: streams a 200k-row file") {
  TempDir dir;
  const auto path = dir.path() / "big.csv";
  {
    std::ofstream out(path, std::ios::binary);
    out << "text,label\r\n";
    for (int i = 0; i < 200000; ++i) out << "\"review number " << i << ", fine\"," << (i % 5) << "\r\n";
  }
  ftlib::CsvReader reader(path);
  ftlib::CsvRow row;
  std::size_t count = 0;
  std::int64_t label_sum = 0;
  while (reader.next(row)) {
    ++count;
    label_sum += std::stoi(row[1]);
  }
  CHECK(count == 200000);
  CHECK(label_sum == 400000);  // 40000 rows of each of 0..4: 40000 * 10
  CHECK(row.line == 200001);
  CHECK(row[0] == "review number 199999, fine");
}

TEST_CASE("CsvReader: errors name file, line and column") {
  TempDir dir;
  SUBCASE("unterminated quote points at the opening quote") {
    const auto path = write_file(dir, "u.csv", "text,label\r\nok,1\r\nx,\"never closed\r\nmore,3\r\n");
    CHECK(message_of<ftlib::parse_error>([&] {
            ftlib::CsvReader reader(path);
            read_all(reader);
          }) == path.string() + ":3:3: unterminated quoted field: the quote opened here is never closed");
  }
  SUBCASE("too many fields points at the first extra one") {
    // "too,many,2": t-o-o (1-3) ',' (4) m-a-n-y (5-8) ',' (9) '2' (10)
    const auto path = write_file(dir, "n.csv", "text,label\nfine,1\ntoo,many,2\n");
    CHECK(message_of<ftlib::parse_error>([&] {
            ftlib::CsvReader reader(path);
            read_all(reader);
          }) == path.string() +
                    ":3:10: wrong number of fields: expected 2 (as in the header), got 3; the first extra field "
                    "starts here (a text containing ',' must be quoted)");
  }
  SUBCASE("too few fields") {
    const auto path = write_file(dir, "f.csv", "text,label\nfine,1\nlonely\n");
    CHECK(message_of<ftlib::parse_error>([&] {
            ftlib::CsvReader reader(path);
            read_all(reader);
          }) == path.string() + ":3: wrong number of fields: expected 2 (as in the header), got 1");
  }
  SUBCASE("invalid UTF-8: a Latin-1 e-acute inside a line") {
    // line 3 "na\xC3\xAFve caf\xE9 x": n a ï v e ' ' c a f -> \xE9 is the 10th character
    const auto path = write_file(dir, "l.csv", "text,label\ncaf\xC3\xA9,1\nna\xC3\xAFve caf\xE9 x,2\n");
    CHECK(message_of<ftlib::parse_error>([&] {
            ftlib::CsvReader reader(path);
            read_all(reader);
          }) == path.string() +
                    ":3:10: invalid UTF-8: byte 0xE9 begins a multi-byte character but is followed by 0x20 (is the "
                    "file Latin-1 or Windows-1252? convert it to UTF-8)");
  }
  SUBCASE("invalid UTF-8: a stray continuation byte in the header") {
    const auto path = write_file(dir, "h.csv", "text,\x80label\nx,1\n");
    CHECK(message_of<ftlib::parse_error>([&] { ftlib::CsvReader reader(path); }) ==
          path.string() +
              ":1:6: invalid UTF-8: byte 0x80 cannot start a character (is the file Latin-1 or Windows-1252? "
              "convert it to UTF-8)");
  }
  SUBCASE("invalid UTF-8: the file ends inside a character") {
    const auto path = write_file(dir, "e.csv", "text,label\nab,\xC3");
    CHECK(message_of<ftlib::parse_error>([&] {
            ftlib::CsvReader reader(path);
            read_all(reader);
          }) == path.string() +
                    ":2:4: invalid UTF-8: the text ends inside the multi-byte character begun by byte 0xC3");
  }
  SUBCASE("text after a closing quote") {
    const auto path = write_file(dir, "q.csv", "text,label\n\"ab\"c,1\n");
    CHECK(message_of<ftlib::parse_error>([&] {
            ftlib::CsvReader reader(path);
            read_all(reader);
          }) == path.string() +
                    ":2:5: unexpected character 'c' after the closing quote of a quoted field (a quote inside a "
                    "quoted field must be doubled: \"\"); the field's quote opened at line 2, column 1");
  }
  SUBCASE("empty file, BOM only, blank lines only") {
    for (const std::string& bytes : {std::string(), std::string("\xEF\xBB\xBF"), std::string("\r\n\n")}) {
      const auto path = write_file(dir, "empty.csv", bytes);
      CHECK(message_of<ftlib::parse_error>([&] { ftlib::CsvReader reader(path); }) ==
            path.string() + ": the file is empty (expected a header row)");
    }
  }
  SUBCASE("missing file") {
    CHECK(message_of<ftlib::io_error>([&] { ftlib::CsvReader reader(dir.path() / "nope.csv"); })
              .starts_with((dir.path() / "nope.csv").string() + ": cannot open for reading"));
  }
}

// --------------------------------------------------------------------------------------------
// JSONL reader
// --------------------------------------------------------------------------------------------

TEST_CASE("JsonlReader: one object per line, blank lines skipped, CRLF and BOM") {
  std::istringstream in("\xEF\xBB\xBF{\"text\": \"a\", \"label\": 1}\r\n\r\n   \n{\"text\": \"b\\nc\", \"label\": \"x\"}");
  ftlib::JsonlReader reader(in, "mem.jsonl");
  ftlib::JsonlRecord record;
  REQUIRE(reader.next(record));
  CHECK(record.line == 1);
  CHECK(record.value["label"] == 1);
  REQUIRE(reader.next(record));
  CHECK(record.line == 4);
  CHECK(record.record == 2);
  CHECK(record.value["text"] == "b\nc");
  CHECK_FALSE(reader.next(record));
}

TEST_CASE("JsonlReader: errors name file, line and column") {
  ftlib::JsonlRecord record;
  SUBCASE("malformed JSON") {
    // line 2: {"text": "a", "label": }  -> the '}' is the 24th character
    std::istringstream in("{\"text\": \"ok\"}\n{\"text\": \"a\", \"label\": }\n");
    ftlib::JsonlReader reader(in, "bad.jsonl");
    REQUIRE(reader.next(record));
    const auto message = message_of<ftlib::parse_error>([&] { reader.next(record); });
    CHECK(message.starts_with("bad.jsonl:2:24: invalid JSON: syntax error while parsing value - unexpected '}'"));
    CHECK(message.find("line 1") == std::string::npos);  // nlohmann's own line count would mislead
  }
  SUBCASE("a line that is not an object") {
    std::istringstream in("\n[1, 2]\n");
    ftlib::JsonlReader reader(in, "arr.jsonl");
    CHECK(message_of<ftlib::parse_error>([&] { reader.next(record); }) ==
          "arr.jsonl:2: expected a JSON object on each line, got array");
  }
  SUBCASE("invalid UTF-8") {
    // {"text": "caf\xE9"}: { " t e x t " : ' ' " c a f -> \xE9 is the 14th character
    std::istringstream in("{\"text\": \"caf\xE9\"}\n");
    ftlib::JsonlReader reader(in, "u.jsonl");
    CHECK(message_of<ftlib::parse_error>([&] { reader.next(record); }) ==
          "u.jsonl:1:14: invalid UTF-8: byte 0xE9 begins a multi-byte character but is followed by 0x22 (is the "
          "file Latin-1 or Windows-1252? convert it to UTF-8)");
  }
  SUBCASE("empty file") {
    std::istringstream in("\n  \n");
    ftlib::JsonlReader reader(in, "e.jsonl");
    CHECK(message_of<ftlib::parse_error>([&] { reader.next(record); }) ==
          "e.jsonl: the file is empty (expected one JSON object per line)");
  }
}

// --------------------------------------------------------------------------------------------
// TextClassificationDataset
// --------------------------------------------------------------------------------------------

TEST_CASE("Dataset: CSV with integer stars and label_offset 1") {
  TempDir dir;
  const auto path = write_file(dir, "stars.csv",
                               "review_body,stars\r\n\"Broke, after a day\",1\r\nOK I guess,3\r\n\"Great\r\nbuy\",5\r\n");
  ftlib::DatasetOptions options;
  options.text_column = "review_body";
  options.label_column = "stars";
  options.label_offset = 1;
  options.num_labels = 5;
  const auto data = ftlib::TextClassificationDataset::load(path, options);
  REQUIRE(data.size() == 3);
  CHECK(data.text(0) == "Broke, after a day");
  CHECK(data.text(2) == "Great\r\nbuy");
  CHECK(data.labels() == std::vector<std::int64_t>{0, 2, 4});
  CHECK(data.num_labels() == 5);
  CHECK(data.id2label() == std::vector<std::string>{"LABEL_0", "LABEL_1", "LABEL_2", "LABEL_3", "LABEL_4"});
  CHECK(data.label_counts() == std::vector<std::size_t>{1, 0, 1, 0, 1});
  CHECK_FALSE(data.has_text_pair());
  CHECK(data[2].line == 4);
  CHECK(data[1].label == 2);
  CHECK(data.source() == path.string());
}

TEST_CASE("Dataset: integer labels without num_labels infer it, label_names name them") {
  TempDir dir;
  const auto path = write_file(dir, "d.csv", "text,label\na,0\nb,2\n");
  auto data = ftlib::TextClassificationDataset::load(path);
  CHECK(data.num_labels() == 3);
  CHECK(data.labels() == std::vector<std::int64_t>{0, 2});
  ftlib::DatasetOptions options;
  options.label_names = {"neg", "neu", "pos"};
  data = ftlib::TextClassificationDataset::load(path, options);
  CHECK(data.id2label() == std::vector<std::string>{"neg", "neu", "pos"});
  CHECK(data.label2id().at("pos") == 2);
}

TEST_CASE("Dataset: string labels, sorted or first-seen, or an imposed label2id") {
  TempDir dir;
  const auto path = write_file(dir, "s.tsv", "sentence\tother\tlabel\nI hate it\tx\tnegative\nfine\ty\tneutral\nyay\tz\tpositive\nmeh\tw\tneutral\n");
  auto data = ftlib::TextClassificationDataset::load(path, ftlib::DatasetOptions{}.with_text_column("sentence"));
  CHECK(data.id2label() == std::vector<std::string>{"negative", "neutral", "positive"});
  CHECK(data.labels() == std::vector<std::int64_t>{0, 1, 2, 1});

  auto first_seen = ftlib::DatasetOptions{}.with_text_column("sentence");
  first_seen.label_order = ftlib::LabelOrder::first_seen;
  const auto path2 = write_file(dir, "s2.tsv", "sentence\tlabel\nyay\tpositive\nboo\tnegative\nyay2\tpositive\n");
  data = ftlib::TextClassificationDataset::load(path2, first_seen);
  CHECK(data.id2label() == std::vector<std::string>{"positive", "negative"});
  CHECK(data.labels() == std::vector<std::int64_t>{0, 1, 0});

  // A validation split that lacks "neutral" keeps the train split's ids when its label2id is imposed.
  auto imposed = ftlib::DatasetOptions{}.with_text_column("sentence");
  imposed.label2id = std::map<std::string, std::int64_t>{{"negative", 0}, {"neutral", 1}, {"positive", 2}};
  data = ftlib::TextClassificationDataset::load(path2, imposed);
  CHECK(data.labels() == std::vector<std::int64_t>{2, 0, 2});
  CHECK(data.num_labels() == 3);
  CHECK(data.id2label()[1] == "neutral");

  // An imposed label2id of LABEL_i names with integer data: ids come from the integers.
  const auto ints = write_file(dir, "i.csv", "text,label\na,1\nb,0\n");
  ftlib::DatasetOptions config_map;
  config_map.label2id = std::map<std::string, std::int64_t>{{"LABEL_0", 0}, {"LABEL_1", 1}, {"LABEL_2", 2}};
  data = ftlib::TextClassificationDataset::load(ints, config_map);
  CHECK(data.labels() == std::vector<std::int64_t>{1, 0});
  CHECK(data.num_labels() == 3);
}

TEST_CASE("Dataset: text pairs from CSV and JSONL") {
  TempDir dir;
  const auto csv = write_file(dir, "p.csv", "premise,hypothesis,label\nA man sleeps,A person rests,0\nIt rains,It is sunny,2\n");
  const auto options = ftlib::DatasetOptions{}.with_text_column("premise").with_text_pair_column("hypothesis");
  auto data = ftlib::TextClassificationDataset::load(csv, options);
  REQUIRE(data.has_text_pair());
  CHECK(data.text_pair(1) == std::optional<std::string_view>("It is sunny"));
  CHECK(data[0].text_pair == std::optional<std::string_view>("A person rests"));

  const auto jsonl = write_file(dir, "p.jsonl",
                                "{\"premise\": \"A\", \"hypothesis\": \"B\", \"label\": 1}\n\n"
                                "{\"premise\": \"C\", \"hypothesis\": \"D\", \"label\": 0.0}\n");
  data = ftlib::TextClassificationDataset::load(jsonl, options);
  CHECK(data.size() == 2);
  CHECK(data.text_pair(0) == std::optional<std::string_view>("B"));
  CHECK(data.labels() == std::vector<std::int64_t>{1, 0});
  CHECK(data.source_line(1) == 3);
}

TEST_CASE("Dataset: unlabelled data when labels are optional") {
  TempDir dir;
  const auto csv = write_file(dir, "u.csv", "text\nfirst\nsecond\n");
  ftlib::DatasetOptions options;
  options.require_labels = false;
  options.label_names = {"neg", "pos"};
  const auto data = ftlib::TextClassificationDataset::load(csv, options);
  CHECK(data.size() == 2);
  CHECK_FALSE(data.has_labels());
  CHECK(data.label(1) == -1);
  CHECK(data.id2label() == std::vector<std::string>{"neg", "pos"});

  const auto jsonl = write_file(dir, "u.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n");
  CHECK_FALSE(ftlib::TextClassificationDataset::load(jsonl, options).has_labels());
}

TEST_CASE("Dataset: formats by extension or by name") {
  CHECK(ftlib::data_format_from_path("a/b.CSV") == ftlib::DataFormat::csv);
  CHECK(ftlib::data_format_from_path("b.tsv") == ftlib::DataFormat::tsv);
  CHECK(ftlib::data_format_from_path("b.ndjson") == ftlib::DataFormat::jsonl);
  CHECK(message_of<ftlib::option_error>([] { (void)ftlib::data_format_from_path("data/train.txt"); }) ==
        "data/train.txt: cannot tell the data format from the extension '.txt'; expected .csv, .tsv, .tab, .jsonl, "
        ".ndjson or .json, or give the format explicitly");
  CHECK(ftlib::parse_data_format("jsonl") == ftlib::DataFormat::jsonl);
  CHECK(message_of<ftlib::option_error>([] { (void)ftlib::parse_data_format("xml"); }) ==
        "unknown data format 'xml'; expected one of: auto, csv, tsv, jsonl");

  TempDir dir;
  const auto path = write_file(dir, "data.txt", "text\tlabel\na,b\t1\n");
  const auto data = ftlib::TextClassificationDataset::load(path, ftlib::DatasetOptions{}.with_format(ftlib::DataFormat::tsv));
  CHECK(data.text(0) == "a,b");
}

TEST_CASE("Dataset: bad input names file, line, column and what is wrong") {
  TempDir dir;
  auto load = [](const std::filesystem::path& path, const ftlib::DatasetOptions& options = {}) {
    return message_of<ftlib::parse_error>([&] { (void)ftlib::TextClassificationDataset::load(path, options); });
  };
  ftlib::DatasetOptions stars;
  stars.text_column = "review_body";
  stars.label_column = "stars";
  stars.label_offset = 1;
  stars.num_labels = 5;

  SUBCASE("missing column lists the header") {
    const auto path = write_file(dir, "m.csv", "review,rating\nx,1\n");
    CHECK(load(path) == path.string() + ":1: missing column 'text' (text_column); the header has columns: 'review', 'rating'");
    CHECK(load(path, ftlib::DatasetOptions{}.with_text_column("review")) ==
          path.string() + ":1: missing column 'label' (label_column); the header has columns: 'review', 'rating'");
    CHECK(load(path, ftlib::DatasetOptions{}.with_text_column("review").with_text_pair_column("other").with_label_column("rating")) ==
          path.string() + ":1: missing column 'other' (text_pair_column); the header has columns: 'review', 'rating'");
  }
  SUBCASE("empty label") {
    // line 3: "Meh,": the empty label field starts at column 5
    const auto path = write_file(dir, "e.csv", "review_body,stars\nGood,5\nMeh,\n");
    CHECK(load(path, stars) == path.string() + ":3:5: empty label in column 'stars' (field 2)");
  }
  SUBCASE("non-numeric label in integer mode") {
    // line 2: "\"Good, really\",five": the label starts at column 16
    const auto path = write_file(dir, "n.csv", "review_body,stars\n\"Good, really\",five\n");
    CHECK(load(path, stars) == path.string() + ":2:16: label 'five' in column 'stars' (field 2) is not an integer");
  }
  SUBCASE("labels that mix integers and strings in automatic mode") {
    const auto path = write_file(dir, "x.csv", "text,label\na,1\nb,2\nc,two\n");
    CHECK(load(path) == path.string() +
                            ":4:3: label 'two' in column 'label' (field 2) is not an integer, but the label on line 2 "
                            "is ('1'); set the label mode (integer or string) explicitly if this is intended");
  }
  SUBCASE("label out of range, with and without num_labels") {
    const auto path = write_file(dir, "r.csv", "review_body,stars\nGood,5\nToo good,6\n");
    CHECK(load(path, stars) == path.string() +
                                   ":3:10: label 6 in column 'stars' (field 2) is out of range: expected 1..5 "
                                   "(num_labels 5, label_offset 1)");
    const auto zero = write_file(dir, "z.csv", "review_body,stars\nBad,0\n");
    auto no_count = stars;
    no_count.num_labels.reset();
    CHECK(load(zero, no_count) == zero.string() +
                                      ":2:5: label 0 in column 'stars' (field 2) is out of range: ids (label - "
                                      "label_offset 1) must be in 0..1048575");
    const auto ids = write_file(dir, "ids.csv", "text,label\na,3\n");
    CHECK(load(ids, ftlib::DatasetOptions{}.with_num_labels(3)) ==
          ids.string() + ":2:3: label 3 in column 'label' (field 2) is out of range: expected 0..2 (num_labels 3)");
  }
  SUBCASE("unknown label with an imposed label2id") {
    const auto path = write_file(dir, "k.csv", "text,label\na,pos\nb,meh\n");
    ftlib::DatasetOptions options;
    options.label2id = std::map<std::string, std::int64_t>{{"neg", 0}, {"pos", 1}};
    options.label_mode = ftlib::LabelMode::string;
    CHECK(load(path, options) ==
          path.string() + ":3:3: unknown label 'meh' in column 'label' (field 2); the given label2id has: 'neg', 'pos'");
  }
  SUBCASE("invalid UTF-8 in a text") {
    const auto path = write_file(dir, "u.csv", "review_body,stars\n\"Tr\xE8s bien\",5\n");
    CHECK(load(path, stars) == path.string() +
                                   ":2:4: invalid UTF-8: byte 0xE8 begins a multi-byte character but is followed by "
                                   "0x73 (is the file Latin-1 or Windows-1252? convert it to UTF-8)");
  }
  SUBCASE("empty file and header without rows") {
    const auto empty = write_file(dir, "empty.csv", "");
    CHECK(load(empty, stars) == empty.string() + ": the file is empty (expected a header row)");
    const auto header_only = write_file(dir, "h.csv", "review_body,stars\r\n");
    CHECK(load(header_only, stars) == header_only.string() + ":1: no data rows after the header");
    const auto empty_jsonl = write_file(dir, "empty.jsonl", "\n");
    CHECK(load(empty_jsonl) == empty_jsonl.string() + ": the file is empty (expected one JSON object per line)");
  }
  SUBCASE("JSONL: missing key, wrong types") {
    const auto path = write_file(dir, "k.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"txt\": \"b\", \"label\": 0}\n");
    CHECK(load(path) == path.string() + ":2: missing key 'text' (text_column); this object has keys: 'label', 'txt'");
    const auto number_text = write_file(dir, "t.jsonl", "{\"text\": 12, \"label\": 1}\n");
    CHECK(load(number_text) == number_text.string() + ":1: key 'text' (text_column) must be a string, got number");
    const auto bool_label = write_file(dir, "b.jsonl", "{\"text\": \"a\", \"label\": true}\n");
    CHECK(load(bool_label) == bool_label.string() + ":1: label in key 'label' must be a string or an integer, got boolean");
    const auto float_label = write_file(dir, "f.jsonl", "{\"text\": \"a\", \"label\": 2.5}\n");
    CHECK(load(float_label) == float_label.string() + ":1: label 2.5 in key 'label' is not an integer");
    const auto null_label = write_file(dir, "n.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": null}\n");
    CHECK(load(null_label) == null_label.string() + ":2: empty label in key 'label'");
  }
  SUBCASE("inconsistent options") {
    const auto path = write_file(dir, "o.csv", "text,label\na,x\nb,y\n");
    CHECK(message_of<ftlib::option_error>([&] {
            (void)ftlib::TextClassificationDataset::load(path, ftlib::DatasetOptions{}.with_num_labels(3));
          }) == path.string() +
                    ": num_labels is 3 but the column 'label' (field 2) has 2 distinct labels: 'x', 'y'; give "
                    "label2id to fix the ids of labels a split lacks");
    CHECK(message_of<ftlib::option_error>([&] {
            (void)ftlib::TextClassificationDataset::load(path, ftlib::DatasetOptions{}.with_label_column("text"));
          }) == path.string() + ": text_column and label_column are both 'text'");
    ftlib::DatasetOptions bad_map;
    bad_map.label2id = std::map<std::string, std::int64_t>{{"x", 0}, {"y", 2}};
    CHECK(message_of<ftlib::option_error>([&] { (void)ftlib::TextClassificationDataset::load(path, bad_map); }) ==
          "label2id must map its 2 names to the ids 0..1 once each; 'y' has id 2");
  }
}

TEST_CASE("Dataset: in memory") {
  const auto data = ftlib::TextClassificationDataset::from_memory({"a", "b"}, {1, 0}, {"neg", "pos"});
  CHECK(data.size() == 2);
  CHECK(data.label(0) == 1);
  CHECK(data.source() == "<memory>");
  CHECK(message_of<ftlib::option_error>([] {
          (void)ftlib::TextClassificationDataset::from_memory({"a"}, {2}, {"neg", "pos"});
        }) == "in-memory dataset: label 2 of row 0 is out of range; expected 0..1");
}

TEST_CASE("Dataset: the committed sample files load") {
  ftlib::DatasetOptions stars;
  stars.text_column = "review_body";
  stars.label_column = "stars";
  stars.label_offset = 1;
  stars.num_labels = 5;
  const auto csv = ftlib::TextClassificationDataset::load(ftlib::testing::test_data("reviews_tiny.csv"), stars);
  CHECK(csv.size() == 10);
  CHECK(csv.label_counts() == std::vector<std::size_t>{2, 2, 2, 2, 2});
  const auto tsv = ftlib::TextClassificationDataset::load(
      ftlib::testing::test_data("pairs_tiny.tsv"), ftlib::DatasetOptions{}.with_text_column("premise").with_text_pair_column("hypothesis"));
  CHECK(tsv.size() == 6);
  CHECK(tsv.id2label() == std::vector<std::string>{"contradiction", "entailment", "neutral"});
  const auto jsonl = ftlib::TextClassificationDataset::load(ftlib::testing::test_data("sentiment_tiny.jsonl"));
  CHECK(jsonl.size() == 6);
  CHECK(jsonl.id2label() == std::vector<std::string>{"negative", "positive"});
}

TEST_CASE("Dataset: shared amazon_reviews_5class splits (counts from the data README)") {
  ftlib::DatasetOptions stars;
  stars.text_column = "review_body";
  stars.label_column = "stars";
  stars.label_offset = 1;
  stars.num_labels = 5;
  struct Split {
    const char* file;
    std::size_t rows;
    std::array<std::size_t, 5> counts;
  };
  for (const Split& split : {Split{"train.csv", 423, {103, 91, 58, 97, 74}},
                             Split{"validation.csv", 102, {23, 23, 23, 14, 19}},
                             Split{"test.csv", 94, {15, 26, 25, 13, 15}}}) {
    const auto path = ftlib::testing::shared_path(std::string("data/amazon_reviews_5class/") + split.file);
    if (!path) continue;
    const std::string file = split.file;
    CAPTURE(file);
    const auto data = ftlib::TextClassificationDataset::load(*path, stars);
    CHECK(data.size() == split.rows);
    const auto counts = data.label_counts();
    CHECK(std::vector<std::size_t>(counts.begin(), counts.end()) ==
          std::vector<std::size_t>(split.counts.begin(), split.counts.end()));
    CHECK(data.source_line(0) == 2);
    CHECK(data.source_line(data.size() - 1) == split.rows + 1);  // no embedded newlines, per the README
  }
}

// --- multi-label and regression labels ------------------------------------------------------------

TEST_CASE("Dataset: regression labels are numbers; a cell that is not one is refused at its line and column") {
  const TempDir dir;
  ftlib::DatasetOptions options;
  options.with_problem_type(ftlib::ProblemType::regression).with_label_column("stars");
  const auto path = write_file(dir, "r.csv", "text,stars\ngood,5\nmeh, 2.5 \nbad,-1e-1\n");
  const auto d = ftlib::TextClassificationDataset::load(path, options);
  CHECK(d.problem_type() == ftlib::ProblemType::regression);
  CHECK(d.has_labels());
  CHECK(d.labels().empty());
  CHECK(d.id2label() == std::vector<std::string>{"LABEL_0"});
  CHECK(d.label_values() == std::vector<float>{5.0F, 2.5F, -0.1F});
  CHECK(d.label_values(1)[0] == 2.5F);
  for (const auto& [cell, column] : std::vector<std::pair<std::string, int>>{{"three", 6}, {"nan", 6}, {"1e39", 6}, {"\"\"", 6}}) {
    CAPTURE(cell);
    const auto bad = write_file(dir, "bad.csv", "text,stars\ngood,5\nmeh," + cell + "\n");
    const std::string value = cell == "\"\"" ? "" : cell;
    const std::string expected = cell == "\"\"" ? bad.string() + ":3:5: empty label in column 'stars' (field 2)"
                                                : bad.string() + ":3:5: label '" + value + "' in column 'stars' (field 2) is not a number "
                                                                                           "(regression takes numeric labels)";
    CHECK(message_of<ftlib::parse_error>([&] { (void)ftlib::TextClassificationDataset::load(bad, options); }) == expected);
    (void)column;
  }
  const auto jsonl = write_file(dir, "r.jsonl", "{\"text\": \"a\", \"stars\": 4.25}\n{\"text\": \"b\", \"stars\": \"3\"}\n{\"text\": \"c\", \"stars\": [1]}\n");
  CHECK(message_of<ftlib::parse_error>([&] { (void)ftlib::TextClassificationDataset::load(jsonl, options); }) ==
        jsonl.string() + ":3: label in key 'stars' must be a number (regression), got array");
}

TEST_CASE("Dataset: multi-label from one column (separator, sorted names, empty cells) and from 0/1 columns agree") {
  const TempDir dir;
  ftlib::DatasetOptions by_names;
  by_names.with_problem_type(ftlib::ProblemType::multi_label_classification).with_label_column("labels");
  const auto path = write_file(dir, "m.csv", "text,labels,books,toys,garden\n"
                                             "a,toys; books,1,1,0\n"
                                             "b,,0,0,0\n"
                                             "c,garden,0,0,1\n"
                                             "d,books;books,1,0,0\n");
  const auto d = ftlib::TextClassificationDataset::load(path, by_names);
  CHECK(d.problem_type() == ftlib::ProblemType::multi_label_classification);
  CHECK(d.id2label() == std::vector<std::string>{"books", "garden", "toys"});
  CHECK(d.label_values() == std::vector<float>{1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0});
  CHECK(d.label_counts() == std::vector<std::size_t>{2, 1, 1});

  ftlib::DatasetOptions by_columns;
  by_columns.with_problem_type(ftlib::ProblemType::multi_label_classification).with_label_columns({"books", "toys", "garden"});
  by_columns.label2id = d.label2id();  // the model's order, whatever the columns' order
  const auto c = ftlib::TextClassificationDataset::load(path, by_columns);
  CHECK(c.id2label() == d.id2label());
  CHECK(c.label_values() == d.label_values());

  // A given label map: an unknown name is refused at its cell, naming the labels there are.
  ftlib::DatasetOptions with_map = by_names;
  with_map.label2id = d.label2id();
  const auto unknown = write_file(dir, "u.csv", "text,labels\na,toys\nb,books;poetry\n");
  CHECK(message_of<ftlib::parse_error>([&] { (void)ftlib::TextClassificationDataset::load(unknown, with_map); }) ==
        unknown.string() + ":3:3: unknown label 'poetry' in column 'labels' (field 2); the labels are: 'books', 'garden', 'toys'");
  const auto bad_value = write_file(dir, "v.csv", "text,books,toys,garden\na,1,2,0\n");
  CHECK(message_of<ftlib::parse_error>([&] { (void)ftlib::TextClassificationDataset::load(bad_value, by_columns); }) ==
        bad_value.string() + ":2:5: value '2' in label column 'toys' is not 0/1 (or a target in [0, 1])");
  const auto jsonl = write_file(dir, "m.jsonl", "{\"text\": \"a\", \"labels\": [\"toys\", \"books\"]}\n{\"text\": \"b\", \"labels\": \"garden\"}\n");
  const auto j = ftlib::TextClassificationDataset::load(jsonl, with_map);
  CHECK(j.label_values() == std::vector<float>{1, 0, 1, 0, 1, 0});
}

TEST_CASE("Dataset: balanced class weights are scikit-learn's compute_class_weight('balanced')") {
  // compute_class_weight("balanced", classes=np.arange(4), y=[0,1,1,2,2,2,2,2,3]) == [2.25, 1.125, 0.45, 2.25] (sklearn 1.9.1)
  const std::vector<std::size_t> counts{1, 2, 5, 1};
  CHECK(ftlib::balanced_class_weights(counts) == std::vector<double>{2.25, 1.125, 0.45, 2.25});
  const std::vector<std::size_t> missing{3, 0};
  CHECK(message_of<ftlib::option_error>([&] { (void)ftlib::balanced_class_weights(missing); }) ==
        "class_weights: balanced: class 1 has no rows, so its weight would be infinite; give the weights explicitly");
}
