#include "detect/class_sequence.h"

#include <bit>
#include <bitset>
#include <cstring>
#include <vector>

namespace rampart::detect {

// Named rather than anonymous: the unity build puts this file beside others with their own
// Position and Reader.
namespace class_sequence_internal {

using ByteSet = std::bitset<256>;

enum class Take : uint8_t { kOnce, kOptional, kRepeated };

struct Position {
  ByteSet bytes;
  Take take = Take::kOnce;
};

ByteSet Range(unsigned lo, unsigned hi) {
  ByteSet s;
  for (unsigned c = lo; c <= hi; ++c) s.set(c);
  return s;
}

ByteSet Digits() {
  return Range('0', '9');
}
ByteSet WordBytes() {
  return Range('0', '9') | Range('A', 'Z') | Range('a', 'z') | Range('_', '_');
}
// PCRE's \s since 8.34, which Vectorscan follows: HT, LF, VT, FF, CR and space.
ByteSet SpaceBytes() {
  return Range('\t', '\r') | Range(' ', ' ');
}

ByteSet FoldCase(ByteSet s) {
  for (unsigned c = 'a'; c <= 'z'; ++c) {
    unsigned upper = c - 'a' + 'A';
    if (s[c] || s[upper]) {
      s.set(c);
      s.set(upper);
    }
  }
  return s;
}

// Not std::isalnum, which follows the locale.
bool IsAsciiAlnum(unsigned c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Reader {
 public:
  Reader(std::string_view pattern, bool caseless, bool dotall)
      : p_(pattern), caseless_(caseless), dotall_(dotall) {}

  bool Read(std::vector<Position>* out) {
    while (i_ < p_.size()) {
      ByteSet atom;
      if (!Atom(&atom)) return false;
      if (caseless_) atom = FoldCase(atom);
      if (atom.none()) return false;
      if (!Quantified(atom, out)) return false;
      if (out->size() > ClassSequence::kMaxPositions) return false;
    }
    return true;
  }

 private:
  // One escape after a backslash, outside or inside a class. A class shorthand (\d, \W, ...)
  // sets *is_class; a single byte sets *byte.
  bool Escape(ByteSet* set, int* byte, bool* is_class) {
    if (i_ >= p_.size()) return false;
    auto c = static_cast<unsigned char>(p_[i_++]);
    *is_class = false;
    switch (c) {
      case '\0':  // Vectorscan takes the pattern as a C string and would stop here
        return false;
      case 'd':
        *set = Digits();
        *is_class = true;
        return true;
      case 'D':
        *set = ~Digits();
        *is_class = true;
        return true;
      case 'w':
        *set = WordBytes();
        *is_class = true;
        return true;
      case 'W':
        *set = ~WordBytes();
        *is_class = true;
        return true;
      case 's':
        *set = SpaceBytes();
        *is_class = true;
        return true;
      case 'S':
        *set = ~SpaceBytes();
        *is_class = true;
        return true;
      case 't':
        *byte = '\t';
        return true;
      case 'n':
        *byte = '\n';
        return true;
      case 'r':
        *byte = '\r';
        return true;
      case 'f':
        *byte = '\f';
        return true;
      case 'x': {
        // Exactly two hex digits; \x{...} and the one-digit form are left to Vectorscan.
        if (i_ + 2 > p_.size()) return false;
        int hi = HexValue(p_[i_]), lo = HexValue(p_[i_ + 1]);
        if (hi < 0 || lo < 0) return false;
        i_ += 2;
        *byte = hi * 16 + lo;
        return true;
      }
      default:
        // Any other escaped letter or digit is an assertion, a back-reference or a class
        // this reader does not follow; escaped punctuation stands for itself.
        if (c >= 0x80 || IsAsciiAlnum(c)) return false;
        *byte = static_cast<int>(c);
        return true;
    }
  }

  bool Atom(ByteSet* atom) {
    auto c = static_cast<unsigned char>(p_[i_++]);
    switch (c) {
      case '\0':  // Vectorscan takes the pattern as a C string and would stop here
      case '(':
      case ')':
      case '|':
      case '^':
      case '$':
      case '*':
      case '+':
      case '?':
      case '{':
      case '}':
      case ']':
        return false;
      case '.':
        atom->set();
        if (!dotall_) atom->reset('\n');
        return true;
      case '[':
        return Class(atom);
      case '\\': {
        int byte = -1;
        bool is_class = false;
        if (!Escape(atom, &byte, &is_class)) return false;
        if (!is_class) atom->set(static_cast<unsigned>(byte));
        return true;
      }
      default:
        atom->set(c);
        return true;
    }
  }

  // A bracket class; i_ is past the '['. Case folding comes after, on the class as written
  // before negation: as PCRE, [^a] under caseless takes neither 'a' nor 'A'.
  bool Class(ByteSet* out) {
    bool negated = i_ < p_.size() && p_[i_] == '^';
    if (negated) ++i_;
    // A ']' first is a member in PCRE; rare in rules, so left to Vectorscan. So are '=', '.'
    // and ':' first, which Vectorscan reads as a POSIX collating element or class ([=a=]).
    if (i_ >= p_.size() || p_[i_] == ']' || p_[i_] == '=' || p_[i_] == '.' || p_[i_] == ':') {
      return false;
    }
    ByteSet set;
    while (true) {
      if (i_ >= p_.size()) return false;
      auto c = static_cast<unsigned char>(p_[i_]);
      if (c == ']') {
        ++i_;
        break;
      }
      if (c == '[' || c == '\0') return false;  // POSIX [:alpha:] and friends
      int lo = -1;
      ++i_;
      if (c == '\\') {
        ByteSet shorthand;
        bool is_class = false;
        if (!Escape(&shorthand, &lo, &is_class)) return false;
        if (is_class) {
          // A shorthand cannot start or end a range.
          if (i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']') return false;
          set |= shorthand;
          continue;
        }
      } else {
        lo = c;
      }
      if (i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']') {
        ++i_;
        auto h = static_cast<unsigned char>(p_[i_++]);
        int hi = h;
        if (h == '[' || h == '\0') return false;
        if (h == '\\') {
          ByteSet shorthand;
          bool is_class = false;
          if (!Escape(&shorthand, &hi, &is_class) || is_class) return false;
        }
        if (hi < lo) return false;
        set |= Range(static_cast<unsigned>(lo), static_cast<unsigned>(hi));
      } else {
        set.set(static_cast<unsigned>(lo));
      }
    }
    if (caseless_) set = FoldCase(set);
    *out = negated ? ~set : set;
    return true;
  }

  // A number of at most three digits (larger counts exceed kMaxPositions anyway).
  bool Count(size_t* n) {
    size_t start = i_, v = 0;
    while (i_ < p_.size() && p_[i_] >= '0' && p_[i_] <= '9' && i_ - start < 3) {
      v = v * 10 + static_cast<size_t>(p_[i_++] - '0');
    }
    *n = v;
    return i_ > start && !(i_ < p_.size() && p_[i_] >= '0' && p_[i_] <= '9');
  }

  bool Quantified(const ByteSet& atom, std::vector<Position>* out) {
    size_t min = 1, max = 1;
    bool unbounded = false;
    if (i_ >= p_.size()) return Add(atom, Take::kOnce, 1, out);
    char q = p_[i_];
    if (q == '*' || q == '+' || q == '?') {
      ++i_;
      min = q == '+' ? 1 : 0;
      unbounded = q != '?';
    } else if (q == '{') {
      ++i_;
      if (!Count(&min)) return false;  // "{,n}" and "{x" are literals in PCRE: left alone
      max = min;
      if (i_ < p_.size() && p_[i_] == ',') {
        ++i_;
        if (i_ < p_.size() && p_[i_] == '}') {
          unbounded = true;
        } else if (!Count(&max) || max < min) {
          return false;
        }
      }
      if (i_ >= p_.size() || p_[i_] != '}') return false;
      ++i_;
      if (max == 0 && !unbounded) return false;  // x{0}, which Vectorscan refuses
    } else {
      return Add(atom, Take::kOnce, 1, out);
    }
    // A lazy quantifier finds the same matches; a possessive one may not, and a second
    // quantifier is an error.
    if (i_ < p_.size() && p_[i_] == '?') ++i_;
    if (i_ < p_.size() && (p_[i_] == '+' || p_[i_] == '*' || p_[i_] == '?' || p_[i_] == '{')) {
      return false;
    }
    if (!Add(atom, Take::kOnce, min, out)) return false;
    if (unbounded) return Add(atom, Take::kRepeated, 1, out);
    return Add(atom, Take::kOptional, max - min, out);
  }

  static bool Add(const ByteSet& atom, Take take, size_t count, std::vector<Position>* out) {
    if (count > ClassSequence::kMaxPositions) return false;
    for (size_t k = 0; k < count; ++k) out->push_back({atom, take});
    return out->size() <= ClassSequence::kMaxPositions;
  }

  std::string_view p_;
  size_t i_ = 0;
  bool caseless_, dotall_;
};

}  // namespace class_sequence_internal

std::optional<ClassSequence> ClassSequence::Parse(std::string_view pattern, bool caseless,
                                                  bool dotall) {
  using class_sequence_internal::Position;
  using class_sequence_internal::Take;
  std::vector<Position> positions;
  class_sequence_internal::Reader reader(pattern, caseless, dotall);
  if (pattern.empty() || !reader.Read(&positions) || positions.empty() ||
      positions.size() > kMaxPositions || positions[0].take != Take::kOnce) {
    return std::nullopt;
  }
  // Search passes a state across skippable positions one at a time, so a long run of them
  // (x?{40}, a{0,60}) would cost that many steps per byte: such patterns stay with Vectorscan.
  size_t run = 0;
  for (const Position& pos : positions) {
    run = pos.take == Take::kOnce ? 0 : run + 1;
    if (run > kMaxSkippableRun) return std::nullopt;
  }
  ClassSequence seq;
  seq.positions_ = positions.size();
  seq.done_ = uint64_t{1} << positions.size();
  size_t anchor_count = 257;
  bool anchor_alnum = true;
  for (size_t i = 0; i < positions.size(); ++i) {
    const Position& pos = positions[i];
    uint64_t bit = uint64_t{1} << i;
    for (unsigned c = 0; c < 256; ++c) {
      if (pos.bytes[c]) seq.holds_[c] |= bit;
    }
    switch (pos.take) {
      case Take::kOnce:
        seq.once_ |= bit;
        break;
      case Take::kOptional:
        seq.once_ |= bit;
        seq.skippable_ |= bit;
        break;
      case Take::kRepeated:
        seq.repeated_ |= bit;
        seq.skippable_ |= bit;
        break;
    }
  }
  // The anchor: among the leading required positions, the one with the fewest bytes, and of
  // those a punctuation byte, which is rarer in text than a letter or digit.
  for (size_t i = 0; i < positions.size() && positions[i].take == Take::kOnce; ++i) {
    seq.leading_ = i + 1;
    size_t count = positions[i].bytes.count();
    bool alnum = true;
    for (unsigned c = 0; c < 256 && alnum; ++c) {
      if (positions[i].bytes[c] && !class_sequence_internal::IsAsciiAlnum(c)) alnum = false;
    }
    if (count < anchor_count || (count == anchor_count && anchor_alnum && !alnum)) {
      anchor_count = count;
      anchor_alnum = alnum;
      seq.anchor_ = i;
    }
  }
  if (anchor_count == 1) {
    for (unsigned c = 0; c < 256; ++c) {
      if (positions[seq.anchor_].bytes[c]) seq.anchor_byte_ = static_cast<int>(c);
    }
  }
  return seq;
}

bool ClassSequence::Search(std::string_view text) const {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  const uint64_t anchor_bit = uint64_t{1} << anchor_;
  uint64_t state = 0;  // bit i: a match in progress has taken the positions before i
  size_t i = 0;
  while (i < n) {
    if (state == 0) {
      // Nothing in progress: the next match can only start where the anchor's byte sits
      // anchor_ bytes on, and where the leading required positions take the bytes there.
      size_t from = i + anchor_;
      if (from >= n) return false;
      size_t at;
      if (anchor_byte_ >= 0 && p[from] == anchor_byte_) {
        at = from;  // (runs of the anchor byte, which a hostile value may hold, skip memchr)
      } else if (anchor_byte_ >= 0) {
        const void* hit = std::memchr(p + from, anchor_byte_, n - from);
        if (hit == nullptr) return false;
        at = static_cast<size_t>(static_cast<const unsigned char*>(hit) - p);
      } else {
        at = from;
        while (at < n && !(holds_[p[at]] & anchor_bit)) ++at;
        if (at == n) return false;
      }
      i = at - anchor_;
      if (n - i < leading_) return false;  // no room left for a match
      size_t k = 0;
      while (k < leading_ && (holds_[p[i + k]] >> k & 1u)) ++k;
      if (k < leading_) {
        ++i;
        continue;
      }
    }
    // A match may also start here; position 0 is required, so it needs no closure.
    uint64_t live = state | 1u;
    uint64_t holds = holds_[p[i]];
    uint64_t taken = ((live & once_ & holds) << 1) | (live & repeated_ & holds);
    // Positions that may take no byte pass their state on.
    state = taken;
    for (uint64_t next = state | ((state & skippable_) << 1); next != state;
         next = state | ((state & skippable_) << 1)) {
      state = next;
    }
    if (state & done_) return true;
    if (taken != 0 && (taken & ~repeated_) == 0) {
      // Only repeated positions took the byte (inside a hex digest for [^,/]*): every next
      // byte that only they hold among the live positions leaves the state as it is.
      live = state | 1u;
      while (i + 1 < n && (holds_[p[i + 1]] & live) == taken) ++i;
    }
    ++i;
  }
  return false;
}

}  // namespace rampart::detect
