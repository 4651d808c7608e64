// Drives the playbook parser with arbitrary bytes: it must answer a Playbook or an
// InvalidArgument naming the file and line, never crash or throw.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "respond/playbook.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto pb = rampart::respond::ParsePlaybook(text, "fuzz.yml");
  if (!pb.ok() && pb.status().message().rfind("fuzz.yml:", 0) != 0) __builtin_trap();
  if (pb.ok()) {
    rampart::core::Alert alert;
    alert.rule_id = "3b672e5c-3104-49c7-bfeb-7d14e1035b40";
    alert.severity = "critical";
    alert.entity = "source.ip=192.0.2.1";
    alert.attack = {"T1190"};
    (void)rampart::respond::TriggerMatches(pb->trigger, alert);
  }
  return 0;
}
