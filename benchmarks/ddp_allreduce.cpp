// The communication cost of data-parallel training on this machine: the time of one DataParallel
// gradient all-reduce (bucketed, as the Trainer runs it every optimizer step) of distilbert-base's
// 66,955,010 gradients over c10d Gloo on loopback, for bucket sizes from 1 MiB to one bucket of all.
//
//   ddp_allreduce [--nproc N] [--floats F] [--repeats R]
//
// Started alone it launches N workers of itself (distributed/local_launcher.hpp); rank 0 prints one
// line per bucket size: median milliseconds, and the algorithm bandwidth (gradient bytes / time).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "ftlib/backends/libtorch/data_parallel.hpp"
#include "ftlib/distributed/launch_environment.hpp"
#include "ftlib/distributed/local_launcher.hpp"

namespace {

// A stand-in with the gradient surface the strategy reads: distilbert-base's gradients, as tensors of
// about its layers' sizes (768 x 768 and 768 x 3072 matrices, then the rest).
struct Gradients {
  std::vector<ftlib::ParameterRef<torch::Tensor>> refs;
  explicit Gradients(std::int64_t floats) {
    const std::int64_t sizes[] = {768 * 768, 768 * 3072, 3072 * 768, 768};
    std::int64_t left = floats;
    for (std::size_t i = 0; left > 0; ++i) {
      const std::int64_t n = std::min(left, sizes[i % 4]);
      refs.push_back({"g" + std::to_string(i), torch::zeros({n}), torch::rand({n}), true});
      left -= n;
    }
  }
  [[nodiscard]] std::vector<ftlib::ParameterRef<torch::Tensor>> parameters() const { return refs; }
};

}  // namespace

int main(int argc, char** argv) {
  std::int64_t nproc = 2, floats = 66955010, repeats = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::int64_t value = std::stoll(argv[i + 1]);
    if (flag == "--nproc") nproc = value;
    else if (flag == "--floats") floats = value;
    else if (flag == "--repeats") repeats = value;
    else {
      std::cerr << "usage: ddp_allreduce [--nproc N] [--floats F] [--repeats R]\n";
      return 2;
    }
  }
  try {
    const auto launch = ftlib::distributed::LaunchEnvironment::from_environment();
    if (!launch.distributed()) {
      ftlib::distributed::LocalLaunchOptions o;
      o.nproc_per_node = nproc;
      return ftlib::distributed::run_local_workers(o, ftlib::distributed::worker_command_line({"--nproc"}), std::cerr);
    }
    Gradients model(floats);
    const double bytes = static_cast<double>(floats) * 4.0;
    if (launch.rank == 0)
      std::cout << "ddp_allreduce: " << launch.world_size << " processes, " << floats << " float32 gradients ("
                << std::setprecision(3) << bytes / 1e6 << " MB) over c10d Gloo on " << launch.master_addr << ", OMP threads "
                << at::get_num_threads() << ", median of " << repeats << "\n";
    ftlib::libtorch::DataParallel strategy(launch);
    for (const std::int64_t mib : {1, 25, 100, 1 << 20}) {
      strategy.set_bucket_mib(mib);
      std::vector<double> ms;
      for (std::int64_t r = 0; r < repeats + 1; ++r) {
        (void)strategy.any(false);  // start together
        const auto t0 = std::chrono::steady_clock::now();
        strategy.reduce_gradients(model);
        const auto t1 = std::chrono::steady_clock::now();
        if (r > 0) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());  // the first warms up
      }
      std::sort(ms.begin(), ms.end());
      const double median = ms[ms.size() / 2];
      if (launch.rank == 0)
        std::cout << "  buckets of " << (mib >= (1 << 20) ? std::string("all (one bucket)") : std::to_string(mib) + " MiB") << ": "
                  << std::fixed << std::setprecision(1) << median << " ms per all-reduce, " << std::setprecision(2)
                  << bytes / (median / 1e3) / 1e9 << " GB/s\n" << std::defaultfloat;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "ddp_allreduce: " << e.what() << '\n';
    return 1;
  }
}
