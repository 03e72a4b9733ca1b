# Tokenizers: WordPiece/AutoTokenizer unit tests, the HuggingFace fixture conformance run, and
# `ftlib tokenize` end to end.
ftlib_add_test(test_tokenizers_wordpiece SOURCES test_tokenizers_wordpiece.cpp LIBS ftlib::sentencepiece LABELS tokenizers)
ftlib_add_test(test_tokenizer_conformance SOURCES test_tokenizer_conformance.cpp LABELS tokenizers)

if(TARGET ftlib_tool)
  set(_tk_data ${CMAKE_CURRENT_SOURCE_DIR}/data/tokenizers)
  set(_tk_common -DTOOL=$<TARGET_FILE:ftlib_tool> -DINPUT=${_tk_data}/tokenize_input.jsonl
                 "-DARGS=--max-length|8|--padding|longest|--threads|2")
  add_test(NAME tokenize_cli_tiny_vocab
    COMMAND ${CMAKE_COMMAND} ${_tk_common} -DTOKENIZER=${_tk_data}/tiny_vocab.txt
            -DEXPECTED=${_tk_data}/tokenize_expected_tiny.jsonl -P ${_tk_data}/run_tokenize.cmake)
  add_test(NAME tokenize_cli_bert_base_uncased
    COMMAND ${CMAKE_COMMAND} ${_tk_common} -DTOKENIZER=${FTLIB_SHARED_DIR}/vocab/bert-base-uncased
            -DEXPECTED=${_tk_data}/tokenize_expected_bert.jsonl -P ${_tk_data}/run_tokenize.cmake)
  add_test(NAME tokenize_cli_bad_line
    COMMAND ${CMAKE_COMMAND} -DTOOL=$<TARGET_FILE:ftlib_tool> -DINPUT=${_tk_data}/tokenize_bad.jsonl
            -DTOKENIZER=${_tk_data}/tiny_vocab.txt "-DEXPECT_ERROR=tokenize_bad\\.jsonl:3:[0-9]+: invalid JSON"
            -P ${_tk_data}/run_tokenize.cmake)
  set_tests_properties(tokenize_cli_tiny_vocab tokenize_cli_bert_base_uncased tokenize_cli_bad_line
                       PROPERTIES LABELS tokenizers SKIP_REGULAR_EXPRESSION "SKIPPED:")
endif()
