// Cross-check of the two backends beyond the fixtures' sizes: the same random weights (written by
// the Eigen model's save_pretrained, read by the LibTorch model's from_pretrained) and the same batch
// must give the same logits, loss, gradients and weights after three AdamW steps. Built only when
// both ftlib::eigen and ftlib::libtorch exist.
//
// Tolerances: logits/loss |diff| <= 2e-5 + 1e-4 |x|; gradients |diff| <= 2e-6 + 1e-4 |x| (float32
// sums in different orders over up to 128 terms, through 2-4 layers); AdamW weights 1e-5 where
// |grad| >= 1e-6, else 2e-3 (noise-level gradients, see shared/fixtures/models/README.md).

// LibTorch and doctest in the one order that keeps doctest's CHECK (see the header).
#include "doctest_with_torch.hpp"

#include "ftlib/backends/libtorch/libtorch.hpp"


#include <cmath>
#include <map>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "ftlib/backends/eigen/eigen.hpp"
#include "ftlib/optim/adamw.hpp"
#include "test_support.hpp"

namespace fe = ftlib::eigen;
namespace lt = ftlib::libtorch;

namespace {

ftlib::Batch random_batch(std::int64_t batch, std::int64_t seq, std::int64_t vocab, std::int64_t labels) {
  std::mt19937_64 gen(17);
  ftlib::Batch b;
  b.batch_size = batch;
  b.seq_len = seq;
  for (std::int64_t r = 0; r < batch; ++r) {
    const std::int64_t len = r == 0 ? seq : seq - 1 - static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(seq / 2));
    for (std::int64_t t = 0; t < seq; ++t) {
      const bool real = t < len;
      b.input_ids.push_back(real ? 1 + static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(vocab - 1)) : 0);
      b.attention_mask.push_back(real ? 1 : 0);
      b.token_type_ids.push_back(real && t > len / 2 ? 1 : 0);
    }
    b.labels.push_back(static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(labels)));
  }
  return b;
}

std::vector<float> host(const torch::Tensor& t) {
  const auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

std::int64_t count_bad(const std::vector<float>& got, const std::vector<float>& want, double atol, double rtol,
                       double& worst) {
  std::int64_t bad = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double d = std::abs(static_cast<double>(got[i]) - want[i]);
    worst = std::max(worst, d);
    bad += !(d <= atol + rtol * std::abs(static_cast<double>(want[i])));
  }
  return bad + static_cast<std::int64_t>(got.size() != want.size());
}

template <class TorchModel, class EigenModel>
void cross_check(EigenModel& eigen_model, const std::string& name, const ftlib::Batch& batch) {
  ftlib::testing::TempDir tmp("ftlib-crosscheck");
  eigen_model.save_pretrained(tmp.path() / name);
  auto torch_model = TorchModel::from_pretrained(tmp.path() / name);
  eigen_model.set_training(true);  // every dropout probability is 0: deterministic
  torch_model.set_training(true);

  eigen_model.zero_grad();
  torch_model.zero_grad();
  const double eigen_loss = eigen_model.forward_backward(batch, 1.0);
  const double torch_loss = torch_model.forward_backward(batch, 1.0);
  CHECK(std::abs(eigen_loss - torch_loss) <= 2e-5 + 1e-4 * std::abs(torch_loss));
  double worst_logit = 0.0;
  CHECK(count_bad(eigen_model.forward(batch).logits.data, torch_model.forward(batch).logits.data, 2e-5, 1e-4,
                  worst_logit) == 0);

  auto eigen_params = eigen_model.parameters();
  auto torch_params = torch_model.parameters();
  std::map<std::string, std::vector<float>> eigen_grads;
  for (const auto& p : eigen_params)
    if (p.has_grad) eigen_grads[p.name] = p.grad.to_host().data;
  double worst_grad = 0.0;
  std::size_t compared = 0;
  for (const auto& p : torch_params) {
    if (!p.has_grad) continue;
    REQUIRE_MESSAGE(eigen_grads.contains(p.name), p.name);
    INFO(p.name);
    CHECK(count_bad(eigen_grads[p.name], host(p.grad), 2e-6, 1e-4, worst_grad) == 0);
    ++compared;
  }
  CHECK(compared == eigen_grads.size());

  // three AdamW steps on each side (lr factors 0, 1, 8/9 as in the fixtures)
  ftlib::AdamWOptions options;
  options.lr = 1e-3;
  options.weight_decay = 0.01;
  options.decay_bias_and_layer_norm = true;  // the fixtures' notebook decays every parameter
  ftlib::AdamW<fe::Tensor> eigen_adamw(options);
  ftlib::AdamW<torch::Tensor> torch_adamw(options);
  for (const double factor : {0.0, 1.0, 8.0 / 9.0}) {
    eigen_model.zero_grad();
    torch_model.zero_grad();
    eigen_model.forward_backward(batch, 1.0);
    torch_model.forward_backward(batch, 1.0);
    eigen_adamw.set_lr(1e-3 * factor);
    torch_adamw.set_lr(1e-3 * factor);
    eigen_params = eigen_model.parameters();
    torch_params = torch_model.parameters();
    eigen_adamw.step(eigen_params);
    torch_adamw.step(torch_params);
  }
  double worst_step = 0.0;
  for (const auto& p : torch_params) {
    const auto it = std::find_if(eigen_params.begin(), eigen_params.end(), [&](const auto& e) { return e.name == p.name; });
    REQUIRE(it != eigen_params.end());
    const auto got = it->value.to_host().data;
    const auto want = host(p.value);
    const auto grad = eigen_grads.contains(p.name) ? eigen_grads[p.name] : std::vector<float>(want.size(), 0.0f);
    std::int64_t bad = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
      const double d = std::abs(static_cast<double>(got[i]) - want[i]);
      if (std::abs(grad[i]) >= 1e-6) worst_step = std::max(worst_step, d);
      bad += d > (std::abs(grad[i]) >= 1e-6 ? 1e-5 : 2e-3);
    }
    INFO(p.name);
    CHECK(bad == 0);
  }
  MESSAGE(name << ": |eigen - libtorch| loss " << std::abs(eigen_loss - torch_loss) << ", logits " << worst_logit
               << ", " << compared << " grads " << worst_grad << ", weights after 3 AdamW steps " << worst_step);
}

}  // namespace

TEST_CASE("crosscheck: both backends register the same parameters in the same (transformers' module) order") {
  const auto check = [](const auto& config, auto eigen_model_tag, auto libtorch_model_tag) {
    using E = typename decltype(eigen_model_tag)::type;
    using L = typename decltype(libtorch_model_tag)::type;
    const auto registry = E::expected_parameters(config);
    const L model(config);
    std::size_t i = 0;
    for (const auto& item : model.module()->named_parameters(true)) {
      REQUIRE(i < registry.size());
      CHECK(item.key() == registry[i].name);
      CHECK(std::vector<std::int64_t>(item.value().sizes().begin(), item.value().sizes().end()) == registry[i].shape);
      CHECK(item.value().requires_grad() == registry[i].trainable);
      ++i;
    }
    CHECK(i == registry.size());
  };
  ftlib::arch::DistilBertModelConfig distilbert;
  distilbert.arch.dim = 16;
  distilbert.arch.n_heads = 2;
  distilbert.arch.n_layers = 2;
  distilbert.arch.hidden_dim = 24;
  distilbert.arch.vocab_size = 50;
  distilbert.arch.max_position_embeddings = 20;
  check(distilbert, std::type_identity<fe::DistilBertForSequenceClassification>{},
        std::type_identity<lt::DistilBertForSequenceClassification>{});
  distilbert.arch.sinusoidal_pos_embds = true;
  check(distilbert, std::type_identity<fe::DistilBertForSequenceClassification>{},
        std::type_identity<lt::DistilBertForSequenceClassification>{});
  ftlib::arch::AlbertModelConfig albert;
  albert.arch.embedding_size = 8;
  albert.arch.hidden_size = 16;
  albert.arch.num_attention_heads = 2;
  albert.arch.intermediate_size = 24;
  albert.arch.num_hidden_layers = 4;
  albert.arch.num_hidden_groups = 2;
  albert.arch.inner_group_num = 2;
  albert.arch.vocab_size = 50;
  albert.arch.max_position_embeddings = 20;
  check(albert, std::type_identity<fe::AlbertForSequenceClassification>{}, std::type_identity<lt::AlbertForSequenceClassification>{});
}

TEST_CASE("eigen and libtorch backends agree: DistilBERT, dim 64, 3 layers, T 33") {
  ftlib::arch::DistilBertModelConfig c;
  c.arch.vocab_size = 200;
  c.arch.dim = 64;
  c.arch.n_layers = 3;
  c.arch.n_heads = 4;
  c.arch.hidden_dim = 128;
  c.arch.max_position_embeddings = 48;
  c.arch.dropout = c.arch.attention_dropout = c.arch.seq_classif_dropout = 0.0;
  c.arch.initializer_range = 0.1;
  c.labels = ftlib::arch::ClassificationLabels::defaults(4);
  fe::DistilBertForSequenceClassification model(c, fe::ModelOptions{}.with_seed(21));
  cross_check<lt::DistilBertForSequenceClassification>(model, "distilbert", random_batch(3, 33, 200, 4));
}

TEST_CASE("eigen and libtorch backends agree: ALBERT, 6 layers / 3 groups / 2 inner, T 29") {
  ftlib::arch::AlbertModelConfig c;
  c.arch.vocab_size = 200;
  c.arch.embedding_size = 24;
  c.arch.hidden_size = 64;
  c.arch.num_hidden_layers = 6;
  c.arch.num_hidden_groups = 3;
  c.arch.inner_group_num = 2;
  c.arch.num_attention_heads = 4;
  c.arch.intermediate_size = 128;
  c.arch.max_position_embeddings = 48;
  c.arch.hidden_dropout_prob = c.arch.attention_probs_dropout_prob = c.arch.classifier_dropout_prob = 0.0;
  c.arch.initializer_range = 0.1;
  c.labels = ftlib::arch::ClassificationLabels::defaults(3);
  fe::AlbertForSequenceClassification model(c, fe::ModelOptions{}.with_seed(21));
  cross_check<lt::AlbertForSequenceClassification>(model, "albert", random_batch(4, 29, 200, 3));
}
