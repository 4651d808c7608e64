// A one-probe Bloom filter over short strings, put in front of hash tables that most lookups
// miss (IoC domains, URLs and user agents; Sigma exact values). A key's fingerprint mixes its
// length with its first and last eight bytes, so asking costs a few loads and multiplies
// instead of hashing and comparing the whole string: a "no" is certain, a "maybe" goes on to
// the table.
//
//   QuickFilter filter(QuickFilter::kCaseSensitive);
//   filter.Add("evil.example");
//   if (filter.MayContain(host)) { ...look it up... }
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace rampart::detect {

class QuickFilter {
 public:
  enum Case : bool { kCaseSensitive = false, kCaseFolded = true };

  // 2^log2_bits bits; the filter allocates nothing until the first Add.
  explicit QuickFilter(Case folding = kCaseSensitive, unsigned log2_bits = 20)
      : fold_(folding == kCaseFolded), log2_bits_(log2_bits) {}

  void Add(std::string_view key) {
    if (bits_.empty()) bits_.assign(size_t{1} << (log2_bits_ - 6), 0);
    uint64_t h = Fingerprint(key);
    bits_[Word(h)] |= Bit(h);
  }

  // False only when no key with these bytes was added (ASCII case ignored when folded).
  bool MayContain(std::string_view key) const {
    if (bits_.empty()) return false;
    uint64_t h = Fingerprint(key);
    return (bits_[Word(h)] & Bit(h)) != 0;
  }

  bool empty() const { return bits_.empty(); }

 private:
  // ASCII 'A'..'Z' to lower case in all eight bytes at once; other bytes are unchanged.
  static uint64_t FoldCase(uint64_t x) {
    constexpr uint64_t kHigh = 0x8080808080808080ULL;
    constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7fULL;
    uint64_t low = x & kLow7;
    uint64_t at_least_a = low + 0x3f3f3f3f3f3f3f3fULL;  // high bit set when byte >= 'A'
    uint64_t above_z = low + 0x2525252525252525ULL;     // high bit set when byte > 'Z'
    uint64_t upper = at_least_a & ~above_z & ~x & kHigh;
    return x | (upper >> 2);
  }

  uint64_t Load(const char* p) const {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return fold_ ? FoldCase(v) : v;
  }

  uint64_t Fingerprint(std::string_view key) const {
    uint64_t head = 0, tail = 0;
    if (key.size() >= 8) {
      head = Load(key.data());
      tail = Load(key.data() + key.size() - 8);
    } else {
      char buf[8] = {};
      std::memcpy(buf, key.data(), key.size());
      head = Load(buf);
    }
    uint64_t h = (head ^ (key.size() * 0x9e3779b97f4a7c15ULL)) * 0xbf58476d1ce4e5b9ULL;
    h ^= (tail + (h >> 31)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 29);
  }

  size_t Word(uint64_t h) const { return (h >> 6) & ((size_t{1} << (log2_bits_ - 6)) - 1); }
  static uint64_t Bit(uint64_t h) { return uint64_t{1} << (h & 63); }

  bool fold_;
  unsigned log2_bits_;
  std::vector<uint64_t> bits_;
};

}  // namespace rampart::detect
