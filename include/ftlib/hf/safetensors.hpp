#pragma once
// Reading and writing HuggingFace's safetensors format (model.safetensors).
//
// Layout: 8 bytes little-endian u64 N; N bytes of UTF-8 JSON
//   {"<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}
// padded with spaces so the data starts 8-byte aligned; then the raw little-endian C-order tensor bytes.
// data_offsets are relative to the data section, must cover it exactly and must not overlap.
// Files are memory-mapped and validated completely in open(), so later accessors cannot fail on
// a malformed file; every error names the file and, where there is one, the tensor.

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "ftlib/core/error.hpp"
#include "ftlib/io/atomic_file.hpp"
#include "ftlib/io/json_file.hpp"
#include "ftlib/core/host_tensor.hpp"

namespace ftlib::hf {

static_assert(std::endian::native == std::endian::little,
              "ftlib reads safetensors bytes in place: a little-endian host is required");

/// @brief Element types of the safetensors format (the subset PyTorch checkpoints use).
enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

/// @brief The format's tag for a dtype: "F32", "BF16", ...
[[nodiscard]] inline std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F64: return "F64";
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::BOOL: return "BOOL";
  }
  return "?";
}

/// @brief Bytes per element.
[[nodiscard]] inline std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F64:
    case DType::I64: return 8;
    case DType::F32:
    case DType::I32: return 4;
    case DType::F16:
    case DType::BF16:
    case DType::I16: return 2;
    case DType::I8:
    case DType::U8:
    case DType::BOOL: return 1;
  }
  return 0;
}

/// @brief True for F64/F32/F16/BF16.
[[nodiscard]] inline bool is_floating(DType dtype) {
  return dtype == DType::F64 || dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
}

/// @brief Parses a safetensors dtype tag; parse_error at `where` for an unknown one.
[[nodiscard]] inline DType parse_dtype(std::string_view tag, const SourceLocation& where) {
  for (const DType d : {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32, DType::I16,
                        DType::I8, DType::U8, DType::BOOL}) {
    if (dtype_name(d) == tag) return d;
  }
  throw parse_error(where, "unknown dtype \"" + std::string(tag) +
                               "\" (expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
}

/// @brief bfloat16 bits -> float (exact).
[[nodiscard]] constexpr float bf16_to_float(std::uint16_t bits) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

/// @brief float -> bfloat16 bits, round to nearest even (torch's rule); NaN stays a quiet NaN.
[[nodiscard]] constexpr std::uint16_t float_to_bf16(float value) noexcept {
  const auto bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) {
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
  }
  const std::uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

/// @brief IEEE half bits -> float (exact, subnormals, infinities and NaN included).
[[nodiscard]] inline float f16_to_float(std::uint16_t bits) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1fu;
  const std::uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0) {
    // Subnormal (or zero): mantissa * 2^-24 is exactly representable in float.
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

/// @brief One tensor's entry in a safetensors header.
struct TensorInfo {
  std::string name;                 ///< HuggingFace state_dict name
  DType dtype = DType::F32;         ///< element type
  std::vector<std::int64_t> shape;  ///< dimensions; empty for a 0-d tensor
  std::size_t begin = 0;            ///< first byte, relative to the data section
  std::size_t end = 0;              ///< one past the last byte, relative to the data section

  /// @brief Number of elements (1 for a 0-d tensor).
  [[nodiscard]] std::int64_t numel() const noexcept {
    std::int64_t n = 1;
    for (const auto d : shape) n *= d;
    return n;
  }
  /// @brief end - begin.
  [[nodiscard]] std::size_t nbytes() const noexcept { return end - begin; }
};

/// @brief "[2, 3]" for error messages and reports.
[[nodiscard]] inline std::string shape_to_string(std::span<const std::int64_t> shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

namespace detail {

/// @brief A read-only private memory mapping of a whole file (RAII, movable).
class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw io_error(path, "cannot open: " + std::error_code(errno, std::generic_category()).message());
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      throw io_error(path, "cannot stat: " + std::error_code(err, std::generic_category()).message());
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      throw io_error(path, "not a regular file");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        throw io_error(path, "cannot memory-map: " + std::error_code(err, std::generic_category()).message());
      }
      data_ = static_cast<const std::byte*>(p);
    }
    ::close(fd);  // the mapping keeps the file alive
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  MappedFile& operator=(MappedFile&& other) noexcept {
    if (this != &other) {
      unmap();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~MappedFile() { unmap(); }

  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }

 private:
  void unmap() noexcept {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
  }
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

template <class T>
[[nodiscard]] T load_le(const std::byte* p) noexcept {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

}  // namespace detail

/// @brief A memory-mapped, fully validated safetensors file. Movable, not copyable.
class SafetensorsFile {
 public:
  /// @brief Maps and validates `path`; parse_error naming the file (and tensor) on any defect,
  ///        io_error when it cannot be read.
  [[nodiscard]] static SafetensorsFile open(const std::filesystem::path& path) {
    SafetensorsFile file;
    file.path_ = path;
    file.map_ = detail::MappedFile(path);
    file.parse();
    return file;
  }

  /// @brief The path it was opened from.
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// @brief Every tensor, in the order of the header.
  [[nodiscard]] const std::vector<TensorInfo>& tensors() const noexcept { return tensors_; }
  /// @brief Whether a tensor of that name exists.
  [[nodiscard]] bool contains(std::string_view name) const { return index_.contains(std::string(name)); }
  /// @brief The header entry of `name`; tensor_error "<file>: no tensor '<name>'" when absent.
  [[nodiscard]] const TensorInfo& info(std::string_view name) const {
    const auto it = index_.find(std::string(name));
    if (it == index_.end()) {
      throw tensor_error(SourceLocation{path_.string(), {}, {}}, "no tensor '" + std::string(name) + "'");
    }
    return tensors_[it->second];
  }
  /// @brief The raw little-endian bytes of `name`, inside the mapping (valid while this object lives).
  [[nodiscard]] std::span<const std::byte> bytes(std::string_view name) const {
    const TensorInfo& t = info(name);
    return data_.subspan(t.begin, t.end - t.begin);
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
  /// @brief Converts `name` to float32 into `out`, whose size must equal numel (no allocation).
  void copy_float32(std::string_view name, std::span<float> out) const {
    const TensorInfo& t = info(name);
    const auto n = static_cast<std::size_t>(t.numel());
    if (out.size() != n) {
      throw tensor_error(SourceLocation{path_.string(), {}, {}},
                         "tensor '" + t.name + "': destination holds " + std::to_string(out.size()) +
                             " floats, the tensor " + shape_to_string(t.shape) + " has " + std::to_string(n));
    }
    const std::byte* p = data_.data() + t.begin;
    switch (t.dtype) {
      case DType::F32:
        if (n != 0) std::memcpy(out.data(), p, n * sizeof(float));
        return;
      case DType::BF16:
        for (std::size_t i = 0; i < n; ++i) out[i] = bf16_to_float(detail::load_le<std::uint16_t>(p + 2 * i));
        return;
      case DType::F16:
        for (std::size_t i = 0; i < n; ++i) out[i] = f16_to_float(detail::load_le<std::uint16_t>(p + 2 * i));
        return;
      case DType::F64:
        for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(detail::load_le<double>(p + 8 * i));
        return;
      default:
        throw tensor_error(SourceLocation{path_.string(), {}, {}},
                           "tensor '" + t.name + "' has integer dtype " + std::string(dtype_name(t.dtype)) +
                               ", expected a floating dtype (F32, F16, BF16, F64)");
    }
  }
  /// @brief The integer (or BOOL) tensor `name` widened to int64; tensor_error for floating dtypes.
  [[nodiscard]] std::vector<std::int64_t> to_int64(std::string_view name) const {
    const TensorInfo& t = info(name);
    const auto n = static_cast<std::size_t>(t.numel());
    const std::byte* p = data_.data() + t.begin;
    std::vector<std::int64_t> out(n);
    switch (t.dtype) {
      case DType::I64:
        if (n != 0) std::memcpy(out.data(), p, n * sizeof(std::int64_t));
        break;
      case DType::I32:
        for (std::size_t i = 0; i < n; ++i) out[i] = detail::load_le<std::int32_t>(p + 4 * i);
        break;
      case DType::I16:
        for (std::size_t i = 0; i < n; ++i) out[i] = detail::load_le<std::int16_t>(p + 2 * i);
        break;
      case DType::I8:
        for (std::size_t i = 0; i < n; ++i) out[i] = detail::load_le<std::int8_t>(p + i);
        break;
      case DType::U8:
      case DType::BOOL:
        for (std::size_t i = 0; i < n; ++i) out[i] = detail::load_le<std::uint8_t>(p + i);
        break;
      default:
        throw tensor_error(SourceLocation{path_.string(), {}, {}},
                           "tensor '" + t.name + "' has floating dtype " + std::string(dtype_name(t.dtype)) +
                               ", expected an integer dtype (I64, I32, I16, I8, U8, BOOL)");
    }
    return out;
  }
  /// @brief The header's "__metadata__" (empty when absent).
  [[nodiscard]] const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
  /// @brief Byte offset of the data section in the file (8 + header length).
  [[nodiscard]] std::size_t data_offset() const noexcept { return data_offset_; }

 private:
  SafetensorsFile() = default;

  [[noreturn]] void fail(const std::string& message) const {
    throw parse_error(SourceLocation{path_.string(), {}, {}}, message);
  }

  void parse() {
    const auto all = map_.bytes();
    if (all.size() < 8) {
      fail("file is " + std::to_string(all.size()) +
           " bytes, shorter than the 8-byte header length (not a safetensors file?)");
    }
    const auto header_len = detail::load_le<std::uint64_t>(all.data());
    if (header_len > all.size() - 8) {
      fail("header length " + std::to_string(header_len) + " runs past the end of the file (" +
           std::to_string(all.size()) + " bytes; not a safetensors file, or truncated)");
    }
    data_offset_ = 8 + static_cast<std::size_t>(header_len);
    data_ = all.subspan(data_offset_);
    const std::string_view text(reinterpret_cast<const char*>(all.data() + 8), static_cast<std::size_t>(header_len));

    // The callback catches duplicate top-level names, which a JSON object would silently merge.
    std::vector<std::string> seen_keys;
    std::string duplicate;
    const auto on_event = [&](int depth, nlohmann::ordered_json::parse_event_t event, nlohmann::ordered_json& parsed) {
      if (event == nlohmann::ordered_json::parse_event_t::key && depth == 1 && parsed.is_string()) {
        auto key = parsed.get<std::string>();
        if (duplicate.empty() && std::find(seen_keys.begin(), seen_keys.end(), key) != seen_keys.end()) {
          duplicate = key;
        }
        seen_keys.push_back(std::move(key));
      }
      return true;
    };
    io::check_json_depth(text, path_.string());
    nlohmann::ordered_json header;
    try {
      header = nlohmann::ordered_json::parse(text.begin(), text.end(), on_event);
    } catch (const nlohmann::json::exception& e) {
      fail("header is not valid JSON: " + std::string(e.what()));
    }
    if (!header.is_object()) fail("header is not a JSON object (it is " + std::string(header.type_name()) + ")");
    if (!duplicate.empty()) fail("tensor '" + duplicate + "' appears twice in the header");

    for (const auto& [key, value] : header.items()) {
      if (key == "__metadata__") {
        parse_metadata(value);
        continue;
      }
      tensors_.push_back(parse_entry(key, value));
      index_.emplace(key, tensors_.size() - 1);
    }
    check_coverage();
  }

  void parse_metadata(const nlohmann::ordered_json& value) {
    if (value.is_null()) return;
    if (!value.is_object()) fail("__metadata__ is not an object of strings");
    for (const auto& [k, v] : value.items()) {
      if (!v.is_string()) fail("__metadata__ entry '" + k + "' is not a string (it is " + v.type_name() + ")");
      metadata_.emplace(k, v.get<std::string>());
    }
  }

  [[nodiscard]] TensorInfo parse_entry(const std::string& name, const nlohmann::ordered_json& value) const {
    const std::string where = "tensor '" + name + "': ";
    if (!value.is_object()) fail(where + "entry is not an object");
    TensorInfo t;
    t.name = name;
    const auto dtype_it = value.find("dtype");
    if (dtype_it == value.end() || !dtype_it->is_string()) fail(where + "missing string field \"dtype\"");
    try {
      t.dtype = parse_dtype(dtype_it->get<std::string>(), SourceLocation{path_.string(), {}, {}});
    } catch (const parse_error&) {
      fail(where + "unknown dtype \"" + dtype_it->get<std::string>() +
           "\" (expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
    }
    const auto shape_it = value.find("shape");
    if (shape_it == value.end() || !shape_it->is_array()) fail(where + "missing array field \"shape\"");
    std::uint64_t numel = 1;
    bool overflow = false;
    for (const auto& d : *shape_it) {
      if (!d.is_number_integer() || d.get<std::int64_t>() < 0) fail(where + "shape " + shape_it->dump() + " has an entry that is not a non-negative integer");
      const auto dim = static_cast<std::uint64_t>(d.get<std::int64_t>());
      if (dim != 0 && numel > std::numeric_limits<std::uint64_t>::max() / dim) overflow = true;
      numel *= dim;
      t.shape.push_back(d.get<std::int64_t>());
    }
    const auto off_it = value.find("data_offsets");
    if (off_it == value.end() || !off_it->is_array() || off_it->size() != 2 || !(*off_it)[0].is_number_unsigned() ||
        !(*off_it)[1].is_number_unsigned()) {
      fail(where + "\"data_offsets\" must be two non-negative integers [begin, end]");
    }
    const auto begin = (*off_it)[0].get<std::uint64_t>();
    const auto end = (*off_it)[1].get<std::uint64_t>();
    if (begin > end || end > data_.size()) {
      fail(where + "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
           "] lie outside the data section (" + std::to_string(data_.size()) + " bytes)");
    }
    const std::uint64_t size = dtype_size(t.dtype);
    if (overflow || numel > std::numeric_limits<std::uint64_t>::max() / size || numel * size != end - begin) {
      fail(where + "shape " + shape_to_string(t.shape) + " of " + std::string(dtype_name(t.dtype)) + " needs " +
           (overflow ? std::string("more than 2^64") : std::to_string(numel * size)) + " bytes, but data_offsets [" +
           std::to_string(begin) + ", " + std::to_string(end) + "] span " + std::to_string(end - begin));
    }
    t.begin = static_cast<std::size_t>(begin);
    t.end = static_cast<std::size_t>(end);
    return t;
  }

  void check_coverage() const {
    std::vector<const TensorInfo*> order;
    order.reserve(tensors_.size());
    for (const auto& t : tensors_) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
      return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    std::size_t pos = 0;
    const TensorInfo* previous = nullptr;
    for (const TensorInfo* t : order) {
      if (t->begin < pos) {
        fail("tensor '" + t->name + "' (bytes " + std::to_string(t->begin) + ".." + std::to_string(t->end) +
             ") overlaps tensor '" + previous->name + "' (bytes " + std::to_string(previous->begin) + ".." +
             std::to_string(previous->end) + ")");
      }
      if (t->begin > pos) {
        fail("gap in the data section: bytes " + std::to_string(pos) + ".." + std::to_string(t->begin) +
             " before tensor '" + t->name + "' belong to no tensor");
      }
      pos = t->end;
      if (t->end > t->begin || previous == nullptr) previous = t;
    }
    if (pos != data_.size()) {
      fail(std::to_string(data_.size() - pos) + " trailing bytes after the last tensor (data section is " +
           std::to_string(data_.size()) + " bytes, tensors cover " + std::to_string(pos) + ")");
    }
  }

  std::filesystem::path path_;
  detail::MappedFile map_;
  std::span<const std::byte> data_;
  std::size_t data_offset_ = 0;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

/// @brief One tensor for write_safetensors: its bytes must be numel * dtype_size long, little-endian.
struct TensorToWrite {
  std::string name;                 ///< state_dict name
  DType dtype = DType::F32;         ///< element type of `bytes`
  std::vector<std::int64_t> shape;  ///< dimensions
  std::span<const std::byte> bytes; ///< raw data, not owned
};

/// @brief Writes a safetensors file atomically (<path>.tmp, then rename). Tensors are laid out
///        largest element size first, then by name, like the reference writer; the header is
///        space-padded so the data section starts 8-byte aligned.
inline void write_safetensors(const std::filesystem::path& path, std::span<const TensorToWrite> tensors,
                              const std::map<std::string, std::string>& metadata = {}) {
  const SourceLocation where{path.string(), {}, {}};
  std::vector<const TensorToWrite*> order;
  order.reserve(tensors.size());
  for (const auto& t : tensors) {
    if (t.name == "__metadata__") throw tensor_error(where, "a tensor cannot be named '__metadata__'");
    std::int64_t n = 1;
    for (const auto d : t.shape) {
      if (d < 0) throw tensor_error(where, "tensor '" + t.name + "': negative dimension in shape " + shape_to_string(t.shape));
      n *= d;
    }
    if (static_cast<std::size_t>(n) * dtype_size(t.dtype) != t.bytes.size()) {
      throw tensor_error(where, "tensor '" + t.name + "': shape " + shape_to_string(t.shape) + " of " +
                                    std::string(dtype_name(t.dtype)) + " needs " +
                                    std::to_string(static_cast<std::size_t>(n) * dtype_size(t.dtype)) +
                                    " bytes, got " + std::to_string(t.bytes.size()));
    }
    order.push_back(&t);
  }
  std::sort(order.begin(), order.end(), [](const TensorToWrite* a, const TensorToWrite* b) {
    const auto sa = dtype_size(a->dtype), sb = dtype_size(b->dtype);
    return sa != sb ? sa > sb : a->name < b->name;
  });
  {
    std::vector<std::string_view> names;
    for (const auto* t : order) names.push_back(t->name);
    std::sort(names.begin(), names.end());
    if (const auto dup = std::adjacent_find(names.begin(), names.end()); dup != names.end()) {
      throw tensor_error(where, "tensor '" + std::string(*dup) + "' given twice");
    }
  }

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = std::move(meta);
  }
  std::uint64_t offset = 0;
  for (const auto* t : order) {
    header[t->name] = {{"dtype", dtype_name(t->dtype)},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + t->bytes.size()}}};
    offset += t->bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  io::AtomicFile out(path);
  std::array<char, 8> len{};
  const auto n = static_cast<std::uint64_t>(text.size());
  std::memcpy(len.data(), &n, 8);
  out.write(std::string_view(len.data(), len.size()));
  out.write(text);
  for (const auto* t : order) out.write(t->bytes);
  out.commit();
}

/// @brief The __metadata__ transformers' save_pretrained writes ({"format": "pt"}); from_pretrained
///        rejects a file whose "format" it does not know.
[[nodiscard]] inline std::map<std::string, std::string> transformers_metadata() { return {{"format", "pt"}}; }

/// @brief Writes float32 host tensors (all F32) with write_safetensors.
inline void save_safetensors(const std::filesystem::path& path, const std::map<std::string, HostTensor>& tensors,
                             const std::map<std::string, std::string>& metadata = {}) {
  std::vector<TensorToWrite> list;
  list.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    if (static_cast<std::size_t>(t.numel()) != t.data.size()) {
      throw tensor_error(SourceLocation{path.string(), {}, {}},
                         "tensor '" + name + "': shape " + shape_to_string(t.shape) + " has " +
                             std::to_string(t.numel()) + " elements, data holds " + std::to_string(t.data.size()));
    }
    list.push_back(TensorToWrite{name, DType::F32, t.shape, std::as_bytes(std::span<const float>(t.data))});
  }
  write_safetensors(path, list, metadata);
}

}  // namespace ftlib::hf
