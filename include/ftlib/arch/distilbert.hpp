#pragma once
// DistilBERT, backend-free: config.json's fields (transformers' DistilBertConfig, same names and
// defaults), its HuggingFace names and tokenizer, its dropout knobs. Each backend's model file
// (backends/<backend>/distilbert.hpp) builds the network from this.

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>

#include "ftlib/arch/activation.hpp"
#include "ftlib/arch/fields.hpp"
#include "ftlib/arch/model_config.hpp"

namespace ftlib::arch {

/// @brief DistilBERT hyper-parameters (transformers' DistilBertConfig; LayerNorm eps is fixed at 1e-12).
struct DistilBertConfig {
  static constexpr std::string_view model_type = "distilbert";                                      ///< config.json model_type
  static constexpr std::string_view classifier_architecture = "DistilBertForSequenceClassification";  ///< architectures entry
  static constexpr std::string_view base_model_prefix = "distilbert";  ///< state_dict prefix of the encoder
  static constexpr TokenizerKind tokenizer = TokenizerKind::wordpiece;  ///< vocab.txt
  static constexpr double layer_norm_eps = 1e-12;                       ///< hard-coded in transformers

  std::int64_t vocab_size = 30522;             ///< word-piece vocabulary size
  std::int64_t dim = 768;                      ///< hidden size
  std::int64_t n_layers = 6;                   ///< transformer blocks
  std::int64_t n_heads = 12;                   ///< attention heads (dim % n_heads == 0)
  std::int64_t hidden_dim = 3072;              ///< FFN inner size
  std::int64_t max_position_embeddings = 512;  ///< position table rows
  std::string activation = "gelu";             ///< FFN activation (ACT2FN name)
  bool sinusoidal_pos_embds = false;           ///< fixed sinusoidal position table
  double dropout = 0.1;                        ///< hidden dropout
  double attention_dropout = 0.1;              ///< attention-probability dropout
  double seq_classif_dropout = 0.2;            ///< dropout before the classifier
  double qa_dropout = 0.1;                     ///< QA head dropout (unused here, kept for round trips)
  double initializer_range = 0.02;             ///< std of the normal init of new weights
  std::int64_t pad_token_id = 0;               ///< embedding padding_idx

  /// @brief The config.json fields, in the order transformers' DistilBertConfig lists them.
  static constexpr auto fields() {
    using C = DistilBertConfig;
    return std::tuple{field("vocab_size", &C::vocab_size, Rule::positive),
                      field("dim", &C::dim, Rule::positive),
                      field("n_layers", &C::n_layers, Rule::positive),
                      field("n_heads", &C::n_heads, Rule::positive),
                      field("hidden_dim", &C::hidden_dim, Rule::positive),
                      field("max_position_embeddings", &C::max_position_embeddings, Rule::positive),
                      field("activation", &C::activation, Rule::activation),
                      field("sinusoidal_pos_embds", &C::sinusoidal_pos_embds),
                      field("dropout", &C::dropout, Rule::probability),
                      field("attention_dropout", &C::attention_dropout, Rule::probability),
                      field("seq_classif_dropout", &C::seq_classif_dropout, Rule::probability),
                      field("qa_dropout", &C::qa_dropout, Rule::probability),
                      field("initializer_range", &C::initializer_range, Rule::positive_real),
                      field("pad_token_id", &C::pad_token_id, Rule::non_negative)};
  }
  /// @brief Every dropout probability (a dropout override sets them all).
  static constexpr auto dropout_fields() {
    using C = DistilBertConfig;
    return std::tuple{&C::dropout, &C::attention_dropout, &C::seq_classif_dropout, &C::qa_dropout};
  }
  /// @brief Rules between fields.
  void check(const ConfigChecker& k) const {
    k.divisible("dim", dim, "n_heads", n_heads);
    if (sinusoidal_pos_embds && dim % 2 != 0) k.fail("dim", "must be even with sinusoidal_pos_embds, got " + std::to_string(dim));
    k.pad_token_in_vocabulary(pad_token_id, vocab_size);
    const double d = static_cast<double>(dim), v = static_cast<double>(vocab_size), p = static_cast<double>(max_position_embeddings);
    k.fits_in_memory((v + p) * d + static_cast<double>(n_layers) * (4 * d * d + 2 * d * static_cast<double>(hidden_dim)),
                     "vocab_size " + std::to_string(vocab_size) + ", max_position_embeddings " + std::to_string(max_position_embeddings) +
                         ", dim " + std::to_string(dim) + ", n_layers " + std::to_string(n_layers) + ", hidden_dim " +
                         std::to_string(hidden_dim));
  }

  /// @brief One line of the sizes, for `ftlib inspect`.
  [[nodiscard]] std::string summary() const {
    return "dim " + std::to_string(dim) + ", " + std::to_string(n_layers) + " layers, " + std::to_string(n_heads) +
           " heads (head dim " + std::to_string(head_dim()) + "), FFN " + std::to_string(hidden_dim) + ", activation " +
           activation + ", vocab " + std::to_string(vocab_size) + ", " + std::to_string(max_position_embeddings) +
           (sinusoidal_pos_embds ? " sinusoidal" : "") + " positions";
  }
  /// @brief DistilBERT ignores token types.
  [[nodiscard]] std::int64_t token_type_count() const noexcept { return 0; }
  /// @brief dim / n_heads.
  [[nodiscard]] std::int64_t head_dim() const noexcept { return n_heads > 0 ? dim / n_heads : 0; }
  /// @brief The parsed `activation`.
  [[nodiscard]] Activation activation_kind() const { return parse_activation(activation, SourceLocation{"activation", {}, {}}); }
};

/// @brief A DistilBERT config.json.
using DistilBertModelConfig = ModelConfig<DistilBertConfig>;

}  // namespace ftlib::arch
