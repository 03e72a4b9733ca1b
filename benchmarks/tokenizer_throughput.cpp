// Tokenizer throughput on the Amazon review texts (shared/data/amazon_reviews_5class/*.csv, column
// review_body): MB/s of UTF-8 input and tokens/s, on one thread and on all threads.
//
//   tokenizer_throughput [--shared DIR] [--seconds S] [--threads N] [--json] [--ids-dir DIR]
//
//   --threads N    threads of the encode_batch() run (default: all hardware threads)
//   --json         also print one JSON line per measurement (prefixed "JSON ") for scripts
//   --ids-dir DIR  write the ids of every text, one JSON array a line, to DIR/ftlib.<tokenizer>.jsonl
//
// HuggingFace `tokenizers` cannot run inside this binary: scripts/bench_tokenizers.sh runs this program
// and benchmarks/hf_tokenizers.mjs (HF tokenizers 0.22 through its Node binding) back to back on the
// same texts, checks that the ids agree and prints the ratios. The shared folder is $FTLIB_SHARED_DIR,
// else the configured FTLIB_SHARED_DIR.

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ftlib/data/csv.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/tokenizers/sentencepiece.hpp"
#include "ftlib/tokenizers/wordpiece.hpp"

namespace {

struct Measurement {
  double mb_per_s = 0;
  double tokens_per_s = 0;
  double cpu_mb_per_s = 0;  // bytes per CPU-second (of the thread, or of the process): robust on a busy machine
  double seconds = 0;
  std::size_t passes = 0;
};

struct Options {
  std::filesystem::path shared;
  double seconds = 2.0;
  std::size_t threads = std::max(1u, std::thread::hardware_concurrency());
  bool json = false;
  std::optional<std::filesystem::path> ids_dir;
};

// CPU seconds of the calling thread (CLOCK_THREAD_CPUTIME_ID) or of all threads (CLOCK_PROCESS_CPUTIME_ID).
double cpu_seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::vector<std::string> read_reviews(const std::filesystem::path& dir) {
  std::vector<std::string> texts;
  for (const char* split : {"train.csv", "validation.csv", "test.csv"}) {
    const auto path = dir / split;
    if (!std::filesystem::exists(path)) continue;
    ftlib::CsvReader reader(path);
    const auto column = reader.column_index("review_body");
    if (!column) {
      throw ftlib::parse_error(ftlib::SourceLocation{path.string(), 1, {}},
                               "no review_body column in the header (expected the column of review texts)");
    }
    ftlib::CsvRow row;
    while (reader.next(row)) texts.push_back(row[*column]);
  }
  return texts;
}

// Runs `pass` (one pass over all texts, returning the tokens produced) until `seconds` have passed;
// `cpu_clock` is the CPU time the MB/s per CPU-second divides by.
template <class Pass>
Measurement measure(std::size_t bytes, double seconds, clockid_t cpu_clock, Pass&& pass) {
  pass();  // warm-up
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const double cpu_start = cpu_seconds(cpu_clock);
  std::size_t passes = 0;
  std::size_t tokens = 0;
  double elapsed = 0;
  do {
    tokens += pass();
    ++passes;
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  } while (elapsed < seconds);
  const double cpu = cpu_seconds(cpu_clock) - cpu_start;
  return {static_cast<double>(bytes * passes) / elapsed / 1e6, static_cast<double>(tokens) / elapsed,
          static_cast<double>(bytes * passes) / cpu / 1e6, elapsed, passes};
}

void print_json(const char* tokenizer, const char* mode, std::size_t threads, const Measurement& m,
                std::size_t texts, std::size_t bytes) {
  std::ostringstream line;
  line << std::setprecision(6) << "JSON {\"impl\":\"ftlib\",\"tokenizer\":\"" << tokenizer << "\",\"mode\":\"" << mode
       << "\",\"threads\":" << threads << ",\"mb_s\":" << m.mb_per_s << ",\"tokens_s\":" << m.tokens_per_s
       << ",\"cpu_mb_s\":" << m.cpu_mb_per_s << ",\"seconds\":" << m.seconds << ",\"passes\":" << m.passes
       << ",\"texts\":" << texts << ",\"bytes\":" << bytes << "}\n";
  std::cout << line.str();
}

template <class Tok>
void write_ids(const std::filesystem::path& path, const Tok& tokenizer, const std::vector<std::string>& texts,
               const ftlib::EncodeOptions& options) {
  std::ofstream out(path);
  if (!out) throw ftlib::io_error(path, "cannot open the ids file for writing");
  for (const auto& t : texts) {
    const auto e = tokenizer.encode(t, options);
    out << '[';
    for (std::size_t i = 0; i < e.ids.size(); ++i) out << (i ? "," : "") << e.ids[i];
    out << "]\n";
  }
  if (!out) throw ftlib::io_error(path, "writing the ids file failed");
}

template <class Tok>
void run(const char* label, const char* name, const Tok& tokenizer, const std::vector<std::string>& texts,
         std::size_t bytes, const Options& opt) {
  const ftlib::EncodeOptions options = ftlib::EncodeOptions{}.with_truncation(ftlib::Truncation::none);
  if (opt.ids_dir) write_ids(*opt.ids_dir / (std::string("ftlib.") + name + ".jsonl"), tokenizer, texts, options);
  const auto one = measure(bytes, opt.seconds, CLOCK_THREAD_CPUTIME_ID, [&] {
    std::size_t tokens = 0;
    for (const auto& t : texts) tokens += tokenizer.encode(t, options).size();
    return tokens;
  });
  const auto all = measure(bytes, opt.seconds, CLOCK_PROCESS_CPUTIME_ID, [&] {
    std::size_t tokens = 0;
    for (const auto& e : tokenizer.encode_batch(texts, options, opt.threads)) tokens += e.size();
    return tokens;
  });
  std::cout << std::fixed << std::setprecision(2);
  std::cout << label << "  1 thread : " << one.mb_per_s << " MB/s, " << std::setprecision(0) << one.tokens_per_s
            << " tokens/s   (per CPU-second of the thread: " << std::setprecision(2) << one.cpu_mb_per_s
            << " MB/s)\n";
  std::cout << label << "  " << opt.threads << " threads: " << all.mb_per_s << " MB/s, " << std::setprecision(0)
            << all.tokens_per_s << " tokens/s   (per CPU-second of the process: " << std::setprecision(2)
            << all.cpu_mb_per_s << " MB/s)\n";
  if (opt.json) {
    print_json(name, "encode", 1, one, texts.size(), bytes);
    print_json(name, "encode_batch", opt.threads, all, texts.size(), bytes);
  }
}

Options parse_options(int argc, char** argv) {
  Options opt;
  opt.shared = FTLIB_SHARED_DIR_DEFAULT;
  if (const char* env = std::getenv("FTLIB_SHARED_DIR"); env != nullptr && *env != '\0') opt.shared = env;
  const auto value = [&](int& i, const std::string& flag) -> std::string {
    if (i + 1 >= argc) throw ftlib::option_error(ftlib::SourceLocation{flag, {}, {}}, "expects a value");
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--shared") {
      opt.shared = value(i, flag);
    } else if (flag == "--seconds") {
      opt.seconds = std::stod(value(i, flag));
    } else if (flag == "--threads") {
      const auto n = std::stol(value(i, flag));
      if (n < 1) throw ftlib::option_error(ftlib::SourceLocation{flag, {}, {}}, "expected a thread count >= 1");
      opt.threads = static_cast<std::size_t>(n);
    } else if (flag == "--json") {
      opt.json = true;
    } else if (flag == "--ids-dir") {
      opt.ids_dir = value(i, flag);
    } else {
      throw ftlib::option_error(ftlib::SourceLocation{flag, {}, {}},
                                "unknown flag (expected --shared, --seconds, --threads, --json or --ids-dir)");
    }
  }
  return opt;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options opt = parse_options(argc, argv);
    const auto texts = read_reviews(opt.shared / "data/amazon_reviews_5class");
    if (texts.empty()) {
      std::cout << "SKIPPED: no review texts under " << (opt.shared / "data/amazon_reviews_5class") << "\n";
      return 0;
    }
    std::size_t bytes = 0;
    for (const auto& t : texts) bytes += t.size();
    std::cout << "tokenizer throughput: " << texts.size() << " review texts, " << bytes << " bytes, "
              << std::thread::hardware_concurrency() << " hardware threads\n";
    if (opt.ids_dir) std::filesystem::create_directories(*opt.ids_dir);

    const auto bert = ftlib::WordPieceTokenizer::from_vocab_file(opt.shared / "vocab/bert-base-uncased/vocab.txt");
    run("WordPiece bert-base-uncased   ", "bert-base-uncased", bert, texts, bytes, opt);
    const auto albert = ftlib::SentencePieceTokenizer::from_pretrained(opt.shared / "vocab/albert-base-v2");
    run("SentencePiece albert-base-v2  ", "albert-base-v2", albert, texts, bytes, opt);
  } catch (const ftlib::error& e) {
    std::cerr << "tokenizer_throughput: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "tokenizer_throughput: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
