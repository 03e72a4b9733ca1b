# Data parallel: the cost of the gradient all-reduce over Gloo (docs/benchmarks.md, "Data parallel").
if(TARGET ftlib::libtorch AND FTLIB_HAS_GLOO)
  add_executable(ddp_allreduce ${CMAKE_CURRENT_SOURCE_DIR}/ddp_allreduce.cpp)
  target_link_libraries(ddp_allreduce PRIVATE ftlib::ftlib ftlib::libtorch)
endif()
