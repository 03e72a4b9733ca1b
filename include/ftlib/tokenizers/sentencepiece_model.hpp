#pragma once
// A SentencePiece unigram model (spiece.model) read and run without libsentencepiece.
//
// Why: Debian's libsentencepiece embeds and exports its own protobuf-lite runtime, which clashes
// with the libprotobuf LibTorch loads (one of the two aborts at start-up), so a program could not
// use ALBERT's tokenizer and LibTorch together. This header reproduces what SentencePieceProcessor
// 0.1.97 does for encoding with a unigram model:
//   - the model file: protobuf wire format read by hand (pieces, trainer_spec, normalizer_spec);
//   - the normalizer: user-defined symbols copied as they are, then the precompiled_charsmap
//     (a darts-clone double-array trie; longest match -> replacement), whitespace handling,
//     the dummy prefix and " " -> U+2581;
//   - the optimized Viterbi search (unigram_model.cc, EncodeOptimized) with its exact arithmetic:
//     a piece's candidate score is summed in double and stored as float, the unknown-character
//     candidate is summed in float, candidates replace the best only when strictly greater, and
//     they are visited by start position, then by length.
// tests/test_sentencepiece_vs_library.cpp compares it with the real library.

#include <algorithm>
#include <cstddef>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ftlib/core/error.hpp"

namespace ftlib {

namespace detail::spm {

/// @brief Reads protobuf wire format from a byte range; every failure is a parse_error naming the file.
class WireReader {
 public:
  WireReader(std::string_view data, const std::filesystem::path& file, std::string message)
      : data_(data), file_(&file), message_(std::move(message)) {}

  /// @brief True when every byte has been read.
  [[nodiscard]] bool done() const noexcept { return pos_ >= data_.size(); }

  /// @brief Reads the next field key; returns {field number, wire type}.
  [[nodiscard]] std::pair<std::uint32_t, std::uint32_t> key() {
    const std::uint64_t k = varint();
    const auto field = static_cast<std::uint32_t>(k >> 3);
    const auto wire = static_cast<std::uint32_t>(k & 7);
    if (field == 0) fail("field number 0");
    return {field, wire};
  }

  /// @brief Reads a base-128 varint.
  [[nodiscard]] std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) fail("truncated varint");
      const auto b = static_cast<unsigned char>(data_[pos_++]);
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if (b < 0x80) return v;
    }
    fail("varint longer than 10 bytes");
  }

  /// @brief Reads a length-delimited field's bytes.
  [[nodiscard]] std::string_view bytes() {
    const std::uint64_t n = varint();
    if (n > data_.size() - pos_) fail("a length-delimited field runs past the end (" + std::to_string(n) + " bytes)");
    const std::string_view out = data_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return out;
  }

  /// @brief Reads a little-endian fixed32 field as float.
  [[nodiscard]] float fixed32_float() {
    if (data_.size() - pos_ < 4) fail("truncated fixed32 field");
    std::uint32_t u = 0;
    for (int k = 3; k >= 0; --k) u = (u << 8) | static_cast<unsigned char>(data_[pos_ + static_cast<std::size_t>(k)]);
    pos_ += 4;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }

  /// @brief Skips a field of this wire type.
  void skip(std::uint32_t wire) {
    switch (wire) {
      case 0: (void)varint(); return;
      case 1:
        if (data_.size() - pos_ < 8) fail("truncated fixed64 field");
        pos_ += 8;
        return;
      case 2: (void)bytes(); return;
      case 5:
        if (data_.size() - pos_ < 4) fail("truncated fixed32 field");
        pos_ += 4;
        return;
      default: fail("unsupported wire type " + std::to_string(wire));
    }
  }

  /// @brief Checks that a field has the wire type its declaration implies.
  void expect(std::uint32_t wire, std::uint32_t expected, std::string_view field) {
    if (wire != expected) {
      fail(std::string(field) + " has wire type " + std::to_string(wire) + ", expected " + std::to_string(expected));
    }
  }

  /// @brief Throws parse_error "<file>: not a valid SentencePiece model file (<message> at byte N: what)".
  [[noreturn]] void fail(const std::string& what) const {
    throw parse_error(SourceLocation{file_->string(), {}, {}},
                      "not a valid SentencePiece model file (" + message_ + ", byte " +
                          std::to_string(pos_) + ": " + what + ")");
  }

 private:
  std::string_view data_;
  const std::filesystem::path* file_;
  std::string message_;  // what is being read, e.g. "ModelProto.pieces[3]"
  std::size_t pos_ = 0;
};

/// @brief SentencePiece's OneCharLen: the UTF-8 length announced by a lead byte (1 for anything else).
[[nodiscard]] constexpr int one_char_len(unsigned char c) noexcept {
  constexpr unsigned char table[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return table[c >> 4];
}

/// @brief Length of a valid UTF-8 character at the start of `s` (as SentencePiece's
/// IsValidDecodeUTF8 accepts it), or 0 when the bytes there are malformed.
[[nodiscard]] inline std::size_t valid_char_len(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  if (n == 0) return 0;
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  const auto cont = [&](std::size_t k) { return k < n && (p[k] & 0xC0) == 0x80; };
  char32_t cp = 0;
  std::size_t len = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  for (std::size_t k = 1; k < len; ++k) {
    if (!cont(k)) return 0;
    cp = (cp << 6) | (p[k] & 0x3F);
  }
  const bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
  if (overlong || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return len;
}

/// @brief Read-only view of a darts-clone double-array (the format of precompiled_charsmap).
class DartsView {
 public:
  DartsView() = default;
  /// @brief Takes a copy of `n` 32-bit little-endian units.
  DartsView(const char* data, std::size_t n) : units_(n) {
    for (std::size_t i = 0; i < n; ++i) {
      const auto* b = reinterpret_cast<const unsigned char*>(data + 4 * i);
      units_[i] = static_cast<std::uint32_t>(b[0]) | (static_cast<std::uint32_t>(b[1]) << 8) |
                  (static_cast<std::uint32_t>(b[2]) << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
    }
  }

  /// @brief True when the trie has no units.
  [[nodiscard]] bool empty() const noexcept { return units_.empty(); }

  /// @brief darts-clone's commonPrefixSearch reduced to its longest hit: {length, value}, length 0 if none.
  [[nodiscard]] std::pair<std::size_t, std::uint32_t> longest_prefix(std::string_view key) const noexcept {
    std::pair<std::size_t, std::uint32_t> best{0, 0};
    if (units_.empty()) return best;
    std::size_t node = offset(units_[0]);
    for (std::size_t i = 0; i < key.size(); ++i) {
      const auto c = static_cast<unsigned char>(key[i]);
      node ^= c;
      if (node >= units_.size()) return best;
      const std::uint32_t unit = units_[node];
      if (label(unit) != c) return best;
      node ^= offset(unit);
      if (node >= units_.size()) return best;
      if (has_leaf(unit)) best = {i + 1, units_[node] & ((1U << 31) - 1)};
    }
    return best;
  }

  /// @brief Whether some key starts with the bytes of `prefix` (or is them).
  [[nodiscard]] bool has_prefix(std::string_view prefix) const noexcept {
    if (units_.empty()) return false;
    std::size_t node = offset(units_[0]);
    for (const char ch : prefix) {
      const auto c = static_cast<unsigned char>(ch);
      node ^= c;
      if (node >= units_.size() || label(units_[node]) != c) return false;
      node ^= offset(units_[node]);
      if (node >= units_.size()) return false;
    }
    return true;
  }

  /// @brief Whether some key starts with byte `c`.
  [[nodiscard]] bool has_first_byte(unsigned char c) const noexcept {
    if (units_.empty()) return false;
    const std::size_t node = offset(units_[0]) ^ c;
    return node < units_.size() && label(units_[node]) == c;
  }

 private:
  static constexpr bool has_leaf(std::uint32_t u) noexcept { return ((u >> 8) & 1) == 1; }
  static constexpr std::uint32_t label(std::uint32_t u) noexcept { return u & ((1U << 31) | 0xFF); }
  static constexpr std::size_t offset(std::uint32_t u) noexcept { return (u >> 10) << ((u & (1U << 9)) >> 6); }

  std::vector<std::uint32_t> units_;
};

/// @brief Byte trie of the pieces as an XOR double array: a child lookup is one array access, and
/// the unit it reads also holds the value and score of the piece ending there.
class PieceTrie {
 public:
  /// @brief One key of the trie.
  struct Entry {
    std::string_view text;   ///< the key's bytes, unique and non-empty
    std::int32_t value = 0;  ///< what value() gives at the key's node (>= 0)
    float score = 0.0F;      ///< what score() gives there
  };

  /// @brief Builds the trie of `entries`.
  explicit PieceTrie(std::vector<Entry> entries = {}) {
    Builder build;
    build.grow(units_);
    units_[0].check = -2;  // the root
    build.take(0);
    build.base_used[0] = true;  // base 0 is what leaves look through; keep it out of use
    if (entries.empty()) return;
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.text < b.text; });
    struct Task {
      std::int32_t slot;
      std::size_t begin, end, depth;
    };
    std::vector<Task> stack{{0, 0, entries.size(), 0}};
    std::vector<unsigned char> labels;
    std::vector<std::pair<std::size_t, std::size_t>> ranges;
    while (!stack.empty()) {
      Task t = stack.back();
      stack.pop_back();
      if (entries[t.begin].text.size() == t.depth) {
        Unit& unit = units_[static_cast<std::size_t>(t.slot)];
        unit.value = entries[t.begin].value;
        unit.score = entries[t.begin].score;
        ++t.begin;
      }
      labels.clear();
      ranges.clear();
      for (std::size_t i = t.begin; i < t.end;) {
        const auto c = static_cast<unsigned char>(entries[i].text[t.depth]);
        std::size_t j = i + 1;
        while (j < t.end && static_cast<unsigned char>(entries[j].text[t.depth]) == c) ++j;
        labels.push_back(c);
        ranges.emplace_back(i, j);
        i = j;
      }
      if (labels.empty()) continue;
      const std::int32_t base = build.find_base(units_, labels);
      units_[static_cast<std::size_t>(t.slot)].base = base;
      for (std::size_t k = 0; k < labels.size(); ++k) {
        const std::int32_t child = base ^ labels[k];
        units_[static_cast<std::size_t>(child)].check = t.slot;
        build.take(child);
        stack.push_back({child, ranges[k].first, ranges[k].second, t.depth + 1});
      }
    }
  }

  /// @brief The child of `node` along byte `c`, or -1.
  [[nodiscard]] std::int32_t child(std::int32_t node, unsigned char c) const noexcept {
    // base ^ c stays inside base's 256-unit block, and the array is a whole number of blocks.
    const std::int32_t p = units_[static_cast<std::size_t>(node)].base ^ c;
    return units_[static_cast<std::size_t>(p)].check == node ? p : -1;
  }

  /// @brief The value of the key ending at `node`, or -1.
  [[nodiscard]] std::int32_t value(std::int32_t node) const noexcept { return units_[static_cast<std::size_t>(node)].value; }

  /// @brief The score of the key ending at `node` (0 where none ends).
  [[nodiscard]] float score(std::int32_t node) const noexcept { return units_[static_cast<std::size_t>(node)].score; }

 private:
  struct Unit {
    std::int32_t base = 0;    // children at base ^ label; 0 for a leaf
    std::int32_t check = -1;  // parent slot; -1 free
    std::int32_t value = -1;  // the key's value, -1 none
    float score = 0.0F;       // the key's score
  };

  // Construction-only state. A base search visits only free units (a circular doubly linked list)
  // and only those of the last `open_blocks` 256-unit blocks, as darts-clone's builder does; an
  // older block is closed with whatever it still has free. Searching all of the array instead made
  // loading a 30k-piece model take most of a second (a scan over occupied units for every node).
  struct Builder {
    static constexpr std::size_t open_blocks = 16;
    std::vector<std::int32_t> next, prev;  // free-list links, per unit
    std::vector<bool> base_used;           // per unit: some node's base already
    std::int32_t head = -1;                // first free unit of the open blocks, -1 none

    // Appends a free block (closing the oldest open one when there are too many).
    void grow(std::vector<Unit>& units) {
      const auto start = static_cast<std::int32_t>(units.size());
      units.resize(units.size() + 256);
      next.resize(units.size());
      prev.resize(units.size());
      base_used.resize(units.size(), false);
      for (std::int32_t u = start; u < start + 256; ++u) link(u);
      const std::size_t blocks = units.size() / 256;
      if (blocks > open_blocks) {
        const auto closed = static_cast<std::int32_t>((blocks - open_blocks - 1) * 256);
        for (std::int32_t u = closed; u < closed + 256; ++u) {
          if (units[static_cast<std::size_t>(u)].check == -1) take(u);
        }
      }
    }

    // Appends free unit `u` at the end of the list.
    void link(std::int32_t u) {
      const auto i = static_cast<std::size_t>(u);
      if (head < 0) {
        head = u;
        next[i] = prev[i] = u;
        return;
      }
      const std::int32_t tail = prev[static_cast<std::size_t>(head)];
      next[i] = head;
      prev[i] = tail;
      next[static_cast<std::size_t>(tail)] = u;
      prev[static_cast<std::size_t>(head)] = u;
    }

    // Removes unit `u` from the free list (it was just occupied, or its block closed).
    void take(std::int32_t u) {
      const auto i = static_cast<std::size_t>(u);
      if (next[i] == u) {
        head = -1;
      } else {
        next[static_cast<std::size_t>(prev[i])] = next[i];
        prev[static_cast<std::size_t>(next[i])] = prev[i];
        if (head == u) head = next[i];
      }
      next[i] = prev[i] = -1;
    }

    // The first unused base whose children for `labels` are all free; a fresh block when none is.
    std::int32_t find_base(std::vector<Unit>& units, const std::vector<unsigned char>& labels) {
      if (head >= 0) {
        std::int32_t f = head;
        do {
          // f ^ labels[0] is in f's block, so every child slot below exists.
          const auto base = static_cast<std::size_t>(f ^ labels[0]);
          if (!base_used[base] && std::all_of(labels.begin(), labels.end(), [&](unsigned char c) {
                return units[base ^ c].check == -1;
              })) {
            base_used[base] = true;
            return static_cast<std::int32_t>(base);
          }
          f = next[static_cast<std::size_t>(f)];
        } while (f != head);
      }
      const auto base = static_cast<std::int32_t>(units.size());
      grow(units);
      base_used[static_cast<std::size_t>(base)] = true;
      return base;
    }
  };

  std::vector<Unit> units_;
};

}  // namespace detail::spm

/// @brief A SentencePiece unigram model file, loaded without libsentencepiece: its pieces, its
/// normalizer and SentencePieceProcessor 0.1.97's encoding. Immutable after loading; thread-safe.
class SentencePieceModel {
 public:
  /// @brief The kinds of piece a model holds (ModelProto.SentencePiece.Type).
  enum class PieceType : std::uint8_t {
    normal = 1,        ///< an ordinary piece, chosen by the Viterbi search
    unknown = 2,       ///< <unk>
    control = 3,       ///< e.g. [CLS]: never produced from text, decoded as nothing
    user_defined = 4,  ///< always matched whole
    unused = 5,        ///< in the vocabulary but never produced
    byte = 6,          ///< <0xXX> pieces of byte_fallback models
  };

  /// @brief One vocabulary entry.
  struct Piece {
    std::string text;                      ///< the piece's bytes ("▁" for a space)
    float score = 0.0F;                    ///< log probability
    PieceType type = PieceType::normal;    ///< kind of piece
  };

  /// @brief A piece of an encoded text: its id and its byte range in the normalized text.
  struct Span {
    int id = 0;                ///< piece id
    std::uint32_t begin = 0;   ///< first byte in the normalized text
    std::uint32_t end = 0;     ///< one past the last byte
  };

  /// @brief Parses a serialized ModelProto. `source` names the file in errors (parse_error).
  [[nodiscard]] static SentencePieceModel parse(std::string_view bytes, const std::filesystem::path& source) {
    SentencePieceModel m;
    m.load(bytes, source);
    return m;
  }

  /// @brief Number of pieces.
  [[nodiscard]] std::size_t size() const noexcept { return pieces_.size(); }
  /// @brief The piece with this id (unchecked).
  [[nodiscard]] const Piece& piece(int id) const noexcept { return pieces_[static_cast<std::size_t>(id)]; }
  /// @brief The bytes of piece `id` (unchecked), as SentencePieceProcessor::IdToPiece.
  [[nodiscard]] const std::string& id_to_piece(int id) const noexcept { return piece(id).text; }
  /// @brief Id of the unknown piece.
  [[nodiscard]] int unk_id() const noexcept { return unk_id_; }

  /// @brief SentencePieceProcessor::PieceToId: control/unknown/byte pieces first, then the others,
  /// else unk_id().
  [[nodiscard]] int piece_to_id(std::string_view piece) const {
    if (const auto it = reserved_.find(std::string(piece)); it != reserved_.end()) return it->second;
    if (const auto it = ordinary_.find(std::string(piece)); it != ordinary_.end()) return it->second;
    return unk_id_;
  }

  /// @brief SentencePiece's normalizer: `input` -> the text the Viterbi search segments.
  void normalize(std::string_view input, std::string& out) const {
    out.clear();
    if (input.empty()) return;
    std::size_t pos = 0;
    if (remove_extra_whitespaces_) {
      while (pos < input.size()) {
        const auto [rep, len] = normalize_prefix(input.substr(pos));
        if (rep != " ") break;
        pos += len;
      }
      if (pos == input.size()) return;
    }
    out.reserve(out.size() + (input.size() - pos) + (input.size() - pos) / 2 + 4);
    if (!treat_whitespace_as_suffix_ && add_dummy_prefix_) add_space(out);
    bool prev_space = remove_extra_whitespaces_;
    while (pos < input.size()) {
      // A run of ASCII bytes the normalizer copies as they are (spaces aside), the common case:
      // written in place (at most 3 bytes each), without a trie lookup.
      std::size_t end = pos;
      while (end < input.size() && copies_ascii(input, end)) ++end;
      if (end > pos) {
        const std::size_t at = out.size();
        out.resize(at + 3 * (end - pos));
        char* w = out.data() + at;
        for (; pos < end; ++pos) {
          const char c = input[pos];
          if (c == ' ') {
            if (!prev_space) {
              if (escape_whitespaces_) {
                w = std::copy(underline.begin(), underline.end(), w);
              } else {
                *w++ = ' ';
              }
            }
            prev_space = remove_extra_whitespaces_;
          } else {
            *w++ = c;
            prev_space = false;
          }
        }
        out.resize(static_cast<std::size_t>(w - out.data()));
        if (pos == input.size()) break;
      }
      const auto [rep, len] = normalize_prefix(input.substr(pos));
      std::string_view sp = rep;
      while (prev_space && !sp.empty() && sp.front() == ' ') sp.remove_prefix(1);
      if (!sp.empty()) {
        for (const char ch : sp) {
          if (ch == ' ') {
            add_space(out);
          } else {
            out.push_back(ch);
          }
        }
        prev_space = sp.back() == ' ';
      }
      pos += len;
      if (!remove_extra_whitespaces_) prev_space = false;
    }
    if (remove_extra_whitespaces_) {
      const std::string_view space = escape_whitespaces_ ? std::string_view(underline) : std::string_view(" ");
      while (out.size() >= space.size() && std::string_view(out).substr(out.size() - space.size()) == space) {
        out.resize(out.size() - space.size());
      }
    }
    if (treat_whitespace_as_suffix_ && add_dummy_prefix_) add_space(out);
  }

  /// @brief The normalized form of `input`.
  [[nodiscard]] std::string normalize(std::string_view input) const {
    std::string out;
    normalize(input, out);
    return out;
  }

  /// @brief The best segmentation of already normalized text (EncodeOptimized), appended to `out`
  /// as spans of `normalized`; a run of unknown characters becomes one unk_id() piece (or byte
  /// pieces when the model uses byte_fallback), as SentencePieceProcessor::Encode gives it.
  void encode_normalized(std::string_view normalized, std::vector<Span>& out) const {
    if (normalized.empty()) return;
    struct BestPathNode {
      int id = -1;
      float best_path_score = 0.0F;
      int starts_at = -1;
    };
    const int size = static_cast<int>(normalized.size());
    std::vector<BestPathNode> best(static_cast<std::size_t>(size) + 1);
    const auto* s = reinterpret_cast<const unsigned char*>(normalized.data());
    int starts_at = 0;
    while (starts_at < size) {
      const float till_here = best[static_cast<std::size_t>(starts_at)].best_path_score;
      const double till_here_d = till_here;
      bool has_single_node = false;
      const int mblen = std::min(detail::spm::one_char_len(s[starts_at]), size - starts_at);
      std::int32_t node = 0;
      for (int key_pos = starts_at; key_pos < size;) {
        node = trie_.child(node, s[key_pos]);
        if (node < 0) break;
        ++key_pos;
        // Unused pieces have no value in the trie: the search skips them.
        const std::int32_t value = trie_.value(node);
        if (value < 0) continue;
        const std::int32_t id = value & ~user_defined_bit;
        const int length = key_pos - starts_at;
        // The library's `score` is double: (length * max_score) in float, minus the double 0.1,
        // or the piece's float score; the sum is double, compared with and stored as float.
        const double score = (value & user_defined_bit) != 0
                                 ? static_cast<double>(static_cast<float>(length) * max_score_) - 0.1
                                 : static_cast<double>(trie_.score(node));
        const double candidate = score + till_here_d;
        BestPathNode& target = best[static_cast<std::size_t>(key_pos)];
        if (target.starts_at == -1 || candidate > static_cast<double>(target.best_path_score)) {
          target.best_path_score = static_cast<float>(candidate);
          target.starts_at = starts_at;
          target.id = id;
        }
        has_single_node |= length == mblen;
      }
      if (!has_single_node) {
        BestPathNode& target = best[static_cast<std::size_t>(starts_at + mblen)];
        const float candidate = unk_score_ + till_here;  // float, as in the library
        if (target.starts_at == -1 || candidate > target.best_path_score) {
          target.best_path_score = candidate;
          target.starts_at = starts_at;
          target.id = unk_id_;
        }
      }
      starts_at += mblen;
    }
    const std::size_t first = out.size();
    for (int ends_at = size; ends_at > 0;) {
      const BestPathNode& n = best[static_cast<std::size_t>(ends_at)];
      // SentencePieceProcessor merges a run of unknown pieces into one (without byte_fallback).
      if (n.id == unk_id_ && !byte_fallback_ && out.size() > first && out.back().id == unk_id_) {
        out.back().begin = static_cast<std::uint32_t>(n.starts_at);
      } else {
        out.push_back(Span{n.id, static_cast<std::uint32_t>(n.starts_at), static_cast<std::uint32_t>(ends_at)});
      }
      ends_at = n.starts_at;
    }
    std::reverse(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
    if (byte_fallback_) expand_unknown_bytes(normalized, out, first);
  }

  /// @brief SentencePieceProcessor::Encode(text, &ids): normalize, then the best segmentation.
  void encode(std::string_view text, std::vector<int>& ids, std::string& normalized_scratch,
              std::vector<Span>& span_scratch) const {
    normalize(text, normalized_scratch);
    span_scratch.clear();
    encode_normalized(normalized_scratch, span_scratch);
    for (const Span& p : span_scratch) ids.push_back(p.id);
  }

  /// @brief The piece ids of `text`, as SentencePieceProcessor::Encode.
  [[nodiscard]] std::vector<int> encode(std::string_view text) const {
    std::vector<int> ids;
    std::string normalized;
    std::vector<Span> spans;
    encode(text, ids, normalized, spans);
    return ids;
  }

  /// @brief The pieces of `text` as SentencePieceProcessor::EncodeAsPieces gives them (an unknown
  /// character is its own text, not "<unk>").
  [[nodiscard]] std::vector<std::string> encode_as_pieces(std::string_view text) const {
    std::string normalized;
    normalize(text, normalized);
    std::vector<Span> spans;
    encode_normalized(normalized, spans);
    std::vector<std::string> pieces;
    pieces.reserve(spans.size());
    for (const Span& p : spans) {
      if (pieces_[static_cast<std::size_t>(p.id)].type == PieceType::byte) {
        pieces.push_back(pieces_[static_cast<std::size_t>(p.id)].text);
      } else {
        pieces.emplace_back(normalized.substr(p.begin, p.end - p.begin));
      }
    }
    return pieces;
  }

  /// @brief SentencePieceProcessor::Decode for ids of this model (ids must be valid): control pieces
  /// vanish, <unk> becomes the model's unk_surface (" ⁇ "), byte pieces become their bytes,
  /// "▁" becomes a space and the space the dummy prefix added at the start is dropped.
  [[nodiscard]] std::string decode(std::span<const int> ids) const {
    std::string out;
    bool is_bos_ws = true;
    std::string bytes;
    const auto flush_bytes = [&] {
      if (bytes.empty()) return;
      // Byte pieces that do not form valid UTF-8 decode to U+FFFD, one per bad byte.
      std::string_view rest = bytes;
      while (!rest.empty()) {
        const std::size_t n = detail::spm::valid_char_len(rest);
        if (n == 0) {
          out.append("\xEF\xBF\xBD");
          rest.remove_prefix(1);
        } else {
          out.append(rest.substr(0, n));
          rest.remove_prefix(n);
        }
      }
      bytes.clear();
      is_bos_ws = false;
    };
    for (const int id : ids) {
      const Piece& p = pieces_[static_cast<std::size_t>(id)];
      if (p.type == PieceType::byte) {
        bytes.push_back(static_cast<char>(byte_value_[static_cast<std::size_t>(id)]));
        continue;
      }
      flush_bytes();
      if (p.type == PieceType::control) continue;
      if (p.type == PieceType::unknown) {
        out += unk_surface_;
        is_bos_ws = false;
        continue;
      }
      std::string_view text = p.text;
      if (is_bos_ws && !treat_whitespace_as_suffix_ && text.substr(0, underline.size()) == underline) {
        text.remove_prefix(underline.size());
      }
      for (std::size_t i = 0; i < text.size();) {
        if (text.compare(i, underline.size(), underline) == 0) {
          out.push_back(' ');
          i += underline.size();
        } else {
          out.push_back(text[i++]);
        }
      }
      is_bos_ws = false;
    }
    flush_bytes();
    if (treat_whitespace_as_suffix_ && !out.empty() && out.back() == ' ') out.pop_back();
    return out;
  }

 private:
  static constexpr std::string_view underline = "\xE2\x96\x81";  // U+2581, SentencePiece's space

  void add_space(std::string& out) const {
    if (escape_whitespaces_) {
      out.append(underline);
    } else {
      out.push_back(' ');
    }
  }

  /// Whether the normalizer copies the ASCII byte at `input[i]` unchanged (a space becomes the
  /// space symbol): no charsmap rule or user-defined symbol can start there.
  [[nodiscard]] bool copies_ascii(std::string_view input, std::size_t i) const noexcept {
    const auto c = static_cast<unsigned char>(input[i]);
    if (c >= 0x80) return false;
    if (!may_rewrite_[c]) return true;
    return plain_before_ascii_[c] && (i + 1 == input.size() || static_cast<unsigned char>(input[i + 1]) < 0x80);
  }

  /// Normalizer::NormalizePrefix: {replacement, bytes consumed} at the start of non-empty `input`.
  [[nodiscard]] std::pair<std::string_view, std::size_t> normalize_prefix(std::string_view input) const {
    if (has_user_defined_) {
      const auto [len, value] = user_defined_.longest_prefix(input);
      if (len > 0) return {input.substr(0, len), len};
    }
    if (!charsmap_.empty()) {
      const auto [len, value] = charsmap_.longest_prefix(input);
      if (len > 0) {
        // Replacements are NUL-terminated strings in the blob after the trie.
        const std::string_view rest = std::string_view(replacements_).substr(std::min<std::size_t>(value, replacements_.size()));
        return {rest.substr(0, rest.find('\0')), len};
      }
    }
    const std::size_t n = detail::spm::valid_char_len(input);
    if (n == 0) return {"\xEF\xBF\xBD", 1};  // malformed UTF-8: U+FFFD for one byte
    return {input.substr(0, n), n};
  }

  /// Replaces each <unk> span by the byte pieces of its bytes (byte_fallback models).
  void expand_unknown_bytes(std::string_view normalized, std::vector<Span>& out, std::size_t first) const {
    std::vector<Span> expanded(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(first));
    for (std::size_t k = first; k < out.size(); ++k) {
      const Span p = out[k];
      if (p.id != unk_id_) {
        expanded.push_back(p);
        continue;
      }
      for (std::uint32_t b = p.begin; b < p.end; ++b) {
        expanded.push_back(Span{byte_ids_[static_cast<unsigned char>(normalized[b])], b, b + 1});
      }
    }
    out = std::move(expanded);
  }

  void load(std::string_view bytes, const std::filesystem::path& source) {
    using detail::spm::WireReader;
    std::string_view charsmap;
    int model_type = 1;
    std::optional<std::int64_t> declared_unk_id;
    WireReader model(bytes, source, "ModelProto");
    while (!model.done()) {
      const auto [field, wire] = model.key();
      if (field == 1) {
        model.expect(wire, 2, "ModelProto.pieces");
        WireReader pr(model.bytes(), source, "ModelProto.pieces[" + std::to_string(pieces_.size()) + "]");
        Piece p;
        while (!pr.done()) {
          const auto [f, w] = pr.key();
          if (f == 1) {
            pr.expect(w, 2, "piece");
            p.text = std::string(pr.bytes());
          } else if (f == 2) {
            pr.expect(w, 5, "score");
            p.score = pr.fixed32_float();
          } else if (f == 3) {
            pr.expect(w, 0, "type");
            const std::uint64_t t = pr.varint();
            if (t < 1 || t > 6) pr.fail("unknown piece type " + std::to_string(t));
            p.type = static_cast<PieceType>(t);
          } else {
            pr.skip(w);
          }
        }
        if (p.text.empty()) pr.fail("the piece is empty");
        pieces_.push_back(std::move(p));
      } else if (field == 2) {
        model.expect(wire, 2, "ModelProto.trainer_spec");
        WireReader tr(model.bytes(), source, "TrainerSpec");
        while (!tr.done()) {
          const auto [f, w] = tr.key();
          if (f == 3) {
            tr.expect(w, 0, "model_type");
            model_type = static_cast<int>(tr.varint());
          } else if (f == 24) {
            tr.expect(w, 0, "treat_whitespace_as_suffix");
            treat_whitespace_as_suffix_ = tr.varint() != 0;
          } else if (f == 35) {
            tr.expect(w, 0, "byte_fallback");
            byte_fallback_ = tr.varint() != 0;
          } else if (f == 40) {
            tr.expect(w, 0, "unk_id");
            declared_unk_id = static_cast<std::int32_t>(static_cast<std::uint32_t>(tr.varint()));
          } else if (f == 44) {
            tr.expect(w, 2, "unk_surface");
            unk_surface_ = std::string(tr.bytes());
          } else {
            tr.skip(w);
          }
        }
      } else if (field == 3) {
        model.expect(wire, 2, "ModelProto.normalizer_spec");
        WireReader nr(model.bytes(), source, "NormalizerSpec");
        while (!nr.done()) {
          const auto [f, w] = nr.key();
          if (f == 2) {
            nr.expect(w, 2, "precompiled_charsmap");
            charsmap = nr.bytes();
          } else if (f == 3) {
            nr.expect(w, 0, "add_dummy_prefix");
            add_dummy_prefix_ = nr.varint() != 0;
          } else if (f == 4) {
            nr.expect(w, 0, "remove_extra_whitespaces");
            remove_extra_whitespaces_ = nr.varint() != 0;
          } else if (f == 5) {
            nr.expect(w, 0, "escape_whitespaces");
            escape_whitespaces_ = nr.varint() != 0;
          } else {
            nr.skip(w);
          }
        }
      } else {
        model.skip(wire);
      }
    }
    const auto fail = [&](const std::string& what) {
      throw parse_error(SourceLocation{source.string(), {}, {}},
                        "not a valid SentencePiece model file (" + what + ")");
    };
    if (pieces_.empty()) fail("it has no pieces");
    if (model_type != 1) {
      fail("model_type is " + std::to_string(model_type) +
           "; only unigram models (model_type 1, what ALBERT uses) are supported");
    }
    // The vocabulary, as ModelInterface::InitializePieces sorts it into two maps.
    // The search's trie holds the pieces it may choose (normal and user-defined) with their scores.
    std::vector<detail::spm::PieceTrie::Entry> trie_entries;
    std::vector<std::pair<std::string_view, int>> user_defined;
    if (pieces_.size() > static_cast<std::size_t>(user_defined_bit)) {
      fail("it has " + std::to_string(pieces_.size()) + " pieces, more than " + std::to_string(user_defined_bit));
    }
    max_score_ = 1.17549435e-38F;  // FLT_MIN, the library's starting value
    float min_score = 3.40282347e+38F;
    byte_value_.assign(pieces_.size(), 0);
    for (std::size_t i = 0; i < pieces_.size(); ++i) {
      const Piece& p = pieces_[i];
      const int id = static_cast<int>(i);
      const bool ordinary = p.type == PieceType::normal || p.type == PieceType::user_defined || p.type == PieceType::unused;
      auto& map = ordinary ? ordinary_ : reserved_;
      if (!map.emplace(p.text, id).second) fail("piece \"" + p.text + "\" (id " + std::to_string(id) + ") is defined twice");
      if (p.type == PieceType::normal) trie_entries.push_back({p.text, id, p.score});
      if (p.type == PieceType::user_defined) {
        trie_entries.push_back({p.text, id | user_defined_bit, p.score});
        user_defined.emplace_back(p.text, id);
      }
      if (p.type == PieceType::unknown) {
        if (unk_id_ >= 0) fail("more than one unknown piece (ids " + std::to_string(unk_id_) + " and " + std::to_string(id) + ")");
        unk_id_ = id;
      }
      if (p.type == PieceType::normal) {
        min_score = std::min(min_score, p.score);
        max_score_ = std::max(max_score_, p.score);
      }
      if (p.type == PieceType::byte) {
        // "<0xXX>"
        if (p.text.size() != 6 || p.text.compare(0, 3, "<0x") != 0 || p.text[5] != '>') {
          fail("byte piece \"" + p.text + "\" (id " + std::to_string(id) + ") is not of the form <0xXX>");
        }
        unsigned value = 0;
        const char* hex = p.text.data() + 3;
        if (const auto [end, ec] = std::from_chars(hex, hex + 2, value, 16); ec != std::errc{} || end != hex + 2)
          fail("byte piece \"" + p.text + "\" (id " + std::to_string(id) + ") is not of the form <0xXX> (XX: two hex digits)");
        byte_value_[i] = static_cast<unsigned char>(value);
      }
    }
    if (unk_id_ < 0) fail("it has no piece of type UNKNOWN (<unk>)");
    if (declared_unk_id && *declared_unk_id != unk_id_) {
      fail("trainer_spec.unk_id is " + std::to_string(*declared_unk_id) + " but the UNKNOWN piece has id " +
           std::to_string(unk_id_));
    }
    if (byte_fallback_) {
      byte_ids_.assign(256, unk_id_);
      for (std::size_t i = 0; i < pieces_.size(); ++i) {
        if (pieces_[i].type == PieceType::byte) byte_ids_[byte_value_[i]] = static_cast<int>(i);
      }
      for (int b = 0; b < 256; ++b) {
        if (byte_ids_[static_cast<std::size_t>(b)] == unk_id_) fail("byte_fallback is set but a <0xXX> byte piece is missing");
      }
    }
    unk_score_ = min_score - 10.0F;  // kUnkPenalty
    trie_ = detail::spm::PieceTrie(std::move(trie_entries));
    // The normalizer copies user-defined symbols through unchanged (its prefix matcher).
    has_user_defined_ = !user_defined.empty();
    if (has_user_defined_) user_defined_ = UserDefinedMatcher(user_defined);
    if (!charsmap.empty()) {
      // <uint32 little-endian trie size in bytes><darts-clone units><NUL-terminated replacements>
      if (charsmap.size() <= 4) fail("normalizer_spec.precompiled_charsmap is too short");
      const auto* b = reinterpret_cast<const unsigned char*>(charsmap.data());
      const std::uint32_t trie_size = static_cast<std::uint32_t>(b[0]) | (static_cast<std::uint32_t>(b[1]) << 8) |
                                      (static_cast<std::uint32_t>(b[2]) << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
      if (trie_size > charsmap.size() - 4) {
        fail("normalizer_spec.precompiled_charsmap: its trie size (" + std::to_string(trie_size) +
             " bytes) exceeds the blob (" + std::to_string(charsmap.size()) + " bytes)");
      }
      charsmap_ = detail::spm::DartsView(charsmap.data() + 4, trie_size / 4);
      replacements_ = std::string(charsmap.substr(4 + trie_size));
    }
    // Which ASCII bytes the normalizer may change: the ones a charsmap rule or a user-defined
    // symbol starts with. Of those, the ones it copies unchanged when the next byte is ASCII too:
    // nmt_nfkc's rules for letters all continue with a non-ASCII byte (a combining mark), so text
    // in plain ASCII needs no trie lookup.
    for (int c = 0; c < 0x80; ++c) {
      const auto u = static_cast<unsigned char>(c);
      const bool user = has_user_defined_ && user_defined_.has_first_byte(u);
      may_rewrite_[u] = charsmap_.has_first_byte(u) || user;
      const char key[2] = {static_cast<char>(c), 0};
      bool plain = !user && charsmap_.longest_prefix(std::string_view(key, 1)).first == 0;
      for (int b = 0; plain && b < 0x80; ++b) {
        const char pair[2] = {static_cast<char>(c), static_cast<char>(b)};
        plain = !charsmap_.has_prefix(std::string_view(pair, 2));
      }
      plain_before_ascii_[u] = plain;
    }
  }

  /// Longest user-defined symbol at the start of a text (the normalizer's PrefixMatcher).
  class UserDefinedMatcher {
   public:
    UserDefinedMatcher() = default;
    explicit UserDefinedMatcher(const std::vector<std::pair<std::string_view, int>>& symbols) {
      std::vector<detail::spm::PieceTrie::Entry> entries;
      for (const auto& [text, id] : symbols) {
        entries.push_back({text, id});
        first_[static_cast<unsigned char>(text[0])] = true;
      }
      trie_ = detail::spm::PieceTrie(std::move(entries));
    }
    [[nodiscard]] std::pair<std::size_t, int> longest_prefix(std::string_view s) const noexcept {
      std::pair<std::size_t, int> best{0, -1};
      std::int32_t node = 0;
      for (std::size_t i = 0; i < s.size(); ++i) {
        node = trie_.child(node, static_cast<unsigned char>(s[i]));
        if (node < 0) break;
        if (trie_.value(node) >= 0) best = {i + 1, trie_.value(node)};
      }
      return best;
    }
    [[nodiscard]] bool has_first_byte(unsigned char c) const noexcept { return first_[c]; }

   private:
    detail::spm::PieceTrie trie_;
    bool first_[256] = {};
  };

  std::vector<Piece> pieces_;
  std::unordered_map<std::string, int> ordinary_;  // normal, user-defined, unused
  std::unordered_map<std::string, int> reserved_;  // control, unknown, byte
  // The search's trie: normal pieces (value id) and user-defined ones (id | user_defined_bit), with scores.
  static constexpr std::int32_t user_defined_bit = 1 << 30;
  detail::spm::PieceTrie trie_;
  UserDefinedMatcher user_defined_;
  bool has_user_defined_ = false;
  detail::spm::DartsView charsmap_;
  std::string replacements_;
  bool may_rewrite_[128] = {};
  bool plain_before_ascii_[128] = {};  // copied unchanged when followed by an ASCII byte or the end
  int unk_id_ = -1;
  float unk_score_ = 0.0F;
  float max_score_ = 0.0F;
  bool add_dummy_prefix_ = true;
  bool remove_extra_whitespaces_ = true;
  bool escape_whitespaces_ = true;
  bool treat_whitespace_as_suffix_ = false;
  bool byte_fallback_ = false;
  std::string unk_surface_ = " \xE2\x81\x87 ";
  std::vector<unsigned char> byte_value_;  // per id, for byte pieces
  std::vector<int> byte_ids_;              // per byte value, with byte_fallback
};

}  // namespace ftlib
