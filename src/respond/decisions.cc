#include "respond/decisions.h"

#include <algorithm>

namespace rampart::respond {

std::string GoDuration(int64_t seconds) {
  if (seconds <= 0) return "0s";
  int64_t h = seconds / 3600, m = (seconds % 3600) / 60, s = seconds % 60;
  std::string out;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  out += std::to_string(s) + "s";
  return out;
}

nlohmann::json DecisionJson(const store::AddressBlock& b, int64_t now) {
  return nlohmann::json{{"id", b.id},
                        {"origin", "rampart"},
                        {"type", "ban"},
                        {"scope", b.scope},
                        {"value", b.value},
                        {"duration", GoDuration(b.expires_at - now)},
                        {"scenario", b.scenario}};
}

nlohmann::json DecisionStream(const std::vector<store::AddressBlock>& rows, int64_t now,
                              int64_t* max_seq) {
  nlohmann::json fresh = nlohmann::json::array();
  nlohmann::json deleted = nlohmann::json::array();
  for (const auto& b : rows) {
    if (max_seq != nullptr) *max_seq = std::max(*max_seq, b.change_seq);
    if (b.removed_at == 0 && b.expires_at > now) {
      fresh.push_back(DecisionJson(b, now));
    } else {
      deleted.push_back(DecisionJson(b, now));
    }
  }
  return nlohmann::json{{"new", std::move(fresh)}, {"deleted", std::move(deleted)}};
}

}  // namespace rampart::respond
