#include "detect/hex_run_mask.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace rampart::detect {
namespace {

constexpr std::array<bool, 256> kHexDigit = [] {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[static_cast<size_t>(c)] = true;
  for (int c = 'a'; c <= 'f'; ++c) table[static_cast<size_t>(c)] = true;
  for (int c = 'A'; c <= 'F'; ++c) table[static_cast<size_t>(c)] = true;
  return table;
}();

bool IsHex(char c) {
  return kHexDigit[static_cast<uint8_t>(c)];
}

uint64_t LengthBit(size_t length) {
  return uint64_t{1} << (std::min<size_t>(length, 64) - 1);
}

// A table rather than a comparison: Mask folds four or five bytes per run.
constexpr std::array<uint8_t, 256> kFolded = [] {
  std::array<uint8_t, 256> table{};
  for (size_t b = 0; b < 256; ++b) {
    table[b] = static_cast<uint8_t>(b >= 'A' && b <= 'Z' ? b | 0x20u : b);
  }
  return table;
}();

uint8_t Fold(char c) {
  return kFolded[static_cast<uint8_t>(c)];
}

}  // namespace

size_t HexRunMask::Pair(uint8_t first, uint8_t second) {
  return (size_t{first} * 37u + second) & (kPairs - 1);
}

void HexRunMask::Raise(uint16_t* slot, size_t length) {
  *slot = static_cast<uint16_t>(std::max<size_t>(*slot, length));
}

void HexRunMask::AddLiteral(std::string_view bytes) {
  size_t n = bytes.size();
  // A run length must fit the tables; no rule literal comes near.
  if (n == 0 || n > std::numeric_limits<uint16_t>::max()) {
    usable_ = false;
    return;
  }
  for (size_t a = 0; a < n;) {
    if (!IsHex(bytes[a])) {
      ++a;
      continue;
    }
    size_t b = a;
    while (b < n && IsHex(bytes[b])) ++b;
    if (a == 0 && b == n) {
      usable_ = false;  // all hex: it could lie inside a run
      return;
    }
    if (a > 0 && b == n) {
      uint8_t before = Fold(bytes[a - 1]);
      if (a == 1) {
        Raise(&front_alone_[before], b - a);
      } else if (IsHex(bytes[a - 2])) {
        Raise(&front_after_hex_[before], b - a);
      } else {
        Raise(&front_pair_[Pair(Fold(bytes[a - 2]), before)], b - a);
      }
    } else if (a == 0) {
      uint8_t after = Fold(bytes[b]);
      if (b + 1 == n) {
        Raise(&back_alone_[after], b);
      } else if (IsHex(bytes[b + 1])) {
        Raise(&back_before_hex_[after], b);
      } else {
        Raise(&back_pair_[Pair(after, Fold(bytes[b + 1]))], b);
      }
    } else {
      inner_lengths_[Pair(Fold(bytes[a - 1]), Fold(bytes[b]))] |= LengthBit(b - a);
    }
    a = b;
  }
}

namespace {

#if defined(__SSE2__)
// Bit i set when byte i of the 16 at p is a hex digit.
uint64_t HexBits16(const char* p) {
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  // Signed compares: bytes from 0x80 are negative and fall outside both ranges.
  __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                                _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
  __m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
  __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(folded, _mm_set1_epi8('a' - 1)),
                                 _mm_cmplt_epi8(folded, _mm_set1_epi8('f' + 1)));
  return static_cast<uint64_t>(_mm_movemask_epi8(_mm_or_si128(digit, letter)));
}
#endif

// Bit i of bits set when text[i] is a hex digit; bits must hold (text.size() + 63) / 64 words,
// zeroed.
void HexBits(std::string_view text, uint64_t* bits) {
  size_t n = text.size(), i = 0;
#if defined(__SSE2__)
  for (; i + 16 <= n; i += 16) bits[i / 64] |= HexBits16(text.data() + i) << (i % 64);
  if (i < n) {
    char last[16] = {};
    std::memcpy(last, text.data() + i, n - i);
    bits[i / 64] |= HexBits16(last) << (i % 64);
  }
#else
  for (; i < n; ++i) {
    if (IsHex(text[i])) bits[i / 64] |= uint64_t{1} << (i % 64);
  }
#endif
}

}  // namespace

bool HexRunMask::Mask(std::string_view text, char* out) const {
  size_t n = text.size();
  if (n != 0) std::memcpy(out, text.data(), n);
  if (n > kMaxMaskedText) return false;
  // One word more than the text needs, zero, so that every search for a byte that is not a
  // hex digit ends.
  std::array<uint64_t, kMaxMaskedText / 64 + 2> hex{};
  HexBits(text, hex.data());
  size_t words = (n + 63) / 64;
  bool masked = false;
  for (size_t at = 0;;) {
    // The next place where kMinMaskedRun hex digits start: the first of a long run (at is
    // never inside one, see below).
    size_t w = at / 64;
    if (w >= words) break;
    uint64_t cur = hex[w], next = hex[w + 1];
    static_assert(kMinMaskedRun == 4, "the window below is four bytes wide");
    uint64_t starts = cur & (cur >> 1 | next << 63) & (cur >> 2 | next << 62) &
                      (cur >> 3 | next << 61) & (~uint64_t{0} << (at % 64));
    if (starts == 0) {
      // A run that starts in this word and goes on into the next is shorter than
      // kMinMaskedRun, or it would have a start here.
      at = (w + 1) * 64;
      continue;
    }
    size_t a = w * 64 + static_cast<size_t>(std::countr_zero(starts));
    size_t b = a + kMinMaskedRun;
    for (uint64_t rest = ~hex[b / 64] & (~uint64_t{0} << (b % 64));; rest = ~hex[b / 64]) {
      if (rest != 0) {
        b = b / 64 * 64 + static_cast<size_t>(std::countr_zero(rest));
        break;
      }
      b = (b / 64 + 1) * 64;
    }
    at = b;
    size_t head = 0, tail = 0;
    uint64_t inner = 0;
    if (a > 0) {
      uint8_t before = Fold(text[a - 1]);
      head = front_alone_[before];
      if (a >= 2) {
        head = std::max<size_t>(head, IsHex(text[a - 2])
                                          ? front_after_hex_[before]
                                          : front_pair_[Pair(Fold(text[a - 2]), before)]);
      }
    }
    if (b < n) {
      uint8_t after = Fold(text[b]);
      tail = back_alone_[after];
      if (b + 1 < n) {
        tail =
            std::max<size_t>(tail, IsHex(text[b + 1]) ? back_before_hex_[after]
                                                      : back_pair_[Pair(after, Fold(text[b + 1]))]);
      }
      if (a > 0) inner = inner_lengths_[Pair(Fold(text[a - 1]), after)];
    }
    size_t run = b - a;
    if (run > head + tail && !(inner & LengthBit(run))) {
      std::memset(out + a + head, '0', run - head - tail);
      masked = true;
    }
  }
  return masked;
}

}  // namespace rampart::detect
