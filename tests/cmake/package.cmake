# Installs ftlib into a scratch prefix and builds tests/consumer against it with find_package.
set(ftlib_consumer_prefix ${CMAKE_CURRENT_BINARY_DIR}/consumer-prefix)
set(ftlib_consumer_build ${CMAKE_CURRENT_BINARY_DIR}/consumer-build)
add_test(NAME package_install
  COMMAND ${CMAKE_COMMAND} --install ${PROJECT_BINARY_DIR} --prefix ${ftlib_consumer_prefix})
add_test(NAME package_consumer_configure
  COMMAND ${CMAKE_COMMAND} -S ${CMAKE_CURRENT_SOURCE_DIR}/consumer -B ${ftlib_consumer_build}
          -DCMAKE_PREFIX_PATH=${ftlib_consumer_prefix} -DCMAKE_BUILD_TYPE=Release)
add_test(NAME package_consumer_build COMMAND ${CMAKE_COMMAND} --build ${ftlib_consumer_build})
add_test(NAME package_consumer_run COMMAND ${ftlib_consumer_build}/consumer)
set_tests_properties(package_install PROPERTIES FIXTURES_SETUP ftlib_installed)
set_tests_properties(package_consumer_configure PROPERTIES FIXTURES_REQUIRED ftlib_installed FIXTURES_SETUP ftlib_consumer_configured)
set_tests_properties(package_consumer_build PROPERTIES FIXTURES_REQUIRED ftlib_consumer_configured FIXTURES_SETUP ftlib_consumer_built)
set_tests_properties(package_consumer_run PROPERTIES FIXTURES_REQUIRED ftlib_consumer_built
  PASS_REGULAR_EXPRESSION "consumer ok: reviews.csv:3:7: unterminated quote")

# The README's C++ example, end to end on the small made-up data of tests/data/trainer, once per
# backend: the same source, built with either backend's include and namespace.
foreach(example quickstart quickstart_libtorch)
  if(TARGET ${example})
    add_test(NAME example_${example}
      COMMAND ${example} ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/tiny-distilbert
              ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/reviews.csv ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/reviews.csv
              text sentiment ${CMAKE_CURRENT_BINARY_DIR}/${example}-out)
    set_tests_properties(example_${example} PROPERTIES PASS_REGULAR_EXPRESSION "quickstart ok")
  endif()
endforeach()
