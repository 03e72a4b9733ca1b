// Tokenizer throughput on the Amazon review texts (shared/data/amazon_reviews_5class/*.csv, column
// review_body): MB/s of UTF-8 input and tokens/s, on one thread and on all threads.
//
//   tokenizer_throughput [--shared DIR] [--seconds S]
//
// HuggingFace `tokenizers` cannot run inside this binary, so its numbers, measured on the same texts
// (tokenizer.encode one text at a time; encode_batch for two threads), are printed as the baseline
// the ratios refer to. The shared folder is $FTLIB_SHARED_DIR, else the configured FTLIB_SHARED_DIR.

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "ftlib/data/csv.hpp"
#include "ftlib/error.hpp"
#include "ftlib/tokenizers/wordpiece.hpp"
#if defined(FTLIB_HAS_SENTENCEPIECE) && __has_include("ftlib/tokenizers/sentencepiece.hpp")
#include "ftlib/tokenizers/sentencepiece.hpp"
#define FTLIB_BENCH_SENTENCEPIECE 1
#endif

namespace {

// HF tokenizers 0.22 (Rust) on the same review texts, from the issue: MB/s.
constexpr double hf_bert_mb_s_1thread = 3.4;
constexpr double hf_albert_mb_s_1thread = 2.8;
constexpr double hf_bert_mb_s_2threads = 5.8;

struct Measurement {
  double mb_per_s = 0;
  double tokens_per_s = 0;
  double cpu_mb_per_s = 0;  // bytes per second of this thread's CPU time: robust on a busy machine
};

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::vector<std::string> read_reviews(const std::filesystem::path& dir) {
  std::vector<std::string> texts;
  for (const char* split : {"train.csv", "validation.csv", "test.csv"}) {
    const auto path = dir / split;
    if (!std::filesystem::exists(path)) continue;
    ftlib::CsvReader reader(path);
    const auto column = reader.column_index("review_body");
    if (!column) throw ftlib::parse_error(ftlib::SourceLocation{path.string(), 1, {}}, "no review_body column");
    ftlib::CsvRow row;
    while (reader.next(row)) texts.push_back(row[*column]);
  }
  return texts;
}

// Runs `pass` (one pass over all texts, returning the tokens produced) until `seconds` have passed.
template <class Pass>
Measurement measure(std::size_t bytes, double seconds, Pass&& pass) {
  pass();  // warm-up
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const double cpu_start = thread_cpu_seconds();
  std::size_t passes = 0;
  std::size_t tokens = 0;
  double elapsed = 0;
  do {
    tokens += pass();
    ++passes;
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  } while (elapsed < seconds);
  const double cpu = thread_cpu_seconds() - cpu_start;
  return {static_cast<double>(bytes * passes) / elapsed / 1e6, static_cast<double>(tokens) / elapsed,
          static_cast<double>(bytes * passes) / cpu / 1e6};
}

template <class Tok>
void run(const char* name, const Tok& tokenizer, const std::vector<std::string>& texts, std::size_t bytes,
         double seconds, double hf_1, double hf_all) {
  const ftlib::EncodeOptions options = ftlib::EncodeOptions{}.with_truncation(ftlib::Truncation::none);
  const auto one = measure(bytes, seconds, [&] {
    std::size_t tokens = 0;
    for (const auto& t : texts) tokens += tokenizer.encode(t, options).size();
    return tokens;
  });
  const std::size_t threads = std::max(1u, std::thread::hardware_concurrency());
  const auto all = measure(bytes, seconds, [&] {
    std::size_t tokens = 0;
    for (const auto& e : tokenizer.encode_batch(texts, options, threads)) tokens += e.size();
    return tokens;
  });
  std::cout << std::fixed << std::setprecision(2);
  std::cout << name << "  1 thread : " << one.mb_per_s << " MB/s, " << std::setprecision(0) << one.tokens_per_s
            << " tokens/s   HF tokenizers: " << std::setprecision(2) << hf_1 << " MB/s  -> " << one.mb_per_s / hf_1
            << "x   (per CPU-second of the thread: " << one.cpu_mb_per_s << " MB/s -> " << one.cpu_mb_per_s / hf_1
            << "x)\n";
  std::cout << name << "  " << threads << " threads: " << all.mb_per_s << " MB/s, " << std::setprecision(0)
            << all.tokens_per_s << " tokens/s";
  if (hf_all > 0) {
    std::cout << "   HF tokenizers (2 threads): " << std::setprecision(2) << hf_all << " MB/s  -> "
              << all.mb_per_s / hf_all << "x";
  }
  std::cout << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::filesystem::path shared = FTLIB_SHARED_DIR_DEFAULT;
    if (const char* env = std::getenv("FTLIB_SHARED_DIR"); env != nullptr && *env != '\0') shared = env;
    double seconds = 2.0;
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string flag = argv[i];
      if (flag == "--shared") shared = argv[i + 1];
      else if (flag == "--seconds") seconds = std::stod(argv[i + 1]);
      else throw ftlib::option_error(ftlib::SourceLocation{flag, {}, {}}, "unknown flag (expected --shared or --seconds)");
    }
    const auto texts = read_reviews(shared / "data/amazon_reviews_5class");
    if (texts.empty()) {
      std::cout << "SKIPPED: no review texts under " << (shared / "data/amazon_reviews_5class") << "\n";
      return 0;
    }
    std::size_t bytes = 0;
    for (const auto& t : texts) bytes += t.size();
    std::cout << "tokenizer throughput: " << texts.size() << " review texts, " << bytes << " bytes, "
              << std::thread::hardware_concurrency() << " hardware threads\n";

    const auto bert = ftlib::WordPieceTokenizer::from_vocab_file(shared / "vocab/bert-base-uncased/vocab.txt");
    run("WordPiece bert-base-uncased   ", bert, texts, bytes, seconds, hf_bert_mb_s_1thread, hf_bert_mb_s_2threads);
#ifdef FTLIB_BENCH_SENTENCEPIECE
    const auto albert = ftlib::SentencePieceTokenizer::from_pretrained(shared / "vocab/albert-base-v2");
    run("SentencePiece albert-base-v2  ", albert, texts, bytes, seconds, hf_albert_mb_s_1thread, 0.0);
#else
    std::cout << "SentencePiece albert-base-v2: not built (needs ftlib::sentencepiece and sentencepiece.hpp)\n";
#endif
  } catch (const ftlib::error& e) {
    std::cerr << "tokenizer_throughput: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
