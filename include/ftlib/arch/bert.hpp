#pragma once
// BERT, backend-free: config.json's fields (transformers' BertConfig, same names and defaults), its
// HuggingFace names and tokenizer, its dropout knobs. Each backend's model file
// (backends/<backend>/bert.hpp) builds the network from this.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include "ftlib/arch/activation.hpp"
#include "ftlib/arch/fields.hpp"
#include "ftlib/arch/model_config.hpp"

namespace ftlib::arch {

/// @brief BERT hyper-parameters (transformers' BertConfig).
struct BertConfig {
  static constexpr std::string_view model_type = "bert";                                        ///< config.json model_type
  static constexpr std::string_view classifier_architecture = "BertForSequenceClassification";  ///< architectures entry
  static constexpr std::string_view base_model_prefix = "bert";         ///< state_dict prefix of the encoder
  static constexpr TokenizerKind tokenizer = TokenizerKind::wordpiece;  ///< vocab.txt

  std::int64_t vocab_size = 30522;             ///< word-piece vocabulary size
  std::int64_t hidden_size = 768;              ///< hidden size
  std::int64_t num_hidden_layers = 12;         ///< transformer layers
  std::int64_t num_attention_heads = 12;       ///< attention heads (hidden_size % heads == 0)
  std::int64_t intermediate_size = 3072;       ///< FFN inner size
  std::string hidden_act = "gelu";             ///< FFN activation (ACT2FN name)
  double hidden_dropout_prob = 0.1;            ///< dropout on embeddings and every residual branch
  double attention_probs_dropout_prob = 0.1;   ///< attention-probability dropout
  std::int64_t max_position_embeddings = 512;  ///< position table rows
  std::int64_t type_vocab_size = 2;            ///< token type table rows
  double initializer_range = 0.02;             ///< std of the normal init of new weights
  double layer_norm_eps = 1e-12;               ///< LayerNorm epsilon
  std::int64_t pad_token_id = 0;               ///< embedding padding_idx
  std::optional<double> classifier_dropout;    ///< dropout before the classifier; null: hidden_dropout_prob
  std::string position_embedding_type = "absolute";  ///< only "absolute" (transformers 5 ignores the others)
  bool is_decoder = false;                     ///< must be false: a sequence classifier is an encoder
  bool add_cross_attention = false;            ///< must be false: no decoder cross-attention

  /// @brief The config.json fields, in the order transformers' BertConfig lists them.
  static constexpr auto fields() {
    using C = BertConfig;
    return std::tuple{field("vocab_size", &C::vocab_size, Rule::positive),
                      field("hidden_size", &C::hidden_size, Rule::positive),
                      field("num_hidden_layers", &C::num_hidden_layers, Rule::positive),
                      field("num_attention_heads", &C::num_attention_heads, Rule::positive),
                      field("intermediate_size", &C::intermediate_size, Rule::positive),
                      field("hidden_act", &C::hidden_act, Rule::activation),
                      field("hidden_dropout_prob", &C::hidden_dropout_prob, Rule::probability),
                      field("attention_probs_dropout_prob", &C::attention_probs_dropout_prob, Rule::probability),
                      field("max_position_embeddings", &C::max_position_embeddings, Rule::positive),
                      field("type_vocab_size", &C::type_vocab_size, Rule::positive),
                      field("initializer_range", &C::initializer_range, Rule::positive_real),
                      field("layer_norm_eps", &C::layer_norm_eps, Rule::positive_real),
                      field("pad_token_id", &C::pad_token_id, Rule::non_negative),
                      field("classifier_dropout", &C::classifier_dropout, Rule::probability),
                      field("position_embedding_type", &C::position_embedding_type),
                      field("is_decoder", &C::is_decoder),
                      field("add_cross_attention", &C::add_cross_attention)};
  }
  /// @brief Every dropout probability (a dropout override sets them all).
  static constexpr auto dropout_fields() {
    using C = BertConfig;
    return std::tuple{&C::hidden_dropout_prob, &C::attention_probs_dropout_prob, &C::classifier_dropout};
  }
  /// @brief Rules between fields.
  void check(const ConfigChecker& k) const {
    k.divisible("hidden_size", hidden_size, "num_attention_heads", num_attention_heads);
    k.pad_token_in_vocabulary(pad_token_id, vocab_size);
    if (position_embedding_type != "absolute") {
      k.fail("position_embedding_type", "only \"absolute\" position embeddings are supported, got \"" +
                                            position_embedding_type + "\" (transformers 5 would silently ignore it)");
    }
    if (is_decoder) k.fail("is_decoder", "must be false: a sequence classifier is an encoder");
    if (add_cross_attention) k.fail("add_cross_attention", "must be false: a sequence classifier has no cross-attention");
    const double h = static_cast<double>(hidden_size);
    const double tables = static_cast<double>(vocab_size) + static_cast<double>(max_position_embeddings) + static_cast<double>(type_vocab_size);
    k.fits_in_memory(tables * h + static_cast<double>(num_hidden_layers) * (4 * h * h + 2 * h * static_cast<double>(intermediate_size)) + h * h,
                     "vocab_size " + std::to_string(vocab_size) + ", max_position_embeddings " + std::to_string(max_position_embeddings) +
                         ", type_vocab_size " + std::to_string(type_vocab_size) + ", hidden_size " + std::to_string(hidden_size) +
                         ", num_hidden_layers " + std::to_string(num_hidden_layers) + ", intermediate_size " +
                         std::to_string(intermediate_size));
  }

  /// @brief One line of the sizes, for `ftlib inspect`.
  [[nodiscard]] std::string summary() const {
    return "hidden " + std::to_string(hidden_size) + ", " + std::to_string(num_hidden_layers) + " layers, " +
           std::to_string(num_attention_heads) + " heads (head dim " + std::to_string(head_dim()) + "), FFN " +
           std::to_string(intermediate_size) + ", activation " + hidden_act + ", vocab " + std::to_string(vocab_size) +
           ", " + std::to_string(max_position_embeddings) + " positions, " + std::to_string(type_vocab_size) +
           " token types";
  }
  /// @brief Rows of the token type table.
  [[nodiscard]] std::int64_t token_type_count() const noexcept { return type_vocab_size; }
  /// @brief hidden_size / num_attention_heads.
  [[nodiscard]] std::int64_t head_dim() const noexcept {
    return num_attention_heads > 0 ? hidden_size / num_attention_heads : 0;
  }
  /// @brief The parsed `hidden_act`.
  [[nodiscard]] Activation activation_kind() const { return parse_activation(hidden_act, SourceLocation{"hidden_act", {}, {}}); }
  /// @brief The dropout before the classifier: classifier_dropout, else hidden_dropout_prob (transformers' rule).
  [[nodiscard]] double classifier_dropout_or_hidden() const noexcept { return classifier_dropout.value_or(hidden_dropout_prob); }
};

/// @brief A BERT config.json.
using BertModelConfig = ModelConfig<BertConfig>;

}  // namespace ftlib::arch
