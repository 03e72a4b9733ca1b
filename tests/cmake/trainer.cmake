# Trainer, DataLoader, TrainingArguments and callbacks: loop mechanics on a small exact model,
# plus the real Eigen models when the Eigen backend is built.
if(TARGET ftlib::eigen)
  ftlib_add_test(test_trainer SOURCES test_trainer.cpp LIBS ftlib::eigen LABELS trainer)
else()
  ftlib_add_test(test_trainer SOURCES test_trainer.cpp LABELS trainer)
endif()

# The `ftlib` tool end to end (train -> evaluate -> predict) on tests/data/trainer, per backend built.
if(TARGET ftlib_tool)
  foreach(backend IN LISTS ftlib_tool_backends)
    add_test(NAME ftlib_cli_train_evaluate_predict_${backend}
             COMMAND ${CMAKE_COMMAND} -DFTLIB=$<TARGET_FILE:ftlib_tool> -DBACKEND=${backend}
                     -DDATA=${CMAKE_CURRENT_SOURCE_DIR}/data/trainer
                     -DWORK=${CMAKE_CURRENT_BINARY_DIR}/trainer_e2e_${backend}
                     -P ${CMAKE_CURRENT_SOURCE_DIR}/trainer_cli_e2e.cmake)
    set_tests_properties(ftlib_cli_train_evaluate_predict_${backend} PROPERTIES LABELS "trainer;cli" TIMEOUT 300)
    # The same workflow on a BERT checkpoint: config.json's model_type picks the architecture.
    add_test(NAME ftlib_cli_train_evaluate_predict_bert_${backend}
             COMMAND ${CMAKE_COMMAND} -DFTLIB=$<TARGET_FILE:ftlib_tool> -DBACKEND=${backend} -DMODEL=tiny-bert
                     -DDATA=${CMAKE_CURRENT_SOURCE_DIR}/data/trainer
                     -DWORK=${CMAKE_CURRENT_BINARY_DIR}/trainer_e2e_bert_${backend}
                     -P ${CMAKE_CURRENT_SOURCE_DIR}/trainer_cli_e2e.cmake)
    set_tests_properties(ftlib_cli_train_evaluate_predict_bert_${backend} PROPERTIES LABELS "trainer;cli" TIMEOUT 300)
  endforeach()
endif()

# --threads takes a count of CPU threads; a negative one is refused naming the flag.
if(TARGET ftlib_tool)
  # CLI11 exits with 105 (ValidationError) for a value outside a flag's range.
  ftlib_add_command_test(ftlib_cli_threads_refused_when_negative EXIT 105
    OUTPUT "--threads: Value -1 not in range 0 to 4096"
    COMMAND $<TARGET_FILE:ftlib_tool> evaluate --threads -1 --model ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/tiny-distilbert
            --data ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/reviews.csv
    LABELS cli)
endif()
