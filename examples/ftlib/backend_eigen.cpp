// Every Eigen-backend Trainer instantiation of the tool, in one translation unit.

#include <memory>
#include <string>
#include <utility>

#include "ftlib/backends/eigen/albert.hpp"
#include "ftlib/backends/eigen/distilbert.hpp"
#include "session_impl.hpp"

namespace ftlib::cli {
namespace {

template <class Model, class Arch>
std::unique_ptr<Session> make(const ModelSpec& spec, AutoTokenizer tokenizer, TrainingArguments args,
                              void (*set_dropout)(Arch&, double)) {
  if (spec.device != "cpu") throw option_error(SourceLocation{"--device", {}, {}}, "the eigen backend runs on the CPU only; got '" + spec.device + "' (use --backend libtorch for CUDA)");
  if (spec.bf16 || spec.fp16) throw option_error(SourceLocation{spec.bf16 ? "--bf16" : "--fp16", {}, {}}, "the eigen backend computes in float32 only (use --backend libtorch for mixed precision)");
  std::string report;
  auto model = [&] {
    if (spec.from_scratch) return Model(scratch_config<typename Model::Config>(spec, set_dropout), spec.seed);
    eigen::PretrainedOptions options;
    options.id2label = spec.id2label;
    options.dropout = spec.dropout;
    options.seed = spec.seed;
    Model m = Model::from_pretrained(spec.dir, options);
    const auto& r = m.load_report();
    if (!r.missing_keys.empty()) report += "newly initialised (not in the checkpoint): " + join_names(r.missing_keys) + "\n";
    if (!r.unexpected_keys.empty()) report += "unused weights of the checkpoint: " + join_names(r.unexpected_keys) + "\n";
    return m;
  }();
  auto names = model.config().labels.id2label;
  return std::make_unique<TrainerSession<Model>>(std::move(model), std::move(tokenizer), std::move(args), std::move(names), report);
}

void distilbert_dropout(hf::DistilBertConfig& a, double p) { a.dropout = a.attention_dropout = a.seq_classif_dropout = p; }
void albert_dropout(hf::AlbertConfig& a, double p) {
  a.hidden_dropout_prob = a.attention_probs_dropout_prob = a.classifier_dropout_prob = p;
}

}  // namespace

std::unique_ptr<Session> make_eigen_session(const ModelSpec& spec, AutoTokenizer tokenizer, TrainingArguments args) {
  if (spec.threads > 0) eigen::set_num_threads(spec.threads);
  if (spec.model_type == "distilbert")
    return make<eigen::DistilBertForSequenceClassification>(spec, std::move(tokenizer), std::move(args), &distilbert_dropout);
  if (spec.model_type == "albert")
    return make<eigen::AlbertForSequenceClassification>(spec, std::move(tokenizer), std::move(args), &albert_dropout);
  throw option_error("model_type '" + spec.model_type + "' is not supported (expected distilbert or albert)");
}

}  // namespace ftlib::cli
