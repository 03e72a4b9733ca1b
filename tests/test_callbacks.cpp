// Tests for include/ftlib/callbacks: EarlyStopping (transformers' EarlyStoppingCallback rules,
// traced by hand below), ProgressBar output with a fake clock, JsonlLogger files.

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/callbacks/early_stopping.hpp"
#include "ftlib/callbacks/jsonl_logger.hpp"
#include "ftlib/callbacks/progress_bar.hpp"
#include "test_support.hpp"

namespace {

using ftlib::testing::message_of;

std::vector<std::string> lines_of(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

// --------------------------------------------------------------------------------------------
// EarlyStopping
// --------------------------------------------------------------------------------------------

TEST_CASE("EarlyStopping: patience 1 stops at the first evaluation that does not improve") {
  ftlib::EarlyStopping stopper;  // eval_loss, min, patience 1
  CHECK_FALSE(stopper.should_stop(1.0));  // first value: always an improvement
  CHECK(stopper.improved());
  CHECK_FALSE(stopper.should_stop(0.9));
  CHECK(stopper.best() == 0.9);
  CHECK(stopper.should_stop(0.95));
  CHECK_FALSE(stopper.improved());
  CHECK(stopper.stopped());
  CHECK(stopper.bad_evaluations() == 1);
  CHECK(stopper.best() == 0.9);
}

TEST_CASE("EarlyStopping: min_delta and the strict best, as transformers' Trainer keeps them") {
  // transformers: improvement = better than state.best_metric AND |value - best| > threshold;
  // state.best_metric moves on any strict improvement. patience 2, threshold 0.05, min mode:
  //   1.00: first             -> improved, counter 0, best 1.00
  //   0.97: better by 0.03    -> not improved, counter 1, best 0.97 (new best all the same)
  //   0.90: better by 0.07    -> improved, counter 0, best 0.90
  //   0.89: better by 0.01    -> counter 1, best 0.89
  //   0.88: better by 0.01    -> counter 2 >= patience: stop
  ftlib::EarlyStopping stopper("eval_loss", ftlib::MetricMode::min, 2, 0.05);
  CHECK_FALSE(stopper.should_stop(1.00));
  CHECK_FALSE(stopper.should_stop(0.97));
  CHECK_FALSE(stopper.improved());
  CHECK(stopper.is_best());
  CHECK(stopper.bad_evaluations() == 1);
  CHECK_FALSE(stopper.should_stop(0.90));
  CHECK(stopper.improved());
  CHECK(stopper.bad_evaluations() == 0);
  CHECK_FALSE(stopper.should_stop(0.89));
  CHECK(stopper.should_stop(0.88));
  CHECK(stopper.best() == 0.88);
  CHECK(stopper.last() == 0.88);
}

TEST_CASE("EarlyStopping: max mode, ties and NaN do not improve") {
  ftlib::EarlyStopping stopper("eval_accuracy", ftlib::MetricMode::max, 2);
  CHECK_FALSE(stopper.should_stop(0.5));
  CHECK_FALSE(stopper.should_stop(0.6));
  CHECK_FALSE(stopper.should_stop(0.6));  // a tie: counter 1
  CHECK_FALSE(stopper.is_best());
  CHECK(stopper.should_stop(std::numeric_limits<double>::quiet_NaN()));  // counter 2
  CHECK(stopper.best() == 0.6);
  stopper.reset();
  CHECK_FALSE(stopper.best().has_value());
  CHECK_FALSE(stopper.should_stop(0.1));
}

TEST_CASE("EarlyStopping: metrics by name, modes by name, bad options") {
  auto stopper = ftlib::EarlyStopping::for_metric("f1_macro", 1);
  CHECK(stopper.mode() == ftlib::MetricMode::max);
  CHECK(ftlib::EarlyStopping::for_metric("eval_loss").mode() == ftlib::MetricMode::min);
  const std::map<std::string, double> first{{"eval_loss", 0.7}, {"eval_f1_macro", 0.4}};
  CHECK_FALSE(stopper.should_stop(first));  // found as eval_f1_macro
  CHECK(stopper.best() == 0.4);
  CHECK(message_of<ftlib::option_error>([&] { stopper.should_stop(std::map<std::string, double>{{"eval_loss", 1.0}}); }) ==
        "early stopping: metric 'f1_macro' is not among the evaluation results (eval_loss)");
  CHECK(ftlib::parse_metric_mode("max") == ftlib::MetricMode::max);
  CHECK(message_of<ftlib::option_error>([] { (void)ftlib::parse_metric_mode("up"); }) ==
        "unknown metric mode 'up'; expected one of: min, max");
  CHECK(message_of<ftlib::option_error>([] { ftlib::EarlyStopping("eval_loss", ftlib::MetricMode::min, 0); }) ==
        "early stopping: patience must be >= 1, got 0");
}

// --------------------------------------------------------------------------------------------
// ProgressBar
// --------------------------------------------------------------------------------------------

TEST_CASE("ProgressBar: plain lines off a terminal, at each 50% step") {
  double now = 100.0;
  ftlib::ProgressBarOptions options;
  options.tty = false;
  options.plain_percent_step = 50;
  options.clock = [&] { return now; };
  std::ostringstream out;
  {
    ftlib::ProgressBar bar(out, 4, "Epoch 1", options);
    CHECK_FALSE(bar.redraws());
    for (int i = 1; i <= 4; ++i) {
      now = 100.0 + 3.0 * i;  // 3 s per step: 0.33 it/s, shown as 3.00s/it
      if (i == 4) bar.set_postfix({{"loss", 0.12341}, {"lr", 5e-5}});
      bar.update();
    }
  }  // closing prints nothing more: the last line already shows 4/4
  // step 2 at 6 s: 50%, 2 left at 3 s each -> ETA 6 s; step 4 at 12 s: 100%, ETA 0
  CHECK(out.str() ==
        "Epoch 1:  50% 2/4 [00:06<00:06, 3.00s/it]\n"
        "Epoch 1: 100% 4/4 [00:12<00:00, 3.00s/it, loss=0.1234, lr=5.000e-05]\n");
}

TEST_CASE("ProgressBar: unknown total prints every plain_interval_s and on close") {
  double now = 0.0;
  ftlib::ProgressBarOptions options;
  options.tty = false;
  options.unit = "batch";
  options.plain_interval_s = 30.0;
  options.clock = [&] { return now; };
  std::ostringstream out;
  ftlib::ProgressBar bar(out, options);
  bar.start(0, "Evaluating");
  for (int i = 1; i <= 7; ++i) {
    now = 10.0 * i;
    bar.update();
  }
  bar.close();
  // a line at 30 s (3 batches) and 60 s (6), then the final one at 70 s; 10 s per batch
  CHECK(out.str() ==
        "Evaluating: 3batch [00:30, 10.00s/batch]\n"
        "Evaluating: 6batch [01:00, 10.00s/batch]\n"
        "Evaluating: 7batch [01:10, 10.00s/batch]\n");
}

TEST_CASE("ProgressBar: redraws in place on a terminal") {
  double now = 0.0;
  ftlib::ProgressBarOptions options;
  options.tty = true;
  options.bar_width = 8;
  options.clock = [&] { return now; };
  std::ostringstream out;
  ftlib::ProgressBar bar(out, 4, "Train", options);
  now = 1.0;
  bar.update();  // 1/4 of 8 cells = 2 full blocks; 1 it/s; 3 left -> ETA 3 s
  now = 1.05;
  bar.update();  // within redraw_interval_s: not drawn
  now = 2.0;
  bar.set_postfix("loss=0.5000");
  bar.update(2);  // the end is always drawn
  bar.close();
  const std::string full = "\u2588";
  CHECK(out.str() ==
        "\rTrain:   0%|        | 0/4 [00:00<?, ?it/s]"
        "\rTrain:  25%|" + full + full + "      | 1/4 [00:01<00:03,  1.00it/s]"
        "\rTrain: 100%|" + full + full + full + full + full + full + full + full + "| 4/4 [00:02<00:00,  2.00it/s, loss=0.5000]"
        "\rTrain: 100%|" + full + full + full + full + full + full + full + full + "| 4/4 [00:02<00:00,  2.00it/s, loss=0.5000]\n");
}

TEST_CASE("ProgressBar: write() prints a message without breaking the bar") {
  double now = 0.0;
  ftlib::ProgressBarOptions options;
  options.bar_width = 4;
  options.clock = [&] { return now; };
  std::ostringstream plain;
  options.tty = false;
  ftlib::ProgressBar plain_bar(plain, 2, "Train", options);
  plain_bar.write("step 1: eval_loss=0.5000");
  CHECK(plain.str() == "step 1: eval_loss=0.5000\n");

  std::ostringstream terminal;
  options.tty = true;
  ftlib::ProgressBar bar(terminal, 2, "T", options);
  const std::string drawn = "\rT:   0%|    | 0/2 [00:00<?, ?it/s]";
  CHECK(terminal.str() == drawn);
  bar.write("hello");
  // wipe the bar's width, print the message, redraw the bar on the next line
  CHECK(terminal.str() == drawn + "\r" + std::string(drawn.size() - 1, ' ') + "\rhello\n" + drawn);
}

TEST_CASE("ProgressBar: interval formatting past an hour and sub-cell blocks") {
  double now = 0.0;
  ftlib::ProgressBarOptions options;
  options.tty = true;
  options.bar_width = 4;
  options.redraw_interval_s = 0.0;
  options.clock = [&] { return now; };
  std::ostringstream out;
  ftlib::ProgressBar bar(out, 16, "", options);
  out.str("");
  now = 3725.0;  // 1 h 2 min 5 s
  // 3/16 of 4 cells = 6 eighths: no full block, a 6/8 block; 3725 s / 3 = 1241.67 s/it;
  // 13 left * 1241.67 s = 16141.7 s = 4 h 29 min 1 s
  bar.update(3);
  CHECK(bar.line() == " 18%|\u258A   | 3/16 [1:02:05<4:29:01, 1241.67s/it]");
}

// --------------------------------------------------------------------------------------------
// JsonlLogger
// --------------------------------------------------------------------------------------------

TEST_CASE("JsonlLogger: one flushed JSON object per line, appended") {
  ftlib::testing::TempDir dir;
  const auto path = dir.path() / "logs" / "train.jsonl";  // the logs/ folder is created
  {
    ftlib::JsonlLogger logger(path);
    logger.log(10, {{"loss", 0.5}, {"learning_rate", 2e-5}}, 0.5);
    // Readable before the logger closes: each line is flushed.
    const auto lines = lines_of(path);
    REQUIRE(lines.size() == 1);
    const auto record = nlohmann::json::parse(lines[0]);
    CHECK(record["step"] == 10);
    CHECK(record["epoch"] == 0.5);
    CHECK(record["loss"] == 0.5);
    CHECK(record["learning_rate"] == 2e-5);
    logger.log(nlohmann::json{{"eval_loss", std::nan("")}, {"step", 20}});
  }
  {
    ftlib::JsonlLogger again(path);  // appends by default
    again.log(30, {{"loss", 0.25}});
  }
  auto lines = lines_of(path);
  REQUIRE(lines.size() == 3);
  CHECK(lines[1] == "{\"eval_loss\":null,\"step\":20}");
  CHECK(lines[2] == "{\"loss\":0.25,\"step\":30}");

  { ftlib::JsonlLogger fresh(path, false); }  // truncates
  CHECK(lines_of(path).empty());

  const auto blocked = dir.path() / "logs" / "train.jsonl" / "x.jsonl";  // parent is a file
  CHECK(message_of<ftlib::io_error>([&] { ftlib::JsonlLogger bad(blocked); })
            .starts_with(path.string() + ": cannot create directory"));
}
