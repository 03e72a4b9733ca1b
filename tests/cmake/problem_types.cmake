# Problem types (single-label, multi-label, regression) and class weights: their metrics, and the
# tool end to end on tasks derived from the review sample (tests/problem_types/).
ftlib_add_test(test_metrics_problem_types SOURCES test_metrics_problem_types.cpp LABELS metrics)

if(TARGET ftlib_tool AND ftlib_tool_backends)
  add_executable(derive_review_tasks problem_types/derive_review_tasks.cpp)
  target_link_libraries(derive_review_tasks PRIVATE ftlib::ftlib)
  foreach(backend IN LISTS ftlib_tool_backends)
    add_test(NAME problem_types_e2e_${backend}
             COMMAND ${CMAKE_COMMAND} -DFTLIB=$<TARGET_FILE:ftlib_tool> -DDERIVE=$<TARGET_FILE:derive_review_tasks> -DBACKEND=${backend}
                     -DMODEL_DIR=${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/tiny-bert -DSHARED=${FTLIB_SHARED_DIR}
                     -DWORK=${CMAKE_CURRENT_BINARY_DIR}/problem_types_${backend}
                     -P ${CMAKE_CURRENT_SOURCE_DIR}/problem_types/problem_types_e2e.cmake)
    set_tests_properties(problem_types_e2e_${backend} PROPERTIES LABELS "trainer;cli;problem_types" TIMEOUT 600
                         SKIP_REGULAR_EXPRESSION "SKIPPED:")
  endforeach()
endif()

# Bad input of the problem types, each refused before any training with a message naming the place.
if(TARGET ftlib_tool)
  set(pt_data ${CMAKE_CURRENT_SOURCE_DIR}/data/problem_types)
  set(pt_model ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/tiny-bert)
  set(pt_out ${CMAKE_CURRENT_BINARY_DIR}/problem_types_refused)
  ftlib_add_command_test(ftlib_cli_regression_label_not_a_number EXIT 1
    OUTPUT "regression_not_a_number.csv:3:[0-9]+: label 'three' in column 'stars' \\(field 2\\) is not a number"
    COMMAND $<TARGET_FILE:ftlib_tool> train --model ${pt_model} --problem-type regression --train ${pt_data}/regression_not_a_number.csv
            --label-column stars --max-steps 1 --output ${pt_out}/regression
    LABELS "cli;problem_types")
  ftlib_add_command_test(ftlib_cli_multi_label_unknown_label EXIT 1
    OUTPUT "multi_label_unknown.csv:3:[0-9]+: unknown label 'poetry' in column 'labels' \\(field 2\\); the labels are: 'books', 'garden', 'music', 'toys'"
    COMMAND $<TARGET_FILE:ftlib_tool> train --model ${pt_model} --problem-type multi_label_classification --label-column labels
            --train ${pt_data}/multi_label_train.csv --validation ${pt_data}/multi_label_unknown.csv --max-steps 1 --output ${pt_out}/multi
    LABELS "cli;problem_types")
  ftlib_add_command_test(ftlib_cli_class_weights_wrong_count EXIT 1
    OUTPUT "--class-weights: 3 weights for the 2 labels of the training data \\(negative, positive\\)"
    COMMAND $<TARGET_FILE:ftlib_tool> train --model ${pt_model} --train ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/reviews.csv
            --label-column sentiment --class-weights 1,2,3 --max-steps 1 --output ${pt_out}/weights
    LABELS "cli;problem_types")
  ftlib_add_command_test(ftlib_cli_class_weights_negative EXIT 1
    OUTPUT "--class-weights: the weight of label 'negative' is -1.000000; weights must be finite and >= 0"
    COMMAND $<TARGET_FILE:ftlib_tool> train --model ${pt_model} --train ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/reviews.csv
            --label-column sentiment --class-weights=-1,2 --max-steps 1 --output ${pt_out}/weights
    LABELS "cli;problem_types")
  ftlib_add_command_test(ftlib_cli_class_weights_not_single_label EXIT 1
    OUTPUT "--class-weights: class weights apply to single_label_classification, not multi_label_classification"
    COMMAND $<TARGET_FILE:ftlib_tool> train --model ${pt_model} --problem-type multi_label_classification --train ${pt_data}/multi_label_train.csv
            --label-column labels --class-weights balanced --max-steps 1 --output ${pt_out}/weights
    LABELS "cli;problem_types")
  ftlib_add_command_test(ftlib_cli_problem_type_does_not_fit_head EXIT 1
    OUTPUT "regression-head-with-two-labels/config.json: field 'problem_type': regression has one output \\(num_labels 1\\), but the head has 2 labels"
    COMMAND $<TARGET_FILE:ftlib_tool> evaluate --model ${pt_data}/regression-head-with-two-labels
            --data ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/reviews.csv --label-column sentiment
    LABELS "cli;problem_types")
  ftlib_add_command_test(ftlib_cli_problem_type_differs_from_fine_tuned_head EXIT 1
    OUTPUT "--problem-type: single_label_classification does not match the checkpoint's head: .*bert-regression/config.json was fine-tuned for regression \\(num_labels 1\\)"
    COMMAND $<TARGET_FILE:ftlib_tool> train --model ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/models/bert-regression
            --tokenizer ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/vocab.txt --problem-type single_label_classification
            --train ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/reviews.csv --label-column sentiment --max-steps 1 --output ${pt_out}/head
    LABELS "cli;problem_types")
  ftlib_add_command_test(ftlib_cli_problem_type_unknown EXIT 1
    OUTPUT "--problem-type: unknown problem type 'ordinal': expected single_label_classification, multi_label_classification or regression"
    COMMAND $<TARGET_FILE:ftlib_tool> train --model ${pt_model} --problem-type ordinal --train ${CMAKE_CURRENT_SOURCE_DIR}/data/trainer/reviews.csv
            --label-column sentiment --max-steps 1 --output ${pt_out}/unknown
    LABELS "cli;problem_types")
endif()
