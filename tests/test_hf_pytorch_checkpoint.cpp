// torch.save checkpoint reader: every tensor of files written by PyPI torch (tests/data/
// pytorch_checkpoints, see generate.py) against what torch itself reads from them, layouts (views,
// shared storages, zip64), and one test per kind of bad file, checking the message.

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/hf/pytorch_checkpoint.hpp"
#include "ftlib/hf/safetensors.hpp"
#include "test_support.hpp"

namespace hf = ftlib::hf;
using namespace std::string_literals;
using ftlib::testing::message_of;
using ftlib::testing::TempDir;

namespace {

// The generator's output: $FTLIB_PYTORCH_FIXTURES (the live test's fresh run), else the committed copy.
std::filesystem::path fixtures() {
  if (const char* env = std::getenv("FTLIB_PYTORCH_FIXTURES"); env != nullptr && *env != '\0') return env;
  return ftlib::testing::test_data("pytorch_checkpoints");
}

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::span<const std::byte> as_span(const std::string& s) { return std::as_bytes(std::span<const char>(s)); }

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

// What open() throws for a file of these bytes (any ftlib::error), or "<no error>".
std::string parse_message(const std::string& bytes, const std::string& name = "pytorch_model.bin") {
  try {
    (void)hf::PytorchCheckpointFile::parse(as_span(bytes), name);
  } catch (const ftlib::error& e) {
    return e.what();
  }
  return "<no error>";
}

std::string open_message(const std::filesystem::path& p) {
  try {
    (void)hf::PytorchCheckpointFile::open(p);
  } catch (const ftlib::parse_error& e) {
    return std::string("parse_error: ") + e.what();
  } catch (const ftlib::tensor_error& e) {
    return std::string("tensor_error: ") + e.what();
  }
  return "<no error>";
}

// A zip of stored entries, as a hostile or broken writer could make it (CRCs are left 0: ftlib does
// not check them). `method` is written into every entry.
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& entries, std::uint16_t method = 0) {
  std::string out, central;
  const auto put16 = [](std::string& s, std::uint16_t v) { s.append(reinterpret_cast<const char*>(&v), 2); };
  const auto put32 = [](std::string& s, std::uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); };
  for (const auto& [name, data] : entries) {
    const auto offset = static_cast<std::uint32_t>(out.size());
    put32(out, 0x04034b50);
    for (const std::uint16_t v : {std::uint16_t{20}, std::uint16_t{0}, method, std::uint16_t{0}, std::uint16_t{0}}) put16(out, v);
    put32(out, 0);
    put32(out, static_cast<std::uint32_t>(data.size()));
    put32(out, static_cast<std::uint32_t>(data.size()));
    put16(out, static_cast<std::uint16_t>(name.size()));
    put16(out, 0);
    out += name + data;
    put32(central, 0x02014b50);
    for (const std::uint16_t v : {std::uint16_t{20}, std::uint16_t{20}, std::uint16_t{0}, method, std::uint16_t{0}, std::uint16_t{0}}) {
      put16(central, v);
    }
    put32(central, 0);
    put32(central, static_cast<std::uint32_t>(data.size()));
    put32(central, static_cast<std::uint32_t>(data.size()));
    put16(central, static_cast<std::uint16_t>(name.size()));
    for (int i = 0; i < 4; ++i) put16(central, 0);
    put32(central, 0);
    put32(central, offset);
    central += name;
  }
  const auto cd_offset = static_cast<std::uint32_t>(out.size());
  out += central;
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<std::uint16_t>(entries.size()));
  put16(out, static_cast<std::uint16_t>(entries.size()));
  put32(out, static_cast<std::uint32_t>(central.size()));
  put32(out, cd_offset);
  put16(out, 0);
  return out;
}

// The entries of a zip file, read with ftlib's own zip reader (tested against torch's files above).
std::vector<std::pair<std::string, std::string>> zip_entries(const std::string& file) {
  std::vector<std::pair<std::string, std::string>> out;
  const ftlib::SourceLocation where{"zip", {}, {}};
  for (const auto& e : hf::detail::read_zip_directory(as_span(file), where)) {
    const auto bytes = hf::detail::zip_entry_bytes(as_span(file), e, where);
    out.emplace_back(e.name, std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }
  return out;
}

// A one-tensor checkpoint: data.pkl `pickle` and four float32 in storage "0".
std::string checkpoint_with_pickle(const std::string& pickle) {
  const std::vector<float> four = {1, 2, 3, 4};
  return make_zip({{"archive/data.pkl", pickle},
                   {"archive/data/0", std::string(reinterpret_cast<const char*>(four.data()), 16)}});
}

// Pickle pieces, as torch.save's protocol 2 writes them.
const std::string proto2 = "\x80\x02"s;
std::string str(const std::string& s) {  // BINUNICODE
  const auto n = static_cast<std::uint32_t>(s.size());
  return "X"s + std::string(reinterpret_cast<const char*>(&n), 4) + s;
}
std::string global(const std::string& module, const std::string& name) { return "c" + module + "\n" + name + "\n"; }
std::string int1(int v) { return "K"s + static_cast<char>(v); }  // BININT1
std::string int_tuple(const std::vector<int>& v) {
  std::string s = "(";
  for (const int x : v) s += int1(x);
  return s + "t";
}

// _rebuild_tensor_v2 of a FloatStorage '0' of `numel` elements with storage offset, size and stride.
std::string tensor_call(int offset, const std::vector<int>& size, const std::vector<int>& stride, int numel = 4) {
  return global("torch._utils", "_rebuild_tensor_v2") + "((" + str("storage") + global("torch", "FloatStorage") +
         str("0") + str("cpu") + int1(numel) + "tQ" + int1(offset) + int_tuple(size) + int_tuple(stride) + "\x89" +
         global("collections", "OrderedDict") + ")RtR";
}

// torch.save's pickle of {"w": tensor}.
std::string tensor_pickle(int offset, const std::vector<int>& size, const std::vector<int>& stride, int numel = 4) {
  return proto2 + "}(" + str("w") + tensor_call(offset, size, stride, numel) + "u.";
}

}  // namespace

TEST_CASE("every tensor of the torch-written fixtures reads as torch reads it") {
  const auto dir = fixtures();
  const auto manifest = nlohmann::json::parse(read_all(dir / "manifest.json"));
  INFO("fixtures written by torch " << manifest["torch"].get<std::string>());
  REQUIRE(manifest["files"].size() >= 5);
  for (const auto& item : manifest["files"].items()) {
    const std::string relative = item.key();  // not a structured binding: clang 14 cannot capture those
    const auto& expected = item.value();
    CAPTURE(relative);
    const auto file = hf::PytorchCheckpointFile::open(dir / relative);
    const auto oracle = hf::SafetensorsFile::open(dir / expected["expected"].get<std::string>());
    CHECK(file.archive_name() == expected["archive"].get<std::string>());
    const auto& listed = expected["tensors"];
    REQUIRE(file.tensors().size() == listed.size());
    std::map<int, std::string> storage_of_group;
    std::set<std::string> keys;
    for (std::size_t i = 0; i < listed.size(); ++i) {
      const hf::TensorInfo& t = file.tensors()[i];
      const auto& want = listed[i];
      CAPTURE(t.name);
      CHECK(t.name == want["name"].get<std::string>());  // state_dict order
      CHECK(hf::dtype_name(t.dtype) == want["dtype"].get<std::string>());
      CHECK(t.shape == want["shape"].get<std::vector<std::int64_t>>());
      const auto& layout = file.layout(t.name);
      CHECK(layout.storage_offset == want["storage_offset"].get<std::int64_t>());
      CHECK(layout.strides == want["stride"].get<std::vector<std::int64_t>>());
      CHECK(layout.contiguous == want["contiguous"].get<bool>());
      // Tensors torch shows on one storage share one storage key, and only those.
      const int group = want["storage"].get<int>();
      if (const auto it = storage_of_group.find(group); it != storage_of_group.end()) {
        CHECK(layout.storage_key == it->second);
      } else {
        CHECK(keys.insert(layout.storage_key).second);
        storage_of_group.emplace(group, layout.storage_key);
      }
      const auto element = hf::dtype_size(t.dtype);
      if (layout.contiguous) {
        CHECK(t.end - t.begin == static_cast<std::size_t>(t.numel()) * element);
        CHECK(file.bytes(t.name).size() == t.end - t.begin);
      } else {
        CHECK(t.end - t.begin >= static_cast<std::size_t>(t.numel()) * element);
        CHECK(contains(message_of<ftlib::tensor_error>([&] { (void)file.bytes(t.name); }), "non-contiguous"));
      }
      CHECK(t.begin >= layout.storage_begin);
      CHECK(t.end <= layout.storage_begin + layout.storage_bytes);

      // Element values: torch's own float32 upcast / int64 widening, compared bit for bit.
      const hf::TensorInfo& o = oracle.info(t.name);
      CHECK(o.shape == t.shape);
      if (hf::is_floating(t.dtype)) {
        REQUIRE(o.dtype == hf::DType::F32);
        const auto got = file.to_float32(t.name);
        const auto want_values = oracle.to_float32(t.name);
        CHECK(got.shape == t.shape);
        REQUIRE(got.data.size() == want_values.data.size());
        std::size_t differ = 0;
        for (std::size_t k = 0; k < got.data.size(); ++k) {
          const bool same = std::bit_cast<std::uint32_t>(got.data[k]) == std::bit_cast<std::uint32_t>(want_values.data[k]) ||
                            (std::isnan(got.data[k]) && std::isnan(want_values.data[k]));
          if (!same) ++differ;
        }
        CHECK(differ == 0);
      } else {
        REQUIRE(o.dtype == hf::DType::I64);
        CHECK(file.to_int64(t.name) == oracle.to_int64(t.name));
      }
    }
  }
}

TEST_CASE("shared storages, views and special values of the hand-made state dict") {
  const auto file = hf::PytorchCheckpointFile::open(fixtures() / "handmade.bin");
  // One tensor under two names (tied weights) and views of its storage read the same bytes.
  CHECK(file.info("f32.tied").begin == file.info("f32.matrix").begin);
  CHECK(file.layout("f32.transposed").storage_key == file.layout("f32.matrix").storage_key);
  const auto matrix = file.to_float32("f32.matrix");
  const auto transposed = file.to_float32("f32.transposed");
  const auto columns = file.to_float32("f32.columns");
  const auto rows = file.to_float32("f32.rows");
  for (std::size_t r = 0; r < 4; ++r) {
    for (std::size_t c = 0; c < 6; ++c) CHECK(transposed.data[c * 4 + r] == matrix.data[r * 6 + c]);
    for (std::size_t c = 0; c < 3; ++c) CHECK(columns.data[r * 3 + c] == matrix.data[r * 6 + 1 + 2 * c]);
  }
  for (std::size_t k = 0; k < 12; ++k) CHECK(rows.data[k] == matrix.data[6 + k]);
  CHECK(file.info("f32.rows").begin == file.info("f32.matrix").begin + 6 * sizeof(float));

  CHECK(file.info("f32.scalar").shape.empty());
  CHECK(file.to_float32("f32.scalar").data == std::vector<float>{3.25f});
  CHECK(file.info("f32.empty").numel() == 0);
  CHECK(file.to_float32("f32.empty").data.empty());
  CHECK(file.to_int64("position_ids") == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(file.to_int64("i64") == std::vector<std::int64_t>{-(std::int64_t{1} << 62), -1, 0, 1, (std::int64_t{1} << 62) + 3});
  CHECK(file.to_int64("bool") == std::vector<std::int64_t>{1, 0, 1});
  CHECK(file.to_int64("i64.transposed") == std::vector<std::int64_t>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  const auto special = file.to_float32("f16.special").data;
  CHECK(std::isinf(special[0]));
  CHECK(special[0] > 0);
  CHECK(std::isnan(special[2]));
  CHECK(special[5] == 65504.0f);
  CHECK(std::signbit(special[6]));

  // copy_float32 writes into caller memory of exactly numel floats.
  std::vector<float> out(24);
  file.copy_float32("f32.transposed", out);
  CHECK(out == transposed.data);
  std::vector<float> wrong(5);
  CHECK(contains(message_of<ftlib::tensor_error>([&] { file.copy_float32("f32.matrix", wrong); }),
                 "destination holds 5 floats, the tensor [4, 6] has 24"));
  CHECK(contains(message_of<ftlib::tensor_error>([&] { (void)file.to_float32("i64"); }),
                 "tensor 'i64' has integer dtype I64"));
  CHECK(contains(message_of<ftlib::tensor_error>([&] { (void)file.to_int64("bf16"); }),
                 "tensor 'bf16' has floating dtype BF16"));
  const std::string missing = message_of<ftlib::tensor_error>([&] { (void)file.info("nope"); });
  CHECK(contains(missing, "handmade.bin: no tensor 'nope'"));
  CHECK_FALSE(file.contains("nope"));
  CHECK(file.contains("f32.parameter"));
}

TEST_CASE("a HF model's state dict: DistilBERT names, tied MLM weights, a .bin-only model directory") {
  const auto file = hf::PytorchCheckpointFile::open(fixtures() / "distilbert_seqcls" / "pytorch_model.bin");
  CHECK(file.tensors().front().name == "distilbert.embeddings.word_embeddings.weight");
  CHECK(file.info("distilbert.embeddings.word_embeddings.weight").shape == std::vector<std::int64_t>{64, 16});
  CHECK(file.info("classifier.weight").shape == std::vector<std::int64_t>{3, 16});
  CHECK(std::filesystem::exists(fixtures() / "distilbert_seqcls" / "config.json"));

  const auto mlm = hf::PytorchCheckpointFile::open(fixtures() / "distilbert_mlm.bin");
  CHECK(mlm.layout("vocab_projector.weight").storage_key ==
        mlm.layout("distilbert.embeddings.word_embeddings.weight").storage_key);
  CHECK(mlm.to_float32("vocab_projector.weight").data ==
        mlm.to_float32("distilbert.embeddings.word_embeddings.weight").data);
}

TEST_CASE("parsing from memory equals opening the file, and the object is movable") {
  const auto path = fixtures() / "handmade.bin";
  const std::string bytes = read_all(path);
  const auto from_memory = hf::PytorchCheckpointFile::parse(as_span(bytes), "in-memory.bin");
  auto from_file = hf::PytorchCheckpointFile::open(path);
  CHECK(from_memory.path() == "in-memory.bin");
  REQUIRE(from_memory.tensors().size() == from_file.tensors().size());
  for (const auto& t : from_file.tensors()) {
    if (hf::is_floating(t.dtype)) {
      const auto a = from_memory.to_float32(t.name).data, b = from_file.to_float32(t.name).data;
      REQUIRE(a.size() == b.size());
      CHECK((a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0));  // bitwise: NaN too
    }
  }
  const auto moved = std::move(from_file);
  CHECK(moved.to_float32("f32.rows").data == from_memory.to_float32("f32.rows").data);
}

TEST_CASE("bad files: each says what is wrong") {
  const auto bad = fixtures() / "bad";
  const auto expect = [&](const char* name, const std::string& kind, const std::string& needle) {
    const std::string message = open_message(bad / name);
    CAPTURE(message);
    CHECK(message.starts_with(kind + ": " + (bad / name).string() + ": "));
    CHECK(contains(message, needle));
  };
  expect("legacy.bin", "parse_error", "legacy torch.save format (torch < 1.6, or _use_new_zipfile_serialization=False) "
                                      "is not supported; re-save it in the zip format");
  expect("deflated.bin", "parse_error", "zip entry 'small/byteorder' is compressed (zip method 8, deflate); "
                                        "torch.save stores entries uncompressed");
  expect("os_system.bin", "parse_error",
         "os_system/data.pkl byte 2: refusing to load global 'os.system' (only tensors and dicts are read)");
  expect("list.bin", "parse_error", "the pickled object is a list, not a state dict (a dict of tensors)");
  expect("not_a_tensor.bin", "parse_error", "entry 'epoch' is a int, not a tensor");
  expect("missing_storage.bin", "parse_error", "storage '0' has no zip entry 'small/data/0'");
  expect("short_storage.bin", "parse_error", "storage '0' should hold 4 elements of 4 bytes, its entry 'small/data/0' has 8 bytes");
  expect("uint16.bin", "tensor_error", "tensor 'u16' has dtype torch.uint16, which ftlib does not read");
  expect("expanded.bin", "tensor_error", "tensor 'e' of size [4, 3] has more elements than its storage (storage '0' of 3 elements): an expanded view");
  expect("offset_outside.bin", "tensor_error",
         "tensor 'w' with storage offset 3, size [2] and stride [1] reaches past the end of its storage (storage '0' of 4 elements)");
  expect("stride_outside.bin", "tensor_error",
         "tensor 'w' with storage offset 0, size [2, 2] and stride [3, 1] reaches past the end of its storage");
}

TEST_CASE("truncated, empty and non-zip files") {
  const std::string whole = read_all(fixtures() / "handmade.bin");
  CHECK(contains(parse_message(whole.substr(0, whole.size() - 1)),
                 "pytorch_model.bin: truncated zip archive: no end-of-central-directory record in its"));
  CHECK(contains(parse_message(whole.substr(0, 3000)), "truncated zip archive"));
  // Every prefix fails cleanly (an ftlib::error, never a crash or a wrong read).
  std::size_t errors = 0;
  for (std::size_t n = 0; n < whole.size(); ++n) errors += parse_message(whole.substr(0, n)) != "<no error>";
  CHECK(errors == whole.size());
  CHECK(contains(parse_message(""), "the file is empty, not a torch.save zip archive"));
  CHECK(contains(parse_message("{\"not\": \"a zip\"}\n"), "not a zip archive (no end-of-central-directory record)"));

  TempDir tmp;
  write_all(tmp.path() / "empty.bin", "");
  CHECK(contains(open_message(tmp.path() / "empty.bin"), "the file is empty"));
  CHECK(contains(message_of<ftlib::io_error>([&] { (void)hf::PytorchCheckpointFile::open(tmp.path() / "absent.bin"); }),
                 "cannot open"));
}

TEST_CASE("every single-byte corruption of a checkpoint is read or refused, never misread into a crash") {
  const std::string whole = read_all(fixtures() / "handmade_protocol4.bin");
  std::size_t refused = 0;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    std::string bytes = whole;
    bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
    try {
      const auto file = hf::PytorchCheckpointFile::parse(as_span(bytes));
      for (const auto& t : file.tensors()) {  // whatever was accepted must be readable
        if (hf::is_floating(t.dtype)) {
          (void)file.to_float32(t.name);
        } else {
          (void)file.to_int64(t.name);
        }
      }
    } catch (const ftlib::error&) {
      ++refused;
    }
  }
  // Tensor data bytes change values only; the pickle, headers and directory are guarded.
  CHECK(refused > 0);
  CHECK(refused < whole.size());
}

TEST_CASE("zip structure: archive name, byteorder, duplicates, entries outside the file") {
  const std::string pickle = tensor_pickle(0, {2, 2}, {2, 1});
  const auto file = hf::PytorchCheckpointFile::parse(as_span(checkpoint_with_pickle(pickle)));
  CHECK(file.archive_name() == "archive");
  CHECK(file.to_float32("w").data == std::vector<float>{1, 2, 3, 4});

  const std::string four(16, '\0');
  CHECK(contains(parse_message(make_zip({{"archive/data.pkl", pickle}, {"archive/data/0", four}, {"archive/byteorder", "big"}})),
                 "byteorder is 'big': only little-endian checkpoints are read"));
  CHECK(contains(parse_message(make_zip({{"archive/data.pkl", pickle}, {"archive/data.pkl", pickle}})),
                 "zip entry 'archive/data.pkl' appears twice"));
  CHECK(contains(parse_message(make_zip({{"a/b/data.pkl", pickle}, {"code/x.py", "x"}})),
                 "no '<archive>/data.pkl' entry, so not a torch.save checkpoint (the zip holds 'a/b/data.pkl', 'code/x.py')"));
  CHECK(contains(parse_message(make_zip({})), "(the zip holds no entries)"));
  CHECK(contains(parse_message(make_zip({{"archive/data.pkl", pickle}}, 12)),
                 "zip entry 'archive/data.pkl' is compressed (zip method 12)"));
  // The central directory points past the end of the file.
  std::string zip = checkpoint_with_pickle(pickle);
  const std::uint32_t far = 0x7fffffff;
  std::memcpy(zip.data() + zip.size() - 6, &far, 4);
  CHECK(contains(parse_message(zip), "the zip central directory"));
  // A local header offset pointing nowhere.
  zip = checkpoint_with_pickle(pickle);
  const auto cd = zip.find("PK\x01\x02");
  std::memcpy(zip.data() + cd + 42, &far, 4);
  CHECK(contains(parse_message(zip), "zip entry 'archive/data.pkl': no local header at byte 2147483647"));

  // A real torch file rebuilt entry by entry under another archive name still reads.
  auto entries = zip_entries(read_all(fixtures() / "handmade.bin"));
  for (auto& [name, data] : entries) name = "renamed" + name.substr(name.find('/'));
  const auto renamed = hf::PytorchCheckpointFile::parse(as_span(make_zip(entries)));
  CHECK(renamed.archive_name() == "renamed");
  CHECK(renamed.tensors().size() == hf::PytorchCheckpointFile::open(fixtures() / "handmade.bin").tensors().size());
}

TEST_CASE("the unpickler executes nothing and reads only state-dict constructs") {
  const auto refused = [](const std::string& pickle) { return parse_message(checkpoint_with_pickle(pickle)); };
  // STACK_GLOBAL (protocol 4) at byte 16, GLOBAL (protocol 2) anywhere.
  CHECK(contains(refused("\x80\x04\x8c\x02" "os" "\x94\x8c\x06" "system" "\x94\x93\x94."s),
                 "archive/data.pkl byte 16: refusing to load global 'os.system' (only tensors and dicts are read)"));
  CHECK(contains(refused(global("builtins", "eval") + "."), "byte 0: refusing to load global 'builtins.eval'"));
  CHECK(contains(refused(proto2 + global("torch.nn.modules.linear", "Linear") + "."),
                 "refusing to load global 'torch.nn.modules.linear.Linear'"));
  CHECK(contains(refused(global("__torch__", "M\x01") + "."), "refusing to load global '__torch__.M\\x01'"));
  CHECK(contains(refused(proto2 + global("torch", "float32") + ")R."), "a torch storage type or dtype is called"));
  CHECK(contains(refused(proto2 + global("collections", "OrderedDict") + "(K\x01tR."),
                 "OrderedDict called with arguments"));
  CHECK(contains(refused(proto2 + "K\x01."), "the pickled object is a int, not a state dict"));
  CHECK(contains(refused(proto2 + "}"), "the pickle ends without a STOP opcode"));
  CHECK(contains(refused(proto2 + "X\xff\xff\x00\x00" "ab"s), "the pickle ends inside an opcode"));
  CHECK(contains(refused(proto2 + "h\x05."), "memo entry 5 was never stored"));
  CHECK(contains(refused(proto2 + "."), "pickle stack underflow"));
  CHECK(contains(refused(proto2 + "(."), "pickle stack underflow"));  // STOP cannot reach below a MARK
  CHECK(contains(refused(proto2 + "t."), "opcode needs a MARK"));
  CHECK(contains(refused(proto2 + "]K\x01K\x02s."), "SETITEM on a list, not a dict"));
  CHECK(contains(refused(proto2 + "}K\x01" "a."), "APPEND to a dict, not a list"));
  CHECK(contains(refused(proto2 + "]}b."), "BUILD on a list"));
  CHECK(contains(refused(proto2 + "I1\n."), "pickle opcode 0x49 is not supported"));
  CHECK(contains(refused("\x80\x09}."), "pickle protocol 9 is newer than 5"));
  CHECK(contains(refused(proto2 + "\x8a\x09" + std::string(9, '\x01') + "."), "integer of 9 bytes does not fit in 64 bits"));
  CHECK(contains(refused(proto2 + "(K\x01K\x02tQ."), "persistent id is not ('storage', storage type, key, location, numel)"));
  CHECK(contains(refused(proto2 + "}(" + str("w") + "K\x01u."), "entry 'w' is a int, not a tensor"));
  CHECK(contains(refused(proto2 + "}(K\x01K\x02u."), "the state dict has a int key, not a string"));
  CHECK(contains(refused(proto2 + "}(" + str("w") + tensor_call(0, {2}, {1}) + str("v") + tensor_call(0, {2}, {1}, 3) + "u."),
                 "storage '0' is referenced with two different types or sizes"));
  // A state dict may be empty; BUILD may set an OrderedDict's _metadata; a repeated key keeps its last value.
  CHECK(refused(proto2 + "}.") == "<no error>");
  CHECK(refused(proto2 + global("collections", "OrderedDict") + ")R}" + str("_metadata") + "K\x01sb.") == "<no error>");
  const auto file = hf::PytorchCheckpointFile::parse(as_span(checkpoint_with_pickle(
      proto2 + "}(" + str("w") + tensor_call(0, {2}, {1}) + str("w") + tensor_call(2, {2}, {1}) + "u.")));
  REQUIRE(file.tensors().size() == 1);
  CHECK(file.to_float32("w").data == std::vector<float>{3, 4});
  // _rebuild_parameter wraps a tensor; memoised values (BINPUT/BINGET) are shared, not copied.
  const auto parameter = hf::PytorchCheckpointFile::parse(as_span(checkpoint_with_pickle(
      proto2 + "}(" + str("p") + global("torch._utils", "_rebuild_parameter") + "(" + tensor_call(1, {3}, {1}) +
      "q\x07\x88" + "}tR" + str("q") + "h\x07u.")));
  CHECK(parameter.to_float32("p").data == std::vector<float>{2, 3, 4});
  CHECK(parameter.info("q").begin == parameter.info("p").begin);
}

TEST_CASE("views are checked against their storage") {
  const auto message = [](int offset, const std::vector<int>& size, const std::vector<int>& stride) {
    return parse_message(checkpoint_with_pickle(tensor_pickle(offset, size, stride)));
  };
  CHECK(message(0, {4}, {1}) == "<no error>");
  CHECK(message(3, {1}, {1}) == "<no error>");
  CHECK(message(0, {2, 2}, {1, 2}) == "<no error>");                 // a transpose
  CHECK(message(9, {0, 2}, {1, 1}) == "<no error>");                 // no elements: the offset is not used
  CHECK(message(1, {3}, {1}) == "<no error>");
  CHECK(contains(message(2, {3}, {1}), "reaches past the end of its storage (storage '0' of 4 elements)"));
  CHECK(contains(message(4, {}, {}), "with storage offset 4, size [] and stride [] reaches past the end"));
  CHECK(contains(message(0, {2}, {4}), "size [2] and stride [4] reaches past the end"));
  CHECK(contains(message(0, {5}, {1}), "has more elements than its storage"));
  CHECK(contains(message(0, {2, 2}, {1}), "has size [2, 2] but stride [1]"));
  CHECK(contains(message(0, {200, 200}, {1, 1}), "has more elements than its storage"));
  // A storage whose entry is shorter than the persistent id says.
  CHECK(contains(parse_message(checkpoint_with_pickle(tensor_pickle(0, {2}, {1}, 8))),
                 "storage '0' should hold 8 elements of 4 bytes, its entry 'archive/data/0' has 16 bytes"));
}
