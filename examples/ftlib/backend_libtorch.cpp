// The LibTorch backend module of the tool (libftlib_backend_libtorch.so): every LibTorch Trainer
// instantiation, in one translation unit (LibTorch's headers dominate build time). Built only with
// the ftlib::libtorch component.

#include <memory>
#include <string>
#include <utility>

#include <torch/torch.h>

#include "backend_module.hpp"
#include "ftlib/backends/libtorch/libtorch.hpp"
#include "session_impl.hpp"
#if FTLIB_HAS_GLOO
#include "ftlib/backends/libtorch/data_parallel.hpp"
#endif

namespace ftlib::cli {
namespace {

// LibTorch's large CPU blocks through ftlib's caching allocator: no page faults on every step and no
// heap fragmentation (docs/backends.md). Installed once, before the first tensor of the session;
// it lives until the process ends, as every tensor it allocated must not outlive it.
void use_caching_cpu_allocator() {
  static libtorch::CachingCpuAllocator allocator;
  static const bool installed = (allocator.install(), true);
  (void)installed;
}

std::unique_ptr<Session> make_libtorch_session(const ModelSpec& spec, AutoTokenizer tokenizer, TrainingArguments args) {
  use_caching_cpu_allocator();
  if (spec.threads > 0) at::set_num_threads(spec.threads);
  const torch::Device device = libtorch::detail::parse_device(spec.options.device);
  if (device.is_cuda() && !torch::cuda::is_available())
    throw option_error(SourceLocation{"device", {}, {}},
                       "'" + spec.options.device + "' was asked for but CUDA is not available (no GPU, or a CPU-only LibTorch)");
  // fp16: the model owns a GradScaler (torch.cuda.amp defaults); overflowed steps are skipped by the Trainer.
  // Dropout draws from the model's own stream, seeded by the Trainer (set_seed) or restored on resume.
  // One strategy type for every run (a launch of one process makes it SingleProcess's identity), so
  // that data parallelism adds no second set of Trainer instantiations.
#if FTLIB_HAS_GLOO
  libtorch::DataParallel strategy = spec.launch.distributed() ? libtorch::DataParallel(spec.launch, spec.distributed) : libtorch::DataParallel();
  return make_session_for<libtorch::SequenceClassifier>(spec, std::move(tokenizer), std::move(args), std::move(strategy));
#else
  if (spec.launch.distributed())
    throw option_error(SourceLocation{"WORLD_SIZE", {}, {}}, std::to_string(spec.launch.world_size) +
                                                              " processes were asked for, but this ftlib was built without Gloo's headers "
                                                              "(libgloo-dev), so it cannot train data-parallel");
  return make_session_for<libtorch::SequenceClassifier>(spec, std::move(tokenizer), std::move(args));
#endif
}

// `ftlib inspect` reads the parameter registry from the Eigen module, which allocates nothing for it.
constexpr BackendModule libtorch_module{backend_interface_version, "libtorch", &make_libtorch_session, nullptr};

}  // namespace
}  // namespace ftlib::cli

extern "C" [[gnu::visibility("default")]] const ftlib::cli::BackendModule* ftlib_backend_module() { return &ftlib::cli::libtorch_module; }
