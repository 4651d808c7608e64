#include "core/alert.h"

#include <cstddef>

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

void FoldEvidence(std::vector<std::string>* kept, const std::vector<std::string>& added,
                  size_t cap) {
  const size_t head = (cap + 1) / 2;
  for (const auto& e : added) {
    if (kept->size() < cap) {
      kept->push_back(e);
    } else if (head < cap) {
      kept->erase(kept->begin() + static_cast<std::ptrdiff_t>(head));
      kept->push_back(e);
    }
  }
}

int SeverityRank(std::string_view s) {
  for (int i = 0; i < 5; ++i) {
    if (kAlertSeverities[i] == s) return i;
  }
  return 2;
}

}  // namespace rampart::core
