// Tests for include/ftlib/optim/schedules.hpp. transformers is not installed here, so each
// expected factor is worked out by hand from the formulas of transformers' get_scheduler lambdas
// (optimization.py), with exact rational values for the linear pieces.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ftlib/optim/schedules.hpp"
#include "test_support.hpp"

namespace {

using ftlib::testing::message_of;

struct Row {
  std::int64_t step;
  double factor;
};

void check_table(const ftlib::LearningRateSchedule& schedule, const std::vector<Row>& table) {
  for (const auto& row : table) {
    CAPTURE(row.step);
    CHECK(schedule.factor(row.step) == doctest::Approx(row.factor).epsilon(1e-12));
    CHECK(schedule.lr(row.step) == doctest::Approx(schedule.base_lr * row.factor).epsilon(1e-12));
  }
}

}  // namespace

TEST_CASE("schedules: linear with warmup (warmup 2, total 10)") {
  // warmup: step / 2; then (10 - step) / (10 - 2), clamped at 0
  const auto s = ftlib::LearningRateSchedule::linear(1e-3, 2, 10);
  s.validate();
  check_table(s, {{0, 0.0}, {1, 1.0 / 2}, {2, 8.0 / 8}, {3, 7.0 / 8}, {6, 4.0 / 8}, {9, 1.0 / 8}, {10, 0.0}, {12, 0.0}});
  // Exact rationals with power-of-two denominators are exact doubles.
  CHECK(s.factor(3) == 0.875);
  CHECK(s.lr(1) == 1e-3 * 0.5);
}

TEST_CASE("schedules: linear without warmup (total 4)") {
  // (4 - step) / max(1, 4 - 0)
  check_table(ftlib::LearningRateSchedule::linear(5e-5, 0, 4), {{0, 1.0}, {1, 3.0 / 4}, {2, 2.0 / 4}, {3, 1.0 / 4}, {4, 0.0}});
  // total 3: thirds
  check_table(ftlib::LearningRateSchedule::linear(5e-5, 0, 3), {{1, 2.0 / 3}, {2, 1.0 / 3}});
}

TEST_CASE("schedules: cosine with warmup (warmup 2, total 10, num_cycles 0.5)") {
  // progress = (step - 2) / 8; factor = 0.5 * (1 + cos(pi * 0.5 * 2 * progress)) = 0.5 * (1 + cos(pi * progress))
  // step 4: progress 1/4 -> 0.5 * (1 + sqrt(2)/2) = 0.853553390593...
  // step 6: progress 1/2 -> 0.5
  // step 8: progress 3/4 -> 0.5 * (1 - sqrt(2)/2) = 0.146446609406...
  // step 12: progress 5/4 -> cos(5pi/4) = -sqrt(2)/2: 0.146446... (transformers' curve rises again past the end)
  // step 14: progress 3/2 -> cos(3pi/2) = 0 -> 0.5
  const double half_sqrt2 = std::sqrt(2.0) / 2.0;
  check_table(ftlib::LearningRateSchedule::cosine(1e-3, 2, 10),
              {{0, 0.0}, {1, 0.5}, {2, 1.0}, {4, 0.5 * (1 + half_sqrt2)}, {6, 0.5}, {8, 0.5 * (1 - half_sqrt2)},
               {10, 0.0}, {12, 0.5 * (1 - half_sqrt2)}, {14, 0.5}});
  CHECK(ftlib::LearningRateSchedule::cosine(1e-3, 2, 10).factor(10) == doctest::Approx(0.0).epsilon(1e-15));
}

TEST_CASE("schedules: polynomial decay (lr 0.01, lr_end 0.001, power 2, warmup 2, total 10)") {
  // decay = (0.01 - 0.001) * pct^2 + 0.001, factor = decay / 0.01, pct = 1 - (step - 2) / 8
  // step 2: pct 1    -> 0.009 + 0.001 = 0.01        -> 1
  // step 4: pct 3/4  -> 0.009 * 9/16 + 0.001 = 0.0060625 -> 0.60625
  // step 6: pct 1/2  -> 0.009 / 4 + 0.001 = 0.00325  -> 0.325
  // step 10: pct 0   -> 0.001                        -> 0.1
  // step 11: past the end -> lr_end / lr = 0.1
  const auto s = ftlib::LearningRateSchedule::polynomial(0.01, 2, 10, 0.001, 2.0);
  s.validate();
  check_table(s, {{0, 0.0}, {1, 0.5}, {2, 1.0}, {4, 0.60625}, {6, 0.325}, {10, 0.1}, {11, 0.1}});
  CHECK(s.lr(4) == doctest::Approx(0.0060625).epsilon(1e-12));

  // transformers' defaults: lr_end 1e-7, power 1. lr 5e-5, no warmup, total 4, step 2:
  // (5e-5 - 1e-7) * 1/2 + 1e-7 = 2.505e-5 -> factor 0.501
  check_table(ftlib::LearningRateSchedule::polynomial(5e-5, 0, 4), {{0, 1.0}, {2, 0.501}, {4, 0.002}});
}

TEST_CASE("schedules: constant and constant_with_warmup") {
  // "constant" ignores warmup, as transformers' get_constant_schedule does.
  auto constant = ftlib::LearningRateSchedule::constant(2e-5);
  constant.num_warmup_steps = 10;
  check_table(constant, {{0, 1.0}, {5, 1.0}, {1000, 1.0}});
  check_table(ftlib::LearningRateSchedule::constant_with_warmup(2e-5, 4),
              {{0, 0.0}, {1, 0.25}, {3, 0.75}, {4, 1.0}, {100, 1.0}});
}

TEST_CASE("schedules: names, warmup ratio and validation") {
  CHECK(ftlib::parse_scheduler_type("linear") == ftlib::SchedulerType::linear);
  CHECK(ftlib::parse_scheduler_type("constant_with_warmup") == ftlib::SchedulerType::constant_with_warmup);
  for (const auto type : ftlib::all_scheduler_types) CHECK(ftlib::parse_scheduler_type(ftlib::to_string(type)) == type);
  CHECK(message_of<ftlib::option_error>([] { (void)ftlib::parse_scheduler_type("Linear"); }) ==
        "lr_scheduler_type: unknown learning-rate scheduler 'Linear'; expected one of: linear, cosine, polynomial, constant, "
        "constant_with_warmup");
  CHECK(message_of<ftlib::option_error>([] { (void)ftlib::parse_scheduler_type("inverse_sqrt"); }) ==
        "lr_scheduler_type: unknown learning-rate scheduler 'inverse_sqrt'; expected one of: linear, cosine, polynomial, constant, "
        "constant_with_warmup (transformers has 'inverse_sqrt', ftlib does not implement it)");

  // ceil(total * ratio): 95 * 0.1 = 9.5 -> 10; 100 * 0.06 = 6.0 -> 6; 100 * 0.07 is 7.000000000000001
  // in doubles, so Python's math.ceil(100 * 0.07) is 8, and so is ours
  CHECK(ftlib::warmup_steps_from_ratio(95, 0.1) == 10);
  CHECK(ftlib::warmup_steps_from_ratio(100, 0.06) == 6);
  CHECK(ftlib::warmup_steps_from_ratio(100, 0.07) == 8);
  CHECK(ftlib::warmup_steps_from_ratio(100, 0.0) == 0);
  CHECK_THROWS_AS((void)ftlib::warmup_steps_from_ratio(100, 1.5), ftlib::option_error);

  CHECK(message_of<ftlib::option_error>([] { ftlib::LearningRateSchedule::linear(1e-3, 0, 0).validate(); }) ==
        "scheduler 'linear': num_training_steps must be > 0, got 0");
  CHECK(message_of<ftlib::option_error>([] { ftlib::LearningRateSchedule::cosine(1e-3, -1, 5).validate(); }) ==
        "scheduler 'cosine': num_warmup_steps must be >= 0, got -1");
  CHECK(message_of<ftlib::option_error>([] {
          ftlib::LearningRateSchedule::polynomial(1e-7, 0, 10).validate();
        }) == "scheduler 'polynomial': lr_end (1e-07) must be smaller than the initial lr (1e-07)");
  CHECK_NOTHROW(ftlib::LearningRateSchedule::constant(1e-3).validate());
}
