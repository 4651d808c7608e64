// Literal text that every match of a regular expression must contain, so that a Sigma `re`
// pattern can be prefiltered by the one literal scan over the line instead of being run on
// every value (detect/sigma.cc).
//
//   std::vector<std::string> literals;
//   bool caseless;
//   RegexRequiredLiterals("\\?d=[0-9]{1,3}", &literals, &caseless);  // {"?d="}
//   RegexRequiredLiterals("evil\\.com|bad\\.org", &literals, &caseless);  // both
//
// Conservative: a pattern using syntax this reader does not follow (back-references, \x,
// \p, \Q, the x flag, unbalanced brackets) gives false, never a literal a match could lack.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::detect {

inline constexpr size_t kMinRegexLiteral = 3;

// One literal per top-level alternative (each at least kMinRegexLiteral bytes, in raw bytes),
// taken from the alternative's longest run of literal characters, or else from the
// alternatives of a group the alternative must pass through. False when some alternative has
// no such literal. `caseless` is set when the pattern turns on (?i) inline. Safe on any bytes
// (fuzzed: fuzz/detect_sigma_fuzz.cc reaches it through rule values).
bool RegexRequiredLiterals(std::string_view re, std::vector<std::string>* out, bool* caseless);

}  // namespace rampart::detect
