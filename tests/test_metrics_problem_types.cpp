// Tests for include/ftlib/metrics/multi_label.hpp and include/ftlib/metrics/regression.hpp.
//
// Every expected number is what scikit-learn 1.9.1, SciPy 1.17.1 (NumPy 2.4.6, Python 3.11) printed for
// the same inputs, with this script (run in a scratch venv, not part of the repository):
//
//   import warnings, numpy as np
//   from sklearn.metrics import (accuracy_score, hamming_loss, precision_recall_fscore_support,
//                                classification_report, mean_squared_error, mean_absolute_error, r2_score)
//   from scipy.stats import pearsonr, spearmanr
//   import scipy.special as sp
//   probs = np.array([[0.9, 0.2, 0.6, 0.1], [0.4, 0.7, 0.3, 0.2], [0.8, 0.55, 0.1, 0.05], [0.1, 0.1, 0.2, 0.3],
//                     [0.6, 0.45, 0.7, 0.2], [0.3, 0.8, 0.5, 0.1], [0.2, 0.35, 0.9, 0.15], [0.05, 0.6, 0.4, 0.25]],
//                    dtype=np.float32)
//   targets = np.array([[1, 0, 1, 0], [0, 0.75, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0],
//                       [1, 1, 1, 0], [0.25, 1, 0, 0], [0, 0, 1, 0], [0, 1, 0.5, 0]], dtype=np.float32)
//   def ml(probs, targets, thr, names=None, digits=4):
//       yp = (probs.astype(np.float64) >= thr).astype(int); yt = (targets >= 0.5).astype(int)
//       print(repr(accuracy_score(yt, yp)), repr(hamming_loss(yt, yp)))
//       for avg in ("micro", "macro", "weighted", "samples", None):
//           print(avg, precision_recall_fscore_support(yt, yp, average=avg, zero_division=0))
//       print(repr(classification_report(yt, yp, target_names=names, digits=digits, zero_division=0)))
//   ml(probs, targets, 0.5, ["toys", "books", "music", "garden"], 4)
//   ml(probs, targets, 0.3, None, 2)
//   ml(probs[:3, :2], np.zeros((3, 2), np.float32), 0.5, ["a", "b"], 3)
//   def reg(pred, true):
//       pred = np.asarray(pred, np.float32).astype(np.float64); true = np.asarray(true, np.float32).astype(np.float64)
//       mse = mean_squared_error(true, pred)
//       with warnings.catch_warnings():
//           warnings.simplefilter("ignore")
//           pr = pearsonr(pred, true).statistic if len(pred) >= 2 else float("nan")  # n=1: ValueError
//           print(repr(mse), repr(mean_absolute_error(true, pred)), repr(np.sqrt(mse)), repr(r2_score(true, pred)),
//                 repr(pr), repr(spearmanr(pred, true).statistic))
//   reg([2.5, 0.0, 2.1, 7.8, 3.3, 3.3, 1.0, 4.0], [3.0, -0.5, 2.0, 7.0, 3.0, 3.0, 1.0, 5.0])
//   reg([1, 2, 2, 3, 4, 4, 4, 5], [9, 7, 8, 6, 5, 5, 3, 1])
//   reg([2, 2, 2], [2, 2, 2]); reg([1, 2, 3], [2, 2, 2]); reg([2, 2, 2], [1, 2, 4]); reg([1], [2])
//   z = np.array([0, 1, -1, 2.5, -3.75, 20, -20, 88, -88, 100, -100, 1000, -1000], dtype=np.float32)
//   print([repr(float(v)) for v in sp.expit(z.astype(np.float64)).astype(np.float32)])

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "ftlib/metrics/multi_label.hpp"
#include "ftlib/metrics/regression.hpp"
#include "test_support.hpp"

namespace {

using ftlib::testing::message_of;

// 8 rows x 4 labels. "garden" is never true, and predicted only at threshold 0.3 (row 3). Row 3 has no
// true label. Soft targets: 0.75 (true), 0.25 (false), 0.5 (true). Row 5's "music" has probability
// exactly 0.5 (predicted at threshold 0.5).
const std::vector<float> probabilities{0.9F, 0.2F,  0.6F, 0.1F, 0.4F, 0.7F, 0.3F,  0.2F,  0.8F,  0.55F, 0.1F,
                                       0.05F, 0.1F, 0.1F, 0.2F, 0.3F, 0.6F, 0.45F, 0.7F,  0.2F,  0.3F,  0.8F,
                                       0.5F, 0.1F,  0.2F, 0.35F, 0.9F, 0.15F, 0.05F, 0.6F, 0.4F, 0.25F};
const std::vector<float> targets{1, 0, 1, 0, 0, 0.75F, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                                 1, 1, 1, 0, 0.25F, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0.5F, 0};
const std::vector<std::string> names{"toys", "books", "music", "garden"};

doctest::Approx oracle(double value) { return doctest::Approx(value).epsilon(1e-9); }

constexpr float nan_f = std::numeric_limits<float>::quiet_NaN();
constexpr float inf_f = std::numeric_limits<float>::infinity();

}  // namespace

TEST_CASE("multi-label metrics at threshold 0.5 equal scikit-learn's, and so does the report") {
  const auto m = ftlib::compute_multi_label_metrics(probabilities, targets, 4, names);
  CHECK(m.num_labels == 4);
  CHECK(m.total == 8);
  CHECK(m.threshold == 0.5);
  CHECK(m.label_names == names);
  CHECK(m.subset_accuracy == oracle(0.5));
  CHECK(m.hamming_loss == oracle(0.125));
  CHECK(m.micro_precision == oracle(0.8181818181818182));
  CHECK(m.micro_recall == oracle(0.8181818181818182));
  CHECK(m.micro_f1 == oracle(0.8181818181818182));
  CHECK(m.macro_precision == oracle(0.625));
  CHECK(m.macro_recall == oracle(0.625));
  CHECK(m.macro_f1 == oracle(0.625));
  CHECK(m.weighted_precision == oracle(0.8181818181818182));
  CHECK(m.weighted_recall == oracle(0.8181818181818182));
  CHECK(m.weighted_f1 == oracle(0.8181818181818182));
  CHECK(m.samples_precision == oracle(0.75));
  CHECK(m.samples_recall == oracle(0.7708333333333333));
  CHECK(m.samples_f1 == oracle(0.725));
  REQUIRE(m.per_label.size() == 4);
  const std::vector<double> p{1.0, 0.75, 0.75, 0.0}, r{1.0, 0.75, 0.75, 0.0}, f{1.0, 0.75, 0.75, 0.0};
  const std::vector<std::size_t> support{3, 4, 4, 0};
  for (std::size_t j = 0; j < 4; ++j) {
    CAPTURE(j);
    CHECK(m.per_label[j].precision == oracle(p[j]));
    CHECK(m.per_label[j].recall == oracle(r[j]));
    CHECK(m.per_label[j].f1 == oracle(f[j]));
    CHECK(m.per_label[j].support == support[j]);
  }

  const auto s = m.summary();
  CHECK(s.size() == 11);
  CHECK(s.at("subset_accuracy") == m.subset_accuracy);
  CHECK(s.at("hamming_loss") == m.hamming_loss);
  CHECK(s.at("f1_micro") == m.micro_f1);
  CHECK(s.at("f1_macro") == m.macro_f1);
  CHECK(s.at("f1_weighted") == m.weighted_f1);
  CHECK(s.at("precision_micro") == m.micro_precision);
  CHECK(s.at("recall_micro") == m.micro_recall);
  CHECK(s.at("precision_macro") == m.macro_precision);
  CHECK(s.at("recall_macro") == m.macro_recall);
  CHECK(s.at("precision_weighted") == m.weighted_precision);
  CHECK(s.at("recall_weighted") == m.weighted_recall);

  // classification_report(yt, yp, target_names=names, digits=4, zero_division=0), character for character.
  const std::string sklearn =
      "              precision    recall  f1-score   support\n"
      "\n"
      "        toys     1.0000    1.0000    1.0000         3\n"
      "       books     0.7500    0.7500    0.7500         4\n"
      "       music     0.7500    0.7500    0.7500         4\n"
      "      garden     0.0000    0.0000    0.0000         0\n"
      "\n"
      "   micro avg     0.8182    0.8182    0.8182        11\n"
      "   macro avg     0.6250    0.6250    0.6250        11\n"
      "weighted avg     0.8182    0.8182    0.8182        11\n"
      " samples avg     0.7500    0.7708    0.7250        11\n";
  CHECK(m.report(4) == sklearn);
}

TEST_CASE("multi-label metrics at threshold 0.3 equal scikit-learn's (default names in the report)") {
  const auto m = ftlib::compute_multi_label_metrics(probabilities, targets, 4, {}, 0.3);
  CHECK(m.threshold == 0.3);
  CHECK(m.label_names == std::vector<std::string>{"0", "1", "2", "3"});
  CHECK(m.subset_accuracy == oracle(0.375));
  CHECK(m.hamming_loss == oracle(0.21875));
  CHECK(m.micro_precision == oracle(0.6111111111111112));
  CHECK(m.micro_recall == oracle(1.0));
  CHECK(m.micro_f1 == oracle(0.7586206896551724));
  CHECK(m.macro_precision == oracle(0.4833333333333333));
  CHECK(m.macro_recall == oracle(0.75));
  CHECK(m.macro_f1 == oracle(0.5875));
  CHECK(m.weighted_precision == oracle(0.6484848484848484));
  CHECK(m.weighted_recall == oracle(1.0));
  CHECK(m.weighted_f1 == oracle(0.7863636363636364));
  CHECK(m.samples_precision == oracle(0.5833333333333333));
  CHECK(m.samples_recall == oracle(0.875));
  CHECK(m.samples_f1 == oracle(0.6666666666666666));
  REQUIRE(m.per_label.size() == 4);
  const std::vector<double> p{0.6, 0.6666666666666666, 0.6666666666666666, 0.0}, r{1.0, 1.0, 1.0, 0.0},
      f{0.75, 0.8, 0.8, 0.0};
  const std::vector<std::size_t> support{3, 4, 4, 0};
  for (std::size_t j = 0; j < 4; ++j) {
    CAPTURE(j);
    CHECK(m.per_label[j].precision == oracle(p[j]));
    CHECK(m.per_label[j].recall == oracle(r[j]));
    CHECK(m.per_label[j].f1 == oracle(f[j]));
    CHECK(m.per_label[j].support == support[j]);
  }
  const std::string sklearn =
      "              precision    recall  f1-score   support\n"
      "\n"
      "           0       0.60      1.00      0.75         3\n"
      "           1       0.67      1.00      0.80         4\n"
      "           2       0.67      1.00      0.80         4\n"
      "           3       0.00      0.00      0.00         0\n"
      "\n"
      "   micro avg       0.61      1.00      0.76        11\n"
      "   macro avg       0.48      0.75      0.59        11\n"
      "weighted avg       0.65      1.00      0.79        11\n"
      " samples avg       0.58      0.88      0.67        11\n";
  CHECK(m.report() == sklearn);
}

TEST_CASE("multi-label metrics with no true label anywhere are all 0, as in scikit-learn") {
  // The first 3 rows and 2 labels of the probabilities above; every target 0.
  const std::vector<float> p{0.9F, 0.2F, 0.4F, 0.7F, 0.8F, 0.55F};
  const std::vector<float> t(6, 0.0F);
  const auto m = ftlib::compute_multi_label_metrics(p, t, 2, {"a", "b"});
  CHECK(m.subset_accuracy == 0.0);
  CHECK(m.hamming_loss == oracle(0.6666666666666666));
  for (const double v : {m.micro_precision, m.micro_recall, m.micro_f1, m.macro_precision, m.macro_recall, m.macro_f1,
                         m.weighted_precision, m.weighted_recall, m.weighted_f1, m.samples_precision, m.samples_recall,
                         m.samples_f1}) {
    CHECK(v == 0.0);
  }
  const std::string sklearn =
      "              precision    recall  f1-score   support\n"
      "\n"
      "           a      0.000     0.000     0.000         0\n"
      "           b      0.000     0.000     0.000         0\n"
      "\n"
      "   micro avg      0.000     0.000     0.000         0\n"
      "   macro avg      0.000     0.000     0.000         0\n"
      "weighted avg      0.000     0.000     0.000         0\n"
      " samples avg      0.000     0.000     0.000         0\n";
  CHECK(m.report(3) == sklearn);
}

TEST_CASE("sigmoid equals scipy.special.expit (in double, rounded to float) without overflow") {
  const std::vector<float> z{0, 1, -1, 2.5F, -3.75F, 20, -20, 88, -88, 100, -100, 1000, -1000};
  const std::vector<double> expit{0.5,    0.7310585975646973, 0.2689414322376251, 0.9241418242454529, 0.022977370768785477,
                                  1.0,    2.06115369216775e-09, 1.0,              6.054601485195952e-39, 1.0,
                                  3.783505853677006e-44, 1.0, 0.0};
  const auto s = ftlib::sigmoid(z);
  REQUIRE(s.size() == z.size());
  for (std::size_t i = 0; i < z.size(); ++i) {
    CAPTURE(z[i]);
    CHECK(std::isfinite(s[i]));
    if (expit[i] == 0.0 || expit[i] == 0.5 || expit[i] == 1.0) {
      CHECK(s[i] == static_cast<float>(expit[i]));
    } else {
      CHECK(s[i] == doctest::Approx(expit[i]).epsilon(1e-6).scale(0.0));  // relative: float precision
    }
  }
  CHECK(ftlib::sigmoid(std::vector<float>{}).empty());
}

TEST_CASE("multi-label metrics refuse bad input, saying what is wrong") {
  using ftlib::option_error;
  const std::vector<float> two{0.5F, 0.5F};
  const std::vector<float> truth{1, 0};
  CHECK_THROWS_AS((void)ftlib::compute_multi_label_metrics(two, truth, 0), option_error);
  CHECK(message_of<option_error>([&] { (void)ftlib::compute_multi_label_metrics(two, truth, 0); }) ==
        "multi-label metrics: num_labels must be at least 1");
  CHECK(message_of<option_error>([&] { (void)ftlib::compute_multi_label_metrics(std::vector<float>{0.5F}, truth, 2); }) ==
        "multi-label metrics: 1 probabilities but 2 targets");
  CHECK(message_of<option_error>([] {
          (void)ftlib::compute_multi_label_metrics(std::vector<float>{}, std::vector<float>{}, 2);
        }) == "multi-label metrics: no rows to score");
  CHECK(message_of<option_error>([] {
          (void)ftlib::compute_multi_label_metrics(std::vector<float>{0.5F, 0.5F, 0.5F}, std::vector<float>{1, 0, 1}, 2);
        }) == "multi-label metrics: 3 values do not form rows of 2 labels");
  CHECK(message_of<option_error>([&] { (void)ftlib::compute_multi_label_metrics(two, truth, 2, {"a"}); }) ==
        "multi-label metrics: 1 label names for 2 labels");
  CHECK(message_of<option_error>([&] { (void)ftlib::compute_multi_label_metrics(two, truth, 2, {}, 1.0); }) ==
        "multi-label metrics: the threshold must be in (0, 1), got 1");
  CHECK(message_of<option_error>([&] { (void)ftlib::compute_multi_label_metrics(two, truth, 2, {}, 0.0); }) ==
        "multi-label metrics: the threshold must be in (0, 1), got 0");
  CHECK(message_of<option_error>([&] { (void)ftlib::compute_multi_label_metrics(two, truth, 2, {}, -0.25); }) ==
        "multi-label metrics: the threshold must be in (0, 1), got -0.25");
  CHECK(message_of<option_error>([&] {
          (void)ftlib::compute_multi_label_metrics(two, truth, 2, {}, std::numeric_limits<double>::quiet_NaN());
        }) == "multi-label metrics: the threshold must be in (0, 1), got nan");
  CHECK(message_of<option_error>([&] {
          (void)ftlib::compute_multi_label_metrics(std::vector<float>{0.5F, 0.5F, 0.5F, nan_f}, std::vector<float>{1, 0, 0, 1}, 2);
        }) == "multi-label metrics: the probability of row 1, label 1 is not finite (nan)");
  CHECK(message_of<option_error>([&] {
          (void)ftlib::compute_multi_label_metrics(std::vector<float>{0.5F, 0.5F, 0.5F, 0.5F}, std::vector<float>{1, -inf_f, 0, 1}, 2);
        }) == "multi-label metrics: the target of row 0, label 1 is not finite (-inf)");
}

TEST_CASE("regression metrics equal scikit-learn's and SciPy's (ties on both sides for Spearman)") {
  const std::vector<float> predicted{2.5F, 0.0F, 2.1F, 7.8F, 3.3F, 3.3F, 1.0F, 4.0F};
  const std::vector<float> truth{3.0F, -0.5F, 2.0F, 7.0F, 3.0F, 3.0F, 1.0F, 5.0F};
  const auto m = ftlib::compute_regression_metrics(predicted, truth);
  CHECK(m.total == 8);
  CHECK(m.mse == oracle(0.29125002861023574));
  CHECK(m.mae == oracle(0.4375));
  CHECK(m.rmse == oracle(0.5396758551299434));
  CHECK(m.r2 == oracle(0.9373971391064481));
  CHECK(m.pearson == oracle(0.9696482732649789));
  CHECK(m.spearman == oracle(0.9817613873476319));
  const auto s = m.summary();
  CHECK(s.size() == 6);
  CHECK(s.at("mse") == m.mse);
  CHECK(s.at("mae") == m.mae);
  CHECK(s.at("rmse") == m.rmse);
  CHECK(s.at("r2") == m.r2);
  CHECK(s.at("pearson") == m.pearson);
  CHECK(s.at("spearman") == m.spearman);

  // Negatively correlated, a three-way tie in the predictions and a pair in the targets; R² below 0.
  const auto neg = ftlib::compute_regression_metrics(std::vector<float>{1, 2, 2, 3, 4, 4, 4, 5},
                                                     std::vector<float>{9, 7, 8, 6, 5, 5, 3, 1});
  CHECK(neg.mse == oracle(19.125));
  CHECK(neg.mae == oracle(3.625));
  CHECK(neg.rmse == oracle(4.373213921133975));
  CHECK(neg.r2 == oracle(-2.1875));
  CHECK(neg.pearson == oracle(-0.9453086343832271));
  CHECK(neg.spearman == oracle(-0.9756060828611427));
}

TEST_CASE("regression metrics: constant sides (sklearn's force_finite R², SciPy's NaN correlations), one row") {
  const std::vector<float> constant{2, 2, 2};
  const auto perfect = ftlib::compute_regression_metrics(constant, constant);
  CHECK(perfect.mse == 0.0);
  CHECK(perfect.mae == 0.0);
  CHECK(perfect.rmse == 0.0);
  CHECK(perfect.r2 == 1.0);
  CHECK(std::isnan(perfect.pearson));
  CHECK(std::isnan(perfect.spearman));

  const auto off = ftlib::compute_regression_metrics(std::vector<float>{1, 2, 3}, constant);
  CHECK(off.mse == oracle(0.6666666666666666));
  CHECK(off.mae == oracle(0.6666666666666666));
  CHECK(off.rmse == oracle(0.816496580927726));
  CHECK(off.r2 == 0.0);
  CHECK(std::isnan(off.pearson));
  CHECK(std::isnan(off.spearman));

  // Constant predictions, varying targets: R² is defined, the correlations are not.
  const auto flat = ftlib::compute_regression_metrics(constant, std::vector<float>{1, 2, 4});
  CHECK(flat.mse == oracle(1.6666666666666667));
  CHECK(flat.mae == oracle(1.0));
  CHECK(flat.rmse == oracle(1.2909944487358056));
  CHECK(flat.r2 == oracle(-0.07142857142857162));
  CHECK(std::isnan(flat.pearson));
  CHECK(std::isnan(flat.spearman));

  // One row: sklearn's r2_score warns and returns nan, pearsonr refuses it, spearmanr returns nan.
  const auto one = ftlib::compute_regression_metrics(std::vector<float>{1}, std::vector<float>{2});
  CHECK(one.total == 1);
  CHECK(one.mse == 1.0);
  CHECK(one.mae == 1.0);
  CHECK(one.rmse == 1.0);
  CHECK(std::isnan(one.r2));
  CHECK(std::isnan(one.pearson));
  CHECK(std::isnan(one.spearman));
}

TEST_CASE("regression metrics refuse bad input, naming the first non-finite value's index") {
  using ftlib::option_error;
  CHECK_THROWS_AS((void)ftlib::compute_regression_metrics(std::vector<float>{1}, std::vector<float>{1, 2}), option_error);
  CHECK(message_of<option_error>([] {
          (void)ftlib::compute_regression_metrics(std::vector<float>{1}, std::vector<float>{1, 2});
        }) == "regression metrics: 1 predictions but 2 targets");
  CHECK(message_of<option_error>([] {
          (void)ftlib::compute_regression_metrics(std::vector<float>{}, std::vector<float>{});
        }) == "regression metrics: no rows to score");
  CHECK(message_of<option_error>([] {
          (void)ftlib::compute_regression_metrics(std::vector<float>{1, inf_f, nan_f}, std::vector<float>{1, 2, 3});
        }) == "regression metrics: the prediction at index 1 is not finite (inf)");
  CHECK(message_of<option_error>([] {
          (void)ftlib::compute_regression_metrics(std::vector<float>{1, 2, nan_f}, std::vector<float>{1, 2, nan_f});
        }) == "regression metrics: the prediction at index 2 is not finite (nan)");
  CHECK(message_of<option_error>([] {
          (void)ftlib::compute_regression_metrics(std::vector<float>{1, 2, 3}, std::vector<float>{1, 2, -inf_f});
        }) == "regression metrics: the target at index 2 is not finite (-inf)");
}
