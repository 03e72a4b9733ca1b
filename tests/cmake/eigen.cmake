# Eigen reference backend: layer gradient checks and the HuggingFace fixture cases.
if(TARGET ftlib::eigen)
  ftlib_add_test(test_eigen_layers SOURCES test_eigen_layers.cpp LIBS ftlib::eigen ftlib_native_arch LABELS eigen)
  ftlib_add_test(test_eigen_models SOURCES test_eigen_models.cpp LIBS ftlib::eigen ftlib_native_arch LABELS eigen)
endif()

# Optional: both backends on the same random weights (only when the LibTorch backend is built too).
if(TARGET ftlib::eigen AND TARGET ftlib::libtorch)
  ftlib_add_test(test_eigen_libtorch_crosscheck SOURCES test_eigen_libtorch_crosscheck.cpp
                 LIBS ftlib::eigen ftlib::libtorch ftlib_native_arch LABELS eigen libtorch)
endif()

# Exact resume with dropout through the Trainer (rng_state / set_rng_state / set_seed).
if(TARGET ftlib::eigen)
  ftlib_add_test(test_eigen_resume SOURCES test_eigen_resume.cpp LIBS ftlib::eigen ftlib_native_arch LABELS eigen trainer)
endif()
