// Every LibTorch-backend Trainer instantiation of the tool, in one translation unit (LibTorch's
// headers dominate build time). Compiled only when the ftlib::libtorch component is built.

#include <memory>
#include <string>
#include <utility>

#include <torch/torch.h>

#include "ftlib/backends/libtorch/libtorch.hpp"
#include "session_impl.hpp"

namespace ftlib::cli {
namespace {

torch::Device parse_device(const std::string& name) {
  try {
    torch::Device device(name);
    if (device.is_cuda() && !torch::cuda::is_available())
      throw option_error(SourceLocation{"--device", {}, {}}, "'" + name + "' was asked for but CUDA is not available (no GPU, or a CPU-only LibTorch)");
    return device;
  } catch (const c10::Error&) {
    throw option_error(SourceLocation{"--device", {}, {}}, "'" + name + "' is not a device; expected cpu, cuda or cuda:N");
  }
}

template <class Model>
std::unique_ptr<Session> make(const ModelSpec& spec, AutoTokenizer tokenizer, TrainingArguments args) {
  const torch::Device device = parse_device(spec.device);
  const libtorch::Precision precision =
      spec.bf16 ? libtorch::Precision::bf16 : spec.fp16 ? libtorch::Precision::fp16 : libtorch::Precision::fp32;
  if (spec.fp16 && !device.is_cuda())
    throw option_error(SourceLocation{"--fp16", {}, {}},
                       "float16 autocast needs a CUDA device, but --device is " + device.str() +
                           "; use --bf16 on the CPU (or --device cuda)");
  // fp16: the model owns a GradScaler (torch.cuda.amp defaults); overflowed steps are skipped by the Trainer.
  // Dropout draws from the model's own stream, seeded by the Trainer (set_seed) or restored on resume.
  libtorch::ModelOptions model_options;
  model_options.device = device;
  model_options.precision = precision;
  model_options.seed = spec.seed;
  std::string report;
  auto model = [&] {
    if (spec.from_scratch) {
      auto config = scratch_config<typename Model::Config>(spec, [](auto& arch, double p) {
        if constexpr (requires { arch.seq_classif_dropout; }) {
          arch.dropout = arch.attention_dropout = arch.seq_classif_dropout = arch.qa_dropout = p;
        } else {
          arch.hidden_dropout_prob = arch.attention_probs_dropout_prob = arch.classifier_dropout_prob = p;
        }
      });
      return Model(std::move(config), model_options);
    }
    libtorch::LoadOptions options;
    options.id2label = spec.id2label;
    options.dropout = spec.dropout;
    options.model = model_options;
    Model m = Model::from_pretrained(spec.dir, options);
    const auto& r = m.load_report();
    if (!r.missing_keys.empty()) report += "newly initialised (not in the checkpoint): " + join_names(r.missing_keys) + "\n";
    if (!r.unexpected_keys.empty()) report += "unused weights of the checkpoint: " + join_names(r.unexpected_keys) + "\n";
    return m;
  }();
  auto names = model.config().labels.id2label;
  return std::make_unique<TrainerSession<Model>>(std::move(model), std::move(tokenizer), std::move(args), std::move(names), report);
}

// LibTorch's large CPU blocks through ftlib's caching allocator: no page faults on every step and no
// heap fragmentation (docs/backends.md). Installed once, before the first tensor of the session;
// it lives until the process ends, as every tensor it allocated must not outlive it.
void use_caching_cpu_allocator() {
  static libtorch::CachingCpuAllocator allocator;
  static const bool installed = (allocator.install(), true);
  (void)installed;
}

}  // namespace

std::unique_ptr<Session> make_libtorch_session(const ModelSpec& spec, AutoTokenizer tokenizer, TrainingArguments args) {
  use_caching_cpu_allocator();
  if (spec.threads > 0) at::set_num_threads(spec.threads);
  if (spec.model_type == "distilbert") return make<libtorch::DistilBertForSequenceClassification>(spec, std::move(tokenizer), std::move(args));
  if (spec.model_type == "albert") return make<libtorch::AlbertForSequenceClassification>(spec, std::move(tokenizer), std::move(args));
  throw option_error("model_type '" + spec.model_type + "' is not supported (expected distilbert or albert)");
}

}  // namespace ftlib::cli
