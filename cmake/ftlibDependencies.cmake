# Finds every dependency of ftlib's targets. Included by the top-level CMakeLists.txt and by the
# installed ftlibConfig.cmake, so a build tree and a consumer resolve them the same way.
# FTLIB_WITH_LIBTORCH / FTLIB_WITH_EIGEN say which optional components to look for.
include(CMakeFindDependencyMacro)

find_dependency(Threads)
find_dependency(nlohmann_json 3.10)
find_dependency(CURL)
find_dependency(utf8proc)
# No SentencePiece: ftlib::sentencepiece is header-only (only tests/ look for the library, as an oracle).

if(FTLIB_WITH_EIGEN)
  find_dependency(Eigen3 3.4 NO_MODULE)
  find_dependency(OpenMP)
endif()

# oneDNN's sgemm for both backends' float32 CPU matrix products (backends/onednn_sgemm.hpp): it runs on
# the OpenMP threads LibTorch and the Eigen backend use. Optional: ftlib_onednn_imported is empty
# without it (FTLIB_WITH_ONEDNN=OFF or no libdnnl-dev) and the backends use their own products.
if((FTLIB_WITH_LIBTORCH OR FTLIB_WITH_EIGEN) AND NOT TARGET ftlib_onednn_imported)
  add_library(ftlib_onednn_imported INTERFACE IMPORTED)
  if(NOT DEFINED FTLIB_WITH_ONEDNN)
    set(FTLIB_WITH_ONEDNN ON)
  endif()
  if(FTLIB_WITH_ONEDNN)
    # Header and library directly: Debian's dnnl-config.cmake insists on OpenCL, which the C API's
    # sgemm does not use.
    find_path(FTLIB_ONEDNN_INCLUDE_DIR oneapi/dnnl/dnnl.h)
    find_library(FTLIB_ONEDNN_LIBRARY NAMES dnnl)
    if(FTLIB_ONEDNN_INCLUDE_DIR AND FTLIB_ONEDNN_LIBRARY)
      target_include_directories(ftlib_onednn_imported INTERFACE ${FTLIB_ONEDNN_INCLUDE_DIR})
      target_link_libraries(ftlib_onednn_imported INTERFACE ${FTLIB_ONEDNN_LIBRARY})
      target_compile_definitions(ftlib_onednn_imported INTERFACE FTLIB_HAS_ONEDNN_SGEMM=1)
    endif()
  endif()
endif()

if(FTLIB_WITH_LIBTORCH AND NOT TARGET ftlib_torch_imported)
  find_dependency(Torch)
  # TorchConfig gives a list of libraries and flags rather than one target: wrap them.
  add_library(ftlib_torch_imported INTERFACE IMPORTED)
  target_link_libraries(ftlib_torch_imported INTERFACE ${TORCH_LIBRARIES})
  target_include_directories(ftlib_torch_imported INTERFACE ${TORCH_INCLUDE_DIRS})
  if(TORCH_CXX_FLAGS)
    separate_arguments(_ftlib_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
    target_compile_options(ftlib_torch_imported INTERFACE ${_ftlib_torch_flags})
  endif()
  target_link_libraries(ftlib_torch_imported INTERFACE ftlib_onednn_imported)
endif()
