// libFuzzer target: the Sigma loader and compiler on arbitrary YAML, then a few lines matched
// both ways. The prefiltered matcher (with its memo, and lines prepared as one buffer) must give
// exactly what the exhaustive one gives, whatever the rules: a difference aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "detect/log_parser.h"
#include "detect/sigma.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  rampart::detect::RuleSetBuilder builder;
  builder.AddRuleText(text, "fuzz.yml").IgnoreError();
  auto rules = builder.Build();
  if (!rules.ok()) return 0;
  static const char* const kLines[] = {
      R"(203.0.113.9 - - [30/Jan/2026:09:15:00 +0100] "GET /mifs/a%20b?x=1 HTTP/1.1" 404 5 "-" "curl/8")",
      R"(10.0.0.7 - - [30/Jan/2026:09:15:01 +0100] "POST /mifs/403.jsp?cmd=id HTTP/1.1" 200 12 "-" "Mozilla/5.0")",
      R"(203.0.113.9 - - [30/Jan/2026:09:15:00 +0100] "GET /mifs/a%20b?x=1 HTTP/1.1" 404 5 "-" "curl/8")",
  };
  std::string buffer;
  std::vector<std::string_view> lines;
  for (const char* l : kLines) buffer += l;
  for (size_t at = 0; const char* l : kLines) {
    lines.push_back(std::string_view(buffer).substr(at, std::string_view(l).size()));
    at += lines.back().size();
  }
  rampart::detect::RuleMatcher fast(**rules);
  rampart::detect::RuleMatcher full(**rules, rampart::detect::MatchMode::kExhaustive);
  fast.PrepareLines(buffer);
  rampart::detect::Event ev;
  std::vector<uint32_t> a, e;
  for (std::string_view line : lines) {
    if (!rampart::detect::ParseAccessLogLine(line, &ev)) continue;
    fast.Match(ev, &a);
    full.Match(ev, &e);
    if (a != e) std::abort();
  }
  return 0;
}
