#pragma once
// Regression metrics with scikit-learn's and SciPy's semantics: mean squared and absolute error,
// RMSE, R² (sklearn's r2_score with force_finite), Pearson's r (scipy.stats.pearsonr) and Spearman's
// rho (scipy.stats.spearmanr: Pearson's r of the ranks, ties at their average rank). The inputs are
// float; every sum runs in double.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <map>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "ftlib/core/error.hpp"

namespace ftlib {

/// @brief Everything compute_regression_metrics measures.
struct RegressionMetrics {
  std::size_t total = 0;  ///< number of rows
  double mse = 0.0;       ///< mean of (prediction - target)^2 (sklearn mean_squared_error)
  double mae = 0.0;       ///< mean of |prediction - target| (sklearn mean_absolute_error)
  double rmse = 0.0;      ///< sqrt(mse)
  /// 1 - SS_res / SS_tot (sklearn r2_score, force_finite=True): when every target is the same, 1 for a
  /// perfect prediction and 0 otherwise; NaN for a single row (sklearn warns and returns nan).
  double r2 = 0.0;
  /// Pearson's r (scipy.stats.pearsonr); NaN when the predictions or the targets are all the same, or
  /// there are fewer than 2 rows (SciPy returns nan, or refuses one row).
  double pearson = 0.0;
  /// Spearman's rho: Pearson's r of the ranks, tied values at their average rank (scipy.stats.spearmanr);
  /// NaN in the same cases as pearson.
  double spearman = 0.0;

  /// @brief Flat name -> value pairs for logs: mse, mae, rmse, r2, pearson, spearman.
  [[nodiscard]] std::map<std::string, double> summary() const {
    return {{"mse", mse}, {"mae", mae}, {"rmse", rmse}, {"r2", r2}, {"pearson", pearson}, {"spearman", spearman}};
  }
};

namespace metrics::detail {

inline bool all_equal(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [&](double x) { return x == v.front(); });
}

// Pearson's r of x and y: NaN when there are fewer than two values or either side is constant
// (tested exactly, as SciPy does, not through a variance that rounding can leave slightly off 0).
inline double pearson_r(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t n = x.size();
  if (n < 2 || all_equal(x) || all_equal(y)) return std::numeric_limits<double>::quiet_NaN();
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(n);
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(n);
  double sxy = 0.0, sxx = 0.0, syy = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return std::clamp(sxy / (std::sqrt(sxx) * std::sqrt(syy)), -1.0, 1.0);
}

// 1-based ranks, tied values at their average rank (scipy.stats.rankdata, method="average").
inline std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> ranks(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double rank = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;  // mean of i+1 .. j+1
    for (std::size_t k = i; k <= j; ++k) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

}  // namespace metrics::detail

/// @brief Scores predictions against targets, one value per row, with sklearn's and SciPy's semantics
///        (see RegressionMetrics for the NaN cases of r2, pearson and spearman).
/// @throws option_error for mismatched sizes, no rows, or a non-finite prediction or target (naming the
///         index of the first one).
[[nodiscard]] inline RegressionMetrics compute_regression_metrics(std::span<const float> predictions,
                                                                  std::span<const float> targets) {
  if (predictions.size() != targets.size()) {
    throw option_error("regression metrics: " + std::to_string(predictions.size()) + " predictions but " +
                       std::to_string(targets.size()) + " targets");
  }
  if (targets.empty()) throw option_error("regression metrics: no rows to score");
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const bool bad_prediction = !std::isfinite(predictions[i]);
    if (bad_prediction || !std::isfinite(targets[i])) {
      char value[64];
      std::snprintf(value, sizeof value, "%g", static_cast<double>(bad_prediction ? predictions[i] : targets[i]));
      throw option_error("regression metrics: the " + std::string(bad_prediction ? "prediction" : "target") + " at index " +
                         std::to_string(i) + " is not finite (" + value + ")");
    }
  }
  const std::vector<double> p(predictions.begin(), predictions.end());
  const std::vector<double> t(targets.begin(), targets.end());
  RegressionMetrics m;
  m.total = t.size();
  const auto n = static_cast<double>(t.size());
  const double mean_t = std::accumulate(t.begin(), t.end(), 0.0) / n;
  double ss_res = 0.0, ss_tot = 0.0, abs_sum = 0.0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const double d = p[i] - t[i];
    ss_res += d * d;
    abs_sum += std::abs(d);
    ss_tot += (t[i] - mean_t) * (t[i] - mean_t);
  }
  m.mse = ss_res / n;
  m.mae = abs_sum / n;
  m.rmse = std::sqrt(m.mse);
  if (t.size() < 2) {
    m.r2 = std::numeric_limits<double>::quiet_NaN();
  } else if (metrics::detail::all_equal(t)) {
    m.r2 = ss_res == 0.0 ? 1.0 : 0.0;  // force_finite
  } else {
    m.r2 = 1.0 - ss_res / ss_tot;
  }
  m.pearson = metrics::detail::pearson_r(p, t);
  m.spearman = metrics::detail::pearson_r(metrics::detail::average_ranks(p), metrics::detail::average_ranks(t));
  return m;
}

}  // namespace ftlib
