#pragma once
// ParameterRef: how the optimizer, the Trainer and checkpointing see one trainable parameter of a
// model, whatever the backend's tensor type.

#include <string>

namespace ftlib {

/// @brief A named trainable parameter as the optimizer sees it: value and gradient handles
///        of the backend's tensor type (torch::Tensor, or an Eigen map).
template <class Tensor>
struct ParameterRef {
  std::string name;   ///< HuggingFace state_dict name
  Tensor value;
  Tensor grad;
  bool has_grad = true;  ///< false when backward never reached it (AdamW then skips it, as torch does)
};

}  // namespace ftlib
