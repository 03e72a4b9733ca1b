// resolve_pretrained: local directories, the HF cache layout, downloads from a tiny HTTP server on
// 127.0.0.1 (ephemeral port, one thread, bounded), redirects, 404s, and the offline error.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ftlib/hf/hub.hpp"
#include "ftlib/hf/safetensors.hpp"
#include "test_support.hpp"

namespace hf = ftlib::hf;
using ftlib::testing::shared_path;
using ftlib::testing::TempDir;

namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A minimal HTTP/1.1 server: GET only, one connection at a time, Connection: close.
class TinyHttpServer {
 public:
  struct Route {
    std::string body;
    std::string redirect_to;  // non-empty: answer 302 with this Location
  };

  TinyHttpServer(std::map<std::string, Route> routes, std::string commit)
      : routes_(std::move(routes)), commit_(std::move(commit)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    const int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;  // ephemeral
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  TinyHttpServer(const TinyHttpServer&) = delete;
  TinyHttpServer& operator=(const TinyHttpServer&) = delete;
  ~TinyHttpServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }

  [[nodiscard]] std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::vector<std::string> requests() const {
    const std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    // Bounded: the loop ends when the test is done, and never runs longer than 60 s.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) continue;
      handle(client);
      ::close(client);
    }
  }

  void handle(int client) {
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      pollfd p{client, POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) return;
      const auto n = ::recv(client, buf, sizeof buf, 0);
      if (n <= 0) return;
      request.append(buf, static_cast<std::size_t>(n));
    }
    const auto first_space = request.find(' ');
    const auto second_space = request.find(' ', first_space + 1);
    const std::string path = request.substr(first_space + 1, second_space - first_space - 1);
    {
      const std::lock_guard lock(mutex_);
      requests_.push_back(path);
    }
    std::string head, body;
    const auto it = routes_.find(path);
    if (it == routes_.end()) {
      body = "Entry not found";
      head = "HTTP/1.1 404 Not Found\r\n";
    } else if (!it->second.redirect_to.empty()) {
      head = "HTTP/1.1 302 Found\r\nLocation: " + it->second.redirect_to + "\r\nX-Repo-Commit: " + commit_ + "\r\n";
    } else {
      body = it->second.body;
      head = "HTTP/1.1 200 OK\r\nX-Repo-Commit: " + commit_ + "\r\n";
    }
    const std::string response = head + "Content-Length: " + std::to_string(body.size()) +
                                 "\r\nConnection: close\r\n\r\n" + body;
    std::size_t sent = 0;
    while (sent < response.size()) {
      const auto n = ::send(client, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }

  std::map<std::string, Route> routes_;
  std::string commit_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;
};

constexpr const char* kCommit = "0123456789abcdef0123456789abcdef01234567";

// Sets an environment variable for the scope, restoring the previous value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::map<std::string, TinyHttpServer::Route> fixture_routes(const std::filesystem::path& dir, const std::string& id) {
  std::map<std::string, TinyHttpServer::Route> routes;
  routes["/" + id + "/resolve/main/config.json"] = {read_all(dir / "config.json"), ""};
  // The real hub redirects large files to a CDN.
  routes["/" + id + "/resolve/main/model.safetensors"] = {"", "/cdn/blob/model.safetensors"};
  routes["/cdn/blob/model.safetensors"] = {read_all(dir / "model.safetensors"), ""};
  routes["/" + id + "/resolve/main/tokenizer_config.json"] = {R"({"do_lower_case": true})", ""};
  return routes;
}

}  // namespace

TEST_CASE("cache directory and offline flag come from the environment") {
  {
    const ScopedEnv a("HF_HUB_CACHE", "/tmp/ftlib-hub-a");
    const ScopedEnv b("HF_HOME", "/tmp/ftlib-home");
    CHECK(hf::hub_cache_dir() == std::filesystem::path("/tmp/ftlib-hub-a"));
  }
  {
    const ScopedEnv a("HF_HUB_CACHE", std::nullopt);
    const ScopedEnv l("HUGGINGFACE_HUB_CACHE", std::nullopt);
    const ScopedEnv b("HF_HOME", "/tmp/ftlib-home");
    CHECK(hf::hub_cache_dir() == std::filesystem::path("/tmp/ftlib-home/hub"));
  }
  {
    const ScopedEnv a("HF_HUB_CACHE", std::nullopt);
    const ScopedEnv l("HUGGINGFACE_HUB_CACHE", std::nullopt);
    const ScopedEnv b("HF_HOME", std::nullopt);
    const ScopedEnv x("XDG_CACHE_HOME", std::nullopt);
    const ScopedEnv h("HOME", "/home/someone");
    CHECK(hf::hub_cache_dir() == std::filesystem::path("/home/someone/.cache/huggingface/hub"));
  }
  {
    const ScopedEnv t("TRANSFORMERS_OFFLINE", std::nullopt);
    const ScopedEnv o("HF_HUB_OFFLINE", "1");
    CHECK(hf::hub_offline());
    const ScopedEnv o2("HF_HUB_OFFLINE", "true");
    CHECK(hf::hub_offline());
    const ScopedEnv o3("HF_HUB_OFFLINE", "0");
    CHECK_FALSE(hf::hub_offline());
  }
  {
    const ScopedEnv e("HF_ENDPOINT", "http://mirror.example/");
    CHECK(hf::hub_endpoint() == "http://mirror.example");
  }
}

TEST_CASE("model ids and cache folder names") {
  CHECK(hf::is_valid_repo_id("distilbert-base-uncased"));
  CHECK(hf::is_valid_repo_id("albert/albert-base-v2"));
  CHECK(hf::is_valid_repo_id("org_1/model.v2"));
  CHECK_FALSE(hf::is_valid_repo_id("../etc"));
  CHECK_FALSE(hf::is_valid_repo_id("a/b/c"));
  CHECK_FALSE(hf::is_valid_repo_id(""));
  CHECK_FALSE(hf::is_valid_repo_id("a b"));
  CHECK(hf::repo_cache_dir("/c", "albert/albert-base-v2") == std::filesystem::path("/c/models--albert--albert-base-v2"));
  CHECK(hf::repo_cache_dir("/c", "gpt2") == std::filesystem::path("/c/models--gpt2"));
}

TEST_CASE("a local directory resolves to itself, a file or bad name is an error") {
  const TempDir tmp;
  CHECK(hf::resolve_pretrained(tmp.path().string()) == tmp.path());
  std::ofstream(tmp.path() / "f.txt") << "x";
  CHECK_THROWS_WITH_AS((void)hf::resolve_pretrained((tmp.path() / "f.txt").string()), doctest::Contains("is a file"),
                       ftlib::io_error);
  CHECK_THROWS_WITH_AS((void)hf::resolve_pretrained((tmp.path() / "no" / "such" / "dir").string()),
                       doctest::Contains("not a HuggingFace model id"), ftlib::io_error);
}

TEST_CASE("a cached snapshot is found through refs/main") {
  const TempDir cache;
  const auto repo = cache.path() / "models--org--m";
  std::filesystem::create_directories(repo / "refs");
  std::filesystem::create_directories(repo / "snapshots" / kCommit);
  std::ofstream(repo / "refs" / "main") << kCommit;  // huggingface_hub writes no newline
  std::ofstream(repo / "snapshots" / kCommit / "config.json") << "{}";
  hf::HubOptions options;
  options.cache_dir = cache.path();
  options.offline = true;
  // Weights missing: not a usable snapshot.
  CHECK_THROWS_AS((void)hf::resolve_pretrained("org/m", options), ftlib::io_error);
  std::ofstream(repo / "snapshots" / kCommit / "model.safetensors") << "x";
  CHECK(hf::resolve_pretrained("org/m", options) == repo / "snapshots" / kCommit);
  options.revision = kCommit;  // a commit hash needs no ref
  CHECK(hf::resolve_pretrained("org/m", options) == repo / "snapshots" / kCommit);
}

TEST_CASE("offline and not cached: one clear error") {
  const TempDir cache;
  const ScopedEnv c("HF_HUB_CACHE", cache.path().string());
  const ScopedEnv o("HF_HUB_OFFLINE", "1");
  try {
    (void)hf::resolve_pretrained("someorg/some-model");
    FAIL("no error");
  } catch (const ftlib::error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("'someorg/some-model'") != std::string::npos);
    CHECK(msg.find((cache.path() / "models--someorg--some-model").string()) != std::string::npos);
    CHECK(msg.find("HF_HUB_OFFLINE") != std::string::npos);
  }
}

TEST_CASE("download into the cache from an HTTP endpoint, then offline from the cache") {
  const auto dir = shared_path("fixtures/models/distilbert-tiny");
  if (!dir) return;
  const std::string id = "ftlib-test/tiny-distilbert";
  const TinyHttpServer server(fixture_routes(*dir, id), kCommit);
  const TempDir cache;

  std::filesystem::path snapshot;
  {
    const ScopedEnv e("HF_ENDPOINT", server.endpoint());
    const ScopedEnv c("HF_HUB_CACHE", cache.path().string());
    const ScopedEnv o("HF_HUB_OFFLINE", std::nullopt);
    const ScopedEnv t("TRANSFORMERS_OFFLINE", std::nullopt);
    hf::HubOptions options;
    options.progress = false;
    snapshot = hf::resolve_pretrained(id, options);
  }
  const auto repo = cache.path() / "models--ftlib-test--tiny-distilbert";
  CHECK(snapshot == repo / "snapshots" / kCommit);
  CHECK(read_all(repo / "refs" / "main") == kCommit);
  CHECK(read_all(snapshot / "config.json") == read_all(*dir / "config.json"));
  CHECK(read_all(snapshot / "model.safetensors") == read_all(*dir / "model.safetensors"));
  CHECK(read_all(snapshot / "tokenizer_config.json") == R"({"do_lower_case": true})");
  CHECK_FALSE(std::filesystem::exists(snapshot / "vocab.txt"));  // 404 on an optional file is fine
  CHECK(hf::SafetensorsFile::open(snapshot / "model.safetensors").tensors().size() == 40);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(repo)) {
    CHECK_MESSAGE(entry.path().extension() != ".tmp", entry.path().string());  // no temporary left behind
  }
  const auto requests = server.requests();
  CHECK(std::count(requests.begin(), requests.end(), "/cdn/blob/model.safetensors") == 1);
  CHECK(std::count(requests.begin(), requests.end(), "/" + id + "/resolve/main/vocab.txt") == 1);

  // Offline now works from the cache, without asking the server.
  hf::HubOptions offline;
  offline.cache_dir = cache.path();
  offline.offline = true;
  CHECK(hf::resolve_pretrained(id, offline) == snapshot);
  CHECK(server.requests().size() == requests.size());
}

TEST_CASE("download errors name the model, the file and the reason") {
  const auto dir = shared_path("fixtures/models/distilbert-tiny");
  if (!dir) return;
  const TinyHttpServer server(fixture_routes(*dir, "org/present"), kCommit);
  const TempDir cache;
  hf::HubOptions options;
  options.cache_dir = cache.path();
  options.endpoint = server.endpoint();
  options.offline = false;
  options.progress = false;
  try {
    (void)hf::resolve_pretrained("org/absent", options);
    FAIL("no error");
  } catch (const ftlib::io_error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("'org/absent'") != std::string::npos);
    CHECK(msg.find("config.json") != std::string::npos);
    CHECK(msg.find("HTTP 404") != std::string::npos);
  }
  // Weights only as pytorch_model.bin: a clear message.
  auto routes = fixture_routes(*dir, "org/binonly");
  routes.erase("/org/binonly/resolve/main/model.safetensors");
  const TinyHttpServer bin_server(routes, kCommit);
  options.endpoint = bin_server.endpoint();
  CHECK_THROWS_WITH_AS((void)hf::resolve_pretrained("org/binonly", options),
                       doctest::Contains("has no model.safetensors"), ftlib::io_error);
  CHECK_FALSE(std::filesystem::exists(cache.path() / "models--org--binonly" / "snapshots"));
  CHECK(std::filesystem::is_empty(cache.path() / "models--org--binonly" / "blobs"));
}

TEST_CASE("an unreachable endpoint is a transport error naming the URL") {
  int port = 0;
  {
    // Take an ephemeral port and release it: nothing listens there afterwards.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    ::close(fd);
  }
  const TempDir cache;
  hf::HubOptions options;
  options.cache_dir = cache.path();
  options.endpoint = "http://127.0.0.1:" + std::to_string(port);
  options.offline = false;
  options.progress = false;
  CHECK_THROWS_WITH_AS((void)hf::resolve_pretrained("org/model", options),
                       doctest::Contains(("downloading http://127.0.0.1:" + std::to_string(port) +
                                          "/org/model/resolve/main/config.json failed")
                                             .c_str()),
                       ftlib::io_error);
}
