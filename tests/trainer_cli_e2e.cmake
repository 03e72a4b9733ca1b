# End-to-end run of the `ftlib` tool on a tiny made-up dataset (tests/data/trainer):
# train (from scratch, a few steps) -> evaluate (must report the same test metrics as train's
# final report) -> predict (one JSONL line per input row, probabilities summing to 1).
# Run as: cmake -DFTLIB=<tool> -DBACKEND=<eigen|libtorch> -DDATA=<tests/data/trainer> -DWORK=<dir>
#               [-DMODEL=<tiny-distilbert|tiny-bert>] -P trainer_cli_e2e.cmake
cmake_minimum_required(VERSION 3.22)
if(NOT MODEL)
  set(MODEL tiny-distilbert)
endif()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

function(run_tool)
  execute_process(COMMAND ${FTLIB} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "ftlib ${ARGN}\nexit ${rc}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run_tool(train --backend ${BACKEND} --model ${DATA}/${MODEL} --train ${DATA}/reviews.csv
         --validation ${DATA}/reviews.csv --test ${DATA}/reviews.csv --label-column sentiment
         --max-steps 6 --eval-steps 3 --logging-steps 1 --learning-rate 1e-3 --max-length 24
         --per-device-train-batch-size 8 --disable-tqdm --output ${WORK}/model)
foreach(f config.json model.safetensors vocab.txt metrics.json train_log.jsonl checkpoint-3/optimizer.safetensors checkpoint-6/trainer_state.json)
  if(NOT EXISTS ${WORK}/model/${f})
    message(FATAL_ERROR "train did not write ${f}")
  endif()
endforeach()
file(READ ${WORK}/model/metrics.json train_metrics)
file(READ ${WORK}/model/config.json config)
string(JSON label0 GET "${config}" id2label 0)
if(NOT label0 STREQUAL "negative")
  message(FATAL_ERROR "config.json id2label[0] is '${label0}', expected 'negative'")
endif()

run_tool(evaluate --backend ${BACKEND} --model ${WORK}/model --data ${DATA}/reviews.csv --label-column sentiment
         --max-length 24 --output ${WORK}/eval.json)
file(READ ${WORK}/eval.json eval_metrics)
foreach(key loss accuracy f1_macro num_examples)
  string(JSON a GET "${train_metrics}" test ${key})
  string(JSON b GET "${eval_metrics}" ${key})
  if(NOT a STREQUAL b)
    message(FATAL_ERROR "evaluate reports ${key} = ${b}, train's final test report said ${a}")
  endif()
endforeach()
string(JSON cm_a GET "${train_metrics}" test confusion_matrix)
string(JSON cm_b GET "${eval_metrics}" confusion_matrix)
string(JSON same EQUAL "${cm_a}" "${cm_b}")
if(NOT same)
  message(FATAL_ERROR "confusion matrices differ: ${cm_a} vs ${cm_b}")
endif()

run_tool(predict --backend ${BACKEND} --model ${WORK}/model --input ${DATA}/reviews.csv --max-length 24
         --threads 1 --output ${WORK}/predictions.jsonl)
file(STRINGS ${WORK}/predictions.jsonl lines)
list(LENGTH lines n)
if(NOT n EQUAL 40)
  message(FATAL_ERROR "predict wrote ${n} lines for 40 rows")
endif()
list(GET lines 0 first)
string(JSON label GET "${first}" label)
string(JSON p0 GET "${first}" probabilities 0)
string(JSON p1 GET "${first}" probabilities 1)
# Every row: a label name, and probabilities in [0, 1] summing to 1 (awk does the float arithmetic
# CMake cannot).
set(pairs "")
foreach(line IN LISTS lines)
  string(JSON row_label GET "${line}" label)
  if(NOT (row_label STREQUAL "negative" OR row_label STREQUAL "positive"))
    message(FATAL_ERROR "predict label '${row_label}' is not a label name: ${line}")
  endif()
  string(JSON q0 GET "${line}" probabilities 0)
  string(JSON q1 GET "${line}" probabilities 1)
  string(APPEND pairs "${q0} ${q1}\n")
endforeach()
file(WRITE ${WORK}/probabilities.txt "${pairs}")
execute_process(COMMAND awk "{ s = $1 + $2; if ($1 < 0 || $1 > 1 || $2 < 0 || $2 > 1 || s < 0.99999 || s > 1.00001) { print NR \": \" $0; bad = 1 } } END { exit bad }"
                        ${WORK}/probabilities.txt
                RESULT_VARIABLE bad_sums OUTPUT_VARIABLE bad_rows)
if(bad_sums)
  message(FATAL_ERROR "predict rows whose probabilities are not a distribution (row: p0 p1):\n${bad_rows}")
endif()
message(STATUS "train -> evaluate -> predict OK on ${BACKEND}: test ${key} match, first prediction ${label} (${p0}, ${p1})")

# Exact resume: continue from checkpoint-3 (dropout on) and compare the step-6 checkpoint byte for
# byte with the uninterrupted run's.
file(MAKE_DIRECTORY ${WORK}/resumed)
file(COPY ${WORK}/model/checkpoint-3 DESTINATION ${WORK}/resumed)
run_tool(train --backend ${BACKEND} --model ${DATA}/${MODEL} --train ${DATA}/reviews.csv
         --validation ${DATA}/reviews.csv --test ${DATA}/reviews.csv --label-column sentiment
         --max-steps 6 --eval-steps 3 --logging-steps 1 --learning-rate 1e-3 --max-length 24
         --per-device-train-batch-size 8 --disable-tqdm --output ${WORK}/resumed
         --resume-from-checkpoint ${WORK}/resumed/checkpoint-3)
foreach(f model.safetensors optimizer.safetensors)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/model/checkpoint-6/${f} ${WORK}/resumed/checkpoint-6/${f}
                  RESULT_VARIABLE differ)
  if(differ)
    message(FATAL_ERROR "resumed run's checkpoint-6/${f} differs from the uninterrupted run's")
  endif()
endforeach()
message(STATUS "resume from checkpoint-3 on ${BACKEND}: checkpoint-6 identical")
