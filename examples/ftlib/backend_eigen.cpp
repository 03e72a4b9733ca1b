// Every Eigen-backend Trainer instantiation of the tool, in one translation unit.

#include <memory>
#include <utility>

#include "ftlib/backends/eigen/eigen.hpp"
#include "session_impl.hpp"

namespace ftlib::cli {

std::unique_ptr<Session> make_eigen_session(const ModelSpec& spec, AutoTokenizer tokenizer, TrainingArguments args) {
  if (spec.threads > 0) eigen::set_num_threads(spec.threads);
  return make_session_for<eigen::SequenceClassifier>(spec, std::move(tokenizer), std::move(args));
}

}  // namespace ftlib::cli
