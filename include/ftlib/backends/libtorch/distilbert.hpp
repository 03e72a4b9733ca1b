#pragma once
// ftlib::libtorch::DistilBertForSequenceClassification: HuggingFace's model of that name on LibTorch.

#include <cstdint>

#include "ftlib/backends/libtorch/distilbert_modules.hpp"
#include "ftlib/backends/libtorch/sequence_classifier.hpp"
#include "ftlib/hf/config.hpp"

namespace ftlib::libtorch {

namespace detail {
struct DistilBertFamily {
  using Arch = hf::DistilBertConfig;
  using Module = DistilBertClassifier;
  static void set_dropout(Arch& arch, double p) {
    arch.dropout = p;
    arch.attention_dropout = p;
    arch.seq_classif_dropout = p;
    arch.qa_dropout = p;
  }
  static std::int64_t type_vocab_size(const Arch&) { return 0; }  // DistilBERT ignores token types
};
}  // namespace detail

/// @brief DistilBERT encoder + pre_classifier (ReLU) + classifier; state_dict names are HF's
///        (distilbert.embeddings.word_embeddings.weight, distilbert.transformer.layer.0.attention.q_lin.weight,
///        pre_classifier.weight, classifier.bias, ...). Satisfies ftlib::SequenceClassifier.
class DistilBertForSequenceClassification
    : public detail::SequenceClassifierBase<DistilBertForSequenceClassification, detail::DistilBertFamily> {
 public:
  using SequenceClassifierBase::SequenceClassifierBase;
};

}  // namespace ftlib::libtorch
