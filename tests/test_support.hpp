#pragma once
// Helpers shared by the tests: where ../shared is, a visible skip when it is absent, and bitwise
// parameter comparison for the exact-resume tests.

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "ftlib/core/batch.hpp"
#include "ftlib/core/host_tensor.hpp"

namespace ftlib::testing {

/// @brief The project's shared/ folder: $FTLIB_SHARED_DIR, else ../shared beside the source tree.
inline std::optional<std::filesystem::path> shared_dir() {
  if (const char* env = std::getenv("FTLIB_SHARED_DIR"); env != nullptr && *env != '\0') {
    if (std::filesystem::is_directory(env)) return std::filesystem::path(env);
  }
  const std::filesystem::path fallback = FTLIB_SHARED_DIR_DEFAULT;
  if (std::filesystem::is_directory(fallback)) return std::filesystem::weakly_canonical(fallback);
  return std::nullopt;
}

/// @brief How many times the running test case skipped; test_main.cpp resets it per case and makes a
///        process whose every case skipped exit with 77, which ctest counts as skipped (SKIP_RETURN_CODE).
inline int& skips_in_current_case() {
  static int count = 0;
  return count;
}

/// @brief Marks the current test case as skipped, with a visible SKIPPED line. With
///        FTLIB_REQUIRE_SHARED_DATA=1 (set by .ci/run when ../shared is present) a skip for missing
///        shared data is a failure instead: CI must not pass a data test that did not run.
inline void skip(const std::string& reason, bool for_missing_shared_data) {
  const char* require = std::getenv("FTLIB_REQUIRE_SHARED_DATA");
  if (for_missing_shared_data && require != nullptr && std::string(require) == "1")
    throw std::runtime_error("FTLIB_REQUIRE_SHARED_DATA=1, but " + reason);
  std::cout << "SKIPPED: " << reason << '\n';
  ++skips_in_current_case();
}

/// @brief shared/<relative> when it exists; otherwise skips the test case (see skip()) and returns nullopt.
inline std::optional<std::filesystem::path> shared_path(const std::string& relative) {
  const auto dir = shared_dir();
  if (dir && std::filesystem::exists(*dir / relative)) return *dir / relative;
  skip("shared/" + relative + " not found (set FTLIB_SHARED_DIR or check out ../shared beside the source tree)", true);
  return std::nullopt;
}

/// @brief Files committed with the tests (tests/data/...).
inline std::filesystem::path test_data(const std::string& relative) {
  return std::filesystem::path(FTLIB_TEST_DATA_DIR) / relative;
}

/// @brief The message of the exception of type E that f() throws; "<no exception>" when it throws none
///        and a "<wrong exception type>" prefix when it throws another std::exception.
template <class E = std::exception, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<wrong exception type> ") + e.what();
  }
  return "<no exception>";
}

/// @brief A fresh empty temporary directory, removed when the object goes out of scope.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "ftlib-test") {
    const auto base = std::filesystem::temp_directory_path();
    for (int i = 0;; ++i) {
      path_ = base / (prefix + "-" + std::to_string(std::rand()) + "-" + std::to_string(i));
      if (std::filesystem::create_directories(path_)) break;
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// True when both hold the same parameter names with bitwise-equal values (exact-resume checks).
inline bool same_parameters(const std::map<std::string, HostTensor>& a, const std::map<std::string, HostTensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    const auto it = b.find(name);
    if (it == b.end() || it->second.data != t.data) return false;
  }
  return true;
}

}  // namespace ftlib::testing
