// compare_models A/model.safetensors B/model.safetensors TOLERANCE: prints the largest |a - b| of
// every tensor the two files share and exits 1 when a tensor is missing from either, has another
// shape, or differs by more than TOLERANCE * (1 + max |a|) anywhere. The data-parallel tests use
// it to compare the weights of runs that must have trained the same model.

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>

#include "ftlib/training/checkpointing.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: compare_models A.safetensors B.safetensors TOLERANCE\n";
    return 2;
  }
  try {
    const auto a = ftlib::training::load_host_tensors(argv[1]);
    const auto b = ftlib::training::load_host_tensors(argv[2]);
    const double tolerance = std::stod(argv[3]);
    bool ok = a.size() == b.size();
    if (!ok) std::cout << "tensor counts differ: " << a.size() << " and " << b.size() << '\n';
    double worst = 0.0;
    std::string worst_name;
    for (const auto& [name, ta] : a) {
      const auto it = b.find(name);
      if (it == b.end() || it->second.shape != ta.shape) {
        std::cout << name << ": missing or of another shape in " << argv[2] << '\n';
        ok = false;
        continue;
      }
      double diff = 0.0, scale = 0.0;
      for (std::size_t i = 0; i < ta.data.size(); ++i) {
        diff = std::max(diff, std::abs(static_cast<double>(ta.data[i]) - static_cast<double>(it->second.data[i])));
        scale = std::max(scale, std::abs(static_cast<double>(ta.data[i])));
      }
      if (!(diff <= tolerance * (1.0 + scale))) {
        std::cout << name << ": max |a - b| = " << diff << " (max |a| = " << scale << ") over the tolerance\n";
        ok = false;
      }
      if (diff >= worst) {
        worst = diff;
        worst_name = name;
      }
    }
    std::cout << "compared " << a.size() << " tensors: largest |a - b| = " << worst << " (" << worst_name << "), tolerance "
              << tolerance << " x (1 + max |a|): " << (ok ? "same" : "DIFFERENT") << '\n';
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "compare_models: " << e.what() << '\n';
    return 2;
  }
}
