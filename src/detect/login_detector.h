// Built-in detector "admin login from a new address outside working hours" (ATT&CK T1078,
// rule id rampart-admin-login-new-address). Sigma cannot express it: it needs a memory of each
// user's addresses that outlives any correlation window, and a local time-of-day condition.
//
//   NewAddressLoginOptions opt;
//   opt.state_file = DATA + "/detect/login_addresses.json";
//   NewAddressLoginDetector detector(opt);
//   detector.Load();  // a missing file is an empty memory
//   if (detector.Observe("usr_1", "198.51.100.7", ts_ms) == LoginVerdict::kAlert) ...
//
// Policy: a user's first login ever (no address known) learns the address without alerting,
// because otherwise enabling the detector, or creating an account, would alert on every user.
// A new address inside working hours is learned silently. A new address outside working hours
// alerts and is learned too, so a legitimate evening at home alerts once, not every night.
// Memory is bounded (max_users, least recently active dropped first; max_addresses_per_user,
// least recently seen dropped first) and saved atomically (0600) whenever an address is
// learned. Not thread-safe: the engine thread owns it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace rampart::detect {

struct WorkingHours {
  uint8_t days = 0x1f;  // bit 0 Monday ... bit 6 Sunday
  int start_minute = 7 * 60;
  int end_minute = 19 * 60;  // exclusive; start > end is a shift across midnight
  int utc_offset_minutes = 0;
  // True when the instant falls inside working hours, in local time (UTC + offset). A shift
  // across midnight belongs to the day it starts on.
  bool Contains(int64_t unix_millis) const;
};

struct NewAddressLoginOptions {
  bool enabled = true;
  WorkingHours hours;
  std::string state_file;  // empty: memory only
  size_t max_users = 10000;
  size_t max_addresses_per_user = 32;
};

enum class LoginVerdict {
  kKnown,       // the address was seen for this user before
  kFirstLogin,  // no address known for the user: learned, no alert
  kNewInHours,  // new address inside working hours: learned, no alert
  kAlert,       // new address outside working hours: learned, alert
};

class NewAddressLoginDetector {
 public:
  explicit NewAddressLoginDetector(NewAddressLoginOptions options);

  // Reads state_file. NotFound is not an error (empty memory); InvalidArgument when the file
  // is not a state file (the memory then starts empty and the file is rewritten at the next
  // learned address).
  Status Load();
  LoginVerdict Observe(std::string_view user, std::string_view address, int64_t unix_millis);

  const NewAddressLoginOptions& options() const { return options_; }
  size_t users() const { return users_.size(); }

 private:
  struct UserState {
    int64_t last_login = 0;
    std::vector<std::pair<std::string, int64_t>> addresses;  // address, last seen
  };
  Status Save() const;
  void SaveOrWarn() const;

  NewAddressLoginOptions options_;
  std::unordered_map<std::string, UserState> users_;
};

}  // namespace rampart::detect
