# `ftlib inspect`: describe a checkpoint directory from config.json and the safetensors header.
target_sources(ftlib_tool PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/ftlib/inspect_command.cpp)
