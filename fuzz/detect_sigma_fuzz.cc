// libFuzzer target: the Sigma loader and compiler on arbitrary YAML, then one match.
#include <cstddef>
#include <cstdint>
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
  rampart::detect::RuleMatcher matcher(**rules);
  rampart::detect::Event ev;
  if (rampart::detect::ParseAccessLogLine(
          R"(203.0.113.9 - - [30/Jan/2026:09:15:00 +0100] "GET /mifs/a%20b?x=1 HTTP/1.1" 404 5 "-" "curl/8")",
          &ev)) {
    std::vector<uint32_t> hits;
    matcher.Match(ev, &hits);
  }
  return 0;
}
