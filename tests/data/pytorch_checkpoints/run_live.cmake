# Regenerates the torch.save fixtures with the pinned PyPI torch into OUT and runs the C++ test on
# them (cmake -P).   -DSOURCE_DIR=<checkout> -DTEST=<test_hf_pytorch_checkpoint> -DOUT=<scratch dir>
execute_process(COMMAND "${SOURCE_DIR}/scripts/python_env.sh" --check
                RESULT_VARIABLE rc OUTPUT_VARIABLE venv OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0 OR NOT EXISTS "${venv}/bin/python")
  message("SKIPPED: no Python environment with torch (create it with scripts/python_env.sh)")
  return()
endif()
file(REMOVE_RECURSE "${OUT}")
execute_process(COMMAND "${venv}/bin/python" "${SOURCE_DIR}/tests/data/pytorch_checkpoints/generate.py" "${OUT}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "generate.py failed (${rc}):\n${out}\n${err}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E env "FTLIB_PYTORCH_FIXTURES=${OUT}" "${TEST}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "test_hf_pytorch_checkpoint failed on freshly generated fixtures (${rc}):\n${out}\n${err}")
endif()
message("ok: test_hf_pytorch_checkpoint passes on fixtures just written by torch in ${OUT}")
