// Which bytes of a text no literal of a known set can reach, so that texts differing only
// there have the same literal occurrences. Signed download links (`.../sha256:kid=1,
// st=1769776082,h=a6057...,et=.../8a6b62c5-....ipa`) differ from one another only inside runs of
// hex digits, and each is seen once: the rule matcher would scan every one for its literals.
// With the middles of those runs written as '0', the links of one app share one text, and the
// matcher remembers the marks of that text instead (detect/sigma.cc, RuleMatcher's shape memo).
//
//   HexRunMask mask;
//   mask.AddLiteral("chat_id=2090761833");
//   mask.AddLiteral("etc/passwd");
//   char out[256];
//   mask.Mask("/x/st=1769776082,h=9f86d0", out);  // "/x/st=0000000000,h=000000"
//
// Why it holds. A run is a maximal stretch of hex digits (either case). No literal is all hex
// (AddLiteral refuses one: the mask is then not usable), so an occurrence that touches a run
// also holds a byte outside it:
//   - one that ends inside the run covers a head of it: the literal's hex tail, preceded in the
//     literal by the byte before the run (and, when the literal has one more, by the byte
//     before that);
//   - one that starts inside covers a tail: the literal's hex head, followed by the byte after
//     the run (and the one after that);
//   - one that covers the whole run holds it as an inner run of the literal, of the same
//     length, between the same bytes.
// Per run, the tables give the longest head and tail any literal could put there, and the
// lengths of the inner runs literals have between the same bytes, keyed by those bytes. Only
// what lies beyond the head and the tail of a run whose length no inner run has is written
// over. The keys are bytes that are not hex digits, or only whether a
// byte is one, so every text with the same masked form has the same runs and the same masked
// places: its occurrences avoid those places and agree on every other byte, so they are the
// same. Keys compare bytes with ASCII letters folded, which covers caseless literals and only
// widens what case-sensitive ones keep. Colliding keys share the larger length: a collision
// keeps more, never less. tests/detect/hex_run_mask_test.cc checks the claim on random
// literals and texts.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rampart::detect {

class HexRunMask {
 public:
  // Registers a literal the texts will be searched for, in any case. An all-hex literal makes
  // the mask unusable (it could lie inside a run), and so does an empty one or one longer than
  // 65,535 bytes (the tables keep lengths in 16 bits).
  void AddLiteral(std::string_view bytes);

  // False once an all-hex or empty literal was added: Mask must not be used.
  bool usable() const { return usable_; }

  // Runs shorter than this are left as they are: they vary little, and Mask then only stops
  // at the long ones.
  static constexpr size_t kMinMaskedRun = 4;
  // A longer text is copied as it is.
  static constexpr size_t kMaxMaskedText = 1024;

  // Copies text to out (text.size() bytes) with the bytes no registered literal can reach
  // written as '0'. True when any byte was written over. Requires usable().
  bool Mask(std::string_view text, char* out) const;

 private:
  static constexpr size_t kPairs = 1024;
  static size_t Pair(uint8_t first, uint8_t second);
  static void Raise(uint16_t* slot, size_t length);

  bool usable_ = true;
  // Longest hex tail of a literal (the head it can cover of a run), by the byte before it: a
  // literal with nothing more before that byte (front_alone_), with a hex digit before it
  // (front_after_hex_), with another byte before it (front_pair_, by both).
  std::array<uint16_t, 256> front_alone_{}, front_after_hex_{};
  std::array<uint16_t, kPairs> front_pair_{};
  // Longest hex head of a literal (the tail it can cover), by the byte after it, likewise.
  std::array<uint16_t, 256> back_alone_{}, back_before_hex_{};
  std::array<uint16_t, kPairs> back_pair_{};
  // The lengths of literals' inner hex runs, by the bytes on either side: bit n - 1 for a
  // length n below 64, the last bit for any longer one.
  std::array<uint64_t, kPairs> inner_lengths_{};
};

}  // namespace rampart::detect
