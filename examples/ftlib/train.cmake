# `ftlib train` plus what train/evaluate/predict share: the session interface, one translation unit
# per backend (all LibTorch instantiations in backend_libtorch.cpp), and the CLI helpers.
target_sources(ftlib_tool PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/ftlib/train_command.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/ftlib/cli_common.cpp)
if(TARGET ftlib::eigen)
  target_sources(ftlib_tool PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/ftlib/backend_eigen.cpp)
  target_link_libraries(ftlib_tool PRIVATE ftlib::eigen)
else()
  target_sources(ftlib_tool PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/ftlib/backend_eigen_missing.cpp)
endif()
if(TARGET ftlib::libtorch)
  target_sources(ftlib_tool PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/ftlib/backend_libtorch.cpp)
  target_link_libraries(ftlib_tool PRIVATE ftlib::libtorch)
  target_compile_definitions(ftlib_tool PRIVATE FTLIB_TOOL_HAS_LIBTORCH=1)
else()
  target_sources(ftlib_tool PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/ftlib/backend_libtorch_missing.cpp)
endif()
