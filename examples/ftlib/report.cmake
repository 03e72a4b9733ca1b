target_sources(ftlib_tool PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/ftlib/report_command.cpp)
