# Finds every dependency of ftlib's targets. Included by the top-level CMakeLists.txt and by the
# installed ftlibConfig.cmake, so a build tree and a consumer resolve them the same way.
# FTLIB_WITH_LIBTORCH / FTLIB_WITH_EIGEN say which optional components to look for.
include(CMakeFindDependencyMacro)

find_dependency(Threads)
find_dependency(nlohmann_json 3.10)
find_dependency(CURL)
find_dependency(utf8proc)
# No SentencePiece: ftlib::sentencepiece is header-only (only tests/ look for the library, as an oracle).

# --- LibTorch -------------------------------------------------------------------------------------
# Found the standard way (Torch_DIR, or CMAKE_PREFIX_PATH holding a LibTorch: Debian's libtorch-dev,
# a libtorch zip, conda's or pip's torch, whose prefix `torch.utils.cmake_prefix_path` prints). Everything
# in which LibTorch builds differ is handled in this block, for the build tree and the installed package
# alike; docs/backends.md ("Which LibTorch") says why each step is there.
if(FTLIB_WITH_LIBTORCH AND NOT TARGET ftlib_torch_imported)
  # A CUDA LibTorch's own config (Caffe2's cuda.cmake) enables the CUDA language and runs FindCUDA, so it
  # needs nvcc even though ftlib compiles no CUDA code. Point both at a toolkit in the usual places when
  # nvcc is not on PATH. Harmless for a CPU LibTorch, which never looks.
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
    find_program(FTLIB_NVCC nvcc HINTS ENV CUDA_HOME ENV CUDA_PATH PATH_SUFFIXES bin PATHS /usr/local/cuda/bin)
    if(FTLIB_NVCC)
      set(CMAKE_CUDA_COMPILER "${FTLIB_NVCC}" CACHE FILEPATH "CUDA compiler (for a CUDA LibTorch's CMake config)")
      get_filename_component(_ftlib_cuda_root "${FTLIB_NVCC}" DIRECTORY)
      get_filename_component(_ftlib_cuda_root "${_ftlib_cuda_root}" DIRECTORY)
      if(NOT DEFINED CUDA_TOOLKIT_ROOT_DIR)
        set(CUDA_TOOLKIT_ROOT_DIR "${_ftlib_cuda_root}")
      endif()
      if(NOT DEFINED CUDAToolkit_ROOT)
        set(CUDAToolkit_ROOT "${_ftlib_cuda_root}")
      endif()
    endif()
  endif()
  # PyTorch's config still calls find_package(CUDA), which CMake 3.27 removed behind policy CMP0146.
  if(POLICY CMP0146)
    cmake_policy(SET CMP0146 OLD)
  endif()
  # The LibTorch this ftlib was built with (set by ftlibConfig.cmake): an installed ftlib finds the same
  # one unless Torch_DIR or CMAKE_PREFIX_PATH say otherwise.
  set(_ftlib_torch_hints "")
  if(FTLIB_BUILT_WITH_TORCH_DIR)
    set(_ftlib_torch_hints HINTS "${FTLIB_BUILT_WITH_TORCH_DIR}")
  endif()
  # TorchConfig loads its targets with find_dependency(Caffe2 PATHS <its folder>/../Caffe2), and PATHS
  # come after the system's folders: pip's torch on a machine that also has Debian's libtorch-dev would
  # get Debian's 1.13 targets. So TorchConfig.cmake is located first, by the same search (its version
  # file stands in for it: that only sets variables), and Caffe2_DIR is pinned beside it.
  if(Torch_DIR AND EXISTS "${Torch_DIR}/TorchConfig.cmake")
    set(_ftlib_torch_dir "${Torch_DIR}")
  else()
    find_package(ftlib_torch_location NAMES Torch CONFIGS TorchConfigVersion.cmake QUIET ${_ftlib_torch_hints})
    set(_ftlib_torch_dir "${ftlib_torch_location_DIR}")
    if(_ftlib_torch_dir)
      set(Torch_DIR "${_ftlib_torch_dir}" CACHE PATH "The directory containing TorchConfig.cmake" FORCE)
    endif()
  endif()
  if(_ftlib_torch_dir AND EXISTS "${_ftlib_torch_dir}/../Caffe2/Caffe2Config.cmake")
    get_filename_component(_ftlib_caffe2_dir "${_ftlib_torch_dir}/../Caffe2" ABSOLUTE)
    set(Caffe2_DIR "${_ftlib_caffe2_dir}" CACHE PATH "Caffe2's config, beside TorchConfig.cmake" FORCE)
  endif()
  find_dependency(Torch ${_ftlib_torch_hints})
  get_filename_component(_ftlib_caffe2_want "${Torch_DIR}/../Caffe2" ABSOLUTE)
  get_filename_component(_ftlib_caffe2_got "${Caffe2_DIR}" ABSOLUTE)
  if(EXISTS "${_ftlib_caffe2_want}" AND NOT _ftlib_caffe2_got STREQUAL _ftlib_caffe2_want)
    message(FATAL_ERROR "ftlib: LibTorch's config ${Torch_DIR} loaded the Caffe2 targets of another LibTorch "
                        "(${Caffe2_DIR}); set -DCaffe2_DIR=${_ftlib_caffe2_want}")
  endif()

  # TorchConfig looks for c10 with find_library(... PATHS <prefix>/lib), which searches the system
  # directories first: with pip's torch on a machine that also has Debian's libtorch-dev it picks
  # Debian's libc10.so. Every library of TORCH_LIBRARIES that LibTorch's own lib/ folder also holds
  # is taken from there.
  set(_ftlib_torch_libraries "")
  foreach(_ftlib_lib IN LISTS TORCH_LIBRARIES)
    if(IS_ABSOLUTE "${_ftlib_lib}")
      get_filename_component(_ftlib_name "${_ftlib_lib}" NAME)
      get_filename_component(_ftlib_dir "${_ftlib_lib}" DIRECTORY)
      get_filename_component(_ftlib_own_dir "${TORCH_INSTALL_PREFIX}/lib" REALPATH)
      get_filename_component(_ftlib_dir "${_ftlib_dir}" REALPATH)
      if(NOT _ftlib_dir STREQUAL _ftlib_own_dir AND EXISTS "${TORCH_INSTALL_PREFIX}/lib/${_ftlib_name}")
        set(_ftlib_lib "${TORCH_INSTALL_PREFIX}/lib/${_ftlib_name}")
      endif()
    endif()
    list(APPEND _ftlib_torch_libraries "${_ftlib_lib}")
  endforeach()

  # TorchConfig gives a list of libraries and flags rather than one target: wrap them.
  add_library(ftlib_torch_imported INTERFACE IMPORTED)
  target_link_libraries(ftlib_torch_imported INTERFACE ${_ftlib_torch_libraries})
  target_include_directories(ftlib_torch_imported INTERFACE ${TORCH_INCLUDE_DIRS})
  if(TORCH_CXX_FLAGS)
    separate_arguments(_ftlib_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
    target_compile_options(ftlib_torch_imported INTERFACE ${_ftlib_torch_flags})
  endif()
  target_link_libraries(ftlib_torch_imported INTERFACE ftlib_onednn_imported)

  # The C++ ABI: LibTorch 1.13 and older 2.x state theirs in TORCH_CXX_FLAGS (the flag above reaches
  # every target linking ftlib::libtorch); current 2.x configs state none (pip's wheels are built with
  # the new ABI only). FTLIB_TORCH_CXX11_ABI: 0, 1, or empty when not stated (the compiler's default).
  set(FTLIB_TORCH_CXX11_ABI "")
  if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=([01])")
    set(FTLIB_TORCH_CXX11_ABI "${CMAKE_MATCH_1}")
  endif()

  # MKL's link directories: PyTorch's mkl.cmake adds ${MKL_ROOT}/lib/intel64 and friends even when MKL
  # is inside libtorch_cpu and MKL_ROOT is empty, which puts /lib/intel64, ... into every rpath. Keep
  # only directories that exist.
  if(TARGET caffe2::mkl)
    get_target_property(_ftlib_mkl_dirs caffe2::mkl INTERFACE_LINK_DIRECTORIES)
    if(_ftlib_mkl_dirs)
      set(_ftlib_kept "")
      foreach(_ftlib_dir IN LISTS _ftlib_mkl_dirs)
        if(IS_DIRECTORY "${_ftlib_dir}")
          list(APPEND _ftlib_kept "${_ftlib_dir}")
        endif()
      endforeach()
      set_target_properties(caffe2::mkl PROPERTIES INTERFACE_LINK_DIRECTORIES "${_ftlib_kept}")
    endif()
  endif()

  # pip's CUDA torch: the CUDA libraries it was built with come in nvidia-* wheels beside it
  # (site-packages/nvidia/*/lib), found by libtorch's own RPATH. The toolkit's copies (what CMake links,
  # e.g. /usr/local/cuda/lib/libcudart.so, libnccl.so) may be older: put the wheel's folders first in
  # the program's rpath, so that the linker resolves libtorch_cuda's dependencies (libnccl.so.2, ...)
  # against them and the process loads one copy of each, the one LibTorch expects.
  set(FTLIB_TORCH_NVIDIA_LIBRARY_DIRS "")
  get_filename_component(_ftlib_site "${TORCH_INSTALL_PREFIX}/.." REALPATH)
  if(IS_DIRECTORY "${_ftlib_site}/nvidia" AND EXISTS "${TORCH_INSTALL_PREFIX}/lib/libtorch_cuda.so")
    file(GLOB _ftlib_nvidia_dirs LIST_DIRECTORIES true "${_ftlib_site}/nvidia/*/lib")
    list(SORT _ftlib_nvidia_dirs)
    foreach(_ftlib_dir IN LISTS _ftlib_nvidia_dirs)
      if(IS_DIRECTORY "${_ftlib_dir}")
        list(APPEND FTLIB_TORCH_NVIDIA_LIBRARY_DIRS "${_ftlib_dir}")
        target_link_options(ftlib_torch_imported INTERFACE "LINKER:-rpath,${_ftlib_dir}")
      endif()
    endforeach()
  endif()

  if(EXISTS "${TORCH_INSTALL_PREFIX}/lib/libtorch_cuda.so")
    set(FTLIB_TORCH_CUDA ON)
  else()
    set(FTLIB_TORCH_CUDA OFF)
  endif()
  # LibTorch builds that bring their own GNU OpenMP (pip's torch: lib/libgomp.so.1). Their rpath makes it
  # the one libgomp.so.1 of the process (every dependency on that soname then resolves to it), so that
  # ATen, its BLAS, oneDNN's sgemm and the Eigen backend share one OpenMP thread pool. OpenMP below is
  # linked against that same file, so the link checks ftlib's OpenMP calls against the runtime that runs.
  set(FTLIB_TORCH_LIBGOMP "")
  if(EXISTS "${TORCH_INSTALL_PREFIX}/lib/libgomp.so.1" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    set(FTLIB_TORCH_LIBGOMP "${TORCH_INSTALL_PREFIX}/lib/libgomp.so.1")
  endif()
  # Data-parallel training (backends/libtorch/data_parallel.hpp) uses c10d's ProcessGroupGloo, whose
  # header includes Gloo's: Debian's LibTorch and pip's torch are both built with Gloo (USE_C10D_GLOO)
  # but neither ships its headers; Debian's libgloo-dev has them. FTLIB_HAS_GLOO=1 when they are found.
  find_path(FTLIB_GLOO_INCLUDE_DIR gloo/config.h)
  if(FTLIB_GLOO_INCLUDE_DIR)
    set(FTLIB_HAS_GLOO ON)
    if(NOT FTLIB_GLOO_INCLUDE_DIR STREQUAL "/usr/include")
      target_include_directories(ftlib_torch_imported INTERFACE "${FTLIB_GLOO_INCLUDE_DIR}")
    endif()
    target_compile_definitions(ftlib_torch_imported INTERFACE FTLIB_HAS_GLOO=1)
  else()
    set(FTLIB_HAS_GLOO OFF)
  endif()
  if(NOT ${CMAKE_FIND_PACKAGE_NAME}_FIND_QUIETLY)
    if(FTLIB_HAS_GLOO)
      message(STATUS "ftlib: data-parallel training on c10d Gloo (Gloo headers at ${FTLIB_GLOO_INCLUDE_DIR})")
    else()
      message(STATUS "ftlib: no data-parallel training: Gloo's headers (gloo/config.h) not found; install libgloo-dev")
    endif()
    set(_ftlib_abi "${FTLIB_TORCH_CXX11_ABI}")
    if(_ftlib_abi STREQUAL "")
      set(_ftlib_abi "not stated")
    endif()
    message(STATUS "ftlib: LibTorch ${Torch_VERSION} at ${TORCH_INSTALL_PREFIX}; CUDA ${FTLIB_TORCH_CUDA}; "
                   "_GLIBCXX_USE_CXX11_ABI ${_ftlib_abi}")
    if(FTLIB_TORCH_LIBGOMP)
      message(STATUS "ftlib: OpenMP runtime: LibTorch's own ${FTLIB_TORCH_LIBGOMP}")
    endif()
    if(FTLIB_TORCH_NVIDIA_LIBRARY_DIRS)
      list(JOIN FTLIB_TORCH_NVIDIA_LIBRARY_DIRS " " _ftlib_dirs)
      message(STATUS "ftlib: CUDA libraries at run time first from the nvidia wheels: ${_ftlib_dirs}")
    endif()
  endif()
endif()

# --- oneDNN's sgemm --------------------------------------------------------------------------------
# For both backends' float32 CPU matrix products (backends/onednn_sgemm.hpp): it runs on the OpenMP
# threads LibTorch and the Eigen backend use. Optional: ftlib_onednn_imported is empty without it
# (FTLIB_WITH_ONEDNN=OFF, no libdnnl-dev, or a LibTorch next to which it does not work) and the
# backends use their own products.
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
    set(_ftlib_onednn_usable OFF)
    if(FTLIB_ONEDNN_INCLUDE_DIR AND FTLIB_ONEDNN_LIBRARY)
      set(_ftlib_onednn_usable ON)
    endif()
    # A LibTorch that carries its own oneDNN inside libtorch_cpu (pip's torch, the libtorch zips) exports
    # some of oneDNN's internal symbols; in one process with it, libdnnl's calls land in LibTorch's copy
    # and every dnnl_sgemm fails (dnnl_unimplemented, seen with torch 2.15). Whether the two work
    # together is checked by running one product in a program linked with both (Debian's LibTorch links
    # this same libdnnl, so there it does).
    if(_ftlib_onednn_usable AND TARGET ftlib_torch_imported)
      if(NOT DEFINED FTLIB_ONEDNN_WITH_TORCH_RUNS OR NOT FTLIB_ONEDNN_WITH_TORCH_CHECKED STREQUAL "${TORCH_INSTALL_PREFIX};${FTLIB_ONEDNN_LIBRARY}")
        # LibTorch's targets cannot be copied into the check's project (they name a non-imported alias),
        # so it links libtorch_cpu's file, and the nvidia wheels' folders as the programs do.
        set(_ftlib_torch_cpu "")
        if(TARGET torch_cpu)
          get_target_property(_ftlib_torch_cpu torch_cpu IMPORTED_LOCATION)
          get_target_property(_ftlib_configs torch_cpu IMPORTED_CONFIGURATIONS)
          if(NOT _ftlib_torch_cpu AND _ftlib_configs)
            list(GET _ftlib_configs 0 _ftlib_config)
            get_target_property(_ftlib_torch_cpu torch_cpu IMPORTED_LOCATION_${_ftlib_config})
          endif()
        endif()
        set(_ftlib_check_link_options "")
        foreach(_ftlib_dir IN LISTS FTLIB_TORCH_NVIDIA_LIBRARY_DIRS)
          list(APPEND _ftlib_check_link_options "LINKER:-rpath,${_ftlib_dir}")
        endforeach()
        try_run(_ftlib_run_result _ftlib_compile_result
                "${CMAKE_BINARY_DIR}/CMakeFiles/ftlib_onednn_with_torch"
                "${CMAKE_CURRENT_LIST_DIR}/ftlib_onednn_with_torch.cpp"
                CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${FTLIB_ONEDNN_INCLUDE_DIR}"
                LINK_OPTIONS ${_ftlib_check_link_options} "LINKER:--no-as-needed"
                LINK_LIBRARIES "${_ftlib_torch_cpu}" "${FTLIB_ONEDNN_LIBRARY}"
                COMPILE_OUTPUT_VARIABLE _ftlib_compile_output
                RUN_OUTPUT_VARIABLE _ftlib_run_output)
        if(_ftlib_compile_result AND _ftlib_run_result EQUAL 0)
          set(FTLIB_ONEDNN_WITH_TORCH_RUNS ON CACHE INTERNAL "")
        else()
          set(FTLIB_ONEDNN_WITH_TORCH_RUNS OFF CACHE INTERNAL "")
          string(STRIP "${_ftlib_run_output}" _ftlib_run_output)
          if(NOT _ftlib_compile_result)
            set(_ftlib_run_output "the check did not build")
          endif()
          message(STATUS "ftlib: not using oneDNN's sgemm (${FTLIB_ONEDNN_LIBRARY}) with this LibTorch: "
                         "${_ftlib_run_output}. The float32 CPU products are LibTorch's own and Eigen's.")
        endif()
        set(FTLIB_ONEDNN_WITH_TORCH_CHECKED "${TORCH_INSTALL_PREFIX};${FTLIB_ONEDNN_LIBRARY}" CACHE INTERNAL "")
      endif()
      set(_ftlib_onednn_usable ${FTLIB_ONEDNN_WITH_TORCH_RUNS})
    endif()
    if(_ftlib_onednn_usable)
      target_include_directories(ftlib_onednn_imported INTERFACE ${FTLIB_ONEDNN_INCLUDE_DIR})
      target_link_libraries(ftlib_onednn_imported INTERFACE ${FTLIB_ONEDNN_LIBRARY})
      target_compile_definitions(ftlib_onednn_imported INTERFACE FTLIB_HAS_ONEDNN_SGEMM=1)
    endif()
  endif()
endif()

# --- Eigen (after LibTorch: OpenMP follows the runtime LibTorch brings) ---------------------------
if(FTLIB_WITH_EIGEN)
  find_dependency(Eigen3 3.4 NO_MODULE)
  if(FTLIB_TORCH_LIBGOMP AND NOT OpenMP_gomp_LIBRARY)
    set(OpenMP_gomp_LIBRARY "${FTLIB_TORCH_LIBGOMP}" CACHE FILEPATH "GNU OpenMP runtime (LibTorch's own)")
  endif()
  find_dependency(OpenMP)
endif()
