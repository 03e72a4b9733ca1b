#pragma once
// Writing files and directories so that a crash (or a full disk) never leaves a half-written one
// where a reader looks: the bytes go to a temporary sibling, are flushed to the disk (fsync), and
// the finished file is renamed over the old one; the directory entry is synced too. Every file
// ftlib writes (config.json, model.safetensors, tokenizer files, checkpoints, metrics) goes
// through here.

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "ftlib/core/error.hpp"

namespace ftlib::io {

namespace detail {

inline std::string errno_text() { return std::strerror(errno); }

// Syncs a directory so that a rename inside it survives a power cut (best effort: some file systems refuse).
inline void sync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

inline std::filesystem::path parent_or_dot(const std::filesystem::path& p) {
  return p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
}

}  // namespace detail

/// @brief The name of the temporary sibling that becomes `target` (hidden, ends in ".tmp"), so that
///        remove_stale_temporaries can recognise what a crash left behind.
[[nodiscard]] inline std::filesystem::path temporary_sibling(const std::filesystem::path& target, std::string_view suffix = ".tmp") {
  std::string name(1, '.');  // append(), not operator+: GCC 12 gives a false -Wrestrict warning on the latter
  name.append(target.filename().string()).append(suffix);
  return detail::parent_or_dot(target) / name;
}

/// @brief A file being written: bytes go to a temporary sibling; commit() syncs it and renames it over
///        the target. Destroyed without commit() (an exception on the way), it removes the temporary
///        and the target keeps its old content.
class AtomicFile {
 public:
  /// @brief Opens the temporary sibling of `target` for writing; io_error naming it on failure.
  explicit AtomicFile(std::filesystem::path target) : target_(std::move(target)), tmp_(temporary_sibling(target_)) {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw io_error(target_, "cannot open for writing: " + detail::errno_text());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) {
      std::error_code ignored;
      std::filesystem::remove(tmp_, ignored);
    }
  }

  /// @brief Appends bytes; io_error naming the target (e.g. "No space left on device") on failure.
  void write(std::span<const std::byte> bytes) {
    const std::byte* p = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
      const ::ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw io_error(target_, "write failed: " + detail::errno_text());
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  /// @brief Appends text.
  void write(std::string_view text) { write(std::as_bytes(std::span<const char>(text.data(), text.size()))); }

  /// @brief Flushes the bytes to the disk and renames the file into place.
  void commit() {
    if (::fsync(fd_) != 0) throw io_error(target_, "cannot flush to disk: " + detail::errno_text());
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) throw io_error(target_, "write failed: " + detail::errno_text());
    if (::rename(tmp_.c_str(), target_.c_str()) != 0)
      throw io_error(target_, "cannot rename " + tmp_.string() + " into place: " + detail::errno_text());
    committed_ = true;
    detail::sync_directory(detail::parent_or_dot(target_));
  }

 private:
  std::filesystem::path target_;
  std::filesystem::path tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

/// @brief Replaces `path` by `content`, atomically (see AtomicFile).
inline void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  AtomicFile file(path);
  file.write(content);
  file.commit();
}

/// @brief Makes `dir` hold exactly what `fill(tmp)` writes: a temporary sibling is filled, synced and
///        swapped in for `dir` in one step (the old directory, if any, is then removed). A crash leaves
///        either the old directory or the complete new one, plus at most a stale temporary sibling
///        that remove_stale_temporaries deletes. On an exception the temporary is removed and `dir`
///        is untouched.
template <class Fill>
void replace_directory_atomically(const std::filesystem::path& dir, Fill&& fill) {
  namespace fs = std::filesystem;
  const fs::path parent = detail::parent_or_dot(dir);
  const fs::path tmp = temporary_sibling(dir);
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw io_error(parent, "cannot create directory: " + ec.message());
  fs::remove_all(tmp, ec);
  if (!fs::create_directory(tmp, ec)) throw io_error(tmp, "cannot create a temporary directory: " + ec.message());
  try {
    fill(tmp);
    detail::sync_directory(tmp);
    if (fs::exists(dir, ec)) {
      // One atomic swap where the file system offers it, so that `dir` never disappears.
      if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) != 0) {
        const fs::path old = temporary_sibling(dir, ".old.tmp");
        fs::remove_all(old, ec);
        fs::rename(dir, old);
        fs::rename(tmp, old.parent_path() / dir.filename());
        fs::remove_all(old, ec);
      } else {
        fs::remove_all(tmp, ec);  // now holds the old directory
      }
    } else {
      fs::rename(tmp, dir);
    }
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(tmp, ec);
    throw io_error(dir, std::string("cannot write directory: ") + e.code().message());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  detail::sync_directory(parent);
}

/// @brief Writes files into `dir` while keeping what else is there (save_pretrained next to tokenizer
///        files): a new `dir` appears complete (filled under a temporary name, then renamed); into an
///        existing one `fill(dir)` writes directly, so each file must be written atomically itself
///        (as AtomicFile and everything in ftlib does).
template <class Fill>
void write_into_directory(const std::filesystem::path& dir, Fill&& fill) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) throw io_error(dir, "exists and is not a directory");
    fill(dir);
    return;
  }
  replace_directory_atomically(dir, std::forward<Fill>(fill));
}

/// @brief Deletes the temporary siblings (".<name>.tmp") a crashed write left in `dir`.
inline void remove_stale_temporaries(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  std::vector<fs::path> stale;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 5 && name.front() == '.' && name.ends_with(".tmp")) stale.push_back(entry.path());
  }
  for (const auto& p : stale) fs::remove_all(p, ec);
}

}  // namespace ftlib::io
