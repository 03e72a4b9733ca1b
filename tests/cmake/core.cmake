ftlib_add_test(test_optim SOURCES test_optim.cpp)
# Architecture specs: config.json reading, validation and writing, the registry.
ftlib_add_test(test_arch_config SOURCES test_arch_config.cpp)
