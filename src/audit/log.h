// The tamper-evident audit log (issue 3): an append-only file of records, each a leaf of an
// RFC 6962 Merkle tree (audit/merkle.h), with heads signed by the keeper's checkpoint key.
//
//   audit::LogOptions options;
//   options.clock = &clock;
//   options.syslog_target = "192.0.2.10:514";
//   RAMPART_ASSIGN_OR_RETURN(auto log, audit::Log::Open("DATA/keeper/audit", options));
//   RAMPART_ASSIGN_OR_RETURN(audit::Record stored, log->Append(record));  // index, time set
//   RAMPART_ASSIGN_OR_RETURN(audit::Checkpoint cp, log->MakeCheckpoint(signer));
//
// Files in the directory (formats in audit/format.h, verification in audit/verify.h):
//   records.jsonl      one line per record, with the tree head after it
//   checkpoints.jsonl  one line per signed tree head
//   LOCK               flock(2)ed by the one process allowed to append
// A record is acknowledged (Append returns) only once its line is written and, by default,
// fdatasync'ed; concurrent appenders share one fdatasync (group commit). Off-box copies go to
// the streams of audit/stream.h once the record is durable.
//
// Thread safety: every method may be called from any thread; appends are serialised.
// Memory: 32 bytes per record (its leaf hash) plus O(log n) for the tree's right edge.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/format.h"
#include "audit/merkle.h"
#include "audit/record.h"
#include "audit/stream.h"
#include "common/clock.h"
#include "common/status.h"

namespace rampart::audit {

// Signs a checkpoint message with the audit-checkpoint key and returns the raw 64-byte Ed25519
// signature. The keeper holds the key; the log never sees it.
using Signer = std::function<Result<std::string>(std::string_view message)>;

struct LogOptions {
  const Clock* clock = nullptr;  // nullptr: the system clock. Not owned; must outlive the log
  // fdatasync after every append (the default: an acknowledged record survives a power cut).
  // When false, records are synced every sync_batch appends, before every checkpoint, on
  // Sync() and on destruction: a crash can lose the unsynced acknowledged records.
  bool sync_each_append = true;
  int64_t sync_batch = 64;
  std::string mirror_path;    // JSON-lines copy of every record and checkpoint; "" for none
  std::string syslog_target;  // "HOST:PORT" (numeric) for RFC 5424 over UDP; "" for none
  // Raw 32-byte checkpoint public key. When set, Open also checks the stored checkpoints'
  // signatures and MakeCheckpoint refuses a signature that does not verify with it.
  std::string checkpoint_public_key;
};

class Log {
 public:
  // Opens (creating with mode 0700/0600 when missing) the log in `dir`, re-verifies what is
  // there and rebuilds the tree. Errors: Conflict when the existing log fails verification
  // (the message names the first bad record; nothing is appended onto a tampered log) or
  // another process holds it open; InvalidArgument for bad options; Internal for I/O.
  // An unterminated last line in either file (a crash in the middle of a write that was never
  // acknowledged) is cut off, with a warning in the process log.
  static Result<std::unique_ptr<Log>> Open(const std::string& dir, LogOptions options = {});
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Appends a record, assigning index (the tree size before it) and time (the clock's Unix
  // seconds), and returns it as stored. InvalidArgument for a record CanonicalRecord refuses
  // or whose line would exceed kMaxLineBytes. Internal when the write or the sync fails; after
  // a failed sync the record may still be in the file, and the log refuses further appends
  // (a failed fdatasync leaves the file's state unknown) until it is reopened.
  Result<Record> Append(const Record& record);

  // Signs the current tree head: makes sure every record it covers is synced, asks `signer`
  // for a signature over CheckpointMessage(size, root, time), appends and syncs the line.
  // Errors: the signer's own, InvalidArgument for a signature that is not 64 bytes or (with
  // a public key in the options) does not verify, Internal for I/O.
  Result<Checkpoint> MakeCheckpoint(const Signer& signer);

  // Forces unsynced records to disk (only needed with sync_each_append = false).
  Status Sync();

  int64_t size() const;
  Hash Root() const;                             // the head of the whole tree, O(log n)
  Result<Hash> RootAt(int64_t tree_size) const;  // O(tree_size)
  Result<Hash> LeafHashAt(int64_t index) const;
  // RFC 6962 audit path of record `index` in the tree of the first `tree_size` records;
  // InvalidArgument unless 0 <= index < tree_size <= size(). O(tree_size), outside the lock.
  Result<std::vector<Hash>> Prove(int64_t index, int64_t tree_size) const;
  // The audit paths of several records of the same tree (audit::InclusionPaths): O(tree_size)
  // once, then O(log tree_size) a record; outside the lock.
  Result<std::vector<std::vector<Hash>>> ProveMany(const std::vector<int64_t>& indexes,
                                                   int64_t tree_size) const;
  // RFC 6962 consistency proof between two sizes; InvalidArgument unless
  // 0 <= old_size <= new_size <= size().
  Result<std::vector<Hash>> ProveConsistency(int64_t old_size, int64_t new_size) const;
  std::optional<Checkpoint> LatestCheckpoint() const;
  // Up to `max_records` records from index `from` on, as stored (for the keeper's audit query).
  // Reads records.jsonl from the start on every call: O(file size), outside the lock, and never
  // past the records appended when it was called (a line being written is not read).
  Result<std::vector<Record>> ReadRecords(int64_t from, int64_t max_records) const;
  StreamStats stream_stats() const { return streamer_.stats(); }

 private:
  Log() = default;
  Status SyncLocked();            // requires mu_
  Status SyncFailed();            // requires mu_
  Status SyncUpTo(uint64_t seq);  // must not hold mu_
  std::vector<Hash> LeavesPrefix(int64_t n) const;

  std::string dir_;
  LogOptions options_;
  const Clock* clock_ = nullptr;
  int lock_fd_ = -1;
  int records_fd_ = -1;
  int checkpoints_fd_ = -1;
  Streamer streamer_;

  mutable std::mutex mu_;
  CompactTree tree_;                  // guarded by mu_
  std::vector<Hash> leaves_;          // guarded by mu_
  std::optional<Checkpoint> latest_;  // guarded by mu_
  uint64_t records_bytes_ = 0;        // guarded by mu_: length of records.jsonl
  uint64_t checkpoints_bytes_ = 0;    // guarded by mu_: length of checkpoints.jsonl
  bool broken_ = false;               // guarded by mu_
  // Appends written (incremented under mu_ after the write) and known durable. Lock order:
  // sync_mu_ before mu_; MakeCheckpoint syncs under mu_ alone.
  std::atomic<uint64_t> written_seq_{0};
  std::atomic<uint64_t> synced_seq_{0};
  std::mutex sync_mu_;
};

}  // namespace rampart::audit
