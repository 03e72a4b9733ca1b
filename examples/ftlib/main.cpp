// `ftlib`: fine-tune, evaluate and use BERT-style classifiers from the command line.
//   ftlib train | evaluate | predict | tokenize | inspect | report   (ftlib <command> --help for each)

#include <exception>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "cli_common.hpp"
#include "commands.hpp"
#include "ftlib/core/error.hpp"

namespace {

// A training step frees and re-allocates the same large buffers (gradients, activations, optimizer
// temporaries). glibc hands blocks over its mmap threshold back to the OS on free, so every step
// page-faults them in again (~19% of a DistilBERT step's cycles, see docs/benchmarks.md). Keeping
// freed memory in the process removes that; it is a process-wide choice, so the tool makes it.
// (The LibTorch backend's large blocks bypass malloc: backend_libtorch.cpp installs ftlib's caching
// allocator for them, which also avoids the fragmentation this heap-only policy can cause.)
void keep_freed_memory_in_process() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory_in_process();
  CLI::App app{"ftlib: fine-tune BERT-style encoders (DistilBERT, ALBERT) for text classification"};
  app.require_subcommand(1);
  ftlib::cli::add_train_command(app);
  ftlib::cli::add_evaluate_command(app);
  ftlib::cli::add_predict_command(app);
  ftlib::cli::add_tokenize_command(app);
  ftlib::cli::add_inspect_command(app);
  ftlib::cli::add_report_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ftlib::cli::ExitRequest& e) {
    return e.code;
  } catch (const ftlib::option_error& e) {
    // The library names the field; say it with the tool's flag.
    const auto& where = e.where();
    const std::string flag = where && !where->line ? ftlib::cli::flag_of_field(where->file) : std::string();
    std::cerr << "ftlib: error: " << (flag.empty() ? std::string(e.what()) : flag + ": " + e.message()) << '\n';
    return 1;
  } catch (const ftlib::error& e) {
    std::cerr << "ftlib: error: " << e.what() << '\n';
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // The operating system refused a file operation: the path and its reason are the whole story.
    std::cerr << "ftlib: error: " << (e.path1().empty() ? std::string() : e.path1().string() + ": ") << e.code().message() << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "ftlib: internal error: " << e.what() << '\n';
    return 2;
  }
  return 0;
}
