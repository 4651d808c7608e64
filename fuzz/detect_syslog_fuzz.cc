// libFuzzer target: the syslog parser (RFC 5424 and RFC 3164) and the event it becomes, on
// arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "detect/syslog.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // A fixed "now" keeps runs reproducible; 2026-01-30T09:15:00Z.
  auto msg = rampart::detect::ParseSyslog(text, 1769764500000);
  if (msg.ok()) {
    rampart::SecurityEvent ev = rampart::detect::SyslogToEvent(*msg, "udp", "127.0.0.1:1");
    (void)ev.Get("event.action");
  }
  return 0;
}
