# The catalogue of bad inputs (tests/catalogue/bad_inputs.sh): every malformed file or flag, its exit
# code and message, each run under a memory limit.
if(TARGET ftlib_tool)
  add_test(NAME bad_input_catalogue
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/catalogue/bad_inputs.sh $<TARGET_FILE:ftlib_tool>
                   ${CMAKE_CURRENT_BINARY_DIR}/catalogue)
  set_tests_properties(bad_input_catalogue PROPERTIES LABELS "cli;reliability" TIMEOUT 900)
endif()

# kill -9 at random moments and exact resume; a full output disk (tests/catalogue/interruptions.sh),
# once per backend the tool has.
if(TARGET ftlib_tool)
  foreach(backend IN LISTS ftlib_tool_backends)
    add_test(NAME interruptions_${backend}
             COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/catalogue/interruptions.sh $<TARGET_FILE:ftlib_tool> ${backend}
                     ${CMAKE_CURRENT_BINARY_DIR}/interruptions_${backend} 8)
    set_tests_properties(interruptions_${backend} PROPERTIES LABELS "cli;reliability" TIMEOUT 900)
  endforeach()
endif()
