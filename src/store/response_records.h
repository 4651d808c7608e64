// Rows of the response component (src/respond): address blocks at the front door, the API keys
// of external enforcers (CrowdSec bouncers) and lockdowns. Plain values; Store persists them.
#pragma once

#include <cstdint>
#include <string>

namespace rampart::store {

// One decision to refuse connections from an address or range. The id doubles as the CrowdSec
// decision id; change_seq orders every insert, extension and removal so that a bouncer's
// stream can ask for "everything after what I saw" without depending on the wall clock.
struct AddressBlock {
  int64_t id = 0;
  std::string value;  // canonical address ("203.0.113.7") or range ("203.0.113.0/24")
  std::string scope;  // "Ip" or "Range", CrowdSec's names
  std::string reason;
  std::string origin;      // "playbook" or "manual"
  std::string scenario;    // the rule or playbook behind it, for the bouncer's logs
  std::string created_by;  // "system" or a principal id
  // Whose block it is: the creating admin's institution, or the alert's for a playbook; ""
  // for server-wide ones. Every block is enforced for everyone; this decides who may see and
  // remove it through the API.
  std::string institution_id;
  int64_t created_at = 0;
  int64_t expires_at = 0;  // Unix seconds; blocks always expire
  int64_t removed_at = 0;  // 0 while not removed by hand
  std::string removed_by;
  int64_t change_seq = 0;
};

// An external enforcer's key. Only the SHA-256 of the secret is kept.
struct BouncerKey {
  std::string id;  // "bnc_..."
  std::string name;
  std::string key_hash;
  int64_t created_at = 0;
  int64_t last_pull_at = 0;
  int64_t last_seq = 0;  // the newest change_seq this bouncer was sent
};

// A lockdown in force. scope is an institution id, or "*" for the whole server. A request to
// lift it names the first admin; a second, distinct admin lifts it.
struct Lockdown {
  std::string scope;
  std::string entered_by;
  std::string reason;
  int64_t entered_at = 0;
  std::string lift_requested_by;  // user id; empty when nobody asked
  int64_t lift_requested_at = 0;
};

}  // namespace rampart::store
