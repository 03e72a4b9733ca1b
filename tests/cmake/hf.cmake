# HuggingFace formats: safetensors, checkpoint loading reports, the hub cache/download.
ftlib_add_test(test_hf_safetensors SOURCES test_hf_safetensors.cpp)

# The loader's matching is checked against a backend's parameter registry: the Eigen one's.
if(TARGET ftlib::eigen)
  ftlib_add_test(test_hf_checkpoint SOURCES test_hf_checkpoint.cpp LIBS ftlib::eigen)
endif()
ftlib_add_test(test_hf_hub SOURCES test_hf_hub.cpp)

# `ftlib inspect` on a fixture directory: the parameter count and label names come from the
# HF-written files (torch counts 52,421 parameters in distilbert-tiny).
if(TARGET ftlib_tool)
  set(_hf_inspect_dir "${FTLIB_SHARED_DIR}/fixtures/models/distilbert-tiny")
  if(EXISTS "${_hf_inspect_dir}/config.json")
    ftlib_add_command_test(ftlib_inspect_fixture EXIT 0
      OUTPUT "52,421 parameters.*4=5 stars|4=5 stars.*52,421 parameters"
      COMMAND $<TARGET_FILE:ftlib_tool> inspect "${_hf_inspect_dir}")
    ftlib_add_command_test(ftlib_inspect_pretraining_checkpoint EXIT 0
      OUTPUT "newly initialised +classifier.bias, classifier.weight"
      COMMAND $<TARGET_FILE:ftlib_tool> inspect "${FTLIB_SHARED_DIR}/fixtures/models/albert-pretraining-checkpoint")
    ftlib_add_command_test(ftlib_inspect_offline_error EXIT 1 OUTPUT "ftlib-test/not-cached.*HF_HUB_OFFLINE"
      COMMAND ${CMAKE_COMMAND} -E env HF_HUB_OFFLINE=1 HF_HUB_CACHE=${CMAKE_CURRENT_BINARY_DIR}/empty-hf-cache
              $<TARGET_FILE:ftlib_tool> inspect ftlib-test/not-cached)
  else()
    add_test(NAME ftlib_inspect_fixture COMMAND ${CMAKE_COMMAND} -E echo
             "SKIPPED: ${_hf_inspect_dir} not found (check out ../shared beside the source tree)")
  endif()
endif()

# transformers loads what `ftlib train` saves and ftlib scores what transformers saves (safetensors and
# pytorch_model.bin); needs the project's Python environment, skipped (exit 77) without it.
if(TARGET ftlib_tool)
  add_test(NAME interop_transformers
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/interop/run_interop.sh $<TARGET_FILE:ftlib_tool>
                   ${CMAKE_CURRENT_BINARY_DIR}/interop ${FTLIB_SHARED_DIR})
  set_tests_properties(interop_transformers PROPERTIES SKIP_RETURN_CODE 77 LABELS "python;interop" TIMEOUT 600)
endif()
