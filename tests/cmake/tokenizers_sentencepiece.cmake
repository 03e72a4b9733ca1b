# ALBERT's SentencePiece tokenizer: unit tests, the conformance run over shared/fixtures, the
# differential test against libsentencepiece, and `ftlib tokenize` with spiece.model.
ftlib_add_test(test_tokenizers_sentencepiece SOURCES test_tokenizers_sentencepiece.cpp
               LIBS ftlib::sentencepiece LABELS tokenizers)
ftlib_add_test(test_tokenizer_conformance_albert SOURCES test_tokenizer_conformance_albert.cpp
               LIBS ftlib::sentencepiece LABELS tokenizers conformance)

# The real library is only an oracle here: ftlib itself never links it.
find_package(SentencePiece QUIET)
if(TARGET sentencepiece::sentencepiece)
  ftlib_add_test(test_sentencepiece_vs_library SOURCES test_sentencepiece_vs_library.cpp
                 LIBS ftlib::sentencepiece sentencepiece::sentencepiece LABELS tokenizers conformance)
else()
  message(STATUS "libsentencepiece not found: test_sentencepiece_vs_library is not built")
endif()

# `ftlib tokenize --tokenizer spiece.model` in the same process as the tool's backends (LibTorch):
# every row of the HF-made fixture must come out with the fixture's ids and tokens.
if(TARGET ftlib_tool)
  add_test(NAME tokenize_cli_albert_spiece
    COMMAND ${CMAKE_COMMAND} -DTOOL=$<TARGET_FILE:ftlib_tool>
            -DTOKENIZER=${FTLIB_SHARED_DIR}/vocab/albert-base-v2/spiece.model
            -DFIXTURE=${FTLIB_SHARED_DIR}/fixtures/tokenizers/albert-base-v2/single.jsonl
            -P ${CMAKE_CURRENT_SOURCE_DIR}/data/sentencepiece/run_tokenize_fixture.cmake)
  set_tests_properties(tokenize_cli_albert_spiece PROPERTIES LABELS tokenizers SKIP_REGULAR_EXPRESSION "SKIPPED:")
endif()
