// Finding and opening the backend modules (backend_module.hpp).

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include "backend_module.hpp"
#include "ftlib/core/error.hpp"

namespace ftlib::cli {
namespace {

std::filesystem::path executable_dir() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path(".") : self.parent_path();
}

// $FTLIB_BACKEND_DIR, the tool's own directory (build tree), then <prefix>/lib*/ftlib (installed).
std::vector<std::filesystem::path> search_path(std::string_view name) {
  const std::string file = "libftlib_backend_" + std::string(name) + ".so";
  std::vector<std::filesystem::path> out;
  if (const char* env = std::getenv("FTLIB_BACKEND_DIR"); env != nullptr && *env != '\0') out.push_back(std::filesystem::path(env) / file);
  const auto dir = executable_dir();
  out.push_back(dir / file);
  for (const char* lib : {"lib", "lib64", "lib/x86_64-linux-gnu"}) out.push_back(dir.parent_path() / lib / "ftlib" / file);
  return out;
}

std::filesystem::path find_module(std::string_view name) {
  std::error_code ec;
  for (const auto& p : search_path(name)) {
    if (std::filesystem::exists(p, ec)) return p;
  }
  return {};
}

}  // namespace

bool has_backend_module(std::string_view name) { return !find_module(name).empty(); }

const BackendModule& backend_module(std::string_view name) {
  static std::mutex mutex;
  static std::map<std::string, const BackendModule*, std::less<>> opened;  // modules stay loaded until exit
  const std::lock_guard lock(mutex);
  if (const auto it = opened.find(name); it != opened.end()) return *it->second;
  const auto path = find_module(name);
  if (path.empty())
    throw option_error(SourceLocation{"--backend", {}, {}},
                       "this ftlib has no " + std::string(name) + " backend (libftlib_backend_" + std::string(name) +
                           ".so is not beside the tool or in FTLIB_BACKEND_DIR; build ftlib with that component)");
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr)
    throw option_error(SourceLocation{"--backend", {}, {}}, "cannot load " + path.string() + ": " + ::dlerror());
  using Entry = const BackendModule* (*)();
  const auto entry = reinterpret_cast<Entry>(::dlsym(handle, "ftlib_backend_module"));
  if (entry == nullptr) throw option_error(SourceLocation{"--backend", {}, {}}, path.string() + " is not an ftlib backend module");
  const BackendModule* module = entry();
  if (module == nullptr || module->interface_version != backend_interface_version)
    throw option_error(SourceLocation{"--backend", {}, {}},
                       path.string() + " was built for another version of the ftlib tool (rebuild the tool and its modules together)");
  opened.emplace(std::string(name), module);
  return *module;
}

}  // namespace ftlib::cli
