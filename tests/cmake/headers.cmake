# Every public header compiles on its own: one generated translation unit per header, each
# including only that header. Backend headers are checked against their component; the LibTorch
# ones share a precompiled <torch/torch.h> so the check costs seconds, not minutes.
file(GLOB_RECURSE ftlib_public_headers CONFIGURE_DEPENDS
     RELATIVE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/include/ftlib/*.hpp)

set(ftlib_header_sources_core "")
set(ftlib_header_sources_eigen "")
set(ftlib_header_sources_libtorch "")
foreach(header IN LISTS ftlib_public_headers)
  if(header STREQUAL "ftlib/backends/libtorch/data_parallel.hpp" AND NOT FTLIB_HAS_GLOO)
    continue()  # needs Gloo's headers (libgloo-dev)
  endif()
  string(MAKE_C_IDENTIFIER "${header}" stem)
  set(source ${CMAKE_CURRENT_BINARY_DIR}/header_check/${stem}.cpp)
  file(CONFIGURE OUTPUT ${source} CONTENT "#include <${header}>\n")
  if(header MATCHES "^ftlib/backends/libtorch/")
    list(APPEND ftlib_header_sources_libtorch ${source})
  elseif(header MATCHES "^ftlib/backends/eigen/")
    list(APPEND ftlib_header_sources_eigen ${source})
  else()
    list(APPEND ftlib_header_sources_core ${source})
  endif()
endforeach()

# The core headers may use every optional component's *backend-free* parts (sentencepiece).
add_library(ftlib_header_check_core OBJECT ${ftlib_header_sources_core})
target_link_libraries(ftlib_header_check_core PRIVATE ftlib::sentencepiece)
set(ftlib_header_check_targets ftlib_header_check_core)

if(TARGET ftlib::eigen AND ftlib_header_sources_eigen)
  add_library(ftlib_header_check_eigen OBJECT ${ftlib_header_sources_eigen})
  target_link_libraries(ftlib_header_check_eigen PRIVATE ftlib::eigen)
  list(APPEND ftlib_header_check_targets ftlib_header_check_eigen)
endif()

if(TARGET ftlib::libtorch AND ftlib_header_sources_libtorch)
  add_library(ftlib_header_check_libtorch OBJECT ${ftlib_header_sources_libtorch})
  target_link_libraries(ftlib_header_check_libtorch PRIVATE ftlib::libtorch)
  target_precompile_headers(ftlib_header_check_libtorch PRIVATE <torch/torch.h>)
  list(APPEND ftlib_header_check_targets ftlib_header_check_libtorch)
endif()

# Built as part of `all`; the ctest entry makes the check visible in the test list.
add_test(NAME headers_compile_standalone
  COMMAND ${CMAKE_COMMAND} --build ${PROJECT_BINARY_DIR} --target ${ftlib_header_check_targets})

# Layers point one way (docs/architecture.md): no header includes one of a layer above its own.
add_test(NAME ftlib_layers_point_one_way COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/check_layers.sh ${PROJECT_SOURCE_DIR})
