// Training-speed benchmark for both backends: one training step (forward + backward + AdamW) at
// distilbert-base-uncased and albert-base-v2 sizes with random weights, the machine's GEMM rate,
// one epoch over the Amazon reviews with dynamic vs fixed padding, and an evaluation pass over the test set. One configuration per process
// (so that the peak RSS is that configuration's own); each mode prints one JSON line.
//
//   train_step step  --backend libtorch|eigen --model distilbert|albert --batch B --seq T
//                    [--bf16 | --fp16] [--device cpu|cuda|cuda:N] [--threads 2] [--warmup 2] [--iters 5]
//                    [--malloc default|retain] [--cpu-allocator default|caching] [--clock wall|cpu]
//                    [--profile TRACE.json] [--execution padded|unpadded] [--full-rows]
//                    [--attention automatic|explicit_softmax|sdpa]
//   train_step gemm  [--n 2048] [--threads 2] [--iters 10] [--clock wall|cpu] [--bf16-gemm auto|on|off]
//   train_step epoch --backend libtorch|eigen [--model distilbert|albert] [--padding dynamic|fixed]
//                    [--group-by-length] [--execution unpadded|padded] [--max-length 512] [--batch 8]
//                    [--batches-out FILE] [--sample-batches K] [--bf16] [--threads 2] [--shared DIR] [--malloc default|retain]
//                    [--cpu-allocator default|caching]
//                    [--clock wall|cpu]
//   train_step evaluate --backend libtorch|eigen [--model distilbert|albert] [--execution unpadded|padded]
//                    [--order by-length|input] [--batch 8] [--repeats 3] [--bf16] [--threads 2] [--shared DIR]
//
// scripts/bench.sh runs these next to ../shared/reference/bench_reference.py (the PyTorch-from-Python
// baseline, same settings, same LibTorch) and prints the ratios. The step, the batches and the
// reported fields mirror bench_reference.py: lr 1e-5 with a linear schedule over 1000 steps,
// weight decay 0.01 on every parameter, row 0 of a batch full length and the other rows of random
// length in [T/4, T], tokens/s = batch x padded length / median seconds per step. The step runs padded
// unless --execution unpadded (HF computes every position; like for like); --full-rows makes every row
// T long (the fully packed batch, whose rate bounds an unpadded epoch).
// On CUDA (libtorch only; scripts/gpu_check.sh) every step ends with a device synchronisation, and
// --fp16 runs float16 autocast with the model's own GradScaler (dynamic loss scaling).

#include <malloc.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/core/batch.hpp"
#include "ftlib/data/dataset.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/arch/model_config.hpp"
#include "ftlib/optim/adamw.hpp"
#include "ftlib/optim/schedules.hpp"
#include "ftlib/tokenizers/sentencepiece.hpp"
#include "ftlib/tokenizers/wordpiece.hpp"
#include "ftlib/training/data_loader.hpp"
#include "ftlib/training/evaluator.hpp"
#include "ftlib/training/strategy.hpp"

#if defined(FTLIB_HAS_LIBTORCH)
#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include "ftlib/backends/libtorch/libtorch.hpp"
#endif
#if defined(FTLIB_HAS_EIGEN)
#include "ftlib/backends/eigen/albert.hpp"
#include "ftlib/backends/eigen/distilbert.hpp"
#include "ftlib/backends/eigen/parameters.hpp"
#include "ftlib/backends/eigen/tensor.hpp"
#endif

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr double base_lr = 1e-5;
constexpr std::int64_t schedule_steps = 1000;
constexpr std::int64_t num_labels = 5;

// ---------------------------------------------------------------------------------------------
// command line

class Args {
 public:
  Args(int argc, char** argv) {
    if (argc < 2) throw ftlib::option_error("usage: train_step step|gemm|epoch|evaluate [--flag value ...] (see the file header)");
    mode_ = argv[1];
    for (int i = 2; i < argc; ++i) {
      std::string key = argv[i];
      if (key.rfind("--", 0) != 0) throw ftlib::option_error(ftlib::SourceLocation{key, {}, {}}, "expected a --flag");
      key = key.substr(2);
      if (key == "bf16" || key == "fp16" || key == "group-by-length" || key == "full-rows") {  // switches, no value
        values_[key] = "1";
      } else {
        if (i + 1 >= argc) throw ftlib::option_error(ftlib::SourceLocation{"--" + key, {}, {}}, "needs a value");
        values_[key] = argv[++i];
      }
    }
  }
  [[nodiscard]] const std::string& mode() const { return mode_; }
  [[nodiscard]] std::string str(const std::string& key, const std::string& fallback) const {
    used_.push_back(key);
    const auto it = values_.find(key);
    return it == values_.end() ? fallback : it->second;
  }
  [[nodiscard]] std::int64_t integer(const std::string& key, std::int64_t fallback) const {
    const std::string v = str(key, std::to_string(fallback));
    try {
      std::size_t used = 0;
      const std::int64_t n = std::stoll(v, &used);
      if (used != v.size()) throw std::invalid_argument(v);
      return n;
    } catch (const std::exception&) {
      throw ftlib::option_error(ftlib::SourceLocation{"--" + key, {}, {}}, "expected an integer, got '" + v + "'");
    }
  }
  [[nodiscard]] bool flag(const std::string& key) const { return str(key, "") == "1"; }
  /// Every flag given must have been read by the mode.
  void check_all_used() const {
    for (const auto& [key, value] : values_) {
      if (std::find(used_.begin(), used_.end(), key) == used_.end())
        throw ftlib::option_error(ftlib::SourceLocation{"--" + key, {}, {}}, "is not a flag of mode '" + mode_ + "'");
    }
  }

 private:
  std::string mode_;
  std::map<std::string, std::string> values_;
  mutable std::vector<std::string> used_;
};

// ---------------------------------------------------------------------------------------------
// measurement helpers

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

/// What a step's time is measured in: wall-clock seconds (the default), or CPU seconds of the whole
/// process (all threads), which a busy machine inflates far less; use it with --threads 1.
struct StepClock {
  bool cpu = false;
  [[nodiscard]] double now() const {
    if (!cpu) return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
  static StepClock parse(const std::string& name) {
    if (name != "wall" && name != "cpu")
      throw ftlib::option_error(ftlib::SourceLocation{"--clock", {}, {}}, "expected wall or cpu, got '" + name + "'");
    return StepClock{name == "cpu"};
  }
};

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Peak resident set of this process (getrusage; Linux reports KiB).
double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

/// Current resident set (VmRSS), MiB; 0 where /proc is absent.
double current_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0.0;
}

std::string one_line(const json& j) { return j.dump(); }

// ---------------------------------------------------------------------------------------------
// model sizes and FLOPs

ftlib::arch::DistilBertModelConfig distilbert_base() {
  ftlib::arch::DistilBertModelConfig c;  // the defaults are distilbert-base-uncased's
  c.arch.vocab_size = 30522;
  c.arch.dim = 768;
  c.arch.n_layers = 6;
  c.arch.n_heads = 12;
  c.arch.hidden_dim = 3072;
  c.labels = ftlib::arch::ClassificationLabels::defaults(num_labels);
  return c;
}

ftlib::arch::AlbertModelConfig albert_base() {
  ftlib::arch::AlbertModelConfig c;
  c.arch.vocab_size = 30000;
  c.arch.embedding_size = 128;
  c.arch.hidden_size = 768;
  c.arch.num_hidden_layers = 12;
  c.arch.num_hidden_groups = 1;
  c.arch.inner_group_num = 1;
  c.arch.num_attention_heads = 12;
  c.arch.intermediate_size = 3072;
  c.arch.hidden_act = "gelu_new";
  c.arch.hidden_dropout_prob = 0.0;
  c.arch.attention_probs_dropout_prob = 0.0;
  c.arch.classifier_dropout_prob = 0.1;
  c.labels = ftlib::arch::ClassificationLabels::defaults(num_labels);
  return c;
}

/// Floating-point operations of one training step, counting multiply-adds as 2:
///   forward  F = 2 * N * P_tok + L * 4 * B * T^2 * H + 2 * B * P_head
///   step     = 3 F    (backward = 2 F: input and weight gradient of every matmul)
/// N = B*T token rows, P_tok = weights of the matmuls applied to every token (per layer application:
/// q,k,v,o = 4 H^2 and the FFN 2 H F; ALBERT adds its E x H embedding projection once), the attention
/// term is Q K^T and P V, P_head = pooler/pre_classifier H^2 + classifier H * labels on B rows.
/// Element-wise work (softmax, GELU, LayerNorm, dropout, AdamW) and embedding gathers are not counted.
double step_flops(const std::string& model, std::int64_t batch, std::int64_t seq) {
  const double b = static_cast<double>(batch);
  const double t = static_cast<double>(seq);
  const double n = b * t;
  double h = 0, f = 0, layers = 0, extra_tok = 0;
  if (model == "distilbert") {
    const auto c = distilbert_base().arch;
    h = static_cast<double>(c.dim);
    f = static_cast<double>(c.hidden_dim);
    layers = static_cast<double>(c.n_layers);
  } else {
    const auto c = albert_base().arch;
    h = static_cast<double>(c.hidden_size);
    f = static_cast<double>(c.intermediate_size);
    layers = static_cast<double>(c.num_hidden_layers);
    extra_tok = static_cast<double>(c.embedding_size) * h;
  }
  const double p_tok = layers * (4 * h * h + 2 * h * f) + extra_tok;
  const double p_head = h * h + h * static_cast<double>(num_labels);
  const double forward = 2 * n * p_tok + layers * 4 * b * t * t * h + 2 * b * p_head;
  return 3 * forward;
}

// ---------------------------------------------------------------------------------------------
// batches

/// bench_reference.py's make_batch, with a std::mt19937_64 instead of torch's generator (the values
/// differ, the shape of the work does not): row 0 full, other rows of random length in [T/4, T],
/// ids in [1000, vocab), token types 0 then 1 from the middle of each row (ALBERT only).
/// full_rows: every row of length T (a fully packed batch: padded and unpadded execution do the same work).
ftlib::Batch random_batch(std::int64_t vocab, std::int64_t batch, std::int64_t seq, bool token_types, std::uint64_t seed = 0,
                          bool full_rows = false) {
  std::mt19937_64 rng(seed);
  ftlib::Batch b;
  b.batch_size = batch;
  b.seq_len = seq;
  const auto total = static_cast<std::size_t>(batch * seq);
  b.input_ids.assign(total, 0);
  b.attention_mask.assign(total, 0);
  if (token_types) b.token_type_ids.assign(total, 0);
  std::uniform_int_distribution<std::int64_t> length(std::max<std::int64_t>(2, seq / 4), seq);
  std::uniform_int_distribution<std::int64_t> id(1000, vocab - 1);
  std::uniform_int_distribution<std::int64_t> label(0, num_labels - 1);
  for (std::int64_t r = 0; r < batch; ++r) {
    const std::int64_t drawn = length(rng);
    const std::int64_t n = r == 0 || full_rows ? seq : drawn;
    for (std::int64_t i = 0; i < n; ++i) {
      const auto k = static_cast<std::size_t>(r * seq + i);
      b.input_ids[k] = id(rng);
      b.attention_mask[k] = 1;
      if (token_types && i >= n / 2) b.token_type_ids[k] = 1;
    }
    b.labels.push_back(label(rng));
  }
  return b;
}

/// The optimizer settings of bench_reference.py.
ftlib::AdamWOptions adamw_options() {
  ftlib::AdamWOptions options;
  options.with_lr(base_lr).with_weight_decay(0.01);
  options.decay_bias_and_layer_norm = true;  // bench_reference.py decays every parameter
  return options;
}

// ---------------------------------------------------------------------------------------------
// experiments: prototypes of proposed speed fixes, measured against ftlib as it is

/// --malloc retain: keep freed memory in the process (glibc serves big blocks from fresh mmaps by
/// default, so every step page-faults its activations, gradients and optimizer temporaries in anew).
/// The same as GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=<huge>.
void apply_malloc_policy(const std::string& policy) {
  if (policy == "default") return;
  if (policy != "retain")
    throw ftlib::option_error(ftlib::SourceLocation{"--malloc", {}, {}}, "expected default or retain, got '" + policy + "'");
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
}


/// --cpu-allocator caching: LibTorch's large CPU blocks through ftlib::libtorch::CachingCpuAllocator,
/// as the `ftlib` tool runs (default: LibTorch's own allocator).
void apply_cpu_allocator(const std::string& which) {
  if (which == "default") return;
  if (which != "caching")
    throw ftlib::option_error(ftlib::SourceLocation{"--cpu-allocator", {}, {}}, "expected default or caching, got '" + which + "'");
#if defined(FTLIB_HAS_LIBTORCH)
  static ftlib::libtorch::CachingCpuAllocator allocator;  // outlives every tensor of the process
  allocator.install();
#else
  throw ftlib::option_error(ftlib::SourceLocation{"--cpu-allocator", {}, {}}, "caching needs the LibTorch backend");
#endif
}

// ---------------------------------------------------------------------------------------------
// the step, for any SequenceClassifier + AdamW

struct StepTimes {
  std::vector<double> step, forward_backward, optimizer;
  std::vector<double> losses;
};

template <class Model>
StepTimes time_steps(Model& model, const std::function<ftlib::Batch(std::int64_t)>& batch_for_step,
                     std::int64_t warmup, std::int64_t iters, StepClock clock,
                     const std::function<void()>& wait_for_device = [] {}) {
  ftlib::AdamW<typename Model::Tensor> optimizer(adamw_options());
  const auto schedule = ftlib::LearningRateSchedule::linear(base_lr, 0, schedule_steps);
  model.set_training(true);
  StepTimes out;
  for (std::int64_t s = 0; s < warmup + iters; ++s) {
    const ftlib::Batch batch = batch_for_step(s);
    const double t0 = clock.now();
    optimizer.set_lr(schedule.lr(s));
    model.zero_grad();
    const double loss = model.forward_backward(batch, 1.0);
    const double t_fb = clock.now() - t0;
    auto params = model.parameters();
    optimizer.step(params);
    wait_for_device();  // CUDA runs the optimizer's kernels asynchronously
    const double t_step = clock.now() - t0;
    out.losses.push_back(loss);
    if (s >= warmup) {
      out.step.push_back(t_step);
      out.forward_backward.push_back(t_fb);
      out.optimizer.push_back(t_step - t_fb);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// backends

#if defined(FTLIB_HAS_LIBTORCH)
void set_torch_threads(int threads) {
  if (threads > 0) at::set_num_threads(threads);
}
#endif

/// Runs `fn(model)` on a fresh model of `backend` / `model_name` with random weights, on `device`
/// (libtorch: cpu, cuda, cuda:N) in fp32, bf16 or fp16 (CUDA only, with loss scaling).
template <class Fn>
void with_model(const std::string& backend, const std::string& model_name, bool bf16, Fn&& fn,
                const std::string& device = "cpu", bool fp16 = false, bool unpadded = false,
                ftlib::AttentionBackend attention = ftlib::AttentionBackend::automatic) {
  if (bf16 && fp16) throw ftlib::option_error(ftlib::SourceLocation{"--fp16", {}, {}}, "give --bf16 or --fp16, not both");
  if (model_name != "distilbert" && model_name != "albert")
    throw ftlib::option_error(ftlib::SourceLocation{"--model", {}, {}}, "expected distilbert or albert, got '" + model_name + "'");
  if (backend == "libtorch") {
#if defined(FTLIB_HAS_LIBTORCH)
    const torch::Device torch_device(device);
    if (torch_device.is_cuda() && !torch::cuda::is_available())
      throw ftlib::option_error(ftlib::SourceLocation{"--device", {}, {}}, "'" + device + "': no CUDA device");
    using ftlib::libtorch::Precision;
    ftlib::libtorch::ModelOptions options;
    options.with_precision(fp16 ? Precision::fp16 : bf16 ? Precision::bf16 : Precision::fp32).with_seed(0);
    options.with_device(device).with_unpadded(unpadded).with_attention(attention);
    if (model_name == "distilbert") {
      ftlib::libtorch::DistilBertForSequenceClassification m(distilbert_base(), options);
      fn(m);
    } else {
      ftlib::libtorch::AlbertForSequenceClassification m(albert_base(), options);
      fn(m);
    }
    return;
#else
    throw ftlib::option_error(ftlib::SourceLocation{"--backend", {}, {}}, "libtorch: this build has no LibTorch backend");
#endif
  }
  if (backend == "eigen") {
    if (bf16 || fp16)
      throw ftlib::option_error(ftlib::SourceLocation{bf16 ? "--bf16" : "--fp16", {}, {}}, "the Eigen backend computes in float32 only");
    if (device != "cpu") throw ftlib::option_error(ftlib::SourceLocation{"--device", {}, {}}, "the Eigen backend runs on the CPU only");
#if defined(FTLIB_HAS_EIGEN)
    if (model_name == "distilbert") {
      ftlib::eigen::DistilBertForSequenceClassification m(distilbert_base(), ftlib::eigen::ModelOptions{}.with_seed(0).with_unpadded(unpadded).with_attention(attention));
      fn(m);
    } else {
      ftlib::eigen::AlbertForSequenceClassification m(albert_base(), ftlib::eigen::ModelOptions{}.with_seed(0).with_unpadded(unpadded).with_attention(attention));
      fn(m);
    }
    return;
#else
    throw ftlib::option_error(ftlib::SourceLocation{"--backend", {}, {}}, "eigen: this build has no Eigen backend");
#endif
  }
  throw ftlib::option_error(ftlib::SourceLocation{"--backend", {}, {}}, "expected libtorch or eigen, got '" + backend + "'");
}

void set_threads(const std::string& backend, int threads) {
  if (backend == "libtorch") {
#if defined(FTLIB_HAS_LIBTORCH)
    set_torch_threads(threads);
#endif
  } else if (backend == "eigen") {
#if defined(FTLIB_HAS_EIGEN)
    ftlib::eigen::set_num_threads(threads);
#endif
  }
}

// ---------------------------------------------------------------------------------------------
// modes

/// --execution unpadded|padded: whether the model computes only the real tokens (ModelOptions::unpadded).
bool execution_of(const Args& args, const std::string& fallback) {
  const std::string execution = args.str("execution", fallback);
  if (execution != "unpadded" && execution != "padded")
    throw ftlib::option_error(ftlib::SourceLocation{"--execution", {}, {}}, "expected unpadded or padded, got '" + execution + "'");
  return execution == "unpadded";
}

/// --attention automatic|explicit_softmax|sdpa (ModelOptions::attention).
ftlib::AttentionBackend attention_of(const Args& args) {
  const std::string a = args.str("attention", "automatic");
  if (a == "automatic") return ftlib::AttentionBackend::automatic;
  if (a == "explicit_softmax") return ftlib::AttentionBackend::explicit_softmax;
  if (a == "sdpa") return ftlib::AttentionBackend::sdpa;
  throw ftlib::option_error(ftlib::SourceLocation{"--attention", {}, {}}, "expected automatic, explicit_softmax or sdpa, got '" + a + "'");
}

int run_step(const Args& args) {
  const std::string backend = args.str("backend", "libtorch");
  const std::string model_name = args.str("model", "distilbert");
  const std::int64_t batch = args.integer("batch", 8);
  const std::int64_t seq = args.integer("seq", 128);
  const bool bf16 = args.flag("bf16");
  const bool fp16 = args.flag("fp16");
  const std::string device = args.str("device", "cpu");
  const auto threads = static_cast<int>(args.integer("threads", 2));
  const std::int64_t warmup = args.integer("warmup", 2);
  const std::int64_t iters = args.integer("iters", 5);
  const std::string malloc_policy = args.str("malloc", "default");
  const StepClock clock = StepClock::parse(args.str("clock", "wall"));
  const std::string profile_path = args.str("profile", "");
  const std::string cpu_allocator = args.str("cpu-allocator", "default");
  const bool unpadded = execution_of(args, "padded");
  const bool full_rows = args.flag("full-rows");
  const ftlib::AttentionBackend attention = attention_of(args);
  args.check_all_used();
  apply_malloc_policy(malloc_policy);
  apply_cpu_allocator(cpu_allocator);
  if (batch < 1 || seq < 2 || seq > 512) throw ftlib::option_error("need --batch >= 1 and 2 <= --seq <= 512");
  if (iters < 1 || warmup < 0) throw ftlib::option_error("need --iters >= 1 and --warmup >= 0");
  set_threads(backend, threads);

  const double rss_start = current_rss_mib();
  const std::int64_t vocab = model_name == "distilbert" ? distilbert_base().arch.vocab_size : albert_base().arch.vocab_size;
  const ftlib::Batch b = random_batch(vocab, batch, seq, model_name == "albert", 0, full_rows);
  json out;
  with_model(backend, model_name, bf16, [&](auto& model) {
    const double rss_model = current_rss_mib();
    const auto same_batch = [&](std::int64_t) { return b; };
#if defined(FTLIB_HAS_LIBTORCH)
    // --profile FILE: LibTorch's op-level trace (chrome://tracing JSON) of all steps, for finding where time goes.
    std::optional<torch::autograd::profiler::RecordProfile> profile;
    if (!profile_path.empty()) profile.emplace(profile_path);
#else
    if (!profile_path.empty()) throw ftlib::option_error(ftlib::SourceLocation{"--profile", {}, {}}, "needs the LibTorch backend");
#endif
    std::function<void()> wait_for_device = [] {};
#if defined(FTLIB_HAS_LIBTORCH)
    if (torch::Device(device).is_cuda()) wait_for_device = [] { torch::cuda::synchronize(); };
#endif
    const StepTimes times = time_steps(model, same_batch, warmup, iters, clock, wait_for_device);
    const double med = median(times.step);
    const double flops = step_flops(model_name, batch, seq);
    out = {{"impl", "ftlib " + backend},
           {"model", model_name},
           {"batch", batch},
           {"seq", seq},
           {"execution", unpadded ? "unpadded" : "padded"},
           {"attention", args.str("attention", "automatic")},
           {"full_rows", full_rows},
           {"bf16", bf16},
           {"fp16", fp16},
           {"device", device},
           {"threads", threads},
           {"malloc", malloc_policy},
           {"cpu_allocator", cpu_allocator},
           {"clock", clock.cpu ? "cpu" : "wall"},
           {"sec_per_step_median", med},
           {"sec_per_step_all", times.step},
           {"forward_backward_median", median(times.forward_backward)},
           {"optimizer_median", median(times.optimizer)},
           {"tokens_per_s", static_cast<double>(batch * seq) / med},
           {"real_tokens_per_s", static_cast<double>(b.num_tokens()) / med},
           {"step_gflop", flops * 1e-9},
           {"gflop_per_s", flops * 1e-9 / med},
           {"rss_start_mib", rss_start},
           {"rss_after_model_mib", rss_model},
           {"peak_rss_mib", peak_rss_mib()},
           {"first_losses", std::vector<double>(times.losses.begin(), times.losses.begin() + std::min<std::size_t>(3, times.losses.size()))}};
  }, device, fp16, unpadded, attention);
  std::cout << one_line(out) << std::endl;
  return 0;
}

// Whether the CPU multiplies bf16 natively (AVX512-BF16 or AMX). Without it LibTorch's CPU bf16 mm falls
// back to a scalar reference loop (~1 GFLOP/s): a bf16 GEMM of 2048^3 then takes minutes, so it is skipped.
bool cpu_has_native_bf16() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("flags", 0) == 0) return line.find(" avx512_bf16") != std::string::npos || line.find(" amx_bf16") != std::string::npos;
  }
  return false;
}

int run_gemm(const Args& args) {
  const std::int64_t n = args.integer("n", 2048);
  const std::string bf16 = args.str("bf16-gemm", "auto");  // auto: only where the CPU has native bf16
  const auto threads = static_cast<int>(args.integer("threads", 2));
  const std::int64_t iters = args.integer("iters", 10);
  const std::string which = args.str("backends", "libtorch,eigen");
  const StepClock clock = StepClock::parse(args.str("clock", "wall"));
  args.check_all_used();
  const double flop = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  json out = {{"impl", "gemm"}, {"n", n}, {"threads", threads}, {"clock", clock.cpu ? "cpu" : "wall"}};
  const auto best_rate = [&](const std::function<void()>& fn) {
    fn();  // warm-up (allocations, packing buffers, thread pool)
    std::vector<double> t;
    for (std::int64_t i = 0; i < iters; ++i) {
      const double t0 = clock.now();
      fn();
      t.push_back(clock.now() - t0);
    }
    return std::pair{flop / *std::min_element(t.begin(), t.end()) * 1e-9, flop / median(t) * 1e-9};
  };
#if defined(FTLIB_HAS_LIBTORCH)
  if (which.find("libtorch") != std::string::npos) {
    set_torch_threads(threads);
    const torch::NoGradGuard no_grad;
    const torch::Tensor a2048 = torch::randn({n, n});
    const torch::Tensor b2048 = torch::randn({n, n});
    torch::Tensor c2048 = torch::empty({n, n});
    const torch::Tensor& a = a2048;
    const torch::Tensor& b = b2048;
    const auto [fp32_best, fp32_med] = best_rate([&] { at::mm_out(c2048, a, b); });
    out["torch_sgemm_gflops_best"] = fp32_best;
    out["torch_sgemm_gflops_median"] = fp32_med;
    out["cpu_native_bf16"] = cpu_has_native_bf16();
    if (bf16 == "on" || (bf16 == "auto" && cpu_has_native_bf16())) {
      const torch::Tensor a16 = a.to(torch::kBFloat16);
      const torch::Tensor b16 = b.to(torch::kBFloat16);
      const auto [bf16_best, bf16_med] = best_rate([&] { (void)torch::mm(a16, b16); });
      out["torch_bf16_gemm_gflops_best"] = bf16_best;
      out["torch_bf16_gemm_gflops_median"] = bf16_med;
    }
    // The shapes of a DistilBERT step at 8 x 128 tokens (FFN lin1 forward: [1024, 768] x [768, 3072])
    // through LibTorch's BLAS and through oneDNN's sgemm, which the backend's float32 CPU Linear
    // layers use when the build has oneDNN.
    {
      const std::int64_t m = 1024, k = 768, nn = 3072;
      const torch::Tensor x = torch::randn({m, k});
      const torch::Tensor w = torch::randn({nn, k});
      torch::Tensor y = torch::empty({m, nn});
      const double step_flop = 2.0 * static_cast<double>(m * k * nn);
      const auto rate = [&](const std::function<void()>& fn) {
        fn();
        std::vector<double> t;
        for (std::int64_t i = 0; i < 3 * iters; ++i) {
          const double t0 = clock.now();
          fn();
          t.push_back(clock.now() - t0);
        }
        return step_flop / *std::min_element(t.begin(), t.end()) * 1e-9;
      };
      out["torch_linear_1024x768x3072_gflops"] = rate([&] { at::mm_out(y, x, w.t()); });
      if constexpr (ftlib::libtorch::detail::has_onednn_sgemm) {
        using ftlib::libtorch::detail::onednn_sgemm;
        out["onednn_sgemm_1024x768x3072_gflops"] = rate([&] { onednn_sgemm(false, true, x, w, 0.0F, y); });
        const auto [dbest, dmed] = best_rate([&] { onednn_sgemm(false, false, a2048, b2048, 0.0F, c2048); });
        out["onednn_sgemm_gflops_best"] = dbest;
        out["onednn_sgemm_gflops_median"] = dmed;
      }
    }
  }
#endif
#if defined(FTLIB_HAS_EIGEN)
  if (which.find("eigen") != std::string::npos) {
    ftlib::eigen::set_num_threads(threads);
    const Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n);
    const Eigen::MatrixXf b = Eigen::MatrixXf::Random(n, n);
    Eigen::MatrixXf c(n, n);
    const auto [best, med] = best_rate([&] { c.noalias() = a * b; });
    out["eigen_sgemm_gflops_best"] = best;
    out["eigen_sgemm_gflops_median"] = med;
  }
#endif
  std::cout << one_line(out) << std::endl;
  return 0;
}

std::filesystem::path shared_dir(const Args& args) {
  std::string dir = args.str("shared", "");
  if (dir.empty()) {
    if (const char* env = std::getenv("FTLIB_SHARED_DIR")) dir = env;
  }
#if defined(FTLIB_SHARED_DIR_DEFAULT)
  if (dir.empty()) dir = FTLIB_SHARED_DIR_DEFAULT;
#endif
  if (dir.empty()) throw ftlib::option_error(ftlib::SourceLocation{"--shared", {}, {}}, "give the shared/ folder");
  return dir;
}

/// A split of amazon_reviews_5class (review_body, stars 1..5 as labels 0..4).
ftlib::TextClassificationDataset load_reviews(const std::filesystem::path& shared, const std::string& file) {
  ftlib::DatasetOptions options;
  options.with_text_column("review_body").with_label_column("stars").with_label_offset(1).with_num_labels(5);
  return ftlib::TextClassificationDataset::load(shared / "data" / "amazon_reviews_5class" / file, options);
}

/// The reviews tokenized by the model's tokenizer (albert-base-v2's SentencePiece, else bert-base-uncased's
/// WordPiece, from ../shared/vocab), truncated to max_length.
ftlib::EncodedDataset encode_reviews(const ftlib::TextClassificationDataset& dataset, const std::string& model_name,
                                     const std::filesystem::path& shared, std::int64_t max_length, int threads) {
  const auto encode = [&](const auto& tokenizer) {
    return ftlib::encode_dataset(dataset, tokenizer, max_length, static_cast<std::size_t>(threads));
  };
  return model_name == "albert"
             ? encode(ftlib::SentencePieceTokenizer::from_model_file(shared / "vocab" / "albert-base-v2" / "spiece.model"))
             : encode(ftlib::WordPieceTokenizer::from_vocab_file(shared / "vocab" / "bert-base-uncased" / "vocab.txt"));
}

/// One epoch over amazon_reviews_5class/train.csv (batch 8, shuffled, seed 42, or transformers' length
/// grouping) with DistilBERT-base (bert-base-uncased WordPiece) or ALBERT-base (albert-base-v2
/// SentencePiece): counts every batch's tokens exactly and times --sample-batches of them, spread evenly
/// over the epoch (0 = all), extrapolating by the work the execution does (padded tokens when padded,
/// real tokens when unpadded). --batches-out FILE writes the epoch's rows per batch for hf_epoch.py.
int run_epoch(const Args& args) {
  const std::string backend = args.str("backend", "libtorch");
  const std::string model_name = args.str("model", "distilbert");
  const std::string padding = args.str("padding", "dynamic");
  const std::int64_t max_length = args.integer("max-length", 512);
  const std::int64_t batch_size = args.integer("batch", 8);
  const std::int64_t sample = args.integer("sample-batches", 0);
  const bool bf16 = args.flag("bf16");
  const bool group_by_length = args.flag("group-by-length");
  const bool unpadded = execution_of(args, "unpadded");
  const std::string batches_out = args.str("batches-out", "");
  const auto threads = static_cast<int>(args.integer("threads", 2));
  const std::filesystem::path shared = shared_dir(args);
  const std::string malloc_policy = args.str("malloc", "default");
  const StepClock clock = StepClock::parse(args.str("clock", "wall"));
  const std::string cpu_allocator = args.str("cpu-allocator", "default");
  args.check_all_used();
  apply_malloc_policy(malloc_policy);
  apply_cpu_allocator(cpu_allocator);
  if (padding != "dynamic" && padding != "fixed")
    throw ftlib::option_error(ftlib::SourceLocation{"--padding", {}, {}}, "expected dynamic or fixed, got '" + padding + "'");
  set_threads(backend, threads);

  const auto dataset = load_reviews(shared, "train.csv");
  const auto t_tok = Clock::now();
  const ftlib::EncodedDataset encoded = encode_reviews(dataset, model_name, shared, max_length, threads);
  const double tokenize_s = seconds_since(t_tok);

  ftlib::DataLoaderOptions loader_options;
  loader_options.with_batch_size(batch_size).with_shuffle(true).with_seed(42).with_group_by_length(group_by_length);
  if (padding == "fixed") loader_options.with_fixed_length(max_length);
  const ftlib::DataLoader loader(encoded, loader_options);
  const auto batches = loader.epoch_batches(0);
  if (!batches_out.empty()) std::ofstream(batches_out) << json(batches).dump() << "\n";
  std::int64_t real_tokens = 0, padded_tokens = 0;
  std::vector<ftlib::Batch> all;
  for (const auto& rows : batches) {
    all.push_back(loader.make_batch(rows));
    real_tokens += all.back().num_tokens();
    padded_tokens += all.back().batch_size * all.back().seq_len;
  }
  const auto work = [&](const ftlib::Batch& b) { return static_cast<double>(unpadded ? b.num_tokens() : b.batch_size * b.seq_len); };
  std::vector<std::size_t> picked;
  const std::size_t nb = all.size();
  const std::size_t k = sample <= 0 ? nb : std::min(nb, static_cast<std::size_t>(sample));
  for (std::size_t i = 0; i < k; ++i) picked.push_back(i * nb / k);
  double sampled_work = 0, total_work = 0;
  for (const auto i : picked) sampled_work += work(all[i]);
  for (const auto& b : all) total_work += work(b);

  json out;
  with_model(backend, model_name, bf16, [&](auto& model) {
    // warm-up on the first picked batch, then the picked batches in epoch order
    const StepTimes times = time_steps(
        model, [&](std::int64_t s) { return all[picked[static_cast<std::size_t>(std::max<std::int64_t>(0, s - 1))]]; },
        1, static_cast<std::int64_t>(picked.size()), clock);
    double sum = 0;
    for (const double t : times.step) sum += t;
    const double mean = sum / static_cast<double>(times.step.size());
    // For a full epoch (k == nb) this is the measured sum itself.
    const double epoch_s = sum * total_work / sampled_work;
    out = {{"impl", "ftlib " + backend},
           {"mode", "epoch"},
           {"malloc", malloc_policy},
           {"cpu_allocator", cpu_allocator},
           {"model", model_name},
           {"padding", padding == "fixed" ? "max_length " + std::to_string(max_length)
                                          : std::string(group_by_length ? "group_by_length" : "dynamic")},
           {"execution", unpadded ? "unpadded" : "padded"},
           {"bf16", bf16},
           {"threads", threads},
           {"rows", encoded.size()},
           {"batches", nb},
           {"timed_batches", picked.size()},
           {"extrapolated", picked.size() < nb},
           {"tokenize_s", tokenize_s},
           {"real_tokens", real_tokens},
           {"padded_tokens", padded_tokens},
           {"computed_tokens", unpadded ? real_tokens : padded_tokens},
           {"mean_step_s", mean},
           {"epoch_s", epoch_s},
           {"real_tokens_per_s", static_cast<double>(real_tokens) / epoch_s},
           {"peak_rss_mib", peak_rss_mib()}};
  }, "cpu", false, unpadded);
  std::cout << one_line(out) << std::endl;
  return 0;
}

/// Evaluation over amazon_reviews_5class/test.csv, as Trainer::evaluate runs it (no gradients, batches
/// of --batch rows sorted by length, the input order restored, loss and metrics): the median of
/// --repeats passes after one untimed pass. Tokenization is not timed (hf_evaluate.py's neither).
int run_evaluate(const Args& args) {
  const std::string backend = args.str("backend", "libtorch");
  const std::string model_name = args.str("model", "distilbert");
  const std::int64_t batch_size = args.integer("batch", 8);
  const std::int64_t repeats = args.integer("repeats", 3);
  const bool bf16 = args.flag("bf16");
  const bool unpadded = execution_of(args, "unpadded");
  const bool sort = args.str("order", "by-length") == "by-length";
  const auto threads = static_cast<int>(args.integer("threads", 2));
  const std::filesystem::path shared = shared_dir(args);
  const StepClock clock = StepClock::parse(args.str("clock", "wall"));
  apply_malloc_policy(args.str("malloc", "retain"));
  apply_cpu_allocator(args.str("cpu-allocator", "caching"));
  args.check_all_used();
  set_threads(backend, threads);

  const ftlib::EncodedDataset encoded = encode_reviews(load_reviews(shared, "test.csv"), model_name, shared, 512, threads);
  ftlib::DataLoaderOptions loader_options;
  loader_options.with_batch_size(batch_size).with_sort_by_length(sort);
  std::int64_t padded_tokens = 0;
  const ftlib::DataLoader loader(encoded, loader_options);
  for (const auto& rows : loader.epoch_batches(0)) {
    const auto b = loader.make_batch(rows);
    padded_tokens += b.batch_size * b.seq_len;
  }

  json out;
  with_model(backend, model_name, bf16, [&](auto& model) {
    ftlib::SingleProcess single;
    std::vector<double> times;
    double accuracy = 0;
    for (std::int64_t r = 0; r <= repeats; ++r) {
      const double t0 = clock.now();
      const ftlib::EvalResult result = ftlib::training::evaluate(model, single, encoded, loader_options, {});
      if (r > 0) times.push_back(clock.now() - t0);  // the first pass warms up
      accuracy = result.metrics ? result.metrics->accuracy : 0.0;
    }
    std::sort(times.begin(), times.end());
    const double eval_s = times[times.size() / 2];
    out = {{"impl", "ftlib " + backend},
           {"mode", "evaluate"},
           {"model", model_name},
           {"order", sort ? "by-length" : "input"},
           {"execution", unpadded ? "unpadded" : "padded"},
           {"bf16", bf16},
           {"threads", threads},
           {"rows", encoded.size()},
           {"batch", batch_size},
           {"real_tokens", encoded.num_tokens()},
           {"padded_tokens", padded_tokens},
           {"eval_s", eval_s},
           {"rows_per_s", static_cast<double>(encoded.size()) / eval_s},
           {"accuracy_random_weights", accuracy},
           {"peak_rss_mib", peak_rss_mib()}};
  }, "cpu", false, unpadded);
  std::cout << one_line(out) << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args(argc, argv);
    if (args.mode() == "step") return run_step(args);
    if (args.mode() == "gemm") return run_gemm(args);
    if (args.mode() == "epoch") return run_epoch(args);
    if (args.mode() == "evaluate") return run_evaluate(args);
    throw ftlib::option_error("unknown mode '" + args.mode() + "': expected step, gemm, epoch or evaluate");
  } catch (const std::exception& e) {
    std::cerr << "train_step: " << e.what() << "\n";
    return 2;
  }
}
