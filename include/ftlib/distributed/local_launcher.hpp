#pragma once
// `ftlib train --nproc-per-node N` without Python: starts N workers of the same program on this
// machine with torchrun's environment (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT), waits for them, and — like torchrun — stops the others when one fails, so a run
// never hangs on a dead worker. POSIX (fork/execve, waitpid, sigtimedwait); backend-free.

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "ftlib/core/error.hpp"

extern char** environ;

namespace ftlib::distributed {

/// @brief How the local workers are started.
struct LocalLaunchOptions {
  std::int64_t nproc_per_node = 1;            ///< workers to start
  std::optional<std::uint16_t> master_port;   ///< rendezvous port on 127.0.0.1 (default: a free one)
  /// After a worker fails, how long the others get to stop on SIGTERM before they are killed.
  std::chrono::seconds grace{15};
};

namespace detail {

// A TCP port nobody listens on now (the kernel's pick for port 0), for the workers' rendezvous store.
inline std::uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw error(std::string("--nproc-per-node: cannot open a socket to find a free port: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) throw error(std::string("--nproc-per-node: cannot find a free port on 127.0.0.1: ") + std::strerror(saved));
  return ntohs(addr.sin_port);
}

// The parent's environment with `overrides` (NAME=value) replacing variables of the same name, and
// the torchelastic agent-store variables dropped (these workers host their own store).
inline std::vector<std::string> worker_environment(const std::vector<std::string>& overrides) {
  std::vector<std::string> out;
  const auto name_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string name = name_of(entry);
    bool replaced = name == "TORCHELASTIC_USE_AGENT_STORE";
    for (const auto& o : overrides) replaced = replaced || name_of(o) == name;
    if (!replaced) out.push_back(entry);
  }
  out.insert(out.end(), overrides.begin(), overrides.end());
  return out;
}

inline std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// "exited with code 3" / "was killed by signal 9 (Killed)".
inline std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "stopped (status " + std::to_string(status) + ")";
}

// The launcher's exit code for a worker's status (the shell's convention for a signal).
inline int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// Blocks the launcher's signals for its lifetime (they are read with sigtimedwait), restoring the old mask.
class BlockedSignals {
 public:
  BlockedSignals() {
    sigemptyset(&set_);
    for (const int s : {SIGCHLD, SIGINT, SIGTERM, SIGHUP}) sigaddset(&set_, s);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~BlockedSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  BlockedSignals(const BlockedSignals&) = delete;
  BlockedSignals& operator=(const BlockedSignals&) = delete;
  [[nodiscard]] const sigset_t& set() const noexcept { return set_; }
  [[nodiscard]] const sigset_t& old() const noexcept { return old_; }

 private:
  sigset_t set_{};
  sigset_t old_{};
};

}  // namespace detail

/// @brief This process's command line as its workers are to run it: "/proc/self/exe" (this very
///        program) and its arguments, without `drop` (flags given with a value, as "--flag v" or
///        "--flag=v": the launcher's own, e.g. --nproc-per-node). Linux (/proc/self/cmdline).
[[nodiscard]] inline std::vector<std::string> worker_command_line(const std::vector<std::string>& drop) {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (raw.empty()) throw error("cannot read /proc/self/cmdline to start the workers with this command line");
  std::vector<std::string> args;
  for (std::size_t start = 0; start < raw.size();) {
    const std::size_t end = std::min(raw.find('\0', start), raw.size());
    args.push_back(raw.substr(start, end - start));
    start = end + 1;
  }
  std::vector<std::string> out{"/proc/self/exe"};
  for (std::size_t i = 1; i < args.size(); ++i) {
    bool dropped = false;
    for (const auto& flag : drop) {
      if (args[i] == flag) {
        ++i;  // and its value
        dropped = true;
        break;
      }
      if (args[i].starts_with(flag + "=")) {
        dropped = true;
        break;
      }
    }
    if (!dropped) out.push_back(args[i]);
  }
  return out;
}

/// @brief Runs `argv` (argv[0]: the program's path, executed as is) as options.nproc_per_node workers
///        with torchrun's variables, rank i being worker i; returns 0 when every worker succeeded, else
///        the first failed worker's exit code (128 + signal when killed), having stopped the others
///        (SIGTERM, then SIGKILL after options.grace). SIGINT/SIGTERM/SIGHUP sent to the launcher are
///        passed on to the workers. Progress and failures go to `log`.
[[nodiscard]] inline int run_local_workers(const LocalLaunchOptions& options, const std::vector<std::string>& argv, std::ostream& log) {
  if (options.nproc_per_node < 1 || options.nproc_per_node > 1024)
    throw option_error(SourceLocation{"--nproc-per-node", {}, {}}, "must be in 1..1024, got " + std::to_string(options.nproc_per_node));
  if (argv.empty()) throw option_error(SourceLocation{"--nproc-per-node", {}, {}}, "no program to start");
  const std::int64_t n = options.nproc_per_node;
  const std::uint16_t port = options.master_port ? *options.master_port : detail::free_loopback_port();

  // Everything the children need is built before fork: after it, a child only calls execve.
  std::vector<std::string> args = argv;
  std::vector<char*> c_args = detail::c_strings(args);
  // Workers share the cores: unless OMP_NUM_THREADS says otherwise, each gets its share (torchrun sets 1).
  std::vector<std::string> shared;
  if (std::getenv("OMP_NUM_THREADS") == nullptr) {
    const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
    shared.push_back("OMP_NUM_THREADS=" + std::to_string(std::max<long>(1, cores / static_cast<long>(n))));
  }
  std::vector<std::vector<std::string>> envs;
  for (std::int64_t r = 0; r < n; ++r) {
    const std::string rank = std::to_string(r);
    std::vector<std::string> vars{"RANK=" + rank, "LOCAL_RANK=" + rank, "GROUP_RANK=0", "ROLE_RANK=" + rank,
                                  "WORLD_SIZE=" + std::to_string(n), "LOCAL_WORLD_SIZE=" + std::to_string(n),
                                  "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + std::to_string(port), "TORCHELASTIC_RESTART_COUNT=0"};
    vars.insert(vars.end(), shared.begin(), shared.end());
    envs.push_back(detail::worker_environment(vars));
  }
  std::vector<std::vector<char*>> c_envs;
  for (auto& e : envs) c_envs.push_back(detail::c_strings(e));

  const detail::BlockedSignals blocked;
  struct Worker {
    pid_t pid = -1;
    bool running = false;
  };
  std::vector<Worker> workers(static_cast<std::size_t>(n));
  const auto signal_running = [&](int sig) {
    for (const auto& w : workers)
      if (w.running) ::kill(w.pid, sig);
  };
  log << "ftlib: starting " << n << " workers (MASTER_ADDR=127.0.0.1 MASTER_PORT=" << port << ")\n" << std::flush;
  for (std::int64_t r = 0; r < n; ++r) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      pthread_sigmask(SIG_SETMASK, &blocked.old(), nullptr);
      ::execve(c_args[0], c_args.data(), c_envs[static_cast<std::size_t>(r)].data());
      static constexpr char message[] = "ftlib: a worker could not be started (execve failed)\n";
      (void)!::write(2, message, sizeof message - 1);
      ::_exit(127);
    }
    if (pid < 0) {
      const int saved = errno;
      signal_running(SIGKILL);
      for (const auto& w : workers)
        if (w.running) ::waitpid(w.pid, nullptr, 0);
      throw error("--nproc-per-node: cannot start worker " + std::to_string(r) + ": " + std::strerror(saved));
    }
    workers[static_cast<std::size_t>(r)] = Worker{pid, true};
  }

  int result = 0;
  std::optional<std::chrono::steady_clock::time_point> kill_at;
  const auto stop_others = [&] {
    signal_running(SIGTERM);
    kill_at = std::chrono::steady_clock::now() + options.grace;
  };
  for (;;) {
    // Reap every worker that ended.
    for (std::size_t r = 0; r < workers.size(); ++r) {
      auto& w = workers[r];
      int status = 0;
      if (!w.running || ::waitpid(w.pid, &status, WNOHANG) != w.pid) continue;
      w.running = false;
      const bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      if (failed && result == 0) {
        result = detail::exit_code_of(status);
        log << "ftlib: worker rank " << r << " (pid " << w.pid << ") " << detail::describe_status(status)
            << "; stopping the other workers\n" << std::flush;
        stop_others();
      }
    }
    bool any_running = false;
    for (const auto& w : workers) any_running = any_running || w.running;
    if (!any_running) break;
    if (kill_at && std::chrono::steady_clock::now() >= *kill_at) {
      log << "ftlib: workers still running " << options.grace.count() << " s after SIGTERM; killing them\n" << std::flush;
      signal_running(SIGKILL);
      kill_at.reset();
    }
    timespec wait{0, 200'000'000};
    siginfo_t info{};
    const int sig = ::sigtimedwait(&blocked.set(), &info, &wait);
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
      signal_running(sig);
      if (result == 0) result = 128 + sig;
      if (!kill_at) kill_at = std::chrono::steady_clock::now() + options.grace;
    }
  }
  return result;
}

}  // namespace ftlib::distributed
