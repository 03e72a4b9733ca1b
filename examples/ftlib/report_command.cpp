// `ftlib report RUN_DIR`: (re)writes RUN_DIR/report.html from the run's train_log.jsonl, metrics.json
// and run_settings.json — also for a run still in progress or one that was interrupted.

#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "ftlib/reports/run_report.hpp"

namespace ftlib::cli {

void add_report_command(CLI::App& app) {
  auto run_dir = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("report", "Write RUN_DIR/report.html: loss curves, metrics, confusion matrix, settings");
  cmd->add_option("RUN_DIR", *run_dir, "the --output directory of `ftlib train` (finished, running or interrupted)")->required();
  cmd->callback([run_dir] {
    const auto run = reports::read_run(*run_dir);
    for (const auto& note : run.notes) std::cerr << "ftlib report: " << note << '\n';
    std::cout << reports::write_report(run).string() << '\n';
  });
}

}  // namespace ftlib::cli
