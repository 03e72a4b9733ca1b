// Reports of a run: TensorBoard's event file format (CRC-32C, TFRecord framing, the Event fields),
// the TensorBoardLogger callback, and report.html from a run directory. TensorBoard's own reader
// checks the files in tests/reports/check_tensorboard.py; Chromium renders the page in
// tests/reports/check_report_chromium.sh.

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "ftlib/callbacks/tensorboard_logger.hpp"
#include "ftlib/io/tfevents.hpp"
#include "ftlib/reports/run_report.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace ftlib;

namespace {

// A protocol buffer reader just big enough to check what tfevents.hpp writes.
struct Field {
  std::uint32_t number = 0;
  std::uint32_t wire_type = 0;
  std::uint64_t varint = 0;
  std::string bytes;  // length-delimited, fixed32 and fixed64 payloads
};

std::uint64_t read_varint(std::string_view data, std::size_t& at) {
  std::uint64_t v = 0;
  for (int shift = 0; at < data.size(); shift += 7) {
    const auto b = static_cast<unsigned char>(data[at++]);
    v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return v;
  }
  FAIL("varint runs past the end");
  return 0;
}

std::vector<Field> parse_message(std::string_view data) {
  std::vector<Field> fields;
  std::size_t at = 0;
  while (at < data.size()) {
    Field f;
    const auto key = read_varint(data, at);
    f.number = static_cast<std::uint32_t>(key >> 3);
    f.wire_type = static_cast<std::uint32_t>(key & 7);
    std::size_t n = 0;
    if (f.wire_type == 0) f.varint = read_varint(data, at);
    else if (f.wire_type == 1) n = 8;
    else if (f.wire_type == 5) n = 4;
    else if (f.wire_type == 2) n = static_cast<std::size_t>(read_varint(data, at));
    else FAIL("unexpected wire type " << f.wire_type);
    REQUIRE(at + n <= data.size());
    f.bytes = std::string(data.substr(at, n));
    at += n;
    fields.push_back(std::move(f));
  }
  return fields;
}

template <class T>
T from_bytes(const std::string& b) {
  REQUIRE(b.size() == sizeof(T));
  T v;
  std::memcpy(&v, b.data(), sizeof(T));
  return v;
}

// The records of an event file, their CRCs checked.
std::vector<std::string> read_records(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> records;
  std::size_t at = 0;
  while (at < file.size()) {
    REQUIRE(at + 12 <= file.size());
    const std::string length_bytes = file.substr(at, 8);
    const auto length = from_bytes<std::uint64_t>(length_bytes);
    CHECK(from_bytes<std::uint32_t>(file.substr(at + 8, 4)) == io::masked_crc32c(length_bytes));
    REQUIRE(at + 12 + length + 4 <= file.size());
    const std::string data = file.substr(at + 12, length);
    CHECK(from_bytes<std::uint32_t>(file.substr(at + 12 + length, 4)) == io::masked_crc32c(data));
    records.push_back(data);
    at += 12 + length + 4;
  }
  return records;
}

// tag -> value of an Event's summary; its step.
struct DecodedEvent {
  std::optional<std::int64_t> step;
  std::optional<std::string> file_version;
  std::optional<std::uint64_t> session_status;
  std::map<std::string, float> scalars;
};

DecodedEvent decode_event(const std::string& data) {
  DecodedEvent e;
  for (const auto& f : parse_message(data)) {
    if (f.number == 1) CHECK(f.wire_type == 1);  // wall_time, a double
    if (f.number == 2) e.step = static_cast<std::int64_t>(f.varint);
    if (f.number == 3) e.file_version = f.bytes;
    if (f.number == 7)
      for (const auto& s : parse_message(f.bytes))
        if (s.number == 1) e.session_status = s.varint;
    if (f.number == 5) {
      for (const auto& value : parse_message(f.bytes)) {
        REQUIRE(value.number == 1);
        std::string tag;
        float v = 0;
        for (const auto& vf : parse_message(value.bytes)) {
          if (vf.number == 1) tag = vf.bytes;
          if (vf.number == 2) {
            REQUIRE(vf.wire_type == 5);
            v = from_bytes<float>(vf.bytes);
          }
        }
        e.scalars[tag] = v;
      }
    }
  }
  return e;
}

fs::path fresh_dir(const std::string& name) {
  const auto dir = fs::temp_directory_path() / ("ftlib_test_reports_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

}  // namespace

TEST_CASE("crc32c and its masked form match the published check values") {
  // The CRC-32C check value of "123456789" (RFC 3720 / the Castagnoli catalogue).
  CHECK(io::crc32c("123456789") == 0xE3069283U);
  CHECK(io::crc32c("") == 0U);
  // 32 zero bytes: RFC 3720 B.4.
  CHECK(io::crc32c(std::string(32, '\0')) == 0x8A9136AAU);
  const std::uint32_t c = io::crc32c("123456789");
  CHECK(io::masked_crc32c("123456789") == ((c >> 15) | (c << 17)) + 0xA282EAD8U);
}

TEST_CASE("events are framed as TFRecords and carry step, tag and value") {
  const auto record = io::tf_record("abc");
  REQUIRE(record.size() == 8 + 4 + 3 + 4);
  CHECK(from_bytes<std::uint64_t>(record.substr(0, 8)) == 3);
  CHECK(record.substr(12, 3) == "abc");

  const auto version = decode_event(io::file_version_event(1.5));
  CHECK(version.file_version == "brain.Event:2");
  CHECK_FALSE(version.step.has_value());

  const auto e = decode_event(io::scalars_event(2.0, 300, {{"train/loss", 0.75F}, {"eval/accuracy", 0.5F}}));
  CHECK(e.step == 300);
  CHECK(e.scalars.at("train/loss") == 0.75F);
  CHECK(e.scalars.at("eval/accuracy") == 0.5F);

  const auto start = decode_event(io::session_start_event(3.0, 7));
  CHECK(start.step == 7);
  CHECK(start.session_status == 1U);
}

TEST_CASE("TensorBoardLogger names scalars as transformers' TensorBoardCallback does") {
  const nlohmann::json record = {{"loss", 0.5}, {"learning_rate", 1e-4}, {"grad_norm", 2.0}, {"epoch", 0.25},
                                 {"eval_loss", 0.4}, {"test_accuracy", 0.9}, {"step", 12}, {"note", "text"}};
  std::map<std::string, float> got;
  for (const auto& s : TensorBoardLogger::scalars_of(record)) got[s.tag] = s.value;
  const std::map<std::string, float> want = {{"train/loss", 0.5F},   {"train/learning_rate", 1e-4F}, {"train/grad_norm", 2.0F},
                                             {"train/epoch", 0.25F}, {"eval/loss", 0.4F},           {"test/accuracy", 0.9F}};
  CHECK(got == want);
}

TEST_CASE("TensorBoardLogger writes one event file per run, a resumed one opening with a session start") {
  const auto out = fresh_dir("tensorboard");
  const auto run_dir = TensorBoardLogger::run_directory(out, /*resumed=*/false);
  CHECK(run_dir.parent_path() == out / "runs");
  {
    TensorBoardLogger board(run_dir);
    TrainerState state;
    board.on_train_begin(state);
    state.global_step = 2;
    board.on_log(state, {{"loss", 1.25}, {"step", 2}});
    board.on_log(state, {{"step", 2}});  // nothing to plot: no event
    const auto records = read_records(board.event_file());
    REQUIRE(records.size() == 2);
    CHECK(decode_event(records[0]).file_version == "brain.Event:2");
    const auto e = decode_event(records[1]);
    CHECK(e.step == 2);
    CHECK(e.scalars.at("train/loss") == 1.25F);
  }
  // A resumed run continues the newest run directory in a second file.
  const auto resumed_dir = TensorBoardLogger::run_directory(out, /*resumed=*/true);
  CHECK(resumed_dir == run_dir);
  TensorBoardLogger board(resumed_dir);
  TrainerState state;
  state.global_step = 4;
  board.on_train_begin(state);
  const auto records = read_records(board.event_file());
  REQUIRE(records.size() == 2);
  const auto start = decode_event(records[1]);
  CHECK(start.session_status == 1U);
  CHECK(start.step == 5);
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(run_dir)) files += entry.path().filename().string().starts_with("events.out.tfevents.");
  CHECK(files == 2);
  fs::remove_all(out);
}

TEST_CASE("report.html draws the logged curves, the final evaluation and the settings") {
  const auto dir = fresh_dir("report");
  write_text(dir / "train_log.jsonl",
             "{\"loss\":1.5,\"learning_rate\":0.001,\"grad_norm\":3.0,\"epoch\":0.5,\"step\":1}\n"
             "{\"loss\":1.0,\"learning_rate\":0.0005,\"grad_norm\":2.0,\"epoch\":1.0,\"step\":2}\n"
             "{\"eval_loss\":0.9,\"eval_accuracy\":0.5,\"eval_f1_macro\":0.4,\"eval_runtime\":0.1,\"epoch\":1.0,\"step\":2}\n"
             "{\"loss\":0.5,\"learn");  // cut short by a kill
  ftlib::io::write_json_file(
      dir / "metrics.json",
      {{"train", {{"global_step", 2}, {"best_step", 2}, {"train_loss", 1.25}}},
       {"validation",
        {{"accuracy", 0.5},
         {"loss", 0.9},
         {"label_names", {"neg<ative>", "positive"}},
         {"confusion_matrix", {{3, 1}, {2, 4}}},
         {"per_class", {{{"label", "neg<ative>"}, {"precision", 0.6}, {"recall", 0.75}, {"f1", 0.667}, {"support", 4}},
                        {{"label", "positive"}, {"precision", 0.8}, {"recall", 0.667}, {"f1", 0.727}, {"support", 6}}}}}}});
  ftlib::io::write_json_file(dir / "run_settings.json", {{"model", "tiny & model"}, {"training_arguments", {{"learning_rate", 0.001}}}});

  const auto run = reports::read_run(dir);
  CHECK(run.log.size() == 3);
  REQUIRE(run.notes.size() == 1);
  CHECK(run.notes[0].find("line 4") != std::string::npos);

  const auto html = reports::render_html(run);
  const auto count = [&](std::string_view what) {
    std::size_t n = 0;
    for (auto at = html.find(what); at != std::string::npos; at = html.find(what, at + 1)) ++n;
    return n;
  };
  CHECK(html.starts_with("<!DOCTYPE html>"));
  CHECK(count("name=\"viewport\"") == 1);
  for (const char* series : {"training loss", "validation loss", "accuracy", "f1_macro", "learning rate", "gradient norm"})
    CHECK_MESSAGE(count("data-series=\"" + std::string(series) + "\"") == 1, series);
  CHECK(count("<rect class=\"cell\"") == 4);
  CHECK(count("<table class=\"per-class\"") == 1);
  CHECK(count("<table class=\"settings\"") == 1);
  CHECK(count("<table class=\"evaluations\"") == 1);
  // Text from the files is escaped, never markup.
  CHECK(count("neg&lt;ative&gt;") >= 2);
  CHECK(count("neg<ative>") == 0);
  CHECK(count("tiny &amp; model") >= 1);
  // Nothing from outside the page.
  CHECK(count("<script") == 0);
  CHECK(count("http://") == count("http://www.w3.org/2000/svg"));
  CHECK(count("https://") == 0);

  CHECK(reports::write_report(run) == dir / "report.html");
  CHECK(fs::file_size(dir / "report.html") == html.size());
  fs::remove_all(dir);
}

TEST_CASE("a run without metrics.json is reported as in progress, a directory without a log is refused") {
  const auto dir = fresh_dir("in_progress");
  write_text(dir / "train_log.jsonl", "{\"loss\":1.5,\"learning_rate\":0.001,\"step\":1}\n");
  const auto run = reports::read_run(dir);
  CHECK(run.notes.size() == 2);  // no metrics.json, no run_settings.json
  const auto html = reports::render_html(run);
  CHECK(html.find("in progress or interrupted") != std::string::npos);
  CHECK(html.find("data-series=\"training loss\"") != std::string::npos);

  const auto empty = fresh_dir("empty");
  CHECK_THROWS_WITH_AS(reports::read_run(empty), doctest::Contains("train_log.jsonl"), io_error);
  fs::remove_all(dir);
  fs::remove_all(empty);
}
