# torch.save checkpoints (pytorch_model.bin): the reader against the committed fixtures, and the same
# test against a fresh run of the fixture generator under the pinned PyPI torch (skipped without
# the Python environment of scripts/python_env.sh).
ftlib_add_test(test_hf_pytorch_checkpoint SOURCES test_hf_pytorch_checkpoint.cpp)

add_test(NAME hf_pytorch_checkpoint_live_torch
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DTEST=$<TARGET_FILE:test_hf_pytorch_checkpoint>
          -DOUT=${CMAKE_CURRENT_BINARY_DIR}/pytorch_checkpoints_live
          -P ${CMAKE_CURRENT_SOURCE_DIR}/data/pytorch_checkpoints/run_live.cmake)
set_tests_properties(hf_pytorch_checkpoint_live_torch PROPERTIES
  LABELS python SKIP_REGULAR_EXPRESSION "SKIPPED:" TIMEOUT 300)
