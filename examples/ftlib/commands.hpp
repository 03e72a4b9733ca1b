#pragma once
// The `ftlib` tool's subcommands. Each lives in its own <name>_command.cpp and registers itself
// on the top-level app; main.cpp only wires them together.

#include <CLI/CLI.hpp>

namespace ftlib::cli {

void add_tokenize_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_report_command(CLI::App& app);

}  // namespace ftlib::cli
