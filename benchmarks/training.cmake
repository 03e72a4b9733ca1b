# Training-step throughput of both backends (DistilBERT / ALBERT base sizes), the GEMM rate of the
# machine, and an epoch with dynamic vs fixed padding: see docs/benchmarks.md and scripts/bench.sh.
# One translation unit for LibTorch and Eigen (LibTorch headers dominate the build time).
add_executable(train_step ${CMAKE_CURRENT_SOURCE_DIR}/train_step.cpp)
target_link_libraries(train_step PRIVATE ftlib::ftlib)
if(TARGET ftlib::libtorch)
  target_link_libraries(train_step PRIVATE ftlib::libtorch)
endif()
if(TARGET ftlib::eigen)
  target_link_libraries(train_step PRIVATE ftlib::eigen)
  # Eigen picks its SIMD GEMM kernels at compile time: without this it runs on SSE2 only.
  include(CheckCXXCompilerFlag)
  check_cxx_compiler_flag(-march=native FTLIB_TRAIN_STEP_HAVE_MARCH_NATIVE)
  if(FTLIB_TRAIN_STEP_HAVE_MARCH_NATIVE)
    target_compile_options(train_step PRIVATE -march=native -Wno-maybe-uninitialized)
  endif()
endif()
target_compile_definitions(train_step PRIVATE FTLIB_SHARED_DIR_DEFAULT="${FTLIB_SHARED_DIR}")
