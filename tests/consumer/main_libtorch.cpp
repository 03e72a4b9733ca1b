// Compiles against the installed ftlib::libtorch, runs one LibTorch operation and prints the LibTorch
// it runs on, so the test sees that the consumer found, linked and loaded the same LibTorch as the build.
#include <iostream>

#include <ATen/Context.h>

#include <ftlib/backends/libtorch/compat.hpp>

int main() {
  const at::Tensor x = at::ones({2, 3});
  const at::Tensor y = at::linear(x, at::ones({4, 3}));
  std::cout << "consumer libtorch ok: LibTorch " << ftlib::libtorch::compat::torch_version_string()
            << ", sum " << y.sum().item<double>() << ", CUDA build " << (at::hasCUDA() ? "yes" : "no") << '\n';
  return 0;
}
