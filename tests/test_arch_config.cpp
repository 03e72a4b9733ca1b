// config.json: every HF-written fixture config loads and is written back byte for byte; defaults
// are transformers' class defaults; bad values are errors naming the file and the field.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftlib/arch/registry.hpp"
#include "ftlib/arch/model_config.hpp"
#include "test_support.hpp"

namespace arch = ftlib::arch;
using ftlib::testing::shared_path;
using ftlib::testing::TempDir;
using ftlib::Activation;
using ftlib::parse_activation;
using nlohmann::json;

namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

template <class Config>
std::string error_of(const json& j, const std::string& source = "/models/x/config.json") {
  try {
    (void)Config::from_json(j, source);
  } catch (const ftlib::parse_error& e) {
    return e.what();
  }
  return "<no error>";
}

std::vector<std::filesystem::path> fixture_configs() {
  std::vector<std::filesystem::path> out;
  const auto dir = shared_path("fixtures/models");
  if (!dir) return out;
  for (const auto& entry : std::filesystem::directory_iterator(*dir)) {
    if (std::filesystem::exists(entry.path() / "config.json")) out.push_back(entry.path() / "config.json");
  }
  std::sort(out.begin(), out.end());
  return out;
}

template <class Config>
void check_round_trip(const std::filesystem::path& path) {
  const auto config = Config::load(path);
  json original = json::parse(read_all(path));
  original["torch_dtype"] = "float32";  // we always save float32 weights
  CHECK_MESSAGE(config.to_json() == original, path.string());
  const TempDir tmp;
  config.save(tmp.path() / "config.json");
  if (read_all(path).find("\"bfloat16\"") == std::string::npos) {
    CHECK_MESSAGE(read_all(tmp.path() / "config.json") == read_all(path), "byte-identical: " << path.string());
  }
  CHECK(Config::load(tmp.path() / "config.json").to_json() == config.to_json());
}

}  // namespace

TEST_CASE("every fixture config loads and is written back as transformers wrote it") {
  const auto configs = fixture_configs();
  for (const auto& path : configs) {
    const auto type = arch::read_model_type(path);
    if (type == "distilbert") {
      check_round_trip<arch::DistilBertModelConfig>(path);
    } else {
      CHECK(type == "albert");
      check_round_trip<arch::AlbertModelConfig>(path);
    }
  }
}

TEST_CASE("fixture values are read") {
  if (const auto p = shared_path("fixtures/models/distilbert-tiny/config.json")) {
    const auto c = arch::DistilBertModelConfig::load(*p);
    CHECK(c.arch.dim == 32);
    CHECK(c.arch.n_heads == 4);
    CHECK(c.arch.n_layers == 2);
    CHECK(c.arch.hidden_dim == 64);
    CHECK(c.arch.vocab_size == 1000);
    CHECK(c.arch.max_position_embeddings == 64);
    CHECK(c.arch.activation_kind() == Activation::gelu_erf);
    CHECK(c.num_labels() == 5);
    CHECK(c.labels.id2label[0] == "1 star");
    CHECK(c.labels.id2label[4] == "5 stars");
    CHECK(c.labels.problem_type == "single_label_classification");
    CHECK(c.architectures == std::vector<std::string>{"DistilBertForSequenceClassification"});
    CHECK(c.extra.at("tie_weights_") == true);
    CHECK(c.extra.at("transformers_version") == "4.57.1");
  }
  if (const auto p = shared_path("fixtures/models/distilbert-sinusoidal/config.json")) {
    const auto c = arch::DistilBertModelConfig::load(*p);
    CHECK(c.arch.sinusoidal_pos_embds);
    CHECK(c.arch.activation_kind() == Activation::relu);
  }
  if (const auto p = shared_path("fixtures/models/albert-groups/config.json")) {
    const auto c = arch::AlbertModelConfig::load(*p);
    CHECK(c.arch.embedding_size == 16);
    CHECK(c.arch.hidden_size == 32);
    CHECK(c.arch.num_hidden_layers == 4);
    CHECK(c.arch.num_hidden_groups == 2);
    CHECK(c.arch.inner_group_num == 2);
    CHECK(c.arch.activation_kind() == Activation::gelu_erf);
    CHECK(c.arch.layer_norm_eps == 1e-12);
    CHECK(c.num_labels() == 4);
    CHECK(c.labels.id2label[3] == "very positive");
    // transformers: group of layer i = int(i / (4 / 2))
    CHECK(c.arch.group_of_layer(0) == 0);
    CHECK(c.arch.group_of_layer(1) == 0);
    CHECK(c.arch.group_of_layer(2) == 1);
    CHECK(c.arch.group_of_layer(3) == 1);
  }
  if (const auto p = shared_path("fixtures/models/albert-tiny/config.json")) {
    CHECK(arch::AlbertModelConfig::load(*p).arch.activation_kind() == Activation::gelu_tanh);
  }
  if (const auto p = shared_path("fixtures/models/distilbert-mlm-checkpoint/config.json")) {
    const auto c = arch::DistilBertModelConfig::load(*p);
    CHECK(c.num_labels() == 2);  // no labels in the file: transformers' default LABEL_0, LABEL_1
    CHECK(c.labels.id2label == std::vector<std::string>{"LABEL_0", "LABEL_1"});
    CHECK(c.arch.dropout == 0.1);
    CHECK(c.architectures == std::vector<std::string>{"DistilBertForMaskedLM"});
    CHECK_FALSE(c.to_json().contains("id2label"));
  }
}

TEST_CASE("defaults are transformers' DistilBertConfig() and AlbertConfig() defaults") {
  const auto d = arch::DistilBertModelConfig::from_json(json{{"model_type", "distilbert"}}, "c.json");
  CHECK(d.arch.vocab_size == 30522);
  CHECK(d.arch.max_position_embeddings == 512);
  CHECK_FALSE(d.arch.sinusoidal_pos_embds);
  CHECK(d.arch.n_layers == 6);
  CHECK(d.arch.n_heads == 12);
  CHECK(d.arch.dim == 768);
  CHECK(d.arch.hidden_dim == 3072);
  CHECK(d.arch.dropout == 0.1);
  CHECK(d.arch.attention_dropout == 0.1);
  CHECK(d.arch.activation == "gelu");
  CHECK(d.arch.initializer_range == 0.02);
  CHECK(d.arch.qa_dropout == 0.1);
  CHECK(d.arch.seq_classif_dropout == 0.2);
  CHECK(d.arch.pad_token_id == 0);
  CHECK(d.num_labels() == 2);

  const auto a = arch::AlbertModelConfig::from_json(json::object(), "c.json");
  CHECK(a.arch.vocab_size == 30000);
  CHECK(a.arch.embedding_size == 128);
  CHECK(a.arch.hidden_size == 4096);
  CHECK(a.arch.num_hidden_layers == 12);
  CHECK(a.arch.num_hidden_groups == 1);
  CHECK(a.arch.num_attention_heads == 64);
  CHECK(a.arch.intermediate_size == 16384);
  CHECK(a.arch.inner_group_num == 1);
  CHECK(a.arch.hidden_act == "gelu_new");
  CHECK(a.arch.hidden_dropout_prob == 0.0);
  CHECK(a.arch.attention_probs_dropout_prob == 0.0);
  CHECK(a.arch.max_position_embeddings == 512);
  CHECK(a.arch.type_vocab_size == 2);
  CHECK(a.arch.initializer_range == 0.02);
  CHECK(a.arch.layer_norm_eps == 1e-12);
  CHECK(a.arch.classifier_dropout_prob == 0.1);
  CHECK(a.arch.pad_token_id == 0);
  CHECK(a.arch.bos_token_id == 2);
  CHECK(a.arch.eos_token_id == 3);
}

TEST_CASE("labels: id2label, label2id, num_labels") {
  SUBCASE("num_labels alone gives LABEL_i") {
    const auto c = arch::DistilBertModelConfig::from_json(json{{"num_labels", 3}}, "c.json");
    CHECK(c.labels.id2label == std::vector<std::string>{"LABEL_0", "LABEL_1", "LABEL_2"});
    const auto j = c.to_json();
    CHECK(j.at("id2label") == json{{"0", "LABEL_0"}, {"1", "LABEL_1"}, {"2", "LABEL_2"}});
    CHECK(j.at("label2id") == json{{"LABEL_0", 0}, {"LABEL_1", 1}, {"LABEL_2", 2}});
    CHECK_FALSE(j.contains("num_labels"));
  }
  SUBCASE("label2id alone") {
    const auto c = arch::DistilBertModelConfig::from_json(json{{"label2id", {{"pos", 1}, {"neg", 0}}}}, "c.json");
    CHECK(c.labels.id2label == std::vector<std::string>{"neg", "pos"});
  }
  SUBCASE("ids above 9 sort as strings in the JSON but map correctly") {
    json id2label = json::object();
    for (int i = 0; i < 12; ++i) id2label[std::to_string(i)] = "c" + std::to_string(i);
    const auto c = arch::DistilBertModelConfig::from_json(json{{"id2label", id2label}}, "c.json");
    CHECK(c.num_labels() == 12);
    CHECK(c.labels.id2label[10] == "c10");
    CHECK(c.to_json().at("id2label") == id2label);
  }
  SUBCASE("new classifier config for a pretrained encoder") {
    auto c = arch::DistilBertModelConfig::from_json(json{{"architectures", {"DistilBertForMaskedLM"}}}, "c.json");
    c.labels = arch::ClassificationLabels::from_names({"neg", "neu", "pos"});
    c.architectures = {std::string(arch::DistilBertConfig::classifier_architecture)};
    const auto j = c.to_json();
    CHECK(j.at("architectures") == json{"DistilBertForSequenceClassification"});
    CHECK(j.at("label2id").at("pos") == 2);
    CHECK(j.at("model_type") == "distilbert");
    CHECK(j.at("torch_dtype") == "float32");
  }
}

TEST_CASE("bad configs name the file and the field") {
  using D = arch::DistilBertModelConfig;
  using A = arch::AlbertModelConfig;
  const std::string file = "/models/x/config.json";
  auto has = [](const std::string& msg, const std::string& part) {
    INFO(msg);
    CHECK(msg.find(part) != std::string::npos);
  };
  has(error_of<D>(json{{"dim", 100}, {"n_heads", 12}}), file + ": field 'dim': 100 is not a multiple of 'n_heads' (12)");
  has(error_of<D>(json{{"activation", "gelu_magic"}}), "field 'activation': unknown activation \"gelu_magic\"");
  has(error_of<D>(json{{"n_layers", 0}}), "field 'n_layers': must be a positive integer, got 0");
  has(error_of<D>(json{{"dim", "768"}}), "field 'dim': expected an integer, got \"768\"");
  has(error_of<D>(json{{"dim", 768.5}}), "field 'dim': expected an integer");
  has(error_of<D>(json{{"dropout", 1.5}}), "field 'dropout': must be a probability in [0, 1), got 1.5");
  has(error_of<D>(json{{"sinusoidal_pos_embds", "yes"}}), "field 'sinusoidal_pos_embds': expected true or false");
  has(error_of<D>(json{{"model_type", "bert"}}), "field 'model_type': expected \"distilbert\", got \"bert\"");
  has(error_of<D>(json{{"id2label", {{"0", "a"}, {"2", "b"}}}}), "field 'id2label': label ids must be 0..1, id 1 is missing");
  has(error_of<D>(json{{"id2label", {{"x", "a"}}}}), "field 'id2label': key \"x\" is not a label id");
  has(error_of<D>(json{{"id2label", {{"0", "a"}, {"1", "a"}}}}), "field 'id2label': label names must be distinct");
  has(error_of<D>(json{{"id2label", {{"0", "a"}, {"1", "b"}}}, {"num_labels", 3}}), "field 'num_labels': 3 disagrees");
  has(error_of<D>(json{{"id2label", {{"0", "a"}, {"1", "b"}}}, {"label2id", {{"a", 1}, {"b", 0}}}}),
      "field 'label2id': is not the inverse of id2label");
  has(error_of<D>(json{{"problem_type", "ranking"}}), "field 'problem_type': \"ranking\" is not one of");
  has(error_of<D>(json::array()), file + ": expected a JSON object, got array");
  has(error_of<A>(json{{"position_embedding_type", "relative_key"}}),
      "field 'position_embedding_type': only \"absolute\" position embeddings are supported, got \"relative_key\"");
  has(error_of<A>(json{{"hidden_size", 30}, {"num_attention_heads", 4}}), "field 'hidden_size': 30 is not a multiple of 'num_attention_heads' (4)");
  has(error_of<A>(json{{"num_hidden_groups", 13}}), "field 'num_hidden_groups': 13 exceeds num_hidden_layers 12");
  has(error_of<A>(json{{"layer_norm_eps", 0}}), "field 'layer_norm_eps': must be positive");
  has(error_of<A>(json{{"vocab_size", 10}, {"pad_token_id", 10}}), "field 'pad_token_id': 10 is not below vocab_size 10");
}

TEST_CASE("invalid JSON reports file:line:column") {
  const TempDir tmp;
  const auto path = tmp.path() / "config.json";
  write_all(path, "{\n  \"dim\": 32,\n  \"n_heads\": ,\n}\n");
  try {
    (void)arch::DistilBertModelConfig::load(path);
    FAIL("no error");
  } catch (const ftlib::parse_error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find(path.string() + ":3:") == 0);
    REQUIRE(e.where().has_value());
    CHECK(e.where()->line == 3u);
  }
  CHECK_THROWS_AS((void)arch::DistilBertModelConfig::load(tmp.path() / "missing.json"), ftlib::io_error);
}

TEST_CASE("read_model_type") {
  const TempDir tmp;
  const auto path = tmp.path() / "config.json";
  write_all(path, R"({"model_type": "albert"})");
  CHECK(arch::read_model_type(path) == "albert");
  write_all(path, R"({"architectures": ["DistilBertForMaskedLM"]})");
  CHECK(arch::read_model_type(path) == "distilbert");
  write_all(path, R"({"architectures": ["BertForPreTraining"]})");
  CHECK(arch::read_model_type(path) == "bert");
  write_all(path, R"({"model_type": "bert"})");
  CHECK(arch::read_model_type(path) == "bert");
  write_all(path, R"({"model_type": "roberta"})");
  CHECK_THROWS_WITH_AS((void)arch::read_model_type(path),
                       doctest::Contains("\"roberta\" is not a supported model type (supported: \"distilbert\", \"albert\", \"bert\")"),
                       ftlib::parse_error);
  write_all(path, R"({"vocab_size": 3})");
  CHECK_THROWS_WITH_AS((void)arch::read_model_type(path), doctest::Contains((path.string() + ": no 'model_type' field").c_str()),
                       ftlib::parse_error);
}

TEST_CASE("activation names") {
  CHECK(parse_activation("gelu_pytorch_tanh", {"x", {}, {}}) == Activation::gelu_tanh);
  CHECK(parse_activation("gelu_python", {"x", {}, {}}) == Activation::gelu_erf);
  CHECK(parse_activation("tanh", {"x", {}, {}}) == Activation::tanh);
  CHECK_THROWS_WITH_AS((void)parse_activation("elu", {"cfg.json", {}, {}}),
                       doctest::Contains("cfg.json: unknown activation \"elu\""), ftlib::parse_error);
}

TEST_CASE("BERT config.json: classifier_dropout falls back to hidden_dropout_prob, as transformers derives it") {
  // tests/fixtures/models/bert-config-dropout: the dropout p transformers' modules got from each config.
  const auto dir = std::filesystem::path(FTLIB_SOURCE_DIR) / "tests/fixtures/models/bert-config-dropout";
  std::ifstream in(dir / "expected.json");
  REQUIRE(in.good());
  const auto expected = json::parse(in);
  REQUIRE(expected.size() == 4);
  for (const auto& [name, want] : expected.items()) {
    CAPTURE(name);
    const auto config = arch::BertModelConfig::load(dir / want.at("config").get<std::string>());
    CHECK(config.arch.classifier_dropout_or_hidden() == want.at("classifier.dropout.p").get<double>());
    CHECK(config.arch.hidden_dropout_prob == want.at("embeddings.dropout.p").get<double>());
    CHECK(config.arch.hidden_dropout_prob == want.at("output.dropout.p").get<double>());
    CHECK(config.arch.attention_probs_dropout_prob == want.at("attention.self.dropout.p").get<double>());
    // written back as transformers writes it: null stays null, a value stays that value
    const auto written = config.to_json();
    if (want.at("classifier_dropout_in_file").is_null()) CHECK(written.at("classifier_dropout").is_null());
    if (want.at("classifier_dropout_in_file").is_number())
      CHECK(written.at("classifier_dropout").get<double>() == want.at("classifier_dropout_in_file").get<double>());
  }
}

TEST_CASE("BERT config.json: what a sequence classifier cannot be is refused, naming the field") {
  const auto error_of = [](const json& j) { return ftlib::testing::message_of<ftlib::parse_error>([&] {
                                               (void)arch::BertModelConfig::from_json(j, "c.json"); }); };
  CHECK(error_of(json{{"model_type", "bert"}, {"is_decoder", true}}).find("field 'is_decoder': must be false") != std::string::npos);
  CHECK(error_of(json{{"model_type", "bert"}, {"position_embedding_type", "relative_key"}})
            .find("field 'position_embedding_type': only \"absolute\"") != std::string::npos);
  CHECK(error_of(json{{"model_type", "bert"}, {"hidden_size", 30}, {"num_attention_heads", 4}})
            .find("field 'hidden_size': 30 is not a multiple of 'num_attention_heads' (4)") != std::string::npos);
  CHECK(error_of(json{{"model_type", "bert"}, {"classifier_dropout", 1.5}})
            .find("field 'classifier_dropout': must be a probability in [0, 1)") != std::string::npos);
  CHECK(error_of(json{{"model_type", "distilbert"}}).find("field 'model_type': expected \"bert\"") != std::string::npos);
}
