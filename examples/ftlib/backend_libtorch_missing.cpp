// Stand-in when the tool is built without the LibTorch component.

#include "session.hpp"

namespace ftlib::cli {

std::unique_ptr<Session> make_libtorch_session(const ModelSpec&, AutoTokenizer, TrainingArguments) {
  throw option_error(SourceLocation{"--backend", {}, {}},
                     "this ftlib was built without the libtorch backend (configure with -DFTLIB_WITH_LIBTORCH=ON and a "
                     "LibTorch installation); use --backend eigen");
}

}  // namespace ftlib::cli
