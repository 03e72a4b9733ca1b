# Data-parallel training (c10d Gloo) end to end with the tool: tests/distributed/ddp_e2e.sh. The
# backend-free parts (accelerate's batch sharding, torchrun's variables) are in test_trainer.cpp.
add_executable(compare_models ${CMAKE_CURRENT_SOURCE_DIR}/distributed/compare_models.cpp)
target_link_libraries(compare_models PRIVATE ftlib)
if(TARGET ftlib_tool AND TARGET ftlib::libtorch)
  if(FTLIB_HAS_GLOO)
    string(REGEX MATCH "^[0-9]+" ftlib_torch_major "${Torch_VERSION}")
    foreach(mode equivalence failures torchrun two_hosts)
      add_test(NAME ddp_${mode}
               COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/distributed/ddp_e2e.sh ${mode} $<TARGET_FILE:ftlib_tool> $<TARGET_FILE:compare_models>
                       ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/tiny-bert ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/reviews.csv
                       ${CMAKE_CURRENT_BINARY_DIR}/ddp_${mode})
      # Each runs 2 worker processes (RUN_SERIAL: the loopback timings of the failure checks stay honest).
      set_tests_properties(ddp_${mode} PROPERTIES LABELS "trainer;cli;distributed" TIMEOUT 600 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE
                                                  ENVIRONMENT "FTLIB_TORCH_MAJOR=${ftlib_torch_major}")
    endforeach()
  else()
    add_test(NAME ddp_needs_gloo_headers COMMAND ${CMAKE_COMMAND} -E echo "SKIPPED: no Gloo headers (libgloo-dev): data-parallel tests not built")
  endif()
endif()
