# Reports of a run: TensorBoard event files and report.html (backend-free).
ftlib_add_test(test_reports SOURCES test_reports.cpp LABELS reports)

# A run as a user sees it: the files of `ftlib train` (and a resumed run), then TensorBoard's own
# reader and headless Chromium on them (each skipped, visibly, without its tool).
if(TARGET ftlib_tool AND ftlib_tool_backends)
  list(GET ftlib_tool_backends 0 report_backend)
  set(report_work ${CMAKE_CURRENT_BINARY_DIR}/reports)
  foreach(step train tensorboard chromium)
    add_test(NAME report_${step}
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/reports/check_run_reports.sh ${step} $<TARGET_FILE:ftlib_tool> ${report_backend} ${report_work})
    set_tests_properties(report_${step} PROPERTIES SKIP_RETURN_CODE 77 LABELS "reports;cli" TIMEOUT 300)
  endforeach()
  set_tests_properties(report_train PROPERTIES FIXTURES_SETUP report_run)
  set_tests_properties(report_tensorboard report_chromium PROPERTIES FIXTURES_REQUIRED report_run)
  set_tests_properties(report_tensorboard PROPERTIES LABELS "reports;cli;python")
endif()
