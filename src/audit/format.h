// The on-disk and on-the-wire forms of audit records and checkpoints. Pure functions: no I/O,
// so the parsers can be fuzzed (fuzz/audit_line_fuzz.cc) and the verifier can run anywhere.
//
// records.jsonl holds one line per record, compact JSON with keys in byte order:
//   {"action":"staff.decrypt","actor":"tok_1","details":{"count":1},"index":0,
//    "institution_id":"ins_1","outcome":"success","request_id":"req_1",
//    "root":"<64 hex>","severity":"info","source_ip":"10.0.0.1","target":"stf_1",
//    "time":1769760000}
// The leaf bytes of a record (what the Merkle leaf hash covers) are that same line without the
// "root" member: every Record field including index and time, compact, keys sorted, strings
// as UTF-8, details as a JSON object (itself compact with sorted keys). "root" is the tree
// head after this record was appended: a per-record commitment that lets a verifier name the
// first record whose line was edited without re-signing anything.
//
// checkpoints.jsonl holds one line per signed tree head:
//   {"root":"<64 hex>","signature":"<128 hex>","time":1769760000,"tree_size":12}
// and the signature is Ed25519 over CheckpointMessage(tree_size, root, time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "audit/merkle.h"
#include "audit/record.h"
#include "common/status.h"

namespace rampart::audit {

// Bounds that keep one record a single syslog datagram and a parser's memory small.
inline constexpr size_t kMaxFieldBytes = 1024;
inline constexpr size_t kMaxDetailsBytes = 16 * 1024;
inline constexpr size_t kMaxLineBytes = 64 * 1024;

// A signed tree head. Field for field the same as keeper::Checkpoint, so the keeper returns
// it without conversion logic.
struct Checkpoint {
  int64_t tree_size = 0;
  std::string root_hex;   // lower-case hex of the RFC 6962 head over records [0, tree_size)
  int64_t time = 0;       // Unix seconds when it was made
  std::string signature;  // raw 64-byte Ed25519 signature over CheckpointMessage(...)
};

// "RAMPART-AUDIT-CHECKPOINT-V1\n<tree_size>\n<root_hex>\n<time>": what the checkpoint key
// signs. The version prefix keeps the key from ever signing something of another meaning.
std::string CheckpointMessage(int64_t tree_size, std::string_view root_hex, int64_t time);

// Checks the caller-supplied fields (action non-empty, severity one of info/warning/critical,
// strings at most kMaxFieldBytes, details_json a JSON object of at most kMaxDetailsBytes,
// nested at most 32 levels) and
// returns the record with details_json in canonical form. InvalidArgument names the field.
Result<Record> CanonicalRecord(const Record& record);
// The leaf bytes of a record already in canonical form (see the file comment).
std::string LeafBytes(const Record& record);
// One records.jsonl line, without the newline.
std::string RecordLine(const Record& record, const Hash& root_after);

struct ParsedRecordLine {
  Record record;
  Hash root{};  // the stored per-record commitment
};
// Strict: a JSON object with exactly the keys above, of the right types and within bounds.
// InvalidArgument (saying what is wrong, never echoing the line) for anything else.
Result<ParsedRecordLine> ParseRecordLine(std::string_view line);

// One checkpoints.jsonl line, without the newline.
std::string CheckpointLine(const Checkpoint& checkpoint);
// Strict, as ParseRecordLine. Does not check the signature (that needs the public key).
Result<Checkpoint> ParseCheckpointLine(std::string_view line);

}  // namespace rampart::audit
