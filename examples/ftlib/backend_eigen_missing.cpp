// Stand-in when the tool is built without the Eigen component.

#include "session.hpp"

namespace ftlib::cli {

std::unique_ptr<Session> make_eigen_session(const ModelSpec&, AutoTokenizer, TrainingArguments) {
  throw option_error(SourceLocation{"--backend", {}, {}},
                     "this ftlib was built without the eigen backend (configure with -DFTLIB_WITH_EIGEN=ON); use --backend libtorch");
}

}  // namespace ftlib::cli
