# `ftlib train` plus what train/evaluate/predict share: the session interface and the CLI helpers.
target_sources(ftlib_tool PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/ftlib/train_command.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/ftlib/cli_common.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/ftlib/backend_loader.cpp)
target_link_libraries(ftlib_tool PRIVATE ${CMAKE_DL_LIBS})
# C++ objects cross between the tool and its modules: the top-level CMakeLists.txt gives every
# program LibTorch's choice of libstdc++ ABI.

# Each backend is a module the tool opens when a command needs it (backend_module.hpp): one
# translation unit per backend holds all of its Trainer instantiations. Built beside the tool (the
# build tree's examples/) and installed into <libdir>/ftlib.
function(ftlib_add_backend_module name source component)
  add_library(ftlib_backend_${name} MODULE ${source})
  set_target_properties(ftlib_backend_${name} PROPERTIES
    OUTPUT_NAME ftlib_backend_${name}
    LIBRARY_OUTPUT_DIRECTORY $<TARGET_FILE_DIR:ftlib_tool>
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(ftlib_backend_${name} PRIVATE ${component} ftlib_native_arch)
  target_include_directories(ftlib_backend_${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/ftlib)
  add_dependencies(ftlib_tool ftlib_backend_${name})
  install(TARGETS ftlib_backend_${name} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/ftlib)
endfunction()
if(TARGET ftlib::eigen)
  ftlib_add_backend_module(eigen ${CMAKE_CURRENT_SOURCE_DIR}/ftlib/backend_eigen.cpp ftlib::eigen)
endif()
if(TARGET ftlib::libtorch)
  ftlib_add_backend_module(libtorch ${CMAKE_CURRENT_SOURCE_DIR}/ftlib/backend_libtorch.cpp ftlib::libtorch)
endif()
