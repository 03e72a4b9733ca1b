# Eigen reference backend: layer gradient checks and the HuggingFace fixture cases.
if(TARGET ftlib::eigen)
  ftlib_add_test(test_eigen_layers SOURCES test_eigen_layers.cpp LIBS ftlib::eigen LABELS eigen)
  ftlib_add_test(test_eigen_models SOURCES test_eigen_models.cpp LIBS ftlib::eigen LABELS eigen)
  # Eigen picks its SIMD kernels at compile time: without this the GEMMs run on SSE2 only.
  include(CheckCXXCompilerFlag)
  check_cxx_compiler_flag(-march=native FTLIB_EIGEN_TESTS_HAVE_MARCH_NATIVE)
  if(FTLIB_EIGEN_TESTS_HAVE_MARCH_NATIVE)
    target_compile_options(test_eigen_layers PRIVATE -march=native -Wno-maybe-uninitialized)
    target_compile_options(test_eigen_models PRIVATE -march=native -Wno-maybe-uninitialized)
  endif()
endif()

# Optional: both backends on the same random weights (only when the LibTorch backend is built too).
if(TARGET ftlib::eigen AND TARGET ftlib::libtorch)
  ftlib_add_test(test_eigen_libtorch_crosscheck SOURCES test_eigen_libtorch_crosscheck.cpp
                 LIBS ftlib::eigen ftlib::libtorch LABELS eigen libtorch)
endif()
