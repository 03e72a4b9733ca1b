#pragma once
// TensorBoard's event file format, written without TensorFlow or protobuf: a file of records, each
//   uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes | data | uint32 masked CRC-32C of data
// where data is a serialized tensorflow.Event protocol buffer. Only the few fields a scalar log
// needs are encoded (field numbers from tensorflow/core/util/event.proto and summary.proto):
//   Event      { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5;
//                SessionLog session_log = 7; }  (6 is the deprecated log_message)
//   Summary    { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; }
//   SessionLog { SessionStatus status = 1; }   (START = 1: TensorBoard drops the events of this run
//                                               at or after this event's step, as a resumed run rewrites them)

#include <array>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ftlib/core/error.hpp"

namespace ftlib::io {

namespace detail {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of TFRecord framing.
inline constexpr std::array<std::uint32_t, 256> crc32c_table = [] {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1U) != 0 ? (c >> 1) ^ 0x82F63B78U : c >> 1;
    table[i] = c;
  }
  return table;
}();

// Protocol buffer wire format: varints, tags, fixed-width little-endian numbers.
inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

inline void put_tag(std::string& out, std::uint32_t field, std::uint32_t wire_type) { put_varint(out, (field << 3) | wire_type); }

template <class T>
void put_little_endian(std::string& out, T value) {
  static_assert(std::endian::native == std::endian::little, "tfevents.hpp writes little-endian hosts only");
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

inline void put_bytes(std::string& out, std::uint32_t field, std::string_view bytes) {
  put_tag(out, field, 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}

// The fields every Event starts with: wall_time, and the step when it has one.
inline std::string event_start(double wall_time, std::optional<std::int64_t> step) {
  std::string e;
  put_tag(e, 1, 1);
  put_little_endian(e, wall_time);
  if (step) {
    put_tag(e, 2, 0);
    put_varint(e, static_cast<std::uint64_t>(*step));
  }
  return e;
}

}  // namespace detail

/// @brief CRC-32C of `data`.
[[nodiscard]] inline std::uint32_t crc32c(std::string_view data) noexcept {
  std::uint32_t c = 0xFFFFFFFFU;
  for (const char ch : data) c = detail::crc32c_table[(c ^ static_cast<unsigned char>(ch)) & 0xFFU] ^ (c >> 8);
  return c ^ 0xFFFFFFFFU;
}

/// @brief The TFRecord "masked" CRC-32C: rotated right by 15 bits plus a constant.
[[nodiscard]] inline std::uint32_t masked_crc32c(std::string_view data) noexcept {
  const std::uint32_t c = crc32c(data);
  return ((c >> 15) | (c << 17)) + 0xA282EAD8U;
}

/// @brief One TFRecord: length, its masked CRC, the data and its masked CRC.
[[nodiscard]] inline std::string tf_record(std::string_view data) {
  std::string out;
  detail::put_little_endian<std::uint64_t>(out, data.size());
  const std::uint32_t length_crc = masked_crc32c(out);
  detail::put_little_endian(out, length_crc);
  out.append(data);
  detail::put_little_endian(out, masked_crc32c(data));
  return out;
}

/// @brief A scalar of a summary: TensorBoard's tag (e.g. "train/loss") and value.
struct ScalarValue {
  std::string tag;
  float value = 0.0F;
};

/// @brief The serialized Event that opens every event file (file_version "brain.Event:2").
[[nodiscard]] inline std::string file_version_event(double wall_time) {
  std::string e = detail::event_start(wall_time, std::nullopt);
  detail::put_bytes(e, 3, "brain.Event:2");
  return e;
}

/// @brief The serialized Event holding `values` at `step`.
[[nodiscard]] inline std::string scalars_event(double wall_time, std::int64_t step, const std::vector<ScalarValue>& values) {
  std::string summary;
  for (const auto& v : values) {
    std::string value;
    detail::put_bytes(value, 1, v.tag);
    detail::put_tag(value, 2, 5);
    detail::put_little_endian(value, v.value);
    detail::put_bytes(summary, 1, value);
  }
  std::string e = detail::event_start(wall_time, step);
  detail::put_bytes(e, 5, summary);
  return e;
}

/// @brief The serialized Event "session started at `step`": TensorBoard purges this run's events at
///        steps >= `step` written before it (torch's SummaryWriter(purge_step=...)).
[[nodiscard]] inline std::string session_start_event(double wall_time, std::int64_t step) {
  std::string session_log;
  detail::put_tag(session_log, 1, 0);
  detail::put_varint(session_log, 1);  // SessionLog.START
  std::string e = detail::event_start(wall_time, step);
  detail::put_bytes(e, 7, session_log);
  return e;
}

/// @brief Appends Events to one event file, flushing each, so TensorBoard shows a run while it trains.
class EventFileWriter {
 public:
  /// @brief Creates `path` (which must not exist yet) and writes the file_version event.
  /// @throws io_error when the file cannot be created or written.
  EventFileWriter(std::filesystem::path path, double wall_time) : path_(std::move(path)) {
    out_.open(path_, std::ios::binary | std::ios::trunc);
    if (!out_.is_open()) throw io_error(path_, std::string("cannot open for writing: ") + std::strerror(errno));
    write(file_version_event(wall_time));
  }

  /// @brief Appends one serialized Event as a record.
  /// @throws io_error when the write fails.
  void write(std::string_view event) {
    out_ << tf_record(event);
    out_.flush();
    if (!out_) throw io_error(path_, "write failed");
  }

  /// @brief The file written to.
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
  std::ofstream out_;
};

}  // namespace ftlib::io
