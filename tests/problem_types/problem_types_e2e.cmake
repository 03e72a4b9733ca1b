# Regression and multi-label fine-tuning end to end with the `ftlib` tool, on tasks derived from the
# Amazon review sample (../shared/data/amazon_reviews_5class, third-party: read, never committed):
#   regression   stars as numbers (--problem-type regression --label-column stars)
#   multi-label  the star bucket (negative/neutral/positive) plus "long" (> 60 words), written by
#                derive_review_tasks both as one "labels" column ("positive;long") and as 0/1 columns
# Each: train (tiny BERT from scratch, a few steps, validation and test) -> the saved config.json has the
# problem type -> the model learned (evaluation loss below the first logged training loss) -> evaluate
# reports train's final test metrics again (multi-label: read through the 0/1 columns this time) ->
# predict writes the problem type's output for every row -> report.html shows its charts.
# Run as: cmake -DFTLIB=<tool> -DDERIVE=<derive_review_tasks> -DBACKEND=<eigen|libtorch> -DMODEL_DIR=<tiny-bert>
#               -DSHARED=<shared dir> -DWORK=<dir> -P problem_types_e2e.cmake
cmake_minimum_required(VERSION 3.22)
if(DEFINED ENV{FTLIB_SHARED_DIR})
  set(SHARED $ENV{FTLIB_SHARED_DIR})
endif()
set(reviews ${SHARED}/data/amazon_reviews_5class)
if(NOT EXISTS ${reviews}/train.csv)
  if("$ENV{FTLIB_REQUIRE_SHARED_DATA}" STREQUAL "1")
    message(FATAL_ERROR "FTLIB_REQUIRE_SHARED_DATA=1, but ${reviews}/train.csv is absent")
  endif()
  message("SKIPPED: ${reviews}/train.csv not found (the review sample lives in ../shared)")
  return()
endif()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

function(run_tool)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${ARGN}\nexit ${rc}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

# expect(<if() condition> BECAUSE <message>): fails the test with the message unless the condition holds.
function(expect)
  cmake_parse_arguments(E "" "BECAUSE" "" ${ARGN})
  if(NOT (${E_UNPARSED_ARGUMENTS}))
    message(FATAL_ERROR "${E_BECAUSE}")
  endif()
endfunction()

# expect_same_metrics(<task> <train's metrics.json text> <evaluate's json text> <keys...>): evaluate reports
# train's final test numbers again, key by key.
function(expect_same_metrics task train_metrics eval_metrics)
  foreach(key IN LISTS ARGN)
    string(JSON a GET "${train_metrics}" test ${key})
    string(JSON b GET "${eval_metrics}" ${key})
    expect(a STREQUAL b BECAUSE "${task}: evaluate reports ${key} = ${b}, train's final test report said ${a}")
  endforeach()
endfunction()

set(base --backend ${BACKEND} --model ${MODEL_DIR} --logging-steps 1 --learning-rate 2e-3 --max-length 32
         --per-device-train-batch-size 16 --disable-tqdm --report-to none)
set(common ${base} --max-steps 40 --eval-steps 20)

# --- regression: stars as numbers -------------------------------------------------------------------
run_tool(${FTLIB} train ${common} --problem-type regression --text-column review_body --label-column stars
         --train ${reviews}/train.csv --validation ${reviews}/validation.csv --test ${reviews}/test.csv --output ${WORK}/regression)
file(READ ${WORK}/regression/config.json config)
string(JSON problem GET "${config}" problem_type)
expect(problem STREQUAL regression BECAUSE "regression: config.json problem_type is '${problem}'")
file(READ ${WORK}/regression/metrics.json metrics)
foreach(key loss mse mae rmse r2 pearson spearman)
  string(JSON value ERROR_VARIABLE missing GET "${metrics}" test ${key})
  expect(NOT missing BECAUSE "regression: metrics.json test has no ${key}: ${missing}")
endforeach()
string(JSON test_mse GET "${metrics}" test mse)
string(JSON points LENGTH "${metrics}" test points true)
file(STRINGS ${WORK}/regression/train_log.jsonl log LIMIT_COUNT 1)
string(JSON first_loss GET "${log}" loss)
# Untrained outputs are near 0 against stars 1..5 (an MSE of ~11): training must at least learn the scale.
expect(test_mse LESS first_loss BECAUSE "regression: test MSE ${test_mse} is not below the first training loss ${first_loss}")
run_tool(${FTLIB} evaluate --backend ${BACKEND} --model ${WORK}/regression --data ${reviews}/test.csv --text-column review_body
         --label-column stars --max-length 32 --output ${WORK}/regression-eval.json)
file(READ ${WORK}/regression-eval.json eval)
expect_same_metrics(regression "${metrics}" "${eval}" loss mse r2 spearman num_examples)
string(JSON rows GET "${eval}" num_examples)
expect(points EQUAL rows BECAUSE "regression: metrics.json has ${points} scatter points for ${rows} rows")
run_tool(${FTLIB} predict --backend ${BACKEND} --model ${WORK}/regression --input ${reviews}/test.csv --text-column review_body
         --max-length 32 --output ${WORK}/regression.jsonl)
file(STRINGS ${WORK}/regression.jsonl lines)
list(LENGTH lines n)
expect(n EQUAL rows BECAUSE "regression: predict wrote ${n} lines for ${rows} rows")
list(GET lines 0 line)
string(JSON value GET "${line}" value)
string(JSON logit GET "${line}" logits 0)
expect(value STREQUAL logit BECAUSE "regression: predict's value ${value} is not its logit ${logit}")
file(READ ${WORK}/regression/report.html html)
string(FIND "${html}" "predicted against true value" scatter)
expect(scatter GREATER -1 BECAUSE "regression: report.html has no predicted-vs-true scatter")
message(STATUS "regression: test MSE ${test_mse} (first training loss ${first_loss}), ${rows} rows predicted")

# --- multi-label: star bucket + "long" ---------------------------------------------------------------
foreach(split train validation test)
  run_tool(${DERIVE} ${reviews}/${split}.csv ${WORK}/multi-${split}.csv)
endforeach()
run_tool(${FTLIB} train ${common} --problem-type multi_label_classification --label-column labels
         --train ${WORK}/multi-train.csv --validation ${WORK}/multi-validation.csv --test ${WORK}/multi-test.csv
         --output ${WORK}/multi-label)
file(READ ${WORK}/multi-label/config.json config)
string(JSON problem GET "${config}" problem_type)
expect(problem STREQUAL multi_label_classification BECAUSE "multi-label: config.json problem_type is '${problem}'")
set(names)
foreach(i 0 1 2 3)
  string(JSON name GET "${config}" id2label ${i})
  list(APPEND names ${name})
endforeach()
if(NOT names STREQUAL "long;negative;neutral;positive")
  message(FATAL_ERROR "multi-label: id2label is ${names}, expected the sorted long;negative;neutral;positive")
endif()
file(READ ${WORK}/multi-label/metrics.json metrics)
foreach(key loss subset_accuracy hamming_loss f1_micro f1_macro f1_weighted)
  string(JSON value ERROR_VARIABLE missing GET "${metrics}" test ${key})
  expect(NOT missing BECAUSE "multi-label: metrics.json test has no ${key}: ${missing}")
endforeach()
string(JSON labels LENGTH "${metrics}" test per_class)
expect(labels EQUAL 4 BECAUSE "multi-label: ${labels} per-label rows")
string(JSON test_loss GET "${metrics}" test loss)
file(STRINGS ${WORK}/multi-label/train_log.jsonl log LIMIT_COUNT 1)
string(JSON first_loss GET "${log}" loss)
expect(test_loss LESS first_loss BECAUSE "multi-label: test loss ${test_loss} is not below the first training loss ${first_loss}")
# The same file through its 0/1 columns must score exactly as through its "labels" column.
run_tool(${FTLIB} evaluate --backend ${BACKEND} --model ${WORK}/multi-label --data ${WORK}/multi-test.csv
         --label-columns negative,neutral,positive,long --max-length 32 --output ${WORK}/multi-eval.json)
file(READ ${WORK}/multi-eval.json eval)
expect_same_metrics("multi-label (0/1 columns at evaluate, labels column at train)" "${metrics}" "${eval}"
                    loss subset_accuracy f1_micro f1_macro num_examples)
string(JSON rows GET "${eval}" num_examples)
run_tool(${FTLIB} predict --backend ${BACKEND} --model ${WORK}/multi-label --input ${WORK}/multi-test.csv --max-length 32
         --multi-label-threshold 0.3 --output ${WORK}/multi.jsonl)
file(STRINGS ${WORK}/multi.jsonl lines)
list(LENGTH lines n)
expect(n EQUAL rows BECAUSE "multi-label: predict wrote ${n} lines for ${rows} rows")
set(predicted 0)
foreach(line IN LISTS lines)
  string(JSON k LENGTH "${line}" labels)
  math(EXPR predicted "${predicted} + ${k}")
  foreach(i 0 1 2 3)
    string(JSON p GET "${line}" probabilities ${i})
    string(JSON name GET "${config}" id2label ${i})
    string(FIND "${line}" "\"${name}\"" named)
    # A label is listed exactly when its probability is >= the threshold.
    if(p GREATER_EQUAL 0.3)
      expect(named GREATER -1 BECAUSE "multi-label: ${name} has probability ${p} >= 0.3 but is not listed: ${line}")
    else()
      expect(named EQUAL -1 BECAUSE "multi-label: ${name} has probability ${p} < 0.3 but is listed: ${line}")
    endif()
  endforeach()
endforeach()
file(READ ${WORK}/multi-label/report.html html)
string(FIND "${html}" "per-label precision, recall and F1" bars)
expect(bars GREATER -1 BECAUSE "multi-label: report.html has no per-label bars")
message(STATUS "multi-label: test loss ${test_loss} (first training loss ${first_loss}), ${predicted} labels predicted for ${rows} rows")

# --- single-label with balanced class weights: recorded with the run ----------------------------------
run_tool(${FTLIB} train ${base} --max-steps 4 --text-column review_body --label-column stars --label-offset 1
         --class-weights balanced --train ${reviews}/train.csv --output ${WORK}/weighted)
file(READ ${WORK}/weighted/run_settings.json settings)
string(JSON from GET "${settings}" class_weights_from)
string(JSON k LENGTH "${settings}" class_weights)
expect(from STREQUAL balanced AND k EQUAL 5 BECAUSE "class weights: run_settings.json records '${from}' with ${k} weights")
file(READ ${WORK}/weighted/report.html html)
string(FIND "${html}" "class_weights" shown)
expect(shown GREATER -1 BECAUSE "class weights: report.html does not show them")
string(JSON w0 GET "${settings}" class_weights 0)
message(STATUS "class weights: balanced, weight of 1 star ${w0}")
