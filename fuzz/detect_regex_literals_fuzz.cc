// libFuzzer target: the reader of `re` patterns that finds the literals every match contains
// (detect/regex_literals.h), on arbitrary bytes. Besides surviving, a literal it returns is
// never shorter than promised.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "detect/regex_literals.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view re(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> literals;
  bool caseless = false;
  if (rampart::detect::RegexRequiredLiterals(re, &literals, &caseless)) {
    if (literals.empty()) std::abort();
    for (const auto& l : literals) {
      if (l.size() < rampart::detect::kMinRegexLiteral) std::abort();
    }
  }
  return 0;
}
