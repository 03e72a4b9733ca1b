# Tokenizers: WordPiece unit tests and the HuggingFace fixture conformance run.
ftlib_add_test(test_tokenizers_wordpiece SOURCES test_tokenizers_wordpiece.cpp LIBS ftlib::sentencepiece LABELS tokenizers)
ftlib_add_test(test_tokenizer_conformance SOURCES test_tokenizer_conformance.cpp LABELS tokenizers)
