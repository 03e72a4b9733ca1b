#pragma once
// The one include a user of ftlib needs (plus a backend: ftlib/backends/libtorch/libtorch.hpp or
// ftlib/backends/eigen/...): datasets, tokenizers, metrics, AdamW, schedules, callbacks and Trainer.
//
//   auto tokenizer = ftlib::AutoTokenizer::from_pretrained(dir);
//   auto model = ftlib::libtorch::DistilBertForSequenceClassification::from_pretrained(dir, options);
//   ftlib::TrainingArguments args;  args.learning_rate = 1e-5;  args.eval_steps = 250;
//   ftlib::Trainer trainer(model, tokenizer, args);
//   ftlib::ProgressBar bar;  ftlib::JsonlLogger log(args.output_dir / "log.jsonl");
//   trainer.fit(train, validation, bar, log);

#include "ftlib/core/batch.hpp"
#include "ftlib/callbacks/early_stopping.hpp"
#include "ftlib/callbacks/jsonl_logger.hpp"
#include "ftlib/callbacks/progress_bar.hpp"
#include "ftlib/callbacks/traits.hpp"
#include "ftlib/data/dataset.hpp"
#include "ftlib/core/error.hpp"
#include "ftlib/metrics/classification.hpp"
#include "ftlib/models/model_concept.hpp"
#include "ftlib/optim/adamw.hpp"
#include "ftlib/optim/schedules.hpp"
#include "ftlib/tokenizers/tokenizer_concept.hpp"
#include "ftlib/tokenizers/auto_tokenizer.hpp"
#include "ftlib/tokenizers/wordpiece.hpp"
#include "ftlib/training/builtin_callbacks.hpp"
#include "ftlib/training/checkpointing.hpp"
#include "ftlib/training/data_loader.hpp"
#include "ftlib/training/evaluation.hpp"
#include "ftlib/training/trainer.hpp"
#include "ftlib/core/trainer_state.hpp"
#include "ftlib/training/training_arguments.hpp"
