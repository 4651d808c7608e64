// Verification of an audit log directory: recomputes every leaf and tree head, checks every
// signed checkpoint, and names the first record that was changed, removed or reordered.
//
//   auto report = audit::Verify("DATA/keeper/audit", public_key);  // raw 32-byte key
//   if (!report.ok()) ...                   // I/O or usage error: nothing was judged
//   else if (!report->ok) std::cout << report->problem;  // "record 41 (line 42) was changed..."
//
// What a clean report proves: the records are exactly the ones the checkpoint key signed heads
// over, in order, with none missing up to the latest checkpoint. What it cannot prove: anything
// about records after the latest checkpoint beyond their own consistency (an attacker with
// write access can rewrite or drop that unsigned tail), nor that checkpoints.jsonl itself was
// not shortened (keep the streamed copies off-box). docs/audit.md says more.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "audit/format.h"
#include "audit/merkle.h"
#include "common/status.h"

namespace rampart::audit {

inline constexpr char kRecordsFile[] = "records.jsonl";
inline constexpr char kCheckpointsFile[] = "checkpoints.jsonl";
// Default location of the checkpoint public key inside the log directory: one line of 64
// lower-case hex digits (the raw 32-byte Ed25519 key). An auditor should pass a copy kept
// elsewhere: whoever can rewrite the log can rewrite this file too.
inline constexpr char kPublicKeyFile[] = "checkpoint.pub";

struct VerifyReport {
  bool ok = false;
  int64_t records = 0;                 // records that verified, from index 0 on
  int64_t checkpoints_verified = 0;    // checkpoints whose signature and tree head are right
  int64_t latest_checkpoint_size = 0;  // records covered by the latest verified checkpoint
  int64_t first_bad_index = -1;        // the first record changed, removed or moved; -1: none
  std::string problem;                 // one sentence naming it; "" when ok
  std::vector<std::string> problems;   // every problem found, the earliest by index first
};

// The verified contents of a log, for the writer (audit::Log::Open) and `rampart audit prove`.
struct VerifiedLog {
  VerifyReport report;
  std::vector<Hash> leaves;             // leaf hashes of the verified records
  std::vector<Checkpoint> checkpoints;  // the checkpoints that verified, in file order
  int64_t last_time = 0;                // time of the last verified record
  // Byte length of records.jsonl up to the last verified record and of checkpoints.jsonl up
  // to the last verified checkpoint, and whether the only problems are unterminated last
  // lines (a write cut short by a crash: never acknowledged, so a writer may cut them off).
  uint64_t verified_bytes = 0;
  uint64_t checkpoints_bytes = 0;
  bool torn_tail_only = false;
};

// Judges the two files' contents. public_key: the raw 32-byte key, or "" to skip signature
// checks (the writer on Open when it was given no key; roots are still checked). Pure.
VerifiedLog CheckLog(std::string_view records_text, std::string_view checkpoints_text,
                     std::string_view public_key);

// Reads DIR/records.jsonl and DIR/checkpoints.jsonl (a missing checkpoints file is an empty
// one) and judges them. NotFound when DIR or records.jsonl does not exist, InvalidArgument for
// a key that is not 32 bytes, Internal when a file cannot be read.
Result<VerifiedLog> LoadLog(const std::string& dir, std::string_view public_key);
// Record `index` as stored on line index + 1 of DIR/records.jsonl. NotFound when the file has
// no such line; InvalidArgument when the line does not parse or holds another index.
Result<Record> ReadRecord(const std::string& dir, int64_t index);
Result<VerifyReport> Verify(const std::string& dir, std::string_view checkpoint_public_key);

// The public key file format above. InvalidArgument when the contents are not 64 hex digits.
Result<std::string> ReadPublicKeyFile(const std::string& path);
Status WritePublicKeyFile(const std::string& path, std::string_view public_key);

}  // namespace rampart::audit
