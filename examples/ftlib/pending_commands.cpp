// Subcommands that are not implemented yet: they exist so `ftlib --help` lists the whole tool,
// and they fail with a clear message instead of pretending. Each moves to its own file when done.

#include <string>

#include "commands.hpp"
#include "ftlib/error.hpp"

namespace ftlib::cli {
namespace {

void add_pending(CLI::App& app, const std::string& name, const std::string& description,
                 const std::string& issue) {
  auto* cmd = app.add_subcommand(name, description + " (not implemented yet)");
  cmd->allow_extras();
  cmd->callback([name, issue] {
    throw ftlib::error("`ftlib " + name + "` is not implemented yet (tracked in " + issue + ")");
  });
}

}  // namespace


}  // namespace ftlib::cli
