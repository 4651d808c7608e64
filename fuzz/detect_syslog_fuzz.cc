// libFuzzer target: the syslog parser (RFC 5424 and RFC 3164) and the event it becomes, on
// arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "detect/custom_log_format.h"
#include "detect/syslog.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // A fixed "now" keeps runs reproducible; 2026-01-30T09:15:00Z.
  auto msg = rampart::detect::ParseSyslog(text, 1769764500000);
  if (msg.ok()) {
    rampart::SecurityEvent ev = rampart::detect::SyslogToEvent(*msg, "udp", "127.0.0.1:1");
    (void)ev.Get("event.action");
    // As a sender with a declared layout (detection.syslog_formats) is read.
    static const auto layout = rampart::detect::CustomLogFormat::Compile(
        R"(nginx:$remote_addr [$time_local] "$request" $status $request_time )"
        R"("$http_x_forwarded_for")");
    if (!layout.ok()) std::abort();
    rampart::SecurityEvent declared =
        rampart::detect::SyslogToEvent(*msg, "udp", "127.0.0.1:1", {}, nullptr, &*layout);
    // Whatever the message, the fields only the receiver knows are its own: no TLS subject the
    // sender wrote, and the header's APP-NAME and MSGID or none.
    for (const auto& [key, value] : declared.fields) {
      if (key.starts_with("tls.")) std::abort();
      if (key == "process.name" && value != msg->app_name) std::abort();
      if (key == "log.syslog.msgid" && value != msg->msgid) std::abort();
    }
  }
  return 0;
}
