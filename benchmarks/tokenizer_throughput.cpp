// Tokenizer throughput on the Amazon review texts (shared/data/amazon_reviews_5class/*.csv, column
// review_body): MB/s of UTF-8 input and tokens/s, on one thread and on all threads, and the time to
// load each tokenizer from its files.
//
//   tokenizer_throughput [--shared DIR] [--seconds S] [--threads N] [--load-repeats K] [--json]
//                        [--ids-dir DIR]
//
//   --threads N       threads of the encode_batch() run (default: all hardware threads)
//   --load-repeats K  loads of each tokenizer timed, the fastest reported (default 5)
//   --json            also print one JSON line per measurement (prefixed "JSON ") for scripts
//   --ids-dir DIR     write the ids of every text, one JSON array a line, to DIR/ftlib.<tokenizer>.jsonl
//
// HuggingFace `tokenizers` cannot run inside this binary: scripts/bench_tokenizers.sh runs this program
// and benchmarks/hf_tokenizers.py (HF tokenizers from PyPI) back to back on the same texts, checks that
// both read the same texts and that the ids agree, and prints the ratios. The shared folder is
// $FTLIB_SHARED_DIR, else the configured FTLIB_SHARED_DIR.

#include <algorithm>
#include <chrono>
#include <cstdint>
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
#include <tuple>
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
  double threads_busy = 0;  // CPU seconds per wall-clock second: how many threads really worked
  double seconds = 0;
  std::size_t passes = 0;
};

struct Options {
  std::filesystem::path shared;
  double seconds = 2.0;
  std::size_t threads = std::max(1u, std::thread::hardware_concurrency());
  std::size_t load_repeats = 5;
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

// FNV-1a 64 over every text's bytes, each followed by 0xFF: benchmarks/hf_tokenizers.py prints the
// same digest, so the script can check that both sides read the same texts.
std::string texts_digest(const std::vector<std::string>& texts) {
  std::uint64_t h = 0xCBF29CE484222325ULL;
  const auto mix = [&](unsigned char b) { h = (h ^ b) * 0x100000001B3ULL; };
  for (const auto& t : texts) {
    for (const char c : t) mix(static_cast<unsigned char>(c));
    mix(0xFF);
  }
  std::ostringstream out;
  out << std::hex << std::setw(16) << std::setfill('0') << h;
  return out.str();
}

// Loads a tokenizer `repeats` times; returns it and the {fastest, first} load in seconds.
template <class Load>
auto timed_load(std::size_t repeats, Load&& load) {
  using clock = std::chrono::steady_clock;
  double best = 0;
  double first = 0;
  auto start = clock::now();
  auto tokenizer = load();
  best = first = std::chrono::duration<double>(clock::now() - start).count();
  for (std::size_t k = 1; k < repeats; ++k) {
    start = clock::now();
    tokenizer = load();
    best = std::min(best, std::chrono::duration<double>(clock::now() - start).count());
  }
  return std::make_tuple(std::move(tokenizer), best, first);
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
          static_cast<double>(bytes * passes) / cpu / 1e6, cpu / elapsed, elapsed, passes};
}

struct Input {
  const std::vector<std::string>& texts;
  std::size_t bytes = 0;
  std::string digest;
};

// One JSON line: the measurement's own fields (`fields`, each starting with a comma) and the input's.
void print_json(const char* tokenizer, const char* mode, std::size_t threads, const std::string& fields,
                const Input& in) {
  std::ostringstream line;
  line << "JSON {\"impl\":\"ftlib\",\"tokenizer\":\"" << tokenizer << "\",\"mode\":\"" << mode
       << "\",\"threads\":" << threads << fields << ",\"texts\":" << in.texts.size() << ",\"bytes\":" << in.bytes
       << ",\"digest\":\"" << in.digest << "\"}\n";
  std::cout << line.str();
}

std::string json_fields(const Measurement& m) {
  std::ostringstream f;
  f << std::setprecision(6) << ",\"mb_s\":" << m.mb_per_s << ",\"tokens_s\":" << m.tokens_per_s
    << ",\"cpu_mb_s\":" << m.cpu_mb_per_s << ",\"threads_busy\":" << m.threads_busy
    << ",\"seconds\":" << m.seconds << ",\"passes\":" << m.passes;
  return f.str();
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
void run(const char* label, const char* name, const Tok& tokenizer, const Input& in, const Options& opt) {
  const ftlib::EncodeOptions options = ftlib::EncodeOptions{}.with_truncation(ftlib::Truncation::none);
  const auto& texts = in.texts;
  if (opt.ids_dir) write_ids(*opt.ids_dir / (std::string("ftlib.") + name + ".jsonl"), tokenizer, texts, options);
  const auto one = measure(in.bytes, opt.seconds, CLOCK_THREAD_CPUTIME_ID, [&] {
    std::size_t tokens = 0;
    for (const auto& t : texts) tokens += tokenizer.encode(t, options).size();
    return tokens;
  });
  const auto all = measure(in.bytes, opt.seconds, CLOCK_PROCESS_CPUTIME_ID, [&] {
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
            << all.cpu_mb_per_s << " MB/s, " << all.threads_busy << " threads busy)\n";
  if (opt.json) {
    print_json(name, "encode", 1, json_fields(one), in);
    print_json(name, "encode_batch", opt.threads, json_fields(all), in);
  }
}

// Prints a load time (fastest of the repeats, and the first) in both forms.
void report_load(const char* label, const char* name, double best, double first, const Input& in,
                 const Options& opt) {
  std::cout << std::fixed << std::setprecision(4) << label << "  load     : " << best << " s (fastest of "
            << opt.load_repeats << "; first " << first << " s)\n";
  if (opt.json) {
    std::ostringstream f;
    f << std::setprecision(6) << ",\"load_s\":" << best << ",\"first_load_s\":" << first;
    print_json(name, "load", 1, f.str(), in);
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
    } else if (flag == "--load-repeats") {
      const auto n = std::stol(value(i, flag));
      if (n < 1) throw ftlib::option_error(ftlib::SourceLocation{flag, {}, {}}, "expected a count >= 1");
      opt.load_repeats = static_cast<std::size_t>(n);
    } else if (flag == "--json") {
      opt.json = true;
    } else if (flag == "--ids-dir") {
      opt.ids_dir = value(i, flag);
    } else {
      throw ftlib::option_error(ftlib::SourceLocation{flag, {}, {}},
                                "unknown flag (expected --shared, --seconds, --threads, --load-repeats, --json or --ids-dir)");
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
    Input in{texts, 0, texts_digest(texts)};
    for (const auto& t : texts) in.bytes += t.size();
    std::cout << "tokenizer throughput: " << texts.size() << " review texts, " << in.bytes << " bytes, digest "
              << in.digest << ", " << std::thread::hardware_concurrency() << " hardware threads\n";
    if (opt.ids_dir) std::filesystem::create_directories(*opt.ids_dir);

    // Loaded the way a user loads them from the folder (AutoTokenizer does the same).
    const char* bert_label = "WordPiece bert-base-uncased   ";
    const auto [bert, bert_best, bert_first] = timed_load(opt.load_repeats, [&] {
      return ftlib::WordPieceTokenizer::from_pretrained(opt.shared / "vocab/bert-base-uncased");
    });
    report_load(bert_label, "bert-base-uncased", bert_best, bert_first, in, opt);
    run(bert_label, "bert-base-uncased", bert, in, opt);
    const char* albert_label = "SentencePiece albert-base-v2  ";
    const auto [albert, albert_best, albert_first] = timed_load(opt.load_repeats, [&] {
      return ftlib::SentencePieceTokenizer::from_pretrained(opt.shared / "vocab/albert-base-v2");
    });
    report_load(albert_label, "albert-base-v2", albert_best, albert_first, in, opt);
    run(albert_label, "albert-base-v2", albert, in, opt);
  } catch (const ftlib::error& e) {
    std::cerr << "tokenizer_throughput: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "tokenizer_throughput: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
