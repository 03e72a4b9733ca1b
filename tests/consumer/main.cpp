// Compiles against the installed headers and prints one line, so the test sees it ran.
#include <iostream>

#include <ftlib/core/error.hpp>
#include <ftlib/optim/adamw.hpp>

int main() {
  const ftlib::error e(ftlib::SourceLocation{"reviews.csv", 3, 7}, "unterminated quote");
  std::cout << "consumer ok: " << e.what() << '\n';
  return 0;
}
