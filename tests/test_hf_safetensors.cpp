// safetensors reader/writer: HF-written fixtures, exact dtype conversions, byte-identical
// re-writing of a reference-written file, and one test per kind of corruption (checking the message).

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "ftlib/arch/registry.hpp"
#include "ftlib/arch/model_config.hpp"
#include "ftlib/hf/safetensors.hpp"
#include "test_support.hpp"

namespace arch = ftlib::arch;
namespace hf = ftlib::hf;
using ftlib::testing::shared_path;
using ftlib::testing::TempDir;

namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A raw safetensors file from a header text and a data section, as a hostile writer would make it.
std::string raw_file(const std::string& header, std::size_t data_bytes) {
  std::string out(8, '\0');
  const std::uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + std::string(data_bytes, '\x01');
}

std::string open_error(const std::filesystem::path& p) {
  try {
    (void)hf::SafetensorsFile::open(p);
  } catch (const ftlib::parse_error& e) {
    return e.what();
  }
  return "<no error>";
}

template <class T>
std::span<const std::byte> as_bytes_of(const std::vector<T>& v) {
  return std::as_bytes(std::span<const T>(v));
}

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("dtype names, sizes and parsing") {
  CHECK(hf::dtype_name(hf::DType::BF16) == "BF16");
  CHECK(hf::dtype_size(hf::DType::F64) == 8);
  CHECK(hf::dtype_size(hf::DType::BF16) == 2);
  CHECK(hf::dtype_size(hf::DType::BOOL) == 1);
  CHECK(hf::parse_dtype("I16", {"x", {}, {}}) == hf::DType::I16);
  try {
    (void)hf::parse_dtype("F8_E4M3", {"model.safetensors", {}, {}});
    FAIL("no error");
  } catch (const ftlib::parse_error& e) {
    CHECK(contains(e.what(), "model.safetensors"));
    CHECK(contains(e.what(), "F8_E4M3"));
  }
}

TEST_CASE("half and bfloat16 conversions are exact (IEEE bit patterns)") {
  CHECK(hf::bf16_to_float(0x3f80) == 1.0f);
  CHECK(hf::bf16_to_float(0xc000) == -2.0f);
  CHECK(hf::bf16_to_float(0x3fc0) == 1.5f);
  CHECK(hf::bf16_to_float(0x0001) == std::ldexp(1.0f, -133));
  CHECK(hf::f16_to_float(0x3c00) == 1.0f);
  CHECK(hf::f16_to_float(0xc000) == -2.0f);
  CHECK(hf::f16_to_float(0x7bff) == 65504.0f);
  CHECK(hf::f16_to_float(0x0001) == std::ldexp(1.0f, -24));    // smallest subnormal
  CHECK(hf::f16_to_float(0x03ff) == std::ldexp(1023.0f, -24));  // largest subnormal
  CHECK(hf::f16_to_float(0x8000) == 0.0f);
  CHECK(std::signbit(hf::f16_to_float(0x8000)));
  CHECK(hf::f16_to_float(0xfc00) == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(hf::f16_to_float(0x7e00)));
  // float -> bf16 rounds to nearest even: 1 + 2^-8 is a tie between 1 and 1 + 2^-7.
  CHECK(hf::float_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3f80);
  CHECK(hf::float_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3f82);
  CHECK(hf::float_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)) == 0x3f81);
  CHECK(std::isnan(hf::bf16_to_float(hf::float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST_CASE("reads the BF16 fixture distilbert-wide") {
  const auto dir = shared_path("fixtures/models/distilbert-wide");
  if (!dir) return;
  const auto file = hf::SafetensorsFile::open(*dir / "model.safetensors");
  const auto config = arch::DistilBertModelConfig::load(*dir / "config.json");
  CHECK(file.tensors().size() == 24);
  CHECK(file.metadata().at("format") == "pt");
  std::int64_t total = 0;
  for (const auto& t : file.tensors()) {
    CHECK(t.dtype == hf::DType::BF16);
    total += t.numel();
  }
  CHECK(total == 8175365);  // torch: sum(v.numel() for v in state_dict.values())

  const auto& word = file.info("distilbert.embeddings.word_embeddings.weight");
  CHECK(word.shape == std::vector<std::int64_t>{config.arch.vocab_size, config.arch.dim});
  CHECK(file.bytes(word.name).size() == static_cast<std::size_t>(word.numel()) * 2);
  const auto w = file.to_float32(word.name);
  REQUIRE(w.data.size() == 512u * 768u);
  // Values torch reports for the upcast tensor.
  CHECK(w.data[0] == -0.248046875f);
  CHECK(w.data[511 * 768 + 767] == 0.43359375f);
  CHECK(w.data[3 * 768 + 5] == 0.369140625f);
  double sum = 0;
  for (const float x : w.data) sum += x;
  CHECK(sum == doctest::Approx(-345.5442885644734).epsilon(1e-12));
  CHECK(file.contains("classifier.bias"));
  CHECK_FALSE(file.contains("classifier"));
  CHECK_THROWS_AS((void)file.to_int64("classifier.bias"), ftlib::tensor_error);
}

TEST_CASE("the sinusoidal position table is read exactly") {
  const auto dir = shared_path("fixtures/models/distilbert-sinusoidal");
  if (!dir) return;
  const auto file = hf::SafetensorsFile::open(*dir / "model.safetensors");
  const auto t = file.to_float32("distilbert.embeddings.position_embeddings.weight");
  REQUIRE(t.shape.size() == 2);
  const auto rows = t.shape[0], dim = t.shape[1];
  CHECK(dim == 32);
  std::size_t mismatches = 0;
  for (std::int64_t p = 0; p < rows; ++p) {
    for (std::int64_t j = 0; j < dim; ++j) {
      const double angle = static_cast<double>(p) / std::pow(10000.0, 2.0 * static_cast<double>(j / 2) / static_cast<double>(dim));
      const auto expected = static_cast<float>(j % 2 == 0 ? std::sin(angle) : std::cos(angle));
      mismatches += t.data[static_cast<std::size_t>(p * dim + j)] != expected;
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("missing tensors are tensor_errors naming file and tensor") {
  const auto dir = shared_path("fixtures/models/distilbert-tiny");
  if (!dir) return;
  const auto file = hf::SafetensorsFile::open(*dir / "model.safetensors");
  try {
    (void)file.info("distilbert.nope");
    FAIL("no error");
  } catch (const ftlib::tensor_error& e) {
    CHECK(contains(e.what(), "model.safetensors"));
    CHECK(contains(e.what(), "no tensor 'distilbert.nope'"));
  }
}

TEST_CASE("re-writing a reference-written file reproduces it byte for byte") {
  for (const char* name : {"distilbert-tiny", "albert-groups", "distilbert-wide"}) {
    const auto dir = shared_path(std::string("fixtures/models/") + name);
    if (!dir) return;
    const auto original = *dir / "model.safetensors";
    const auto file = hf::SafetensorsFile::open(original);
    std::vector<hf::TensorToWrite> list;
    for (const auto& t : file.tensors()) list.push_back({t.name, t.dtype, t.shape, file.bytes(t.name)});
    const TempDir tmp;
    hf::write_safetensors(tmp.path() / "copy.safetensors", list, file.metadata());
    CHECK_MESSAGE(read_all(tmp.path() / "copy.safetensors") == read_all(original), name);
    CHECK_FALSE(std::filesystem::exists(tmp.path() / "copy.safetensors.tmp"));
  }
}

TEST_CASE("write -> read round trip over every dtype") {
  const TempDir tmp;
  const std::vector<double> f64{1.5, -2.25};
  const std::vector<float> f32{1, 2, 3, 4, 5, 6};
  const std::vector<std::uint16_t> bf16{0x3f80, 0xc000, 0x3fc0};
  const std::vector<std::uint16_t> f16{0x3c00, 0x0001};
  const std::vector<std::int64_t> i64{-5, 1LL << 40};
  const std::vector<std::int32_t> i32{-7};
  const std::vector<std::int16_t> i16{-300, 300};
  const std::vector<std::int8_t> i8{-128, 127};
  const std::vector<std::uint8_t> u8{255, 0, 1};
  const std::vector<std::uint8_t> boolean{1, 0};
  const std::vector<float> empty;
  const std::vector<hf::TensorToWrite> list{
      {"f32", hf::DType::F32, {2, 3}, as_bytes_of(f32)},   {"bf16", hf::DType::BF16, {3}, as_bytes_of(bf16)},
      {"f64", hf::DType::F64, {2}, as_bytes_of(f64)},      {"f16", hf::DType::F16, {2}, as_bytes_of(f16)},
      {"i64", hf::DType::I64, {2}, as_bytes_of(i64)},      {"i32", hf::DType::I32, {}, as_bytes_of(i32)},
      {"i16", hf::DType::I16, {1, 2}, as_bytes_of(i16)},   {"i8", hf::DType::I8, {2}, as_bytes_of(i8)},
      {"u8", hf::DType::U8, {3}, as_bytes_of(u8)},         {"bool", hf::DType::BOOL, {2}, as_bytes_of(boolean)},
      {"empty", hf::DType::F32, {0, 4}, as_bytes_of(empty)},
  };
  const auto path = tmp.path() / "all.safetensors";
  hf::write_safetensors(path, list, {{"format", "pt"}, {"note", "ünïcode"}});
  const auto file = hf::SafetensorsFile::open(path);

  // Layout: 8-byte aligned data, largest element size first then by name.
  CHECK(file.data_offset() % 8 == 0);
  std::vector<std::string> order;
  for (const auto& t : file.tensors()) order.push_back(t.name);
  CHECK(order == std::vector<std::string>{"f64", "i64", "empty", "f32", "i32", "bf16", "f16", "i16", "bool", "i8", "u8"});
  for (const auto& t : file.tensors()) CHECK(t.begin % hf::dtype_size(t.dtype) == 0);
  CHECK(file.metadata().at("note") == "ünïcode");

  CHECK(file.to_float32("f64").data == std::vector<float>{1.5f, -2.25f});
  CHECK(file.to_float32("f32").data == f32);
  CHECK(file.to_float32("f32").shape == std::vector<std::int64_t>{2, 3});
  CHECK(file.to_float32("bf16").data == std::vector<float>{1.0f, -2.0f, 1.5f});
  CHECK(file.to_float32("f16").data == std::vector<float>{1.0f, std::ldexp(1.0f, -24)});
  CHECK(file.to_float32("empty").data.empty());
  CHECK(file.to_int64("i64") == i64);
  CHECK(file.to_int64("i32") == std::vector<std::int64_t>{-7});
  CHECK(file.info("i32").shape.empty());
  CHECK(file.info("i32").numel() == 1);
  CHECK(file.to_int64("i16") == std::vector<std::int64_t>{-300, 300});
  CHECK(file.to_int64("i8") == std::vector<std::int64_t>{-128, 127});
  CHECK(file.to_int64("u8") == std::vector<std::int64_t>{255, 0, 1});
  CHECK(file.to_int64("bool") == std::vector<std::int64_t>{1, 0});
  CHECK_THROWS_AS((void)file.to_float32("i8"), ftlib::tensor_error);

  // Moving keeps the mapping valid.
  auto moved = std::move(const_cast<hf::SafetensorsFile&>(file));
  CHECK(moved.to_float32("f32").data == f32);
}

TEST_CASE("save_safetensors writes F32 host tensors") {
  const TempDir tmp;
  std::map<std::string, ftlib::HostTensor> tensors;
  tensors["b"] = {{2}, {0.5f, -1.0f}};
  tensors["a"] = {{1, 3}, {1, 2, 3}};
  hf::save_safetensors(tmp.path() / "m.safetensors", tensors, hf::transformers_metadata());
  CHECK(hf::SafetensorsFile::open(tmp.path() / "m.safetensors").metadata().at("format") == "pt");
  const auto file = hf::SafetensorsFile::open(tmp.path() / "m.safetensors");
  CHECK(file.info("a").dtype == hf::DType::F32);
  CHECK(file.to_float32("b").data == tensors["b"].data);
  CHECK(file.to_float32("a").shape == tensors["a"].shape);

  tensors["bad"] = {{2, 2}, {1, 2, 3}};
  try {
    hf::save_safetensors(tmp.path() / "bad.safetensors", tensors);
    FAIL("no error");
  } catch (const ftlib::tensor_error& e) {
    CHECK(contains(e.what(), "'bad'"));
    CHECK(contains(e.what(), "[2, 2]"));
  }
  CHECK_FALSE(std::filesystem::exists(tmp.path() / "bad.safetensors"));
}

TEST_CASE("write_safetensors rejects inconsistent input") {
  const TempDir tmp;
  const std::vector<float> three{1, 2, 3};
  const std::vector<hf::TensorToWrite> wrong_size{{"x", hf::DType::F32, {2, 2}, as_bytes_of(three)}};
  CHECK_THROWS_WITH_AS(hf::write_safetensors(tmp.path() / "a.safetensors", wrong_size),
                       doctest::Contains("tensor 'x': shape [2, 2] of F32 needs 16 bytes, got 12"), ftlib::tensor_error);
  const std::vector<hf::TensorToWrite> dup{{"x", hf::DType::F32, {3}, as_bytes_of(three)},
                                           {"x", hf::DType::F32, {3}, as_bytes_of(three)}};
  CHECK_THROWS_WITH_AS(hf::write_safetensors(tmp.path() / "b.safetensors", dup), doctest::Contains("'x' given twice"),
                       ftlib::tensor_error);
}

TEST_CASE("corrupted files: each defect is a parse_error naming the file and the tensor") {
  const TempDir tmp;
  const auto path = tmp.path() / "bad.safetensors";
  const std::string good_entry = R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";

  SUBCASE("shorter than 8 bytes") {
    write_all(path, "abc");
    const auto msg = open_error(path);
    CHECK(contains(msg, path.string()));
    CHECK(contains(msg, "shorter than the 8-byte header length"));
  }
  SUBCASE("truncated: header length beyond the file") {
    const auto full = raw_file("{" + good_entry + "}", 8);
    write_all(path, full.substr(0, 20));
    const auto msg = open_error(path);
    CHECK(contains(msg, path.string()));
    CHECK(contains(msg, "runs past the end of the file"));
  }
  SUBCASE("truncated: data cut short") {
    const auto full = raw_file("{" + good_entry + "}", 8);
    write_all(path, full.substr(0, full.size() - 3));
    const auto msg = open_error(path);
    CHECK(contains(msg, "tensor 'w'"));
    CHECK(contains(msg, "outside the data section (5 bytes)"));
  }
  SUBCASE("header is not JSON") {
    write_all(path, raw_file("{\"w\": [1, 2", 0));
    CHECK(contains(open_error(path), "header is not valid JSON"));
  }
  SUBCASE("header is not an object") {
    write_all(path, raw_file("[1, 2]", 0));
    CHECK(contains(open_error(path), "header is not a JSON object (it is array)"));
  }
  SUBCASE("unknown dtype") {
    write_all(path, raw_file(R"({"w":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", 2));
    const auto msg = open_error(path);
    CHECK(contains(msg, "tensor 'w'"));
    CHECK(contains(msg, "unknown dtype \"F8\""));
  }
  SUBCASE("shape does not match the byte count") {
    write_all(path, raw_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8));
    const auto msg = open_error(path);
    CHECK(contains(msg, "tensor 'w': shape [3] of F32 needs 12 bytes, but data_offsets [0, 8] span 8"));
  }
  SUBCASE("negative dimension") {
    write_all(path, raw_file(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8));
    CHECK(contains(open_error(path), "tensor 'w': shape [-2] has an entry that is not a non-negative integer"));
  }
  SUBCASE("offsets outside the data section") {
    write_all(path, raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", 8));
    CHECK(contains(open_error(path), "tensor 'w': data_offsets [8, 16] lie outside the data section (8 bytes)"));
  }
  SUBCASE("begin after end") {
    write_all(path, raw_file(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8));
    CHECK(contains(open_error(path), "tensor 'w': data_offsets [8, 0]"));
  }
  SUBCASE("overlapping tensors") {
    write_all(path, raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                             12));
    const auto msg = open_error(path);
    CHECK(contains(msg, "tensor 'b' (bytes 4..12) overlaps tensor 'a' (bytes 0..8)"));
  }
  SUBCASE("gap in the data section") {
    write_all(path, raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                             12));
    CHECK(contains(open_error(path), "gap in the data section: bytes 4..8 before tensor 'b'"));
  }
  SUBCASE("trailing bytes") {
    write_all(path, raw_file("{" + good_entry + "}", 10));
    CHECK(contains(open_error(path), "2 trailing bytes after the last tensor"));
  }
  SUBCASE("duplicate names") {
    write_all(path, raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                             8));
    CHECK(contains(open_error(path), "tensor 'a' appears twice in the header"));
  }
  SUBCASE("metadata values must be strings") {
    write_all(path, raw_file(R"({"__metadata__":{"format":1},)" + good_entry + "}", 8));
    CHECK(contains(open_error(path), "__metadata__ entry 'format' is not a string"));
  }
  SUBCASE("missing field") {
    write_all(path, raw_file(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", 8));
    CHECK(contains(open_error(path), "tensor 'w': missing array field \"shape\""));
  }
  SUBCASE("a valid hand-made file opens") {
    write_all(path, raw_file(R"({"__metadata__":null,"z":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},)" + good_entry + "}", 8));
    const auto file = hf::SafetensorsFile::open(path);
    CHECK(file.tensors().size() == 2);
    CHECK(file.tensors()[0].name == "z");  // header order
  }
}

TEST_CASE("missing file is an io_error naming it") {
  const TempDir tmp;
  CHECK_THROWS_WITH_AS((void)hf::SafetensorsFile::open(tmp.path() / "nope.safetensors"),
                       doctest::Contains("nope.safetensors: cannot open"), ftlib::io_error);
}
