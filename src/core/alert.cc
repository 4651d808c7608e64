#include "core/alert.h"

namespace rampart::core {

std::string_view ToString(AlertStatus v) {
  return v == AlertStatus::kAcknowledged ? "acknowledged" : "open";
}

std::optional<AlertStatus> ParseAlertStatus(std::string_view s) {
  if (s == "open") return AlertStatus::kOpen;
  if (s == "acknowledged") return AlertStatus::kAcknowledged;
  return std::nullopt;
}

bool IsAlertSeverity(std::string_view s) {
  for (auto level : kAlertSeverities) {
    if (level == s) return true;
  }
  return false;
}

int SeverityRank(std::string_view s) {
  for (int i = 0; i < 5; ++i) {
    if (kAlertSeverities[i] == s) return i;
  }
  return 2;
}

}  // namespace rampart::core
