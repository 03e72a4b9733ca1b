// The Eigen backend module of the tool (libftlib_backend_eigen.so): every Eigen Trainer
// instantiation, in one translation unit.

#include <memory>
#include <utility>
#include <vector>

#include "backend_module.hpp"
#include "ftlib/arch/registry.hpp"
#include "ftlib/backends/eigen/eigen.hpp"
#include "session_impl.hpp"

namespace ftlib::cli {
namespace {

std::unique_ptr<Session> make_eigen_session(const ModelSpec& spec, AutoTokenizer tokenizer, TrainingArguments args) {
  if (spec.launch.distributed())
    throw option_error(SourceLocation{"--backend", {}, {}}, "the Eigen backend trains in one process; a data-parallel run (" +
                                                             spec.launch.describe() + ") needs --backend libtorch");
  if (spec.threads > 0) eigen::set_num_threads(spec.threads);
  return make_session_for<eigen::SequenceClassifier>(spec, std::move(tokenizer), std::move(args));
}

// The Eigen registry, read without allocating any weights.
std::vector<hf::ExpectedParameter> eigen_expected_parameters(const nlohmann::json& config, const std::filesystem::path& source) {
  return arch::visit_architecture(arch::model_type_of(config, source), [&](auto a) {
    using Arch = typename decltype(a)::type;
    return eigen::SequenceClassifier<Arch>::expected_parameters(arch::ModelConfig<Arch>::from_json(config, source));
  });
}

constexpr BackendModule eigen_module{backend_interface_version, "eigen", &make_eigen_session, &eigen_expected_parameters};

}  // namespace
}  // namespace ftlib::cli

extern "C" [[gnu::visibility("default")]] const ftlib::cli::BackendModule* ftlib_backend_module() { return &ftlib::cli::eigen_module; }
