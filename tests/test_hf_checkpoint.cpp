// Loading checkpoints into classifiers: the parameters a backend registers (here the Eigen backend's
// registry, read without allocating) match the HF-written fixtures, and missing/unexpected names
// match what transformers reported for the pretraining checkpoints.

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ftlib/arch/albert.hpp"
#include "ftlib/arch/distilbert.hpp"
#include "ftlib/backends/eigen/eigen.hpp"
#include "ftlib/hf/checkpoint.hpp"
#include "ftlib/models/pretrained.hpp"
#include "test_support.hpp"

namespace hf = ftlib::hf;
using ftlib::testing::shared_path;
using ftlib::testing::TempDir;

namespace arch = ftlib::arch;

namespace {

// The parameters a classifier of `config` registers (the backend's registry; nothing allocated).
template <class Config>
std::vector<hf::ExpectedParameter> registered_parameters(const Config& config) {
  return ftlib::eigen::SequenceClassifier<typename Config::Architecture>::expected_parameters(config);
}

// transformers' matching of `file` against what a classifier of `config` registers.
template <class Config>
hf::LoadReport plan_classifier_load(const Config& config, const hf::SafetensorsFile& file, bool ignore_mismatched_sizes = false) {
  return ftlib::plan_pretrained_load<typename Config::Architecture>(registered_parameters(config), file, ignore_mismatched_sizes);
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The python list transformers printed after `marker` in a fixture README.
std::string readme_list(const std::filesystem::path& readme, const std::string& marker) {
  const auto text = read_all(readme);
  const auto at = text.find(marker);
  if (at == std::string::npos) return "<marker not found>";
  const auto begin = text.find('[', at);
  const auto end = text.find(']', begin);
  return text.substr(begin, end - begin + 1);
}

template <class Config>
void check_fixture_names(const std::string& case_name) {
  const auto dir = shared_path("fixtures/models/" + case_name);
  if (!dir) return;
  const auto config = Config::load(*dir / "config.json");
  const auto file = hf::SafetensorsFile::open(*dir / "model.safetensors");
  const auto expected = registered_parameters(config);
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> ours, theirs;
  for (const auto& p : expected) ours.emplace_back(p.name, p.shape);
  for (const auto& t : file.tensors()) theirs.emplace_back(t.name, t.shape);
  std::sort(ours.begin(), ours.end());
  std::sort(theirs.begin(), theirs.end());
  CHECK_MESSAGE(ours == theirs, case_name);

  const auto report = plan_classifier_load(config, file);
  CHECK(report.complete());
  CHECK(report.loaded.size() == expected.size());
  for (const auto& l : report.loaded) CHECK(l.name == l.checkpoint_name);
  CHECK(hf::format_load_report(report, Config{}.arch.classifier_architecture, *dir).starts_with("All the weights of "));
}

// A pretraining checkpoint loaded into a classifier with the metadata's number of labels.
template <class Config>
void check_pretraining_case(const std::string& case_name) {
  const auto dir = shared_path("fixtures/models/" + case_name);
  if (!dir) return;
  const auto meta = hf::SafetensorsFile::open(*dir / "expected.safetensors").metadata();
  auto config = Config::load(*dir / "config.json");
  config.labels = arch::ClassificationLabels::defaults(std::stoll(meta.at("target_num_labels")));
  const auto file = hf::SafetensorsFile::open(*dir / "model.safetensors");
  const auto report = plan_classifier_load(config, file);
  CHECK(report.missing_keys == split_commas(meta.at("missing_keys")));
  CHECK(report.unexpected_keys == split_commas(meta.at("unexpected_keys")));
  CHECK(report.mismatched.empty());
  CHECK(report.loaded.size() + report.missing_keys.size() == registered_parameters(config).size());
  CHECK_FALSE(report.is_loaded("classifier.weight"));

  const auto text = hf::format_load_report(report, meta.at("target_model"), *dir);
  INFO(text);
  CHECK(text.find("were not used when initializing " + meta.at("target_model") + ": " +
                  readme_list(*dir / "README.md", "Unused names it reports:")) != std::string::npos);
  CHECK(text.find("and are newly initialized: " + readme_list(*dir / "README.md", "Missing names transformers reports:")) !=
        std::string::npos);
  CHECK(text.find("You should probably TRAIN this model") != std::string::npos);
}

}  // namespace

TEST_CASE("parameter lists match every classifier fixture") {
  check_fixture_names<arch::DistilBertModelConfig>("distilbert-tiny");
  check_fixture_names<arch::DistilBertModelConfig>("distilbert-sinusoidal");
  check_fixture_names<arch::DistilBertModelConfig>("distilbert-wide");
  check_fixture_names<arch::AlbertModelConfig>("albert-tiny");
  check_fixture_names<arch::AlbertModelConfig>("albert-groups");
}

TEST_CASE("frozen parameters: the sinusoidal table is not trainable") {
  const auto dir = shared_path("fixtures/models/distilbert-sinusoidal");
  if (!dir) return;
  const auto meta = hf::SafetensorsFile::open(*dir / "expected.safetensors").metadata();
  const auto config = arch::DistilBertModelConfig::load(*dir / "config.json");
  std::vector<std::string> frozen;
  for (const auto& p : registered_parameters(config)) {
    if (!p.trainable) frozen.push_back(p.name);
  }
  CHECK(frozen == split_commas(meta.at("frozen_parameters")));
}

TEST_CASE("pretraining checkpoints report transformers' missing and unused names") {
  check_pretraining_case<arch::DistilBertModelConfig>("distilbert-mlm-checkpoint");
  check_pretraining_case<arch::AlbertModelConfig>("albert-pretraining-checkpoint");
}

TEST_CASE("a base-model checkpoint without the prefix loads into a classifier, and back") {
  const auto dir = shared_path("fixtures/models/distilbert-tiny");
  if (!dir) return;
  const auto config = arch::DistilBertModelConfig::load(*dir / "config.json");
  const auto full = hf::SafetensorsFile::open(*dir / "model.safetensors");
  const TempDir tmp;

  // What DistilBertModel.save_pretrained writes: encoder tensors without "distilbert.".
  std::vector<hf::TensorToWrite> base;
  for (const auto& t : full.tensors()) {
    if (t.name.starts_with("distilbert.")) base.push_back({t.name.substr(11), t.dtype, t.shape, full.bytes(t.name)});
  }
  hf::write_safetensors(tmp.path() / "base.safetensors", base);
  const auto base_file = hf::SafetensorsFile::open(tmp.path() / "base.safetensors");
  const auto report = plan_classifier_load(config, base_file);
  CHECK(report.loaded.size() == base.size());
  CHECK(report.unexpected_keys.empty());
  CHECK(report.missing_keys ==
        std::vector<std::string>{"classifier.bias", "classifier.weight", "pre_classifier.bias", "pre_classifier.weight"});
  const auto it = std::find_if(report.loaded.begin(), report.loaded.end(),
                               [](const hf::LoadedTensor& t) { return t.name == "distilbert.embeddings.LayerNorm.weight"; });
  REQUIRE(it != report.loaded.end());
  CHECK(it->checkpoint_name == "embeddings.LayerNorm.weight");

  // A base model (names without prefix) loading a classifier checkpoint: the head is unused.
  std::vector<hf::ExpectedParameter> base_model;
  for (const auto& p : registered_parameters(config)) {
    if (p.name.starts_with("distilbert.")) base_model.push_back({p.name.substr(11), p.shape, p.trainable});
  }
  const auto back = hf::plan_checkpoint_load(base_model, full, hf::LoadOptions{"distilbert", false});
  CHECK(back.loaded.size() == base_model.size());
  CHECK(back.missing_keys.empty());
  CHECK(back.unexpected_keys ==
        std::vector<std::string>{"classifier.bias", "classifier.weight", "pre_classifier.bias", "pre_classifier.weight"});
  CHECK(back.loaded.front().checkpoint_name == "distilbert." + back.loaded.front().name);
}

TEST_CASE("legacy position_ids buffers are not reported as unexpected") {
  const TempDir tmp;
  const std::vector<std::int64_t> ids{0, 1, 2};
  const std::vector<float> w{1, 2};
  const std::vector<hf::TensorToWrite> list{
      {"albert.embeddings.position_ids", hf::DType::I64, {1, 3}, std::as_bytes(std::span<const std::int64_t>(ids))},
      {"w", hf::DType::F32, {2}, std::as_bytes(std::span<const float>(w))}};
  hf::write_safetensors(tmp.path() / "m.safetensors", list);
  const auto file = hf::SafetensorsFile::open(tmp.path() / "m.safetensors");
  const std::vector<hf::ExpectedParameter> expected{{"w", {2}, true}};
  const auto report = hf::plan_checkpoint_load(expected, file);
  CHECK(report.complete());
}

TEST_CASE("shape mismatches are errors naming tensor, shapes and file, or reported when ignored") {
  const auto dir = shared_path("fixtures/models/distilbert-tiny");
  if (!dir) return;
  auto config = arch::DistilBertModelConfig::load(*dir / "config.json");
  config.labels = arch::ClassificationLabels::defaults(3);  // the file has 5
  const auto file = hf::SafetensorsFile::open(*dir / "model.safetensors");
  try {
    (void)plan_classifier_load(config, file);
    FAIL("no error");
  } catch (const ftlib::tensor_error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find((*dir / "model.safetensors").string()) != std::string::npos);
    CHECK(msg.find("tensor 'classifier.weight' has shape [5, 32], the model expects [3, 32]") != std::string::npos);
  }
  const auto report = plan_classifier_load(config, file, true);
  REQUIRE(report.mismatched.size() == 2);
  CHECK(report.mismatched[0].name == "classifier.weight");
  CHECK(report.mismatched[0].file_shape == std::vector<std::int64_t>{5, 32});
  CHECK(report.mismatched[0].expected_shape == std::vector<std::int64_t>{3, 32});
  CHECK(report.missing_keys.empty());
  const auto text = hf::format_load_report(report, "DistilBertForSequenceClassification", *dir);
  CHECK(text.find("- classifier.weight: found shape torch.Size([5, 32]) in the checkpoint and torch.Size([3, 32]) in the "
                  "model instantiated") != std::string::npos);
}

TEST_CASE("integer tensors cannot be loaded into parameters") {
  const TempDir tmp;
  const std::vector<std::int32_t> ids{0, 1};
  const std::vector<hf::TensorToWrite> list{{"w", hf::DType::I32, {2}, std::as_bytes(std::span<const std::int32_t>(ids))}};
  hf::write_safetensors(tmp.path() / "m.safetensors", list);
  const auto file = hf::SafetensorsFile::open(tmp.path() / "m.safetensors");
  const std::vector<hf::ExpectedParameter> expected{{"w", {2}, true}};
  CHECK_THROWS_WITH_AS((void)hf::plan_checkpoint_load(expected, file), doctest::Contains("tensor 'w' has integer dtype I32"),
                       ftlib::tensor_error);
}
