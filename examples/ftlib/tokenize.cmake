# `ftlib tokenize`: JSONL texts in, JSONL encodings out.
target_sources(ftlib_tool PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/ftlib/tokenize_command.cpp)
