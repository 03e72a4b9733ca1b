// Tests for include/ftlib/metrics/classification.hpp. Expected values are worked out by hand
// from the definitions scikit-learn uses (zero_division = 0), shown as fractions in comments.

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ftlib/metrics/classification.hpp"
#include "test_support.hpp"

namespace {

using ftlib::testing::message_of;

}  // namespace

TEST_CASE("metrics: scikit-learn's classification_report documentation example") {
  // sklearn docs: y_true = [0, 1, 2, 2, 2], y_pred = [0, 0, 2, 2, 1],
  // target_names = ['class 0', 'class 1', 'class 2'].
  // class 0: tp 1, fp 1, fn 0 -> P 1/2, R 1, F1 2/3
  // class 1: tp 0, fp 1, fn 1 -> 0, 0, 0
  // class 2: tp 2, fp 0, fn 1 -> P 1, R 2/3, F1 4/5
  const std::vector<std::int64_t> y_true{0, 1, 2, 2, 2};
  const std::vector<std::int64_t> y_pred{0, 0, 2, 2, 1};
  const auto m = ftlib::compute_classification_metrics(y_pred, y_true, 3, {"class 0", "class 1", "class 2"});
  CHECK(m.accuracy == doctest::Approx(3.0 / 5.0));
  CHECK(m.per_class[0].precision == doctest::Approx(0.5));
  CHECK(m.per_class[0].recall == doctest::Approx(1.0));
  CHECK(m.per_class[0].f1 == doctest::Approx(2.0 / 3.0));
  CHECK(m.per_class[1].f1 == 0.0);
  CHECK(m.per_class[2].recall == doctest::Approx(2.0 / 3.0));
  CHECK(m.per_class[2].f1 == doctest::Approx(0.8));
  CHECK(m.per_class[2].support == 3);
  CHECK(m.macro_precision == doctest::Approx(0.5));              // (1/2 + 0 + 1) / 3
  CHECK(m.macro_recall == doctest::Approx(5.0 / 9.0));           // (1 + 0 + 2/3) / 3
  CHECK(m.macro_f1 == doctest::Approx(22.0 / 45.0));             // (2/3 + 0 + 4/5) / 3
  CHECK(m.weighted_precision == doctest::Approx(0.7));           // (1/2*1 + 0*1 + 1*3) / 5
  CHECK(m.weighted_recall == doctest::Approx(0.6));              // (1*1 + 0*1 + 2/3*3) / 5
  CHECK(m.weighted_f1 == doctest::Approx(46.0 / 75.0));          // (2/3 + 0 + 4/5*3) / 5
  CHECK(m.confusion == std::vector<std::vector<std::size_t>>{{1, 0, 0}, {1, 0, 0}, {0, 1, 2}});

  // The report as printed in scikit-learn's documentation.
  const std::string expected =
      "              precision    recall  f1-score   support\n"
      "\n"
      "     class 0       0.50      1.00      0.67         1\n"
      "     class 1       0.00      0.00      0.00         1\n"
      "     class 2       1.00      0.67      0.80         3\n"
      "\n"
      "    accuracy                           0.60         5\n"
      "   macro avg       0.50      0.56      0.49         5\n"
      "weighted avg       0.70      0.60      0.61         5\n";
  CHECK(m.report() == expected);
}

TEST_CASE("metrics: a class never predicted, and classes without support") {
  // 4 classes. y_true = [0,0,1,1,1,0], y_pred = [0,2,1,1,0,0]
  // class 0: predicted at 0,4,5; true at 0,1,5 -> tp 2, fp 1, fn 1 -> P 2/3, R 2/3, F1 2/3, support 3
  // class 1: predicted at 2,3;   true at 2,3,4 -> tp 2, fp 0, fn 1 -> P 1, R 2/3, F1 4/5, support 3
  // class 2: predicted at 1, never true        -> tp 0, fp 1        -> P 0, R 0 (0/0), F1 0, support 0
  // class 3: neither predicted nor true        -> all 0 (0/0 -> 0), support 0
  const std::vector<std::int64_t> y_true{0, 0, 1, 1, 1, 0};
  const std::vector<std::int64_t> y_pred{0, 2, 1, 1, 0, 0};

  SUBCASE("averaged over the classes present (sklearn without labels=)") {
    const auto m = ftlib::compute_classification_metrics(y_pred, y_true, 4);
    CHECK(m.averaged_classes == std::vector<std::size_t>{0, 1, 2});
    CHECK(m.accuracy == doctest::Approx(4.0 / 6.0));
    CHECK(m.per_class[2].precision == 0.0);
    CHECK(m.per_class[2].recall == 0.0);
    CHECK(m.per_class[2].support == 0);
    CHECK(m.per_class[3].f1 == 0.0);
    CHECK(m.macro_precision == doctest::Approx(5.0 / 9.0));   // (2/3 + 1 + 0) / 3
    CHECK(m.macro_recall == doctest::Approx(4.0 / 9.0));      // (2/3 + 2/3 + 0) / 3
    CHECK(m.macro_f1 == doctest::Approx(22.0 / 45.0));        // (2/3 + 4/5 + 0) / 3
    CHECK(m.weighted_precision == doctest::Approx(5.0 / 6.0));  // (2/3*3 + 1*3) / 6
    CHECK(m.weighted_recall == doctest::Approx(2.0 / 3.0));     // (2/3*3 + 2/3*3) / 6
    CHECK(m.weighted_f1 == doctest::Approx(11.0 / 15.0));       // (2/3*3 + 4/5*3) / 6
    CHECK(m.confusion == std::vector<std::vector<std::size_t>>{{2, 0, 1, 0}, {1, 2, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}});
    const auto summary = m.summary();
    CHECK(summary.at("f1_macro") == doctest::Approx(22.0 / 45.0));
    CHECK(summary.at("accuracy") == doctest::Approx(4.0 / 6.0));
  }
  SUBCASE("averaged over every class (sklearn with labels=range(4))") {
    const auto m = ftlib::compute_classification_metrics(y_pred, y_true, 4, {"neg", "neu", "pos", "mixed"},
                                                         ftlib::AverageOver::all_classes);
    CHECK(m.macro_precision == doctest::Approx(5.0 / 12.0));  // (2/3 + 1 + 0 + 0) / 4
    CHECK(m.macro_recall == doctest::Approx(1.0 / 3.0));      // (2/3 + 2/3 + 0 + 0) / 4
    CHECK(m.macro_f1 == doctest::Approx(11.0 / 30.0));        // (2/3 + 4/5 + 0 + 0) / 4
    CHECK(m.weighted_f1 == doctest::Approx(11.0 / 15.0));     // zero-support classes weigh nothing
    // 2/3 -> 0.6667, 4/5 -> 0.8000, 5/12 -> 0.4167, 11/30 -> 0.3667, 5/6 -> 0.8333, 11/15 -> 0.7333
    const std::string expected =
        "              precision    recall  f1-score   support\n"
        "\n"
        "         neg     0.6667    0.6667    0.6667         3\n"
        "         neu     1.0000    0.6667    0.8000         3\n"
        "         pos     0.0000    0.0000    0.0000         0\n"
        "       mixed     0.0000    0.0000    0.0000         0\n"
        "\n"
        "    accuracy                         0.6667         6\n"
        "   macro avg     0.4167    0.3333    0.3667         6\n"
        "weighted avg     0.8333    0.6667    0.7333         6\n";
    CHECK(m.report(4) == expected);
  }
}

TEST_CASE("metrics: long label names widen the name column (counted in characters)") {
  // Two classes, all right: every score is 1. "très négatif" is 12 characters, "extrêmement positif" 19.
  const std::vector<std::int64_t> y{0, 1, 1};
  const auto m = ftlib::compute_classification_metrics(y, y, 2, {"tr\xC3\xA8s n\xC3\xA9gatif", "extr\xC3\xAAmement positif"});
  const std::string expected =
      "                     precision    recall  f1-score   support\n"
      "\n"
      "       tr\xC3\xA8s n\xC3\xA9gatif       1.00      1.00      1.00         1\n"
      "extr\xC3\xAAmement positif       1.00      1.00      1.00         2\n"
      "\n"
      "           accuracy                           1.00         3\n"
      "          macro avg       1.00      1.00      1.00         3\n"
      "       weighted avg       1.00      1.00      1.00         3\n";
  CHECK(m.report() == expected);
}

TEST_CASE("metrics: argmax of logits rows") {
  const std::vector<float> logits{0.1f, 2.0f, -1.0f, 3.0f, 3.0f, 0.0f};
  CHECK(ftlib::argmax_rows(logits, 3) == std::vector<std::int64_t>{1, 0});  // ties go to the first
  CHECK(message_of<ftlib::tensor_error>([&] { (void)ftlib::argmax_rows(logits, 4); }) ==
        "argmax_rows: 6 logits do not form rows of 4 classes");
}

TEST_CASE("metrics: bad input is reported") {
  const std::vector<std::int64_t> two{0, 1};
  const std::vector<std::int64_t> three{0, 1, 1};
  CHECK(message_of<ftlib::option_error>([&] { (void)ftlib::compute_classification_metrics(two, three, 2); }) ==
        "metrics: 2 predictions but 3 labels");
  CHECK(message_of<ftlib::option_error>([&] {
          (void)ftlib::compute_classification_metrics(std::vector<std::int64_t>{}, std::vector<std::int64_t>{}, 2);
        }) == "metrics: no examples to score");
  CHECK(message_of<ftlib::option_error>([&] {
          (void)ftlib::compute_classification_metrics(std::vector<std::int64_t>{0, 5}, two, 2);
        }) == "metrics: prediction 5 at index 1 is out of range; expected 0..1");
  CHECK(message_of<ftlib::option_error>([&] { (void)ftlib::compute_classification_metrics(two, two, 2, {"a"}); }) ==
        "metrics: 1 label names for 2 classes");
}
