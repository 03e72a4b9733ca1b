#pragma once
// ALBERT, backend-free: config.json's fields (transformers' AlbertConfig, same names and defaults),
// its HuggingFace names and tokenizer, its dropout knobs. Each backend's model file
// (backends/<backend>/albert.hpp) builds the network from this.

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>

#include "ftlib/arch/activation.hpp"
#include "ftlib/arch/fields.hpp"
#include "ftlib/arch/model_config.hpp"

namespace ftlib::arch {

/// @brief ALBERT hyper-parameters (transformers' AlbertConfig).
struct AlbertConfig {
  static constexpr std::string_view model_type = "albert";                                        ///< config.json model_type
  static constexpr std::string_view classifier_architecture = "AlbertForSequenceClassification";  ///< architectures entry
  static constexpr std::string_view base_model_prefix = "albert";           ///< state_dict prefix of the encoder
  static constexpr TokenizerKind tokenizer = TokenizerKind::sentencepiece;  ///< spiece.model

  std::int64_t vocab_size = 30000;             ///< sentencepiece vocabulary size
  std::int64_t embedding_size = 128;           ///< factorised embedding size
  std::int64_t hidden_size = 4096;             ///< hidden size
  std::int64_t num_hidden_layers = 12;         ///< layer applications
  std::int64_t num_hidden_groups = 1;          ///< distinct parameter groups
  std::int64_t num_attention_heads = 64;       ///< attention heads (hidden_size % heads == 0)
  std::int64_t intermediate_size = 16384;      ///< FFN inner size
  std::int64_t inner_group_num = 1;            ///< layers per group
  std::int64_t max_position_embeddings = 512;  ///< position table rows
  std::int64_t type_vocab_size = 2;            ///< token type table rows
  std::string hidden_act = "gelu_new";         ///< FFN activation (ACT2FN name)
  double hidden_dropout_prob = 0.0;            ///< hidden dropout
  double attention_probs_dropout_prob = 0.0;   ///< attention-probability dropout
  double classifier_dropout_prob = 0.1;        ///< dropout before the classifier
  double initializer_range = 0.02;             ///< std of the normal init of new weights
  double layer_norm_eps = 1e-12;               ///< LayerNorm epsilon
  std::int64_t pad_token_id = 0;               ///< embedding padding_idx
  std::int64_t bos_token_id = 2;               ///< [CLS] id, written back as transformers does
  std::int64_t eos_token_id = 3;               ///< [SEP] id, written back as transformers does
  std::string position_embedding_type = "absolute";  ///< only "absolute" is supported

  /// @brief The config.json fields, in the order transformers' AlbertConfig lists them.
  static constexpr auto fields() {
    using C = AlbertConfig;
    return std::tuple{field("vocab_size", &C::vocab_size, Rule::positive),
                      field("embedding_size", &C::embedding_size, Rule::positive),
                      field("hidden_size", &C::hidden_size, Rule::positive),
                      field("num_hidden_layers", &C::num_hidden_layers, Rule::positive),
                      field("num_hidden_groups", &C::num_hidden_groups, Rule::positive),
                      field("num_attention_heads", &C::num_attention_heads, Rule::positive),
                      field("intermediate_size", &C::intermediate_size, Rule::positive),
                      field("inner_group_num", &C::inner_group_num, Rule::positive),
                      field("max_position_embeddings", &C::max_position_embeddings, Rule::positive),
                      field("type_vocab_size", &C::type_vocab_size, Rule::positive),
                      field("hidden_act", &C::hidden_act, Rule::activation),
                      field("hidden_dropout_prob", &C::hidden_dropout_prob, Rule::probability),
                      field("attention_probs_dropout_prob", &C::attention_probs_dropout_prob, Rule::probability),
                      field("classifier_dropout_prob", &C::classifier_dropout_prob, Rule::probability),
                      field("initializer_range", &C::initializer_range, Rule::positive_real),
                      field("layer_norm_eps", &C::layer_norm_eps, Rule::positive_real),
                      field("pad_token_id", &C::pad_token_id, Rule::non_negative),
                      field("bos_token_id", &C::bos_token_id),
                      field("eos_token_id", &C::eos_token_id),
                      field("position_embedding_type", &C::position_embedding_type)};
  }
  /// @brief Every dropout probability (a dropout override sets them all).
  static constexpr auto dropout_fields() {
    using C = AlbertConfig;
    return std::tuple{&C::hidden_dropout_prob, &C::attention_probs_dropout_prob, &C::classifier_dropout_prob};
  }
  /// @brief Rules between fields.
  void check(const ConfigChecker& k) const {
    if (num_hidden_groups > num_hidden_layers) {
      k.fail("num_hidden_groups", std::to_string(num_hidden_groups) + " exceeds num_hidden_layers " +
                                      std::to_string(num_hidden_layers) + " (some groups would never run)");
    }
    k.divisible("hidden_size", hidden_size, "num_attention_heads", num_attention_heads);
    k.pad_token_in_vocabulary(pad_token_id, vocab_size);
    if (position_embedding_type != "absolute") {
      k.fail("position_embedding_type",
             "only \"absolute\" position embeddings are supported, got \"" + position_embedding_type + "\"");
    }
    const double h = static_cast<double>(hidden_size), e = static_cast<double>(embedding_size);
    const double tables = static_cast<double>(vocab_size) + static_cast<double>(max_position_embeddings) + static_cast<double>(type_vocab_size);
    const double layers = static_cast<double>(num_hidden_groups) * static_cast<double>(inner_group_num);  // shared across applications
    k.fits_in_memory(tables * e + e * h + layers * (4 * h * h + 2 * h * static_cast<double>(intermediate_size)) + h * h,
                     "vocab_size " + std::to_string(vocab_size) + ", max_position_embeddings " + std::to_string(max_position_embeddings) +
                         ", type_vocab_size " + std::to_string(type_vocab_size) + ", embedding_size " + std::to_string(embedding_size) +
                         ", hidden_size " + std::to_string(hidden_size) + ", num_hidden_groups " + std::to_string(num_hidden_groups) +
                         ", inner_group_num " + std::to_string(inner_group_num) + ", intermediate_size " +
                         std::to_string(intermediate_size));
  }

  /// @brief One line of the sizes, for `ftlib inspect`.
  [[nodiscard]] std::string summary() const {
    return "embedding " + std::to_string(embedding_size) + ", hidden " + std::to_string(hidden_size) + ", " +
           std::to_string(num_hidden_layers) + " layers in " + std::to_string(num_hidden_groups) + " group(s) x " +
           std::to_string(inner_group_num) + " inner, " + std::to_string(num_attention_heads) + " heads (head dim " +
           std::to_string(head_dim()) + "), FFN " + std::to_string(intermediate_size) + ", activation " + hidden_act +
           ", vocab " + std::to_string(vocab_size) + ", " + std::to_string(max_position_embeddings) + " positions, " +
           std::to_string(type_vocab_size) + " token types";
  }
  /// @brief Rows of the token type table.
  [[nodiscard]] std::int64_t token_type_count() const noexcept { return type_vocab_size; }
  /// @brief hidden_size / num_attention_heads.
  [[nodiscard]] std::int64_t head_dim() const noexcept {
    return num_attention_heads > 0 ? hidden_size / num_attention_heads : 0;
  }
  /// @brief The parsed `hidden_act`.
  [[nodiscard]] Activation activation_kind() const { return parse_activation(hidden_act, SourceLocation{"hidden_act", {}, {}}); }
  /// @brief Which parameter group layer application `layer` (0-based) uses, as transformers computes it.
  [[nodiscard]] std::int64_t group_of_layer(std::int64_t layer) const noexcept {
    // transformers: int(i / (num_hidden_layers / num_hidden_groups)) in floating point.
    return static_cast<std::int64_t>(static_cast<double>(layer) /
                                     (static_cast<double>(num_hidden_layers) / static_cast<double>(num_hidden_groups)));
  }
};

/// @brief An ALBERT config.json.
using AlbertModelConfig = ModelConfig<AlbertConfig>;

}  // namespace ftlib::arch
