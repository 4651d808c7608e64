#include "detect/login_detector.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/log.h"

namespace rampart::detect {
namespace {

constexpr size_t kMaxStateFileBytes = 64 * 1024 * 1024;

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

}  // namespace

bool WorkingHours::Contains(int64_t unix_millis) const {
  int64_t local_minutes = FloorDiv(unix_millis, 60000) + utc_offset_minutes;
  int64_t day = FloorDiv(local_minutes, 1440);
  int minute = static_cast<int>(local_minutes - day * 1440);
  // 1970-01-01 was a Thursday: weekday 3 with Monday = 0.
  auto weekday = [](int64_t d) { return static_cast<int>(((d % 7) + 7 + 3) % 7); };
  auto works = [&](int64_t d) { return ((days >> weekday(d)) & 1) != 0; };
  if (start_minute <= end_minute) {
    return works(day) && minute >= start_minute && minute < end_minute;
  }
  if (minute >= start_minute) return works(day);
  if (minute < end_minute) return works(day - 1);
  return false;
}

NewAddressLoginDetector::NewAddressLoginDetector(NewAddressLoginOptions options)
    : options_(std::move(options)) {}

Status NewAddressLoginDetector::Load() {
  users_.clear();
  if (options_.state_file.empty()) return Status::Ok();
  auto text = files::ReadWholeFile(options_.state_file, kMaxStateFileBytes);
  if (!text.ok()) {
    return text.status().code() == Code::kNotFound ? Status::Ok() : text.status();
  }
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("users") || !j["users"].is_object()) {
    return Status::InvalidArgument(options_.state_file + " is not a login address memory");
  }
  for (const auto& [user, v] : j["users"].items()) {
    if (!v.is_object() || !v.contains("addresses") || !v["addresses"].is_object()) continue;
    UserState st;
    st.last_login = v.value("last_login", int64_t{0});
    for (const auto& [addr, seen] : v["addresses"].items()) {
      if (st.addresses.size() >= options_.max_addresses_per_user) break;
      st.addresses.emplace_back(addr, seen.is_number_integer() ? seen.get<int64_t>() : 0);
    }
    users_.emplace(user, std::move(st));
    if (users_.size() >= options_.max_users) break;
  }
  return Status::Ok();
}

Status NewAddressLoginDetector::Save() const {
  if (options_.state_file.empty()) return Status::Ok();
  nlohmann::json users = nlohmann::json::object();
  for (const auto& [user, st] : users_) {
    nlohmann::json addrs = nlohmann::json::object();
    for (const auto& [a, seen] : st.addresses) addrs[a] = seen;
    users[user] = {{"last_login", st.last_login}, {"addresses", addrs}};
  }
  nlohmann::json doc = {{"version", 1}, {"users", users}};
  return files::WritePrivateFile(
      options_.state_file, doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// A lost save costs one more silent learning after a restart, not detection now.
void NewAddressLoginDetector::SaveOrWarn() const {
  Status s = Save();
  if (!s.ok()) log::Warn("detect.login_memory_not_saved", {{"error", s.message()}});
}

LoginVerdict NewAddressLoginDetector::Observe(std::string_view user, std::string_view address,
                                              int64_t unix_millis) {
  auto it = users_.find(std::string(user));
  if (it == users_.end()) {
    if (users_.size() >= options_.max_users && !users_.empty()) {
      auto oldest = std::min_element(
          users_.begin(), users_.end(),
          [](const auto& a, const auto& b) { return a.second.last_login < b.second.last_login; });
      users_.erase(oldest);
    }
    UserState st;
    st.last_login = unix_millis;
    st.addresses.emplace_back(std::string(address), unix_millis);
    users_.emplace(std::string(user), std::move(st));
    SaveOrWarn();
    return LoginVerdict::kFirstLogin;
  }
  UserState& st = it->second;
  st.last_login = std::max(st.last_login, unix_millis);
  for (auto& [a, seen] : st.addresses) {
    if (a == address) {
      // Not saved: only learning is worth an fsync; recency is refreshed at the next save.
      seen = std::max(seen, unix_millis);
      return LoginVerdict::kKnown;
    }
  }
  if (st.addresses.size() >= std::max<size_t>(options_.max_addresses_per_user, 1)) {
    auto oldest =
        std::min_element(st.addresses.begin(), st.addresses.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    st.addresses.erase(oldest);
  }
  st.addresses.emplace_back(std::string(address), unix_millis);
  SaveOrWarn();
  return options_.hours.Contains(unix_millis) ? LoginVerdict::kNewInHours : LoginVerdict::kAlert;
}

}  // namespace rampart::detect
