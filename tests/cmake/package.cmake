# Installs ftlib into a scratch prefix and builds tests/consumer against it with find_package. With the
# LibTorch component the consumer also builds and runs a program on ftlib::libtorch: it must find the
# same LibTorch as this build (the installed config records it) and load it (rpath, CUDA libraries).
set(ftlib_consumer_prefix ${CMAKE_CURRENT_BINARY_DIR}/consumer-prefix)
set(ftlib_consumer_build ${CMAKE_CURRENT_BINARY_DIR}/consumer-build)
set(ftlib_consumer_libtorch OFF)
if(TARGET ftlib::libtorch)
  set(ftlib_consumer_libtorch ON)
endif()
add_test(NAME package_install
  COMMAND ${CMAKE_COMMAND} --install ${PROJECT_BINARY_DIR} --prefix ${ftlib_consumer_prefix})
add_test(NAME package_consumer_configure
  COMMAND ${CMAKE_COMMAND} -S ${CMAKE_CURRENT_SOURCE_DIR}/consumer -B ${ftlib_consumer_build}
          -DCMAKE_PREFIX_PATH=${ftlib_consumer_prefix} -DCMAKE_BUILD_TYPE=Release
          -DFTLIB_CONSUMER_LIBTORCH=${ftlib_consumer_libtorch})
add_test(NAME package_consumer_build COMMAND ${CMAKE_COMMAND} --build ${ftlib_consumer_build})
ftlib_add_command_test(package_consumer_run EXIT 0 OUTPUT "consumer ok: reviews.csv:3:7: unterminated quote"
  COMMAND ${ftlib_consumer_build}/consumer)
set_tests_properties(package_install PROPERTIES FIXTURES_SETUP ftlib_installed)
set_tests_properties(package_consumer_configure PROPERTIES FIXTURES_REQUIRED ftlib_installed FIXTURES_SETUP ftlib_consumer_configured)
set_tests_properties(package_consumer_build PROPERTIES FIXTURES_REQUIRED ftlib_consumer_configured FIXTURES_SETUP ftlib_consumer_built)
set_tests_properties(package_consumer_run PROPERTIES FIXTURES_REQUIRED ftlib_consumer_built)
if(ftlib_consumer_libtorch)
  if(TARGET torch_cuda)
    set(ftlib_consumer_cuda yes)
  else()
    set(ftlib_consumer_cuda no)
  endif()
  string(REGEX MATCH "^[0-9]+\\.[0-9]+" ftlib_consumer_torch_version "${Torch_VERSION}")
  string(REPLACE "." "\\." ftlib_consumer_torch_version "${ftlib_consumer_torch_version}")
  ftlib_add_command_test(package_consumer_run_libtorch EXIT 0
    OUTPUT "consumer libtorch ok: LibTorch ${ftlib_consumer_torch_version}, sum 24, CUDA build ${ftlib_consumer_cuda}"
    COMMAND ${ftlib_consumer_build}/consumer_libtorch LABELS libtorch)
  set_tests_properties(package_consumer_run_libtorch PROPERTIES FIXTURES_REQUIRED ftlib_consumer_built)
endif()

# The README's C++ example, end to end on the small made-up data of tests/data/trainer, once per
# backend: the same source, built with either backend's include and namespace.
foreach(example quickstart quickstart_libtorch)
  if(TARGET ${example})
    ftlib_add_command_test(example_${example} EXIT 0 OUTPUT "quickstart ok"
      COMMAND $<TARGET_FILE:${example}> ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/tiny-distilbert
              ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/reviews.csv ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/reviews.csv
              text sentiment ${CMAKE_CURRENT_BINARY_DIR}/${example}-out)
  endif()
endforeach()
