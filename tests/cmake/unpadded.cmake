# Unpadded execution end to end: `ftlib train` unpadded (the default) and with --padded-execution is
# the same run to float32 rounding (tests/unpadded/). The layer- and model-level checks are in
# test_eigen_layers (packed attention) and the fixture suite (unpadded vs padded on every case).
if(TARGET ftlib_tool AND ftlib_tool_backends)
  foreach(backend IN LISTS ftlib_tool_backends)
    add_test(NAME unpadded_e2e_${backend}
             COMMAND ${CMAKE_COMMAND} -DFTLIB=$<TARGET_FILE:ftlib_tool> -DBACKEND=${backend}
                     -DMODEL_DIR=${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/tiny-bert -DDATA=${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/reviews.csv
                     -DWORK=${CMAKE_CURRENT_BINARY_DIR}/unpadded_${backend}
                     -P ${CMAKE_CURRENT_SOURCE_DIR}/unpadded/unpadded_e2e.cmake)
    set_tests_properties(unpadded_e2e_${backend} PROPERTIES LABELS "trainer;cli" TIMEOUT 300)
  endforeach()
endif()
