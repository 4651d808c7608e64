// libFuzzer target: every log-line parser and the format detector on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "detect/log_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  rampart::detect::Event ev;
  if (rampart::detect::ParseAccessLogLine(line, &ev)) {
    (void)ev.Decoded(rampart::detect::Field::kUrlQuery);
  }
  (void)rampart::detect::ParseJsonLine(line, &ev);
  (void)rampart::detect::ParseLogTime(line);
  std::string_view sample[] = {line, line};
  (void)rampart::detect::DetectFormat(sample);
  return 0;
}
