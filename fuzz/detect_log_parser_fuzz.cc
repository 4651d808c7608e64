// libFuzzer target: every log-line parser and the format detector on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/json_util.h"
#include "detect/log_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  rampart::detect::Event ev;
  if (rampart::detect::ParseAccessLogLine(line, &ev)) {
    (void)ev.Decoded(rampart::detect::Field::kUrlQuery);
  }
  (void)rampart::detect::ParseJsonLine(line, &ev);
  std::optional<int64_t> time = rampart::detect::ParseLogTime(line);
  // The time cache must agree with the full parse: cold, remembered, and for a neighbour that
  // differs only in its seconds (answered from what this text left behind).
  if (line.size() >= 3 && line[2] == '/') {
    rampart::detect::internal::ApacheTimeCache cache;
    if (cache.Parse(line) != time || cache.Parse(line) != time) std::abort();
    if (line.size() >= 20) {
      std::string next(line);
      next[18] = '5';
      next[19] = '9';
      if (cache.Parse(next) != rampart::detect::ParseLogTime(next)) std::abort();
    }
  }
  // `rampart scan` quotes logged fields in its alerts as nlohmann::json did, byte for byte.
  std::string quoted;
  rampart::jsonutil::AppendString(line, &quoted);
  if (quoted != nlohmann::json(std::string(line))
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) {
    std::abort();
  }
  std::string_view sample[] = {line, line};
  (void)rampart::detect::DetectFormat(sample);
  return 0;
}
