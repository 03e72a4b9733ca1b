# LibTorch backend: all of its tests in one translation unit (LibTorch headers dominate build time).
if(FTLIB_WITH_LIBTORCH)
  ftlib_add_test(test_libtorch_models SOURCES test_libtorch_models.cpp LIBS ftlib::libtorch LABELS libtorch)
endif()

# `ftlib train --fp16` on the CPU is refused before any work, naming the flag and the device.
if(FTLIB_WITH_LIBTORCH AND TARGET ftlib_tool)
  ftlib_add_command_test(ftlib_cli_fp16_refused_on_cpu EXIT 1
    OUTPUT "--fp16.*needs a CUDA device, but --device is cpu; use --bf16"
    COMMAND $<TARGET_FILE:ftlib_tool> train --backend libtorch --device cpu --fp16
            --model ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/tiny-distilbert
            --train ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/reviews.csv --label-column sentiment
            --max-steps 1 --disable-tqdm --output ${CMAKE_CURRENT_BINARY_DIR}/fp16_refused_on_cpu
    LABELS libtorch cli)
endif()
