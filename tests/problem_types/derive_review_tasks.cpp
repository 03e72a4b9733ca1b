// The multi-label task the problem-type tests train on, derived from the Amazon review sample
// (review_body,stars; third-party data read from ../shared, never committed):
//
//   labels   the star bucket ("negative" for 1-2 stars, "neutral" for 3, "positive" for 4-5) plus
//            "long" when the review has more than 60 words: one or two labels per row, e.g. "positive;long"
//   negative,neutral,positive,long   the same labels as 0/1 columns (--label-columns)
//
// Regression needs no derived file: stars as numbers (--problem-type regression --label-column stars).
//
//   derive_review_tasks IN.csv OUT.csv [MAX_ROWS]

#include <cstddef>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "ftlib/data/csv.hpp"

namespace {

std::string csv_field(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::size_t words(const std::string& text) {
  std::istringstream in(text);
  std::size_t n = 0;
  for (std::string w; in >> w;) ++n;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: derive_review_tasks IN.csv OUT.csv [MAX_ROWS]\n";
    return 2;
  }
  try {
    const std::size_t max_rows = argc > 3 ? std::stoul(argv[3]) : static_cast<std::size_t>(-1);
    ftlib::CsvReader reader(argv[1]);
    const auto text = reader.column_index("review_body");
    const auto stars = reader.column_index("stars");
    if (!text || !stars) {
      std::cerr << argv[1] << ": expected the columns review_body and stars\n";
      return 1;
    }
    std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
    out << "text,labels,negative,neutral,positive,long\n";
    ftlib::CsvRow row;
    std::size_t rows = 0;
    while (rows < max_rows && reader.next(row)) {
      const int s = std::stoi(row.fields[*stars]);
      const char* bucket = s <= 2 ? "negative" : s == 3 ? "neutral" : "positive";
      const bool is_long = words(row.fields[*text]) > 60;
      out << csv_field(row.fields[*text]) << ',' << bucket << (is_long ? ";long" : "") << ',' << (s <= 2) << ',' << (s == 3) << ','
          << (s >= 4) << ',' << is_long << '\n';
      ++rows;
    }
    if (!out) {
      std::cerr << argv[2] << ": write failed\n";
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << e.what() << '\n';
    return 1;
  }
}
