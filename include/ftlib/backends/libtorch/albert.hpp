#pragma once
// ftlib::libtorch::AlbertForSequenceClassification: HuggingFace's model of that name on LibTorch.

#include <cstdint>

#include "ftlib/backends/libtorch/albert_modules.hpp"
#include "ftlib/backends/libtorch/sequence_classifier.hpp"
#include "ftlib/hf/config.hpp"

namespace ftlib::libtorch {

namespace detail {
struct AlbertFamily {
  using Arch = hf::AlbertConfig;
  using Module = AlbertClassifier;
  static void set_dropout(Arch& arch, double p) {
    arch.hidden_dropout_prob = p;
    arch.attention_probs_dropout_prob = p;
    arch.classifier_dropout_prob = p;
  }
  static std::int64_t type_vocab_size(const Arch& arch) { return arch.type_vocab_size; }
};
}  // namespace detail

/// @brief ALBERT encoder (shared layer groups, factorised embeddings) + tanh pooler + classifier;
///        state_dict names are HF's (albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.weight,
///        albert.pooler.weight, classifier.bias, ...). Satisfies ftlib::SequenceClassifier.
class AlbertForSequenceClassification
    : public detail::SequenceClassifierBase<AlbertForSequenceClassification, detail::AlbertFamily> {
 public:
  using SequenceClassifierBase::SequenceClassifierBase;
};

}  // namespace ftlib::libtorch
