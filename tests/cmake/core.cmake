ftlib_add_test(test_optim SOURCES test_optim.cpp)
