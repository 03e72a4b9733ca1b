#include <doctest/doctest.h>

#include "ftlib/optim/adamw.hpp"

TEST_CASE("is_bias_or_layer_norm matches transformers' no-decay names") {
  CHECK(ftlib::is_bias_or_layer_norm("classifier.bias"));
  CHECK(ftlib::is_bias_or_layer_norm("distilbert.embeddings.LayerNorm.weight"));
  CHECK(ftlib::is_bias_or_layer_norm("distilbert.transformer.layer.0.sa_layer_norm.weight"));
  CHECK_FALSE(ftlib::is_bias_or_layer_norm("classifier.weight"));
  CHECK_FALSE(ftlib::is_bias_or_layer_norm("distilbert.embeddings.word_embeddings.weight"));
}

TEST_CASE("AdamWOptions rejects invalid values with a clear message") {
  ftlib::AdamWOptions options;
  options.beta2 = 1.0;
  CHECK_THROWS_WITH_AS(options.validate(), "AdamW: beta2 must be in [0, 1), got 1.000000", ftlib::option_error);
  options = ftlib::AdamWOptions{}.with_lr(-1.0);
  CHECK_THROWS_AS(options.validate(), ftlib::option_error);
}
