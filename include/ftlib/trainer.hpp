#pragma once
// The one include a user of ftlib needs (plus a backend: ftlib/backends/libtorch/libtorch.hpp or
// ftlib/backends/eigen/eigen.hpp): datasets, AutoTokenizer, the Trainer with its arguments and
// callbacks, and what fit/evaluate/predict return.
//
//   auto tokenizer = ftlib::AutoTokenizer::from_pretrained(dir);
//   auto model = ftlib::libtorch::DistilBertForSequenceClassification::from_pretrained(dir, options);
//   ftlib::TrainingArguments args;  args.learning_rate = 1e-5;  args.eval_steps = 250;
//   ftlib::Trainer trainer(model, tokenizer, args);
//   ftlib::ProgressBar bar;  ftlib::JsonlLogger log(args.output_dir / "log.jsonl");
//   trainer.fit(train, validation, bar, log);

#include "ftlib/callbacks/early_stopping.hpp"  // IWYU pragma: export
#include "ftlib/callbacks/jsonl_logger.hpp"    // IWYU pragma: export
#include "ftlib/callbacks/progress_bar.hpp"    // IWYU pragma: export
#include "ftlib/data/dataset.hpp"              // IWYU pragma: export
#include "ftlib/tokenizers/auto_tokenizer.hpp" // IWYU pragma: export
#include "ftlib/training/trainer.hpp"          // IWYU pragma: export
