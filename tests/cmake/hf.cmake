# HuggingFace formats: safetensors, config.json, checkpoint loading reports, the hub cache/download.
ftlib_add_test(test_hf_safetensors SOURCES test_hf_safetensors.cpp)
ftlib_add_test(test_hf_config SOURCES test_hf_config.cpp)
ftlib_add_test(test_hf_checkpoint SOURCES test_hf_checkpoint.cpp)
ftlib_add_test(test_hf_hub SOURCES test_hf_hub.cpp)
