// libFuzzer target: the strict JSON readers behind every request body: device state, policy
// rules and the payload of every command type. Input is any bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/internal.h"
#include "common/json_util.h"
#include "core/commands.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto obj = rampart::jsonutil::ParseObject(text);
  if (!obj.ok()) return 0;
  using rampart::api::internal::DeviceStateFromJson;
  using rampart::api::internal::PolicyRulesFromJson;
  if (obj->contains("state")) (void)DeviceStateFromJson((*obj)["state"]);
  (void)DeviceStateFromJson(*obj);
  auto rules = PolicyRulesFromJson(*obj);
  if (rules.ok()) (void)rampart::api::internal::ToJson(*rules).dump();
  for (int t = 0; t <= static_cast<int>(rampart::core::CommandType::kRetire); ++t) {
    (void)rampart::core::ValidateCommandPayload(static_cast<rampart::core::CommandType>(t), *obj);
  }
  return 0;
}
