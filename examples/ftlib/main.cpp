// `ftlib`: fine-tune, evaluate and use BERT-style classifiers from the command line.
//   ftlib train | evaluate | predict | tokenize | inspect   (ftlib <command> --help for each)

#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "ftlib/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"ftlib: fine-tune BERT-style encoders (DistilBERT, ALBERT) for text classification"};
  app.require_subcommand(1);
  ftlib::cli::add_train_command(app);
  ftlib::cli::add_evaluate_command(app);
  ftlib::cli::add_predict_command(app);
  ftlib::cli::add_tokenize_command(app);
  ftlib::cli::add_inspect_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ftlib::error& e) {
    std::cerr << "ftlib: error: " << e.what() << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "ftlib: internal error: " << e.what() << '\n';
    return 2;
  }
  return 0;
}
