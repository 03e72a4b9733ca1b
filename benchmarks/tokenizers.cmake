# Tokenizer load time and throughput on the review texts (MB/s, tokens/s; 1 thread and all threads).
# The HF peer runs next to it: scripts/bench_tokenizers.sh (benchmarks/hf_tokenizers.py).
add_executable(tokenizer_throughput ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer_throughput.cpp)
target_link_libraries(tokenizer_throughput PRIVATE ftlib::ftlib ftlib::sentencepiece)
target_compile_definitions(tokenizer_throughput PRIVATE FTLIB_SHARED_DIR_DEFAULT="${FTLIB_SHARED_DIR}")
