// The doctest main of every test executable. ctest runs each test case as its own process
// (doctest_discover_tests in tests/CMakeLists.txt); a case that skipped (test_support.hpp, skip())
// makes the process exit with 77, which ctest reports as skipped rather than passed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <iostream>

#include "test_support.hpp"

namespace {

struct CaseCounts {
  int run = 0;
  int skipped = 0;
};

CaseCounts& counts() {
  static CaseCounts c;
  return c;
}

// Counts the test cases that ran and those that skipped.
struct SkipListener : doctest::IReporter {
  explicit SkipListener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData&) override { ftlib::testing::skips_in_current_case() = 0; }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {
    ++counts().run;
    if (ftlib::testing::skips_in_current_case() > 0) ++counts().skipped;
  }
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

DOCTEST_REGISTER_LISTENER("ftlib-skips", 1, SkipListener);

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int result = context.run();
  if (context.shouldExit() || result != 0) return result;
  if (counts().skipped > 0) {
    std::cout << counts().skipped << " of " << counts().run << " test cases SKIPPED\n";
    if (counts().skipped == counts().run) return 77;
  }
  return result;
}
