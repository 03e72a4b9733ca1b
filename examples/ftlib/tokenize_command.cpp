// `ftlib tokenize`: JSON Lines in ({"text": ..., optional "text_pair": ...}), JSON Lines out
// ({"ids", "tokens", "type_ids", "attention_mask"}, plus the input's "id" when it has one),
// what HF's tokenizer(text, text_pair, truncation=..., max_length=..., padding=...) returns.

#include <cstddef>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "output_paths.hpp"
#include "ftlib/data/jsonl.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/tokenizers/auto_tokenizer.hpp"
#include "ftlib/tokenizers/post_processing.hpp"

namespace ftlib::cli {
namespace {

struct TokenizeArgs {
  std::string input = "-";
  std::string tokenizer;
  std::optional<std::size_t> max_length;
  std::string truncation;  // empty: longest_first when --max-length is given
  std::string padding = "none";
  bool no_special_tokens = false;
  std::string output = "-";
  std::size_t threads = 0;
  std::size_t batch_size = 0;
};

struct Row {
  std::string text;
  std::optional<std::string> text_pair;
  nlohmann::json id;  // null when the input has none
  std::size_t line = 0;
};

Row parse_row(const JsonlRecord& record, const std::string& input) {
  const auto field = [&](const char* key) -> std::optional<std::string> {
    const auto it = record.value.find(key);
    if (it == record.value.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) {
      throw parse_error(SourceLocation{input, record.line, {}},
                        std::string("\"") + key + "\" must be a string, got " + it->type_name());
    }
    return it->get<std::string>();
  };
  Row row;
  auto text = field("text");
  if (!text) throw parse_error(SourceLocation{input, record.line, {}}, "missing string field \"text\"");
  row.text = std::move(*text);
  row.text_pair = field("text_pair");
  if (const auto it = record.value.find("id"); it != record.value.end()) row.id = *it;
  row.line = record.line;
  return row;
}

EncodeOptions make_options(const TokenizeArgs& args, const AutoTokenizer& tokenizer) {
  EncodeOptions options;
  options.add_special_tokens = !args.no_special_tokens;
  static const std::map<std::string, Truncation> truncations = {{"longest_first", Truncation::longest_first},
                                                                {"only_first", Truncation::only_first},
                                                                {"only_second", Truncation::only_second},
                                                                {"none", Truncation::none}};
  static const std::map<std::string, Padding> paddings = {
      {"longest", Padding::longest}, {"max_length", Padding::max_length}, {"none", Padding::none}};
  options.truncation = args.truncation.empty() ? Truncation::longest_first : truncations.at(args.truncation);
  options.padding = paddings.at(args.padding);
  options.max_length = args.max_length;
  // Like HF: truncation asked for without a length means the model's limit.
  if (!options.max_length && !args.truncation.empty() && options.truncation != Truncation::none) {
    options.max_length = tokenizer.model_max_length();
    if (!options.max_length) {
      throw option_error(SourceLocation{"--truncation", {}, {}},
                         "needs --max-length (the tokenizer does not say its model_max_length)");
    }
  }
  if (options.padding == Padding::max_length && !options.max_length) {
    throw option_error(SourceLocation{"--padding", {}, {}}, "max_length padding needs --max-length N");
  }
  if (options.max_length && *options.max_length == 0) {
    throw option_error(SourceLocation{"--max-length", {}, {}}, "must be at least 1");
  }
  return options;
}

// Encodes one batch of rows in parallel; errors name the input line they come from.
std::vector<Encoding> encode_rows(const AutoTokenizer& tokenizer, const std::vector<Row>& rows,
                                  const EncodeOptions& options, std::size_t threads, const std::string& input) {
  EncodeOptions row_options = options;
  row_options.padding = Padding::none;
  auto encodings = parallel_encode(rows.size(), threads, [&](std::size_t i) {
    const Row& row = rows[i];
    const SourceLocation where{input, row.line, {}};
    try {
      return row.text_pair ? tokenizer.encode_pair(row.text, *row.text_pair, row_options)
                           : tokenizer.encode(row.text, row_options);
    } catch (const option_error& e) {
      throw option_error(where, e.what());
    } catch (const parse_error& e) {
      throw parse_error(where, e.what());
    }
  });
  pad_batch(encodings, tokenizer.pad_token_id(), tokenizer.special_tokens().pad, options.padding, options.max_length);
  return encodings;
}

void write_rows(std::ostream& out, const std::vector<Row>& rows, const std::vector<Encoding>& encodings) {
  for (std::size_t i = 0; i < rows.size(); ++i) {
    nlohmann::ordered_json j;  // keys in the documented order
    if (!rows[i].id.is_null()) j["id"] = rows[i].id;
    j["ids"] = encodings[i].ids;
    j["tokens"] = encodings[i].tokens;
    j["type_ids"] = encodings[i].type_ids;
    j["attention_mask"] = encodings[i].attention_mask;
    out << j.dump() << '\n';
  }
}

void run_tokenize(const TokenizeArgs& args) {
  const AutoTokenizer tokenizer = AutoTokenizer::from_pretrained(args.tokenizer);
  const EncodeOptions options = make_options(args, tokenizer);

  const std::string input_name = args.input == "-" ? "<stdin>" : args.input;
  std::unique_ptr<JsonlReader> reader =
      args.input == "-" ? std::make_unique<JsonlReader>(std::cin, input_name) : std::make_unique<JsonlReader>(args.input);

  check_output_file("--output", args.output, {args.input, args.tokenizer});
  std::ofstream file;
  if (args.output != "-") {
    file.open(args.output, std::ios::binary | std::ios::trunc);
    if (!file) throw io_error(args.output, "cannot open for writing (--output)");
  }
  std::ostream& out = args.output == "-" ? std::cout : file;

  std::vector<Row> rows;
  JsonlRecord record;
  const auto flush = [&] {
    write_rows(out, rows, encode_rows(tokenizer, rows, options, args.threads, input_name));
    rows.clear();
  };
  while (reader->next(record)) {
    rows.push_back(parse_row(record, input_name));
    if (args.batch_size != 0 && rows.size() == args.batch_size) flush();
  }
  if (!rows.empty()) flush();
  out.flush();
  if (!out) throw io_error(args.output == "-" ? "<stdout>" : args.output, "write failed");
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto args = std::make_shared<TokenizeArgs>();
  auto* cmd = app.add_subcommand(
      "tokenize", "Tokenize JSONL text ({\"text\": ..., \"text_pair\": ...} per line) into ids, tokens, type ids and masks");
  cmd->add_option("input", args->input, "JSONL input file ('-' or absent: standard input)");
  cmd->add_option("--tokenizer", args->tokenizer,
                  "Checkpoint directory, vocab.txt (WordPiece) or spiece.model (SentencePiece)")
      ->required();
  cmd->add_option("--max-length", args->max_length, "Truncate to / pad to this many tokens (special tokens included)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--truncation", args->truncation,
                  "longest_first (default with --max-length), only_first, only_second or none")
      ->check(CLI::IsMember({"longest_first", "only_first", "only_second", "none"}));
  cmd->add_option("--padding", args->padding, "none (default), longest (over each batch) or max_length")
      ->check(CLI::IsMember({"longest", "max_length", "none"}));
  cmd->add_flag("--no-special-tokens", args->no_special_tokens, "Do not add [CLS] / [SEP]");
  cmd->add_option("--output,-o", args->output, "Output JSONL file ('-' or absent: standard output)");
  cmd->add_option("--threads", args->threads, "Worker threads (0: all cores)");
  cmd->add_option("--batch-size", args->batch_size,
                  "Rows encoded (and padded to the longest) together; 0 (default): the whole input");
  cmd->callback([args] { run_tokenize(*args); });
}

}  // namespace ftlib::cli
