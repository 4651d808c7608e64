// One audit record: who did what to which object, when, from where, and how it ended.
//
// Records are appended by the keeper only (serve sends its records over the keeper socket; the
// keeper writes its own for every decrypt and signature), and each record is a leaf of the
// Merkle tree described in audit/log.h.
#pragma once

#include <cstdint>
#include <string>

namespace rampart::audit {

struct Record {
  int64_t index = -1;   // position in the log, assigned by the log on append (0-based)
  int64_t time = 0;     // Unix seconds, assigned by the log on append
  std::string actor;    // principal id: "tok_...", "usr_...", "system", "keeper"
  std::string action;   // dotted verb: "auth.login", "staff.decrypt", "command.sign", ...
  std::string target;   // object id the action touched ("stf_...", "dev_...", "cmd_..."), or ""
  std::string outcome;  // "success", "failure", "denied"
  std::string institution_id;       // "" for server-wide actions
  std::string request_id;           // the HTTP request that caused it, or ""
  std::string source_ip;            // the client address, or ""
  std::string severity = "info";    // "info", "warning", "critical"
  std::string details_json = "{}";  // a JSON object with action-specific fields (no secrets,
                                    // no staff personal data in clear)
};

}  // namespace rampart::audit
