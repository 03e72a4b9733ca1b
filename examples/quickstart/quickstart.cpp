// The README's C++ example, compiled and run by ctest against each backend: fine-tune a DistilBERT
// classifier on a CSV. The two builds differ only in the include and the namespace below, which is
// the README's promise: swap ftlib::eigen for ftlib::libtorch and nothing else changes.
//
//   quickstart CHECKPOINT_DIR TRAIN.csv VALIDATION.csv TEXT_COLUMN LABEL_COLUMN OUTPUT_DIR
//
// CHECKPOINT_DIR holds config.json, the tokenizer files and (normally) model.safetensors; without
// model.safetensors the model starts from random weights.

#include <filesystem>
#include <iostream>

#if defined(QUICKSTART_WITH_LIBTORCH)
#include <ftlib/backends/libtorch/libtorch.hpp>
namespace backend = ftlib::libtorch;
#else
#include <ftlib/backends/eigen/eigen.hpp>
namespace backend = ftlib::eigen;
#endif
#include <ftlib/trainer.hpp>

int main(int argc, char** argv) {
  if (argc != 7) {
    std::cerr << "usage: quickstart CHECKPOINT_DIR TRAIN.csv VALIDATION.csv TEXT_COLUMN LABEL_COLUMN OUTPUT_DIR\n";
    return 2;
  }
  const std::filesystem::path checkpoint = argv[1];
  try {
    const auto options = ftlib::DatasetOptions{}.with_text_column(argv[4]).with_label_column(argv[5]);
    const auto train = ftlib::TextClassificationDataset::load(argv[2], options);
    const auto validation =
        ftlib::TextClassificationDataset::load(argv[3], ftlib::DatasetOptions(options).with_label2id(train.label2id()));

    auto tokenizer = ftlib::AutoTokenizer::from_pretrained(checkpoint);
    using Model = backend::DistilBertForSequenceClassification;
    const auto model_options = backend::ModelOptions{}.with_id2label(train.id2label());
    const auto from_scratch = [&] {
      std::cout << "no model.safetensors in " << checkpoint << ": starting from random weights\n";
      return Model::from_config(Model::Config::load(checkpoint / "config.json"), model_options);
    };
    auto model = std::filesystem::exists(checkpoint / "model.safetensors") ? Model::from_pretrained(checkpoint, model_options)
                                                                           : from_scratch();
    model.set_training(true);

    ftlib::TrainingArguments args;
    args.learning_rate = 1e-3;
    args.num_train_epochs = 3;
    args.per_device_train_batch_size = 4;
    args.eval_steps = 5;
    args.output_dir = argv[6];
    args.overwrite_output_dir = true;  // a rerun replaces the checkpoints of the previous one
    ftlib::Trainer trainer(model, tokenizer, args);
    const auto result = trainer.fit(train, validation, ftlib::EarlyStopping{"eval_loss", ftlib::MetricMode::min, 2});

    const auto eval = trainer.evaluate(validation);
    std::cout << "trained " << result.state.global_step << " steps; validation accuracy "
              << eval.metrics->accuracy << ", macro-F1 " << eval.metrics->macro_f1 << '\n';
    trainer.save_model(args.output_dir / "final");
    std::cout << "quickstart ok\n";
  } catch (const ftlib::error& e) {
    std::cerr << "quickstart: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
