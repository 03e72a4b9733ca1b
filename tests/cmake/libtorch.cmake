# LibTorch backend: all of its tests in one translation unit (LibTorch headers dominate build time).
if(FTLIB_WITH_LIBTORCH)
  ftlib_add_test(test_libtorch_models SOURCES test_libtorch_models.cpp LIBS ftlib::libtorch LABELS libtorch)
endif()
