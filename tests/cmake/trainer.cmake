# Trainer, DataLoader, TrainingArguments and callbacks: loop mechanics on a small exact model,
# plus the real Eigen models when the Eigen backend is built.
if(TARGET ftlib::eigen)
  ftlib_add_test(test_trainer SOURCES test_trainer.cpp LIBS ftlib::eigen LABELS trainer)
else()
  ftlib_add_test(test_trainer SOURCES test_trainer.cpp LABELS trainer)
endif()
