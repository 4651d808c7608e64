#include "respond/decisions.h"

#include <algorithm>

#include "common/clock.h"

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

bool IsBan(BlockChange::Kind kind) {
  return kind == BlockChange::Kind::kAdded || kind == BlockChange::Kind::kExtended ||
         kind == BlockChange::Kind::kReissued;
}

std::string_view ToString(BlockChange::Kind kind) {
  switch (kind) {
    case BlockChange::Kind::kAdded:
      return "added";
    case BlockChange::Kind::kExtended:
      return "extended";
    case BlockChange::Kind::kRemoved:
      return "removed";
    case BlockChange::Kind::kExpired:
      return "expired";
    case BlockChange::Kind::kReissued:
      return "reissued";
  }
  return "unknown";
}

nlohmann::json DecisionWebhookJson(const BlockChange& change, const std::string& id) {
  const store::AddressBlock& b = change.block;
  const bool ban = IsBan(change.kind);
  nlohmann::json j = {
      {"id", id},
      {"type", ban ? "ban" : "unban"},
      {"event", ToString(change.kind)},
      {"block_id", b.id},
      {"origin", "rampart"},
      {"scope", b.scope},
      {"value", b.value},
      {"scenario", b.scenario},
      {"reason", b.reason},
      {"institution_id",
       b.institution_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(b.institution_id)},
  };
  if (ban) {
    j["duration"] = GoDuration(b.expires_at - change.at);
    j["until"] = FormatRfc3339(b.expires_at);
  }
  j["created_at"] = FormatRfc3339(change.at);
  return j;
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
