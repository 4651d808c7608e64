// A regular expression that is a plain sequence of byte classes, each taking one byte, or
// repeated (*, +, {n,}), optional (?) or counted ({n}, {n,m}), with no anchors, groups or
// alternation: the fob rule's '[,:]h=[^,/]*[^0-9a-f,/]' is one. Vectorscan runs such a
// pattern in its NFA engine, about 200 ns for a signed download URL whatever the form; this
// searches it as a bit-parallel automaton that jumps between the occurrences of one byte every
// match must hold at a fixed place, a few times faster.
//
//   auto re = ClassSequence::Parse("[,:]h=[^,/]*[^0-9a-f,/]", /*caseless=*/true,
//                                  /*dotall=*/false);
//   re->Search("/fob/3/5/sha256:kid=1,st=1,h=gPath[`id`]/x.ipa");  // true
//   re->Search("/fob/3/5/sha256:kid=1,st=1,h=9f86d081/x.ipa");     // false
//
// Only the rule matcher's prefilter uses it (detect/sigma.cc); the full match still runs every
// pattern in Vectorscan, so a pattern this reads differently could at worst cost a full scan or
// hide a prefilter mark, and the tests compare the two on random patterns and texts to rule
// the latter out (tests/detect/class_sequence_test.cc, fuzz/detect_class_sequence_fuzz.cc).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace rampart::detect {

class ClassSequence {
 public:
  // The most positions a pattern may expand to (a{3} is three): one state bit each, and one
  // for "all taken".
  static constexpr size_t kMaxPositions = 63;
  // The most optional or repeated positions in a row (each costs Search a step per byte).
  static constexpr size_t kMaxSkippableRun = 8;

  // Reads `pattern` in Vectorscan's syntax with the given flags (HS_FLAG_CASELESS,
  // HS_FLAG_DOTALL). nullopt for anything outside the shape above: anchors, groups,
  // alternation, back-references, \b and other assertions, POSIX classes, possessive
  // quantifiers, escapes this reader does not know, a NUL byte, more than kMaxPositions
  // positions, more than kMaxSkippableRun optional or repeated positions in a row, or a
  // pattern whose first position may be skipped (it then has no byte to jump to). Safe on any
  // bytes.
  static std::optional<ClassSequence> Parse(std::string_view pattern, bool caseless, bool dotall);

  // Whether the pattern matches anywhere in `text`, as Vectorscan's block scan would report.
  // Linear in text.size(); thread-safe (const).
  bool Search(std::string_view text) const;

  size_t positions() const { return positions_; }

 private:
  ClassSequence() = default;

  // Per byte value: the positions whose class holds it.
  std::array<uint64_t, 256> holds_{};
  uint64_t once_ = 0;       // positions that take one byte and move on (required or optional)
  uint64_t repeated_ = 0;   // positions that take any number of bytes (x*)
  uint64_t skippable_ = 0;  // positions that may take none (x* and x?)
  uint64_t done_ = 0;       // the state after the last position: a match
  size_t positions_ = 0;
  // A position among the leading required ones (fixed distance from a match's start) and the
  // bytes its class holds; Search jumps to these bytes when no match is in progress.
  size_t anchor_ = 0;
  int anchor_byte_ = -1;  // the one byte, when the class holds exactly one
  size_t leading_ = 0;    // how many positions lead the pattern, each taken once
};

}  // namespace rampart::detect
