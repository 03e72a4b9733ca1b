#pragma once
// Reading PyTorch's torch.save checkpoints (pytorch_model.bin) without PyTorch and without
// executing anything from the file.
//
// torch.save (torch >= 1.6) writes a zip archive of stored (uncompressed) entries:
//   <archive>/data.pkl            the pickled object: for a checkpoint a state dict {name: tensor}
//   <archive>/data/<key>          the raw little-endian bytes of each storage
//   <archive>/version, byteorder, .format_version, .storage_alignment, .data/serialization_id
// <archive> is a folder name that varies (the file name's stem, "archive", ...): it is taken from
// the data.pkl entry. Each tensor in data.pkl is a call torch._utils._rebuild_tensor_v2(storage,
// storage_offset, size, stride, requires_grad, backward_hooks), its storage a persistent id
// ('storage', torch.FloatStorage, key, location, numel) naming data/<key>.
//
// The unpickler here knows only the opcodes and globals such files contain; any other global
// (os.system, a class) is refused by name, so a malicious file cannot run code. Every opcode
// pushes at most one value, so memory is linear in data.pkl's size, and nothing recurses.
// The whole file is validated in open(): later accessors cannot fail on a malformed file.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ftlib/core/host_tensor.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/hf/safetensors.hpp"

namespace ftlib::hf {

/// @brief How one tensor of a torch.save checkpoint views its storage.
struct TorchTensorLayout {
  std::string storage_key;            ///< the storage's key: its bytes are the zip entry <archive>/data/<key>
  std::int64_t storage_offset = 0;    ///< index of the first element, in elements from the storage's start
  std::vector<std::int64_t> strides;  ///< one per dimension, in elements
  std::size_t storage_begin = 0;      ///< file offset of the storage's first byte
  std::size_t storage_bytes = 0;      ///< the storage's size in bytes
  bool contiguous = true;             ///< row-major without gaps (dimensions of size 1 may have any stride)
};

namespace detail {

/// @brief `text` for an error message: bytes outside printable ASCII as \xNN, at most `limit` characters.
[[nodiscard]] inline std::string printable(std::string_view text, std::size_t limit = 120) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (const char c : text.substr(0, limit)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      out.append("\\x").append(1, hex[u >> 4]).append(1, hex[u & 15]);
    }
  }
  if (text.size() > limit) out += "...";
  return out;
}

// ---------------------------------------------------------------------------------------------
// The zip central directory (PKWARE APPNOTE 4.3.x), with ZIP64, read in place.

/// @brief One entry of a zip central directory.
struct ZipEntry {
  std::string name;                   ///< path inside the archive
  std::uint16_t flags = 0;            ///< general purpose bit flags (bit 0: encrypted)
  std::uint16_t method = 0;           ///< 0 stored, 8 deflate, ...
  std::uint64_t compressed_size = 0;  ///< bytes in the file
  std::uint64_t size = 0;             ///< bytes once extracted
  std::uint64_t local_header = 0;     ///< file offset of the entry's local header
};

inline constexpr std::uint32_t zip_local_signature = 0x04034b50;
inline constexpr std::uint32_t zip_central_signature = 0x02014b50;
inline constexpr std::uint32_t zip_end_signature = 0x06054b50;
inline constexpr std::uint32_t zip64_end_signature = 0x06064b50;
inline constexpr std::uint32_t zip64_locator_signature = 0x07064b50;

/// @brief The first bytes of a legacy (pre-zip) torch.save file: PROTO 2, then LONG1 of torch's magic number.
inline constexpr std::array<unsigned char, 14> legacy_torch_magic = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                                                     0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

[[noreturn]] inline void zip_fail(const SourceLocation& where, const std::string& message) {
  throw parse_error(where, message);
}

/// @brief Reads the central directory of the zip archive `file`; parse_error at `where` on any defect.
[[nodiscard]] inline std::vector<ZipEntry> read_zip_directory(std::span<const std::byte> file,
                                                              const SourceLocation& where) {
  const std::size_t size = file.size();
  const auto u16 = [&](std::size_t at) { return load_le<std::uint16_t>(file.data() + at); };
  const auto u32 = [&](std::size_t at) { return load_le<std::uint32_t>(file.data() + at); };
  const auto u64 = [&](std::size_t at) { return load_le<std::uint64_t>(file.data() + at); };

  // The end record is the last thing in the file, followed only by a comment of at most 64 KiB.
  std::size_t end_at = std::numeric_limits<std::size_t>::max();
  if (size >= 22) {
    const std::size_t lowest = size - 22 > 0xffff ? size - 22 - 0xffff : 0;
    for (std::size_t at = size - 22 + 1; at-- > lowest;) {
      if (u32(at) == zip_end_signature && at + 22 + u16(at + 20) <= size) {
        end_at = at;
        break;
      }
    }
  }
  if (end_at == std::numeric_limits<std::size_t>::max()) {
    const bool legacy = size >= legacy_torch_magic.size() &&
                        std::memcmp(file.data(), legacy_torch_magic.data(), legacy_torch_magic.size()) == 0;
    if (legacy) {
      zip_fail(where, "legacy torch.save format (torch < 1.6, or _use_new_zipfile_serialization=False) is not supported; "
           "re-save it in the zip format with a current torch: python -c \"import torch; "
           "torch.save(torch.load('pytorch_model.bin', weights_only=True), 'pytorch_model.bin')\"");
    }
    if (size >= 4 && u32(0) == zip_local_signature) {
      zip_fail(where, "truncated zip archive: no end-of-central-directory record in its " + std::to_string(size) +
           " bytes (was the file cut short, e.g. an interrupted download?)");
    }
    zip_fail(where, size == 0 ? std::string("the file is empty, not a torch.save zip archive")
                   : "not a zip archive (no end-of-central-directory record), so not a torch.save checkpoint");
  }

  std::uint64_t count = u16(end_at + 10);
  std::uint64_t cd_size = u32(end_at + 12);
  std::uint64_t cd_offset = u32(end_at + 16);
  std::uint64_t directory_end = end_at;  // the central directory must end before this
  if (u16(end_at + 4) != 0 || u16(end_at + 6) != 0) zip_fail(where, "multi-part (split) zip archives are not supported");
  if (end_at >= 20 && u32(end_at - 20) == zip64_locator_signature) {
    const std::uint64_t z64 = u64(end_at - 20 + 8);
    if (z64 > end_at - 20 || end_at - 20 - z64 < 56 || u32(static_cast<std::size_t>(z64)) != zip64_end_signature) {
      zip_fail(where, "the zip64 end-of-central-directory locator points to byte " + std::to_string(z64) +
           ", where there is no zip64 end record (corrupt or truncated file)");
    }
    const auto at = static_cast<std::size_t>(z64);
    count = u64(at + 32);
    cd_size = u64(at + 40);
    cd_offset = u64(at + 48);
    directory_end = z64;
  }
  if (cd_offset > directory_end || cd_size > directory_end - cd_offset) {
    zip_fail(where, "the zip central directory (bytes " + std::to_string(cd_offset) + ", " + std::to_string(cd_size) +
         " long) lies outside the " + std::to_string(size) + "-byte file (corrupt or truncated)");
  }

  std::vector<ZipEntry> entries;
  entries.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(count, cd_size / 46)));
  std::size_t at = static_cast<std::size_t>(cd_offset);
  const auto cd_end = static_cast<std::size_t>(cd_offset + cd_size);
  for (std::uint64_t i = 0; i < count; ++i) {
    if (cd_end - at < 46 || u32(at) != zip_central_signature) {
      zip_fail(where, "zip central directory entry " + std::to_string(i) + " of " + std::to_string(count) + " at byte " +
           std::to_string(at) + " is missing or corrupt");
    }
    ZipEntry e;
    e.flags = u16(at + 8);
    e.method = u16(at + 10);
    e.compressed_size = u32(at + 20);
    e.size = u32(at + 24);
    const std::size_t name_len = u16(at + 28), extra_len = u16(at + 30), comment_len = u16(at + 32);
    e.local_header = u32(at + 42);
    if (cd_end - at - 46 < name_len + extra_len + comment_len) {
      zip_fail(where, "zip central directory entry " + std::to_string(i) + " at byte " + std::to_string(at) +
           " runs past the directory's end");
    }
    e.name.assign(reinterpret_cast<const char*>(file.data() + at + 46), name_len);
    // ZIP64 extended information (id 1) holds, in order, each field whose 32-bit slot is 0xffffffff.
    const std::size_t extra = at + 46 + name_len;
    for (std::size_t x = extra; x + 4 <= extra + extra_len;) {
      const std::uint16_t id = u16(x);
      const std::size_t len = u16(x + 2);
      if (x + 4 + len > extra + extra_len) zip_fail(where, "zip entry '" + printable(e.name) + "': malformed extra field");
      if (id == 0x0001) {
        std::size_t field = x + 4;
        const auto take = [&](std::uint64_t& value) {
          if (value != 0xffffffffu) return;
          if (field + 8 > x + 4 + len) zip_fail(where, "zip entry '" + printable(e.name) + "': truncated zip64 extra field");
          value = u64(field);
          field += 8;
        };
        take(e.size);
        take(e.compressed_size);
        take(e.local_header);
      }
      x += 4 + len;
    }
    entries.push_back(std::move(e));
    at += 46 + name_len + extra_len + comment_len;
  }
  return entries;
}

/// @brief The bytes of a stored (uncompressed) zip entry inside `file`; parse_error when the entry is
///        compressed, encrypted or its local header or data lie outside the file.
[[nodiscard]] inline std::span<const std::byte> zip_entry_bytes(std::span<const std::byte> file, const ZipEntry& e,
                                                                const SourceLocation& where) {
  const std::string what = "zip entry '" + printable(e.name) + "'";
  if ((e.flags & 1u) != 0) throw parse_error(where, what + " is encrypted");
  if (e.method != 0) {
    throw parse_error(where, what + " is compressed (zip method " + std::to_string(e.method) +
                                 (e.method == 8 ? ", deflate" : "") +
                                 "); torch.save stores entries uncompressed and ftlib reads only those: "
                                 "re-save it with torch.save, do not re-zip it");
  }
  if (e.compressed_size != e.size) {
    throw parse_error(where, what + " is stored, but its compressed size " + std::to_string(e.compressed_size) +
                                 " differs from its size " + std::to_string(e.size));
  }
  const std::size_t n = file.size();
  if (e.local_header > n || n - e.local_header < 30 ||
      load_le<std::uint32_t>(file.data() + e.local_header) != zip_local_signature) {
    throw parse_error(where, what + ": no local header at byte " + std::to_string(e.local_header) +
                                 " (corrupt or truncated file)");
  }
  const auto h = static_cast<std::size_t>(e.local_header);
  const std::size_t name_len = load_le<std::uint16_t>(file.data() + h + 26);
  const std::size_t extra_len = load_le<std::uint16_t>(file.data() + h + 28);
  const std::size_t data = h + 30 + name_len + extra_len;
  if (data > n || std::string_view(reinterpret_cast<const char*>(file.data() + h + 30), name_len) != e.name) {
    throw parse_error(where, what + ": its local header at byte " + std::to_string(h) +
                                 " does not match the central directory (corrupt file)");
  }
  if (e.size > n - data) {
    throw parse_error(where, what + ": its " + std::to_string(e.size) + " bytes at byte " + std::to_string(data) +
                                 " run past the end of the " + std::to_string(n) + "-byte file (truncated?)");
  }
  return file.subspan(data, static_cast<std::size_t>(e.size));
}

// ---------------------------------------------------------------------------------------------
// The restricted unpickler.

namespace pickle {

/// @brief A torch storage type or dtype the checkpoint may name, and whether ftlib reads it.
struct TorchType {
  std::string_view storage;  ///< "FloatStorage" (empty: no typed storage class, stored as UntypedStorage)
  std::string_view dtype;    ///< "float32"
  std::size_t element_size;  ///< bytes per element
  bool supported;            ///< whether `dtype_value` is meaningful
  DType dtype_value;         ///< ftlib's dtype when supported
};

inline constexpr std::array<TorchType, 26> torch_types = {{
    {"FloatStorage", "float32", 4, true, DType::F32},
    {"DoubleStorage", "float64", 8, true, DType::F64},
    {"HalfStorage", "float16", 2, true, DType::F16},
    {"BFloat16Storage", "bfloat16", 2, true, DType::BF16},
    {"LongStorage", "int64", 8, true, DType::I64},
    {"IntStorage", "int32", 4, true, DType::I32},
    {"ShortStorage", "int16", 2, true, DType::I16},
    {"CharStorage", "int8", 1, true, DType::I8},
    {"ByteStorage", "uint8", 1, true, DType::U8},
    {"BoolStorage", "bool", 1, true, DType::BOOL},
    {"ComplexFloatStorage", "complex64", 8, false, DType::F32},
    {"ComplexDoubleStorage", "complex128", 16, false, DType::F32},
    {"QInt8Storage", "qint8", 1, false, DType::F32},
    {"QUInt8Storage", "quint8", 1, false, DType::F32},
    {"QInt32Storage", "qint32", 4, false, DType::F32},
    {"QUInt4x2Storage", "quint4x2", 1, false, DType::F32},
    {"QUInt2x4Storage", "quint2x4", 1, false, DType::F32},
    {"", "uint16", 2, false, DType::F32},
    {"", "uint32", 4, false, DType::F32},
    {"", "uint64", 8, false, DType::F32},
    {"", "complex32", 4, false, DType::F32},
    {"", "float8_e5m2", 1, false, DType::F32},
    {"", "float8_e4m3fn", 1, false, DType::F32},
    {"", "float8_e5m2fnuz", 1, false, DType::F32},
    {"", "float8_e4m3fnuz", 1, false, DType::F32},
    {"", "float8_e8m0fnu", 1, false, DType::F32},
}};

/// @brief The callables and classes a state dict may name.
enum class GlobalId : std::uint8_t {
  OrderedDict,
  RebuildTensorV2,
  RebuildTensorV3,
  RebuildParameter,
  RebuildParameterWithState,
  TypedStorage,    ///< torch.<X>Storage; Value::index2 is the torch_types row
  UntypedStorage,  ///< torch.storage.UntypedStorage (bytes, for dtypes without a storage class)
  DTypeObject,     ///< torch.float32 and friends; Value::index2 is the torch_types row
};

/// @brief What a pickle value is.
enum class Kind : std::uint8_t { None, Bool, Int, Float, String, Tuple, List, Dict, Global, Storage, Tensor };

[[nodiscard]] inline std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
  }
  return "?";
}

/// @brief A value on the unpickler's stack; containers live in the Unpickler's arenas (by index),
///        so copying a Value never copies a container and reference cycles cost nothing.
struct Value {
  Kind kind = Kind::None;
  std::int64_t integer = 0;  ///< Int, Bool
  double real = 0;           ///< Float
  std::size_t index = 0;     ///< arena slot of String/Tuple/List/Dict/Storage/Tensor; GlobalId of a Global
  std::size_t index2 = 0;    ///< torch_types row of a TypedStorage/DTypeObject global
};

/// @brief A storage named by a persistent id: its bytes are the zip entry data/<key>.
struct StorageRecord {
  std::string key;          ///< data/<key>
  std::size_t type = 0;     ///< torch_types row (typed storage)
  bool untyped = false;     ///< an UntypedStorage: numel counts bytes, the tensor names the dtype
  std::uint64_t numel = 0;  ///< elements (bytes when untyped), as the persistent id says
};

/// @brief A _rebuild_tensor_v2/v3 call, validated once the tensor's name is known.
struct TensorRecord {
  std::size_t storage = 0;            ///< StorageRecord index
  std::int64_t offset = 0;            ///< storage_offset, in elements
  std::vector<std::int64_t> shape;    ///< size
  std::vector<std::int64_t> strides;  ///< stride
  std::size_t type = 0;               ///< torch_types row of the element type
  bool has_metadata = false;          ///< carries tensor metadata (conj / neg bits) ftlib does not apply
};

/// @brief Runs a pickle whose only globals are those of a torch state dict. Every failure is a
///        parse_error naming the file, the pickle entry and the byte offset of the opcode.
class Unpickler {
 public:
  Unpickler(std::span<const std::byte> bytes, SourceLocation where, std::string entry)
      : bytes_(bytes), where_(std::move(where)), entry_(std::move(entry)) {}

  /// @brief Runs the pickle to its STOP and returns the object it builds.
  [[nodiscard]] Value run() {
    for (;;) {
      op_at_ = pos_;
      if (pos_ >= bytes_.size()) fail("the pickle ends without a STOP opcode (truncated?)");
      const auto op = static_cast<std::uint8_t>(bytes_[pos_++]);
      switch (op) {
        case 0x80: {  // PROTO
          const std::uint8_t protocol = read_u8();
          if (protocol > 5) fail("pickle protocol " + std::to_string(protocol) + " is newer than 5");
          break;
        }
        case 0x95: (void)take(8); break;  // FRAME: framing only groups opcodes
        case '.': return pop();           // STOP
        case '(': marks_.push_back(stack_.size()); break;
        case '0': (void)pop(); break;  // POP
        case '1': (void)pop_mark(); break;  // POP_MARK
        case '2': push(top()); break;       // DUP
        case 'N': push(Value{}); break;
        case 0x88: push(Value{Kind::Bool, 1}); break;  // NEWTRUE
        case 0x89: push(Value{Kind::Bool, 0}); break;  // NEWFALSE
        case 'J': push(Value{Kind::Int, load_le<std::int32_t>(take(4))}); break;   // BININT
        case 'K': push(Value{Kind::Int, read_u8()}); break;                        // BININT1
        case 'M': push(Value{Kind::Int, load_le<std::uint16_t>(take(2))}); break;  // BININT2
        case 0x8a: push(Value{Kind::Int, read_long(read_u8())}); break;            // LONG1
        case 0x8b: push(Value{Kind::Int, read_long(load_le<std::uint32_t>(take(4)))}); break;  // LONG4
        case 'G': {  // BINFLOAT: big-endian IEEE double
          const std::byte* p = take(8);
          std::array<std::byte, 8> le{};
          std::reverse_copy(p, p + 8, le.begin());
          push(Value{Kind::Float, 0, load_le<double>(le.data())});
          break;
        }
        case 'X': push_string(load_le<std::uint32_t>(take(4))); break;   // BINUNICODE
        case 0x8c: push_string(read_u8()); break;                         // SHORT_BINUNICODE
        case 0x8d: push_string(load_le<std::uint64_t>(take(8))); break;  // BINUNICODE8
        case ')': push(new_sequence(Kind::Tuple, {})); break;  // EMPTY_TUPLE
        case ']': push(new_sequence(Kind::List, {})); break;   // EMPTY_LIST
        case '}': push(new_dict()); break;                     // EMPTY_DICT
        case 't': push(new_sequence(Kind::Tuple, pop_mark())); break;  // TUPLE
        case 'l': push(new_sequence(Kind::List, pop_mark())); break;   // LIST
        case 0x85:  // TUPLE1..3
        case 0x86:
        case 0x87: {
          const std::size_t n = op - 0x84u;
          if (available() < n) fail("TUPLE" + std::to_string(n) + " needs " + std::to_string(n) + " values");
          std::vector<Value> items(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
          stack_.resize(stack_.size() - n);
          push(new_sequence(Kind::Tuple, std::move(items)));
          break;
        }
        case 'd': {  // DICT
          auto items = pop_mark();
          const Value dict = new_dict();
          set_items(dict, std::move(items));
          push(dict);
          break;
        }
        case 'a': {  // APPEND
          Value item = pop();
          list_at_top().push_back(item);
          break;
        }
        case 'e': {  // APPENDS
          auto items = pop_mark();
          auto& list = list_at_top();
          list.insert(list.end(), items.begin(), items.end());
          break;
        }
        case 's': {  // SETITEM
          Value value = pop();
          Value key = pop();
          set_items(top(), {key, value});
          break;
        }
        case 'u': {  // SETITEMS
          auto items = pop_mark();
          set_items(top(), std::move(items));
          break;
        }
        case 'q': memo_[read_u8()] = top(); break;                                 // BINPUT
        case 'r': memo_[load_le<std::uint32_t>(take(4))] = top(); break;           // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;                             // MEMOIZE
        case 'h': push(memo_get(read_u8())); break;                                // BINGET
        case 'j': push(memo_get(load_le<std::uint32_t>(take(4)))); break;          // LONG_BINGET
        case 'c': {  // GLOBAL "module\nname\n"
          const std::string_view module = read_line();
          const std::string_view name = read_line();
          push(resolve_global(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const Value name = pop();
          const Value module = pop();
          if (name.kind != Kind::String || module.kind != Kind::String) fail("STACK_GLOBAL needs two strings");
          push(resolve_global(strings[module.index], strings[name.index]));
          break;
        }
        case 'R': {  // REDUCE
          const Value args = pop();
          const Value callable = pop();
          push(call(callable, args));
          break;
        }
        case 'b': {  // BUILD: sets an object's attributes; only an OrderedDict's (its _metadata) are allowed
          (void)pop();
          if (top().kind != Kind::Dict) {
            fail("BUILD on a " + std::string(kind_name(top().kind)) + " (only a dict's attributes may be set)");
          }
          break;
        }
        case 'Q': push(persistent_load(pop())); break;  // BINPERSID
        default: {
          static constexpr char hex[] = "0123456789abcdef";
          fail(std::string("pickle opcode 0x") + hex[op >> 4] + hex[op & 15] +
               " is not supported (ftlib reads state dicts of tensors, as torch.save writes them)");
        }
      }
    }
  }

  std::vector<std::string_view> strings;                           ///< String values (views into the pickle)
  std::vector<std::vector<Value>> sequences;                       ///< Tuple and List values
  std::vector<std::vector<std::pair<Value, Value>>> dicts;         ///< Dict values, in insertion order
  std::vector<StorageRecord> storages;                             ///< Storage values
  std::vector<TensorRecord> tensors;                               ///< Tensor values

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw parse_error(where_, entry_ + " byte " + std::to_string(op_at_) + ": " + message);
  }

  [[nodiscard]] std::size_t remaining() const noexcept { return bytes_.size() - pos_; }
  const std::byte* take(std::uint64_t n) {
    if (n > remaining()) fail("the pickle ends inside an opcode (truncated?)");
    const std::byte* p = bytes_.data() + pos_;
    pos_ += static_cast<std::size_t>(n);
    return p;
  }
  std::uint8_t read_u8() { return static_cast<std::uint8_t>(*take(1)); }
  std::int64_t read_long(std::uint64_t n) {
    if (n > 8) fail("integer of " + std::to_string(n) + " bytes does not fit in 64 bits");
    const std::byte* p = take(n);
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < n; ++i) value |= static_cast<std::uint64_t>(p[i]) << (8 * i);
    if (n > 0 && n < 8 && (static_cast<std::uint8_t>(p[n - 1]) & 0x80u) != 0) value |= ~std::uint64_t{0} << (8 * n);
    return static_cast<std::int64_t>(value);
  }
  std::string_view read_line() {
    const auto* begin = reinterpret_cast<const char*>(bytes_.data() + pos_);
    const std::string_view rest(begin, remaining());
    const auto newline = rest.find('\n');
    if (newline == std::string_view::npos) fail("GLOBAL name without its end of line (truncated?)");
    pos_ += newline + 1;
    return rest.substr(0, newline);
  }
  void push_string(std::uint64_t n) {
    const std::byte* p = take(n);
    strings.emplace_back(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    push(Value{Kind::String, 0, 0, strings.size() - 1});
  }

  // Python's unpickler keeps values above the innermost MARK apart: a pop cannot reach below it.
  [[nodiscard]] std::size_t available() const noexcept {
    return stack_.size() - (marks_.empty() ? 0 : marks_.back());
  }
  void push(const Value& v) { stack_.push_back(v); }
  Value pop() {
    if (available() == 0) fail("pickle stack underflow");
    Value v = stack_.back();
    stack_.pop_back();
    return v;
  }
  const Value& top() {
    if (available() == 0) fail("pickle stack underflow");
    return stack_.back();
  }
  std::vector<Value> pop_mark() {
    if (marks_.empty()) fail("opcode needs a MARK, and there is none");
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<Value> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  Value memo_get(std::uint64_t key) {
    const auto it = memo_.find(key);
    if (it == memo_.end()) fail("memo entry " + std::to_string(key) + " was never stored");
    return it->second;
  }

  Value new_sequence(Kind kind, std::vector<Value> items) {
    sequences.push_back(std::move(items));
    return Value{kind, 0, 0, sequences.size() - 1};
  }
  Value new_dict() {
    dicts.emplace_back();
    return Value{Kind::Dict, 0, 0, dicts.size() - 1};
  }
  std::vector<Value>& list_at_top() {
    const Value& list = top();
    if (list.kind != Kind::List) fail("APPEND to a " + std::string(kind_name(list.kind)) + ", not a list");
    return sequences[list.index];
  }
  void set_items(const Value& dict, std::vector<Value> items) {
    if (dict.kind != Kind::Dict) fail("SETITEM on a " + std::string(kind_name(dict.kind)) + ", not a dict");
    if (items.size() % 2 != 0) fail("SETITEMS with an odd number of values");
    auto& entries = dicts[dict.index];
    for (std::size_t i = 0; i < items.size(); i += 2) entries.emplace_back(items[i], items[i + 1]);
  }

  [[nodiscard]] Value resolve_global(std::string_view module, std::string_view name) {
    const auto global = [](GlobalId id, std::size_t row = 0) {
      return Value{Kind::Global, 0, 0, static_cast<std::size_t>(id), row};
    };
    if (module == "collections" && name == "OrderedDict") return global(GlobalId::OrderedDict);
    if (module == "torch._utils") {
      if (name == "_rebuild_tensor_v2") return global(GlobalId::RebuildTensorV2);
      if (name == "_rebuild_tensor_v3") return global(GlobalId::RebuildTensorV3);
      if (name == "_rebuild_parameter") return global(GlobalId::RebuildParameter);
      if (name == "_rebuild_parameter_with_state") return global(GlobalId::RebuildParameterWithState);
    }
    if (module == "torch.storage" && name == "UntypedStorage") return global(GlobalId::UntypedStorage);
    if (module == "torch") {
      for (std::size_t row = 0; row < torch_types.size(); ++row) {
        if (!torch_types[row].storage.empty() && name == torch_types[row].storage) {
          return global(GlobalId::TypedStorage, row);
        }
        if (name == torch_types[row].dtype) return global(GlobalId::DTypeObject, row);
      }
    }
    fail("refusing to load global '" + printable(module) + "." + printable(name) +
         "' (only tensors and dicts are read)");
  }

  [[nodiscard]] const std::vector<Value>& tuple_items(const Value& v, const char* what) {
    if (v.kind != Kind::Tuple) fail(std::string(what) + " is a " + std::string(kind_name(v.kind)) + ", not a tuple");
    return sequences[v.index];
  }
  [[nodiscard]] std::vector<std::int64_t> int_tuple(const Value& v, const char* what) {
    std::vector<std::int64_t> out;
    for (const Value& item : tuple_items(v, what)) {
      if (item.kind != Kind::Int) fail(std::string(what) + " holds a " + std::string(kind_name(item.kind)));
      out.push_back(item.integer);
    }
    return out;
  }

  [[nodiscard]] Value call(const Value& callable, const Value& args_value) {
    if (callable.kind != Kind::Global) fail("REDUCE calls a " + std::string(kind_name(callable.kind)));
    const std::vector<Value> args = tuple_items(args_value, "REDUCE's argument");  // a copy: arenas may grow
    switch (static_cast<GlobalId>(callable.index)) {
      case GlobalId::OrderedDict:
        if (!args.empty()) fail("collections.OrderedDict called with arguments (only OrderedDict() is read)");
        return new_dict();
      case GlobalId::RebuildTensorV2: return rebuild_tensor(args, false);
      case GlobalId::RebuildTensorV3: return rebuild_tensor(args, true);
      case GlobalId::RebuildParameter:
      case GlobalId::RebuildParameterWithState: {
        const std::size_t expected = callable.index == static_cast<std::size_t>(GlobalId::RebuildParameter) ? 3 : 4;
        if (args.size() != expected || args[0].kind != Kind::Tensor) {
          fail("torch._utils._rebuild_parameter needs (tensor, requires_grad, hooks" +
               std::string(expected == 4 ? ", state)" : ")"));
        }
        return args[0];  // a Parameter's data is its tensor
      }
      case GlobalId::TypedStorage:
      case GlobalId::UntypedStorage:
      case GlobalId::DTypeObject: break;
    }
    fail("a torch storage type or dtype is called (not something torch.save writes)");
  }

  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  // _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
  [[nodiscard]] Value rebuild_tensor(const std::vector<Value>& args, bool v3) {
    const std::size_t required = v3 ? 7 : 6;
    const char* name = v3 ? "torch._utils._rebuild_tensor_v3" : "torch._utils._rebuild_tensor_v2";
    if (args.size() != required && args.size() != required + 1) {
      fail(std::string(name) + " called with " + std::to_string(args.size()) + " arguments, expected " +
           std::to_string(required) + " or " + std::to_string(required + 1));
    }
    if (args[0].kind != Kind::Storage) fail(std::string(name) + ": its storage is a " + std::string(kind_name(args[0].kind)));
    if (args[1].kind != Kind::Int) fail(std::string(name) + ": its storage offset is a " + std::string(kind_name(args[1].kind)));
    if (args[4].kind != Kind::Bool && args[4].kind != Kind::Int) fail(std::string(name) + ": requires_grad is not a bool");
    if (args[5].kind != Kind::Dict && args[5].kind != Kind::None) fail(std::string(name) + ": backward_hooks is not a dict");
    TensorRecord t;
    t.storage = args[0].index;
    t.offset = args[1].integer;
    t.shape = int_tuple(args[2], "the tensor's size");
    t.strides = int_tuple(args[3], "the tensor's stride");
    const StorageRecord& s = storages[t.storage];
    if (v3) {
      if (!s.untyped) fail(std::string(name) + " on a typed storage (torch writes it with an UntypedStorage)");
      if (args[6].kind != Kind::Global || args[6].index != static_cast<std::size_t>(GlobalId::DTypeObject)) {
        fail(std::string(name) + ": its dtype is not a torch dtype");
      }
      t.type = args[6].index2;
    } else {
      if (s.untyped) fail(std::string(name) + " on an UntypedStorage (torch writes it with a typed storage)");
      t.type = s.type;
    }
    if (args.size() == required + 1) {
      const Value& metadata = args[required];
      if (metadata.kind != Kind::Dict) fail(std::string(name) + ": its metadata is not a dict");
      t.has_metadata = !dicts[metadata.index].empty();
    }
    tensors.push_back(std::move(t));
    return Value{Kind::Tensor, 0, 0, tensors.size() - 1};
  }

  // ('storage', storage_type, key, location, numel), as torch.save's persistent_id writes it.
  [[nodiscard]] Value persistent_load(const Value& pid) {
    const std::vector<Value>& id = tuple_items(pid, "the persistent id");
    if (id.size() != 5 || id[0].kind != Kind::String || strings[id[0].index] != "storage" ||
        id[1].kind != Kind::Global || id[2].kind != Kind::String || id[3].kind != Kind::String ||
        id[4].kind != Kind::Int) {
      fail("persistent id is not ('storage', storage type, key, location, numel)");
    }
    const auto type = static_cast<GlobalId>(id[1].index);
    if (type != GlobalId::TypedStorage && type != GlobalId::UntypedStorage) {
      fail("the persistent id's storage type is not a torch storage class");
    }
    if (id[4].integer < 0) fail("storage with a negative size " + std::to_string(id[4].integer));
    StorageRecord record{std::string(strings[id[2].index]), id[1].index2, type == GlobalId::UntypedStorage,
                         static_cast<std::uint64_t>(id[4].integer)};
    const auto [it, inserted] = storage_index_.emplace(record.key, storages.size());
    if (inserted) {
      storages.push_back(std::move(record));
    } else {
      const StorageRecord& known = storages[it->second];
      if (known.untyped != record.untyped || known.type != record.type || known.numel != record.numel) {
        fail("storage '" + printable(record.key) + "' is referenced with two different types or sizes");
      }
    }
    return Value{Kind::Storage, 0, 0, it->second};
  }

  std::span<const std::byte> bytes_;
  SourceLocation where_;
  std::string entry_;
  std::size_t pos_ = 0;
  std::size_t op_at_ = 0;
  std::vector<Value> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, Value> memo_;
  std::unordered_map<std::string, std::size_t> storage_index_;
};

}  // namespace pickle

/// @brief Calls emit(i, pointer to element i) for each element of a strided view, in row-major order.
template <class Emit>
void for_each_element(const std::byte* storage, std::size_t element_size, std::span<const std::int64_t> shape,
                      const TorchTensorLayout& layout, std::size_t numel, Emit&& emit) {
  if (numel == 0) return;
  const auto at = [&](std::int64_t index) { return storage + static_cast<std::size_t>(index) * element_size; };
  if (layout.contiguous) {
    for (std::size_t i = 0; i < numel; ++i) emit(i, at(layout.storage_offset + static_cast<std::int64_t>(i)));
    return;
  }
  // An odometer over all dimensions but the last; a non-contiguous view has at least one.
  std::array<std::int64_t, 64> counter{};
  const std::size_t ndim = shape.size();
  const std::int64_t inner = shape[ndim - 1];
  const std::int64_t inner_stride = layout.strides[ndim - 1];
  std::int64_t row = layout.storage_offset;
  std::size_t out = 0;
  while (out < numel) {
    for (std::int64_t j = 0; j < inner; ++j) emit(out++, at(row + j * inner_stride));
    for (std::size_t d = ndim - 1; d-- > 0;) {
      if (++counter[d] < shape[d]) {
        row += layout.strides[d];
        break;
      }
      row -= (shape[d] - 1) * layout.strides[d];
      counter[d] = 0;
    }
  }
}

}  // namespace detail

/// @brief A fully validated torch.save checkpoint (pytorch_model.bin), memory-mapped; the same read
///        interface as SafetensorsFile, so loading code can take either. Movable, not copyable.
///
/// TensorInfo::begin/end are offsets from the start of the FILE (not of a data section): for a
/// contiguous tensor exactly its numel * dtype_size bytes; for a non-contiguous view, the span from
/// its first to one past its last element. Tensors sharing a storage (tied weights) may overlap.
/// Use numel() * dtype_size(dtype) for a tensor's size.
class PytorchCheckpointFile {
 public:
  /// @brief Maps and validates `path`; parse_error (tensor_error for a tensor outside its storage)
  ///        naming the file on any defect, io_error when it cannot be read.
  [[nodiscard]] static PytorchCheckpointFile open(const std::filesystem::path& path) {
    PytorchCheckpointFile file;
    file.path_ = path;
    file.map_ = detail::MappedFile(path);
    file.bytes_ = file.map_.bytes();
    file.parse();
    return file;
  }
  /// @brief Validates a checkpoint held in memory, keeping a copy of `bytes` (so a temporary buffer
  ///        is fine). `name` is used as path() and in error messages.
  [[nodiscard]] static PytorchCheckpointFile parse(std::span<const std::byte> bytes,
                                                   const std::filesystem::path& name = "<memory>") {
    PytorchCheckpointFile file;
    file.path_ = name;
    file.owned_.assign(bytes.begin(), bytes.end());
    file.bytes_ = file.owned_;  // a moved vector keeps its buffer, so this view survives moves
    file.parse();
    return file;
  }

  /// @brief The path it was opened from (the name given to parse()).
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// @brief The folder name all entries of the zip live in ("archive", "pytorch_model", ...).
  [[nodiscard]] const std::string& archive_name() const noexcept { return archive_; }
  /// @brief Every tensor of the state dict, in its order (state_dict order).
  [[nodiscard]] const std::vector<TensorInfo>& tensors() const noexcept { return tensors_; }
  /// @brief Whether a tensor of that name exists.
  [[nodiscard]] bool contains(std::string_view name) const { return index_.contains(std::string(name)); }
  /// @brief The entry of `name`; tensor_error "<file>: no tensor '<name>'" when absent.
  [[nodiscard]] const TensorInfo& info(std::string_view name) const { return tensors_[position(name)]; }
  /// @brief How `name` views its storage (key, offset, strides).
  [[nodiscard]] const TorchTensorLayout& layout(std::string_view name) const { return layouts_[position(name)]; }
  /// @brief The raw little-endian bytes of a contiguous tensor, inside the mapping (valid while this
  ///        object lives); tensor_error for a non-contiguous view (use copy_float32 / to_int64).
  [[nodiscard]] std::span<const std::byte> bytes(std::string_view name) const {
    const std::size_t i = position(name);
    if (!layouts_[i].contiguous) {
      fail_tensor(tensors_[i].name, "is a non-contiguous view of its storage; its bytes are not one range");
    }
    return bytes_.subspan(tensors_[i].begin, tensors_[i].end - tensors_[i].begin);
  }
  /// @brief The floating tensor `name` as float32 (exact upcast from F16/BF16, rounding from F64);
  ///        tensor_error for integer dtypes.
  [[nodiscard]] HostTensor to_float32(std::string_view name) const {
    const TensorInfo& t = info(name);
    HostTensor out;
    out.shape = t.shape;
    out.data.resize(static_cast<std::size_t>(t.numel()));
    copy_float32(name, out.data);
    return out;
  }
  /// @brief Converts `name` to float32 into `out`, whose size must equal numel (no allocation);
  ///        strided views are gathered into row-major order.
  void copy_float32(std::string_view name, std::span<float> out) const {
    const std::size_t i = position(name);
    const TensorInfo& t = tensors_[i];
    const TorchTensorLayout& l = layouts_[i];
    const auto n = static_cast<std::size_t>(t.numel());
    if (out.size() != n) {
      fail_tensor(t.name, "destination holds " + std::to_string(out.size()) + " floats, the tensor " +
                              shape_to_string(t.shape) + " has " + std::to_string(n));
    }
    const std::byte* storage = bytes_.data() + l.storage_begin;
    const std::size_t size = dtype_size(t.dtype);
    const auto each = [&](auto convert) {
      detail::for_each_element(storage, size, t.shape, l, n,
                               [&](std::size_t k, const std::byte* p) { out[k] = convert(p); });
    };
    switch (t.dtype) {
      case DType::F32:
        if (l.contiguous) {
          if (n != 0) std::memcpy(out.data(), bytes_.data() + t.begin, n * sizeof(float));
        } else {
          each([](const std::byte* p) { return detail::load_le<float>(p); });
        }
        return;
      case DType::BF16: each([](const std::byte* p) { return bf16_to_float(detail::load_le<std::uint16_t>(p)); }); return;
      case DType::F16: each([](const std::byte* p) { return f16_to_float(detail::load_le<std::uint16_t>(p)); }); return;
      case DType::F64: each([](const std::byte* p) { return static_cast<float>(detail::load_le<double>(p)); }); return;
      default:
        fail_tensor(t.name, "has integer dtype " + std::string(dtype_name(t.dtype)) +
                                ", expected a floating dtype (F32, F16, BF16, F64)");
    }
  }
  /// @brief The integer (or BOOL) tensor `name` widened to int64; tensor_error for floating dtypes.
  [[nodiscard]] std::vector<std::int64_t> to_int64(std::string_view name) const {
    const std::size_t i = position(name);
    const TensorInfo& t = tensors_[i];
    const TorchTensorLayout& l = layouts_[i];
    if (is_floating(t.dtype)) {
      fail_tensor(t.name, "has floating dtype " + std::string(dtype_name(t.dtype)) +
                              ", expected an integer dtype (I64, I32, I16, I8, U8, BOOL)");
    }
    const auto n = static_cast<std::size_t>(t.numel());
    std::vector<std::int64_t> out(n);
    const std::byte* storage = bytes_.data() + l.storage_begin;
    const auto each = [&](auto convert) {
      detail::for_each_element(storage, dtype_size(t.dtype), t.shape, l, n,
                               [&](std::size_t k, const std::byte* p) { out[k] = convert(p); });
    };
    switch (t.dtype) {
      case DType::I64: each([](const std::byte* p) { return detail::load_le<std::int64_t>(p); }); break;
      case DType::I32: each([](const std::byte* p) { return std::int64_t{detail::load_le<std::int32_t>(p)}; }); break;
      case DType::I16: each([](const std::byte* p) { return std::int64_t{detail::load_le<std::int16_t>(p)}; }); break;
      case DType::I8: each([](const std::byte* p) { return std::int64_t{detail::load_le<std::int8_t>(p)}; }); break;
      default: each([](const std::byte* p) { return std::int64_t{detail::load_le<std::uint8_t>(p)}; }); break;  // U8, BOOL
    }
    return out;
  }

 private:
  PytorchCheckpointFile() = default;

  [[nodiscard]] SourceLocation where() const { return SourceLocation{path_.string(), {}, {}}; }
  [[noreturn]] void fail(const std::string& message) const { throw parse_error(where(), message); }
  [[noreturn]] void fail_tensor(const std::string& tensor, const std::string& message) const {
    throw tensor_error(where(), "tensor '" + tensor + "' " + message);
  }
  [[nodiscard]] std::size_t position(std::string_view name) const {
    const auto it = index_.find(std::string(name));
    if (it == index_.end()) throw tensor_error(where(), "no tensor '" + std::string(name) + "'");
    return it->second;
  }

  void parse() {
    const auto entries = detail::read_zip_directory(bytes_, where());
    std::unordered_map<std::string_view, const detail::ZipEntry*> by_name;
    for (const auto& e : entries) {
      if (!by_name.emplace(e.name, &e).second) fail("zip entry '" + detail::printable(e.name) + "' appears twice");
    }
    // torch names every entry <archive>/...; the archive is the folder that holds data.pkl.
    const detail::ZipEntry* pickle_entry = nullptr;
    for (const auto& e : entries) {
      const auto slash = e.name.find('/');
      if (slash != 0 && slash != std::string::npos && e.name.substr(slash) == "/data.pkl") {
        pickle_entry = &e;
        archive_ = e.name.substr(0, slash);
        break;
      }
    }
    if (pickle_entry == nullptr) {
      std::string listing;
      for (std::size_t i = 0; i < entries.size() && i < 5; ++i) {
        listing += (i == 0 ? "" : ", ") + ("'" + detail::printable(entries[i].name, 60) + "'");
      }
      if (entries.size() > 5) listing += ", ...";
      fail("no '<archive>/data.pkl' entry, so not a torch.save checkpoint (the zip holds " +
           (entries.empty() ? std::string("no entries") : listing) + ")");
    }
    if (const auto it = by_name.find(archive_ + "/byteorder"); it != by_name.end()) {
      const auto order = detail::zip_entry_bytes(bytes_, *it->second, where());
      const std::string_view text(reinterpret_cast<const char*>(order.data()), order.size());
      if (text != "little") {
        fail("byteorder is '" + detail::printable(text) + "': only little-endian checkpoints are read");
      }
    }

    detail::pickle::Unpickler unpickler(detail::zip_entry_bytes(bytes_, *pickle_entry, where()), where(),
                                        pickle_entry->name);
    const detail::pickle::Value root = unpickler.run();

    // Each storage's bytes: the entry <archive>/data/<key>, exactly numel elements long.
    std::vector<std::span<const std::byte>> storage_bytes;
    storage_bytes.reserve(unpickler.storages.size());
    for (const auto& s : unpickler.storages) {
      const std::string entry_name = archive_ + "/data/" + s.key;
      const auto it = by_name.find(entry_name);
      if (it == by_name.end()) {
        fail("storage '" + detail::printable(s.key) + "' has no zip entry '" + detail::printable(entry_name) +
             "' (a corrupt or incomplete checkpoint)");
      }
      const auto data = detail::zip_entry_bytes(bytes_, *it->second, where());
      const std::size_t element = s.untyped ? 1 : detail::pickle::torch_types[s.type].element_size;
      if (s.numel > std::numeric_limits<std::uint64_t>::max() / element || s.numel * element != data.size()) {
        fail("storage '" + detail::printable(s.key) + "' should hold " + std::to_string(s.numel) + " elements of " +
             std::to_string(element) + " bytes, its entry '" + detail::printable(entry_name) + "' has " +
             std::to_string(data.size()) + " bytes");
      }
      storage_bytes.push_back(data);
    }

    if (root.kind != detail::pickle::Kind::Dict) {
      fail("the pickled object is a " + std::string(detail::pickle::kind_name(root.kind)) +
           ", not a state dict (a dict of tensors)");
    }
    for (const auto& [key, value] : unpickler.dicts[root.index]) {
      if (key.kind != detail::pickle::Kind::String) {
        fail("the state dict has a " + std::string(detail::pickle::kind_name(key.kind)) + " key, not a string");
      }
      std::string name(unpickler.strings[key.index]);
      if (value.kind != detail::pickle::Kind::Tensor) {
        fail("entry '" + detail::printable(name) + "' is a " + std::string(detail::pickle::kind_name(value.kind)) +
             ", not a tensor (ftlib reads state dicts: names mapped to tensors)");
      }
      const auto& record = unpickler.tensors[value.index];
      add_tensor(std::move(name), record, unpickler.storages[record.storage], storage_bytes[record.storage]);
    }
  }

  void add_tensor(std::string name, const detail::pickle::TensorRecord& t, const detail::pickle::StorageRecord& s,
                  std::span<const std::byte> storage) {
    const auto& type = detail::pickle::torch_types[t.type];
    if (!type.supported) {
      fail_tensor(name, "has dtype torch." + std::string(type.dtype) +
                            ", which ftlib does not read (F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)");
    }
    if (t.has_metadata) fail_tensor(name, "carries torch tensor metadata (conj/neg bits), which ftlib does not apply");
    if (t.shape.size() != t.strides.size()) {
      fail_tensor(name, "has size " + shape_to_string(t.shape) + " but stride " + shape_to_string(t.strides));
    }
    if (t.shape.size() > 64) fail_tensor(name, "has " + std::to_string(t.shape.size()) + " dimensions (at most 64)");
    const std::size_t element = dtype_size(type.dtype_value);
    const std::uint64_t storage_numel = storage.size() / element;
    const std::string where = "(storage '" + detail::printable(s.key) + "' of " + std::to_string(storage_numel) + " elements)";
    if (t.offset < 0) fail_tensor(name, "has a negative storage offset " + std::to_string(t.offset));
    std::uint64_t numel = 1;
    for (std::size_t d = 0; d < t.shape.size(); ++d) {
      if (t.shape[d] < 0 || t.strides[d] < 0) {
        fail_tensor(name, "has size " + shape_to_string(t.shape) + " and stride " + shape_to_string(t.strides) +
                              ": negative entries");
      }
      const auto dim = static_cast<std::uint64_t>(t.shape[d]);
      numel = (dim == 0 || numel == 0) ? 0 : (numel > storage_numel / dim + 1 ? storage_numel + 1 : numel * dim);
    }
    // A view with more elements than its storage repeats elements (an expand()); none of a model's are.
    if (numel > storage_numel) {
      fail_tensor(name, "of size " + shape_to_string(t.shape) + " has more elements than its storage " + where +
                            ": an expanded view, which ftlib does not read (save it with .contiguous())");
    }
    // The last element's index, offset + sum((size - 1) * stride), must lie inside the storage.
    TorchTensorLayout layout{s.key, t.offset, t.strides, static_cast<std::size_t>(storage.data() - bytes_.data()),
                             storage.size(), true};
    std::uint64_t last = static_cast<std::uint64_t>(t.offset);
    if (numel != 0) {
      bool outside = last >= storage_numel;
      for (std::size_t d = 0; d < t.shape.size() && !outside; ++d) {
        const auto span = static_cast<std::uint64_t>(t.shape[d] - 1);
        const auto stride = static_cast<std::uint64_t>(t.strides[d]);
        if (span != 0 && stride > (storage_numel - 1 - last) / span) {
          outside = true;
        } else {
          last += span * stride;
        }
      }
      if (outside) {
        fail_tensor(name, "with storage offset " + std::to_string(t.offset) + ", size " + shape_to_string(t.shape) +
                              " and stride " + shape_to_string(t.strides) + " reaches past the end of its storage " +
                              where);
      }
      std::int64_t expected = 1;
      for (std::size_t d = t.shape.size(); d-- > 0;) {
        if (t.shape[d] != 1 && t.strides[d] != expected) layout.contiguous = false;
        expected *= t.shape[d];
      }
    }
    TensorInfo info;
    info.name = name;
    info.dtype = type.dtype_value;
    info.shape = t.shape;
    info.begin = layout.storage_begin + (numel == 0 ? 0 : static_cast<std::size_t>(t.offset) * element);
    info.end = numel == 0 ? info.begin : layout.storage_begin + static_cast<std::size_t>(last + 1) * element;

    // Python dict semantics: a repeated key keeps its first position and takes the last value.
    const auto [it, inserted] = index_.emplace(name, tensors_.size());
    if (inserted) {
      tensors_.push_back(std::move(info));
      layouts_.push_back(std::move(layout));
    } else {
      tensors_[it->second] = std::move(info);
      layouts_[it->second] = std::move(layout);
    }
  }

  std::filesystem::path path_;
  detail::MappedFile map_;          // open(): the file's mapping
  std::vector<std::byte> owned_;    // parse(): a copy of the bytes
  std::span<const std::byte> bytes_;
  std::string archive_;
  std::vector<TensorInfo> tensors_;
  std::vector<TorchTensorLayout> layouts_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace ftlib::hf
