# Backend-free training utilities: data readers and datasets, metrics, LR schedules, callbacks.
ftlib_add_test(test_data SOURCES test_data.cpp)
ftlib_add_test(test_metrics SOURCES test_metrics.cpp)
ftlib_add_test(test_schedules SOURCES test_schedules.cpp)
ftlib_add_test(test_callbacks SOURCES test_callbacks.cpp)
