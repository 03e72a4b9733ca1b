// Compiles against the installed ftlib::libtorch, runs one LibTorch operation and prints the LibTorch
// it runs on, so the test sees that the consumer found, linked and loaded the same LibTorch as the build
// (with a CUDA LibTorch, its CUDA half too: that registers the CUDA device guard, GPU or not).
#include <iostream>

#include <ATen/ATen.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>

#include <ftlib/backends/libtorch/compat.hpp>

int main() {
  const at::Tensor y = at::linear(at::ones({2, 3}), at::ones({4, 3}));
  const bool cuda_loaded = c10::impl::hasDeviceGuardImpl(c10::DeviceType::CUDA);
  std::cout << "consumer libtorch ok: LibTorch " << ftlib::libtorch::compat::torch_version_string() << ", sum "
            << y.sum().item<double>() << ", CUDA build " << (cuda_loaded ? "yes" : "no") << '\n';
  return 0;
}
