# ALBERT's SentencePiece tokenizer: unit tests and the conformance run over shared/fixtures.
ftlib_add_test(test_tokenizers_sentencepiece SOURCES test_tokenizers_sentencepiece.cpp
               LIBS ftlib::sentencepiece LABELS tokenizers)
ftlib_add_test(test_tokenizer_conformance_albert SOURCES test_tokenizer_conformance_albert.cpp
               LIBS ftlib::sentencepiece LABELS tokenizers conformance)
