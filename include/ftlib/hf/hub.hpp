#pragma once
// from_pretrained(name_or_path) resolution: a local directory; else the HuggingFace hub cache
// (same layout as huggingface_hub: models--{org}--{name}/refs/<rev>, snapshots/<commit>/<files>);
// else, unless HF_HUB_OFFLINE is set, a download from $HF_ENDPOINT into that cache with libcurl
// (redirects followed, progress on stderr, each file written to a temporary name then renamed).

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <curl/curl.h>
#include <unistd.h>

#include "ftlib/core/error.hpp"
#include "ftlib/io/atomic_file.hpp"

namespace ftlib::hf {

/// @brief Where and how resolve_pretrained looks; empty fields fall back to the environment.
struct HubOptions {
  std::string revision = "main";             ///< branch, tag or 40-hex commit
  std::optional<std::filesystem::path> cache_dir;  ///< default: hub_cache_dir()
  std::optional<std::string> endpoint;        ///< default: $HF_ENDPOINT or https://huggingface.co
  std::optional<bool> offline;                ///< default: $HF_HUB_OFFLINE
  std::optional<std::string> token;           ///< default: $HF_TOKEN (sent as a Bearer token)
  bool progress = true;                       ///< progress bar on stderr
  std::vector<std::string> required_files{"config.json", "model.safetensors"};  ///< must exist on the hub
  std::vector<std::string> optional_files{"vocab.txt", "spiece.model", "tokenizer_config.json",
                                          "special_tokens_map.json"};  ///< fetched when present (404 is fine)
};

namespace detail {

inline std::optional<std::string> getenv_nonempty(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

inline bool is_commit_hash(std::string_view revision) {
  return revision.size() == 40 &&
         std::all_of(revision.begin(), revision.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace detail

/// @brief $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
[[nodiscard]] inline std::filesystem::path hub_cache_dir() {
  if (const auto v = detail::getenv_nonempty("HF_HUB_CACHE")) return *v;
  if (const auto v = detail::getenv_nonempty("HUGGINGFACE_HUB_CACHE")) return *v;  // legacy name
  if (const auto v = detail::getenv_nonempty("HF_HOME")) return std::filesystem::path(*v) / "hub";
  if (const auto v = detail::getenv_nonempty("XDG_CACHE_HOME")) return std::filesystem::path(*v) / "huggingface" / "hub";
  const auto home = detail::getenv_nonempty("HOME");
  return std::filesystem::path(home.value_or(".")) / ".cache" / "huggingface" / "hub";
}

/// @brief True when $HF_HUB_OFFLINE is 1/ON/YES/TRUE (any case), as huggingface_hub reads it.
[[nodiscard]] inline bool hub_offline() {
  auto v = detail::getenv_nonempty("HF_HUB_OFFLINE");
  if (!v) v = detail::getenv_nonempty("TRANSFORMERS_OFFLINE");
  if (!v) return false;
  std::string s = *v;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s == "1" || s == "ON" || s == "YES" || s == "TRUE";
}

/// @brief $HF_ENDPOINT without a trailing slash, default https://huggingface.co.
[[nodiscard]] inline std::string hub_endpoint() {
  std::string e = detail::getenv_nonempty("HF_ENDPOINT").value_or("https://huggingface.co");
  while (!e.empty() && e.back() == '/') e.pop_back();
  return e;
}

/// @brief Whether `id` is a hub model id ("name" or "org/name", letters, digits, '-', '_', '.').
[[nodiscard]] inline bool is_valid_repo_id(std::string_view id) {
  if (id.empty() || id.size() > 96) return false;
  const auto slash = id.find('/');
  if (slash != std::string_view::npos && id.find('/', slash + 1) != std::string_view::npos) return false;
  const auto part_ok = [](std::string_view part) {
    if (part.empty() || part.front() == '-' || part.front() == '.' || part.back() == '.' ||
        part.find("..") != std::string_view::npos || part.find("--") != std::string_view::npos) {
      return false;
    }
    return std::all_of(part.begin(), part.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
    });
  };
  if (slash == std::string_view::npos) return part_ok(id);
  return part_ok(id.substr(0, slash)) && part_ok(id.substr(slash + 1));
}

/// @brief <cache>/models--{org}--{name}.
[[nodiscard]] inline std::filesystem::path repo_cache_dir(const std::filesystem::path& cache, std::string_view repo_id) {
  std::string folder = "models--";
  for (const char c : repo_id) {
    if (c == '/') {
      folder += "--";
    } else {
      folder += c;
    }
  }
  return cache / folder;
}

/// @brief The cached snapshot directory of `repo_id` at `revision` when it holds every file in
///        `required` (revision resolved through refs/<revision> unless it is a commit hash).
[[nodiscard]] inline std::optional<std::filesystem::path> find_cached_snapshot(
    const std::filesystem::path& cache, std::string_view repo_id, std::string_view revision,
    const std::vector<std::string>& required = {"config.json", "model.safetensors"}) {
  const auto repo = repo_cache_dir(cache, repo_id);
  std::string commit(revision);
  if (!detail::is_commit_hash(revision)) {
    std::ifstream ref(repo / "refs" / std::string(revision));
    if (!ref || !std::getline(ref, commit)) return std::nullopt;
    while (!commit.empty() && std::isspace(static_cast<unsigned char>(commit.back())) != 0) commit.pop_back();
    if (commit.empty() || commit.find('/') != std::string::npos || commit.find("..") != std::string::npos) {
      return std::nullopt;
    }
  }
  const auto snapshot = repo / "snapshots" / commit;
  for (const auto& f : required) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(snapshot / f, ec)) return std::nullopt;
  }
  return snapshot;
}

namespace detail {

/// @brief RAII for a CURL easy handle.
class CurlHandle {
 public:
  CurlHandle() : handle_(curl_easy_init()) {
    if (handle_ == nullptr) throw error("libcurl: curl_easy_init failed");
  }
  CurlHandle(const CurlHandle&) = delete;
  CurlHandle& operator=(const CurlHandle&) = delete;
  ~CurlHandle() { curl_easy_cleanup(handle_); }
  [[nodiscard]] CURL* get() const noexcept { return handle_; }

 private:
  CURL* handle_;
};

/// @brief RAII for a curl_slist.
class CurlHeaders {
 public:
  CurlHeaders() = default;
  CurlHeaders(const CurlHeaders&) = delete;
  CurlHeaders& operator=(const CurlHeaders&) = delete;
  ~CurlHeaders() { curl_slist_free_all(list_); }
  void add(const std::string& header) { list_ = curl_slist_append(list_, header.c_str()); }
  [[nodiscard]] curl_slist* get() const noexcept { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

/// @brief State of one transfer, shared with libcurl's callbacks.
struct Transfer {
  CURL* curl = nullptr;
  io::AtomicFile* out = nullptr;
  std::string write_error;  ///< why writing the body failed (disk full, ...), empty when it did not
  std::string file_name;
  std::string repo_commit;  ///< X-Repo-Commit header of the hub's answer
  long status = 0;
  bool show_progress = true;
  bool tty = false;
  std::chrono::steady_clock::time_point last_draw{};
  curl_off_t last_now = -1;
  bool drew = false;
};

inline std::size_t write_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  try {  // no exception may cross libcurl: returning less than given aborts the transfer
    t->out->write(std::string_view(data, size * count));
    return size * count;
  } catch (const std::exception& e) {
    t->write_error = e.what();
    return 0;
  }
}

inline std::size_t read_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  constexpr std::string_view name = "x-repo-commit:";
  if (line.size() > name.size()) {
    bool match = true;
    for (std::size_t i = 0; i < name.size() && match; ++i) {
      match = std::tolower(static_cast<unsigned char>(line[i])) == name[i];
    }
    if (match) {
      std::string value(line.substr(name.size()));
      const auto first = value.find_first_not_of(" \t");
      const auto last = value.find_last_not_of(" \t\r\n");
      t->repo_commit = first == std::string::npos ? "" : value.substr(first, last - first + 1);
    }
  }
  return size * count;
}

inline std::string human_bytes(double bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1000.0 && u < 4) {
    bytes /= 1000.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

inline int draw_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (!t->show_progress || !t->tty || now == 0 || now == t->last_now) return 0;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) return 0;  // no bar for redirects and 404 pages
  const auto clock = std::chrono::steady_clock::now();
  if (t->drew && now != total && clock - t->last_draw < std::chrono::milliseconds(100)) return 0;
  t->last_draw = clock;
  t->last_now = now;
  t->drew = true;
  constexpr int width = 30;
  std::string bar;
  if (total > 0) {
    const double frac = static_cast<double>(now) / static_cast<double>(total);
    const int filled = static_cast<int>(frac * width);
    bar = std::string(static_cast<std::size_t>(std::min(filled, width)), '#') +
          std::string(static_cast<std::size_t>(width - std::min(filled, width)), ' ');
    std::fprintf(stderr, "\r%-24s %3d%% |%s| %s / %s", t->file_name.c_str(), static_cast<int>(frac * 100), bar.c_str(),
                 human_bytes(static_cast<double>(now)).c_str(), human_bytes(static_cast<double>(total)).c_str());
  } else {
    std::fprintf(stderr, "\r%-24s %s", t->file_name.c_str(), human_bytes(static_cast<double>(now)).c_str());
  }
  std::fflush(stderr);
  return 0;
}

/// @brief GETs `url` into `dest` (via a temporary sibling, renamed on success). Returns the HTTP status
///        (200 written; 404 nothing written); throws io_error for transport failures.
inline long download_file(const std::string& url, const std::filesystem::path& dest, const std::string& label,
                          const std::optional<std::string>& token, bool progress, std::string& repo_commit) {
  std::filesystem::create_directories(dest.parent_path());
  io::AtomicFile file(dest);  // removed unless the whole body arrived and was written
  Transfer t;
  t.out = &file;
  t.file_name = label;
  t.show_progress = progress;
  t.tty = ::isatty(::fileno(stderr)) != 0;

  CurlHandle curl;
  t.curl = curl.get();
  CurlHeaders headers;
  headers.add("User-Agent: ftlib/0.1; libcurl");
  if (token) headers.add("Authorization: Bearer " + *token);
  char curl_error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &write_body);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, &read_header);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl.get(), CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl.get(), CURLOPT_XFERINFOFUNCTION, &draw_progress);
  curl_easy_setopt(curl.get(), CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, curl_error);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, 1L);   // abort a transfer stalled ...
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_TIME, 60L);   // ... for a minute
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  const CURLcode rc = curl_easy_perform(curl.get());
  if (t.drew) std::fputc('\n', stderr);
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  if (!t.write_error.empty()) throw io_error(t.write_error);
  if (rc != CURLE_OK) {
    throw io_error("downloading " + url + " failed: " + (curl_error[0] != '\0' ? std::string(curl_error) : curl_easy_strerror(rc)));
  }
  if (status != 200) return status;
  file.commit();
  if (progress && !t.tty) {
    std::error_code size_ec;
    const auto size = std::filesystem::file_size(dest, size_ec);
    std::fprintf(stderr, "downloaded %s (%s)\n", label.c_str(), human_bytes(static_cast<double>(size)).c_str());
  }
  if (!t.repo_commit.empty()) repo_commit = t.repo_commit;
  return status;
}

}  // namespace detail

/// @brief Downloads a model's files from the hub into the cache and returns its snapshot directory.
///        Files already in the snapshot are not fetched again.
[[nodiscard]] inline std::filesystem::path download_snapshot(std::string_view repo_id, const HubOptions& options = {}) {
  if (!is_valid_repo_id(repo_id)) {
    throw option_error("'" + std::string(repo_id) + "' is not a valid HuggingFace model id (expected name or org/name)");
  }
  const auto cache = options.cache_dir.value_or(hub_cache_dir());
  const std::string endpoint = [&] {
    std::string e = options.endpoint.value_or(hub_endpoint());
    while (!e.empty() && e.back() == '/') e.pop_back();
    return e;
  }();
  const auto token = options.token ? options.token : detail::getenv_nonempty("HF_TOKEN");
  const auto repo = repo_cache_dir(cache, repo_id);
  const auto staging = repo / "blobs";  // files land here first, then move into the snapshot
  std::filesystem::create_directories(staging);
  const std::string url_base = endpoint + "/" + std::string(repo_id) + "/resolve/" + options.revision + "/";

  std::string commit = detail::is_commit_hash(options.revision) ? options.revision : "";
  // A partial snapshot of this revision (say, without the optional files) keeps what it has.
  const auto existing = find_cached_snapshot(cache, repo_id, options.revision, {});
  if (existing) commit = existing->filename().string();
  const auto staged = [&](const std::string& file) {
    return staging / ("ftlib-" + std::to_string(::getpid()) + "-" + file);
  };
  std::vector<std::string> fetched;
  const auto fetch = [&](const std::string& file, bool required) {
    std::error_code exists_ec;
    if (existing && std::filesystem::is_regular_file(*existing / file, exists_ec)) return;
    std::string seen_commit;
    const auto dest = staged(file);
    const long status = detail::download_file(url_base + file, dest, file, token, options.progress, seen_commit);
    if (commit.empty() && !seen_commit.empty() && detail::is_commit_hash(seen_commit)) commit = seen_commit;
    if (status == 200) {
      fetched.push_back(file);
      return;
    }
    if (!required && status == 404) return;
    std::string why = "HTTP " + std::to_string(status);
    if (status == 401 || status == 403) {
      why += " (private or gated model: set HF_TOKEN to a token with access)";
    } else if (status == 404) {
      why += file == "config.json" ? " (no such model or revision on " + endpoint + ")"
                                   : " (the model has no " + file + "; ftlib reads safetensors weights only)";
    }
    throw io_error("cannot download '" + std::string(repo_id) + "' file " + file + " from " + url_base + file + ": " + why);
  };
  try {
    for (const auto& f : options.required_files) fetch(f, true);
    for (const auto& f : options.optional_files) fetch(f, false);
  } catch (...) {
    std::error_code ignored;
    for (const auto& f : fetched) std::filesystem::remove(staged(f), ignored);
    throw;
  }

  if (commit.empty()) {
    commit = options.revision;  // the server sent no X-Repo-Commit: name the snapshot by the revision
  }
  const auto snapshot = repo / "snapshots" / commit;
  std::filesystem::create_directories(snapshot);
  for (const auto& f : fetched) {
    const auto src = staged(f);
    std::error_code ec;
    std::filesystem::rename(src, snapshot / f, ec);
    if (ec) throw io_error(snapshot / f, "cannot move the download into the cache: " + ec.message());
  }
  if (!detail::is_commit_hash(options.revision)) {
    std::filesystem::create_directories(repo / "refs");
    io::write_file_atomically(repo / "refs" / options.revision, commit);
  }
  return snapshot;
}

/// @brief A model directory for `name_or_path`: the directory itself if it exists, else the cached
///        snapshot of the hub model id, else (unless offline) a fresh download into the cache.
[[nodiscard]] inline std::filesystem::path resolve_pretrained(std::string_view name_or_path, const HubOptions& options = {}) {
  const std::filesystem::path as_path{std::string(name_or_path)};
  std::error_code ec;
  if (std::filesystem::is_directory(as_path, ec)) return as_path;
  if (std::filesystem::exists(as_path, ec)) {
    throw io_error(as_path, "is a file; expected a model directory (config.json, model.safetensors, tokenizer files) or a hub model id");
  }
  if (!is_valid_repo_id(name_or_path)) {
    throw io_error(as_path, "no such directory, and not a HuggingFace model id (name or org/name)");
  }
  const auto cache = options.cache_dir.value_or(hub_cache_dir());
  if (const auto snapshot = find_cached_snapshot(cache, name_or_path, options.revision, options.required_files)) {
    return *snapshot;
  }
  const bool offline = options.offline.value_or(hub_offline());
  if (offline) {
    throw io_error("model '" + std::string(name_or_path) + "' (revision " + options.revision +
                   ") is not a local directory and is not in the HuggingFace cache (searched " +
                   repo_cache_dir(cache, name_or_path).string() +
                   "), and HF_HUB_OFFLINE is set, so it cannot be downloaded: unset HF_HUB_OFFLINE, or point "
                   "HF_HUB_CACHE/HF_HOME at a cache that has it, or pass a local directory");
  }
  return download_snapshot(name_or_path, options);
}

}  // namespace ftlib::hf
