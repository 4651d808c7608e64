// libFuzzer target: the class-sequence reader and search (detect/class_sequence.h) against
// Vectorscan. Input: one byte of flags, the pattern up to the first newline, then the text.
// Parse must survive any bytes; a pattern it takes that Vectorscan compiles must give
// Vectorscan's answer on the text, or the prefilter could hide a match.
#include <hs/hs.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "detect/class_sequence.h"
#include "detect/hs_runtime.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  bool caseless = (data[0] & 1) != 0, dotall = (data[0] & 2) != 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t newline = rest.find('\n');
  std::string pattern(rest.substr(0, newline));
  std::string_view text = newline == std::string_view::npos ? "" : rest.substr(newline + 1);
  auto seq = rampart::detect::ClassSequence::Parse(pattern, caseless, dotall);
  if (!seq) return 0;
  if (seq->positions() == 0 || seq->positions() > rampart::detect::ClassSequence::kMaxPositions) {
    std::abort();
  }
  unsigned flags =
      HS_FLAG_SINGLEMATCH | (caseless ? HS_FLAG_CASELESS : 0u) | (dotall ? HS_FLAG_DOTALL : 0u);
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile(pattern.c_str(), flags, HS_MODE_BLOCK, rampart::detect::HsPlatform(), &db, &err) !=
      HS_SUCCESS) {
    hs_free_compile_error(err);
    return 0;  // the rule loader refuses such a pattern before the prefilter sees it
  }
  hs_scratch_t* scratch = nullptr;
  if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) std::abort();
  auto scan = [&](std::string_view part) {
    bool found = false;
    rampart::detect::HsScan(
        db, part.data(), static_cast<unsigned>(part.size()), 0, scratch,
        [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
          *static_cast<bool*>(ctx) = true;
          return 1;
        },
        &found);
    return found;
  };
  // Through HsScan, as Rampart scans: Debian 12's Vectorscan, called through hs_scan on a CPU
  // with AVX-512, misses some matches past byte 64 (detect/hs_runtime.h).
  bool found = scan(text);
  hs_free_scratch(scratch);
  hs_free_database(db);
  if (seq->Search(text) != found) std::abort();
  return 0;
}
