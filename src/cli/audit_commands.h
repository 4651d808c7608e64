// `rampart audit verify` and `rampart audit prove`: an auditor's view of the keeper's
// tamper-evident log in DATA/keeper/audit (audit/log.h), read-only, safe beside a running
// keeper. Exit codes: 0 intact (or proof printed), 1 tampering found (the message names the
// record), 2 usage or I/O error (nothing was judged).
#pragma once

#include <cstdint>
#include <string>

namespace rampart::cli {

std::string AuditDir(const std::string& data_dir);  // DATA/keeper/audit

struct AuditOptions {
  std::string data_dir;
  // The checkpoint public key file (64 hex digits). Default: DATA/keeper/audit/checkpoint.pub,
  // which an attacker who rewrote the log could have rewritten too: an auditor passes a copy
  // kept elsewhere.
  std::string public_key_file;
  int64_t record = -1;  // prove only
};

// Prints a human summary on stdout; problems also go to stderr.
int AuditVerify(const AuditOptions& options);
// Prints one JSON object: the record's leaf bytes and hash, the latest checkpoint (tree size,
// root, time, signature) and the RFC 6962 audit path, after checking the path against the
// signed root and the signature against the key.
int AuditProve(const AuditOptions& options);

}  // namespace rampart::cli
