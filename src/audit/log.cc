#include "audit/log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <utility>

#include "audit/verify.h"
#include "common/crypto.h"
#include "common/log.h"

namespace rampart::audit {

namespace {

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Internal("cannot write the audit log");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// Makes a newly created file's directory entry durable.
Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::Internal("cannot open the audit log directory");
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : Status::Internal("cannot sync the audit log directory");
}

// Raises `value` to at least `to`; concurrent syncs finish in any order, and the durable mark
// must never move back.
void RaiseTo(std::atomic<uint64_t>& value, uint64_t to) {
  uint64_t seen = value.load();
  while (seen < to && !value.compare_exchange_weak(seen, to)) {
  }
}

int OpenAppend(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
}

}  // namespace

Result<std::unique_ptr<Log>> Log::Open(const std::string& dir, LogOptions options) {
  if (!options.sync_each_append && options.sync_batch < 1) {
    return Status::InvalidArgument("audit log sync_batch must be at least 1");
  }
  if (!options.checkpoint_public_key.empty() &&
      options.checkpoint_public_key.size() != crypto::kEd25519PublicKeyBytes) {
    return Status::InvalidArgument("the checkpoint public key must be 32 bytes");
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::Internal("cannot create the audit log directory " + dir);
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ec);
    if (ec) return Status::Internal("cannot restrict the audit log directory " + dir);
  }

  std::unique_ptr<Log> log(new Log());
  log->dir_ = dir;
  log->clock_ = options.clock != nullptr ? options.clock : &SystemClock::Instance();
  log->options_ = std::move(options);

  // Two writers would each extend their own idea of the tree and interleave lines.
  log->lock_fd_ = OpenAppend(dir + "/LOCK");
  if (log->lock_fd_ < 0) return Status::Internal("cannot create the audit log lock file");
  if (::flock(log->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status::Conflict("another process has the audit log in " + dir + " open");
  }

  const std::string records_path = dir + "/" + kRecordsFile;
  const std::string checkpoints_path = dir + "/" + kCheckpointsFile;
  bool created = !std::filesystem::exists(records_path, ec);
  log->records_fd_ = OpenAppend(records_path);
  log->checkpoints_fd_ = OpenAppend(checkpoints_path);
  if (log->records_fd_ < 0 || log->checkpoints_fd_ < 0) {
    return Status::Internal("cannot open the audit log files in " + dir);
  }
  if (created) RAMPART_RETURN_IF_ERROR(SyncDir(dir));

  RAMPART_ASSIGN_OR_RETURN(VerifiedLog existing, LoadLog(dir, log->options_.checkpoint_public_key));
  if (!existing.report.ok) {
    if (!existing.torn_tail_only) {
      return Status::Conflict("the audit log in " + dir + " failed verification, so nothing " +
                              "will be appended to it: " + existing.report.problem);
    }
    if (::ftruncate(log->records_fd_, static_cast<off_t>(existing.verified_bytes)) != 0 ||
        ::fdatasync(log->records_fd_) != 0 ||
        ::ftruncate(log->checkpoints_fd_, static_cast<off_t>(existing.checkpoints_bytes)) != 0 ||
        ::fdatasync(log->checkpoints_fd_) != 0) {
      return Status::Internal("cannot cut the incomplete last line of the audit log");
    }
    rampart::log::Warn("audit.torn_tail_dropped",
                       {{"records", existing.report.records},
                        {"checkpoints", existing.report.checkpoints_verified}});
  }
  for (const Hash& leaf : existing.leaves) log->tree_.Append(leaf);
  log->leaves_ = std::move(existing.leaves);
  log->records_bytes_ = existing.verified_bytes;
  log->checkpoints_bytes_ = existing.checkpoints_bytes;
  log->written_seq_.store(log->leaves_.size());
  log->synced_seq_.store(log->leaves_.size());
  if (!existing.checkpoints.empty()) log->latest_ = existing.checkpoints.back();

  RAMPART_RETURN_IF_ERROR(
      log->streamer_.Open(log->options_.mirror_path, log->options_.syslog_target));
  return log;
}

Log::~Log() {
  {
    std::lock_guard lock(mu_);
    // Best effort at shutdown: a failure was already reported to the appender who hit it.
    if (!broken_ && synced_seq_.load() < written_seq_.load()) SyncLocked().IgnoreError();
  }
  if (records_fd_ >= 0) ::close(records_fd_);
  if (checkpoints_fd_ >= 0) ::close(checkpoints_fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Status Log::SyncFailed() {
  // After a failed fdatasync the kernel may have dropped the dirty pages and cleared the
  // error: retrying would "succeed" on data that is gone. Stop acknowledging anything.
  broken_ = true;
  rampart::log::Error("audit.sync_failed", {{"errno", errno}});
  return Status::Internal("cannot sync the audit log; it refuses appends until reopened");
}

Status Log::SyncLocked() {
  uint64_t target = written_seq_.load();
  if (::fdatasync(records_fd_) != 0) return SyncFailed();
  RaiseTo(synced_seq_, target);
  return Status::Ok();
}

Status Log::SyncUpTo(uint64_t seq) {
  // Group commit: appenders queue here, and whoever gets the mutex first syncs every line
  // written so far, so that N concurrent appends cost one fdatasync instead of N.
  std::lock_guard sync_lock(sync_mu_);
  if (synced_seq_.load() >= seq) return Status::Ok();
  uint64_t target = written_seq_.load();  // every line up to it has been written
  if (::fdatasync(records_fd_) != 0) {
    std::lock_guard lock(mu_);
    return SyncFailed();
  }
  RaiseTo(synced_seq_, target);
  return Status::Ok();
}

Result<Record> Log::Append(const Record& record) {
  RAMPART_ASSIGN_OR_RETURN(Record rec, CanonicalRecord(record));
  std::string line;
  uint64_t seq = 0;
  Result<ParsedRecordLine> stored = Status::Internal("not yet written");
  {
    std::lock_guard lock(mu_);
    if (broken_) {
      return Status::Internal("the audit log refuses appends after a failed write; reopen it");
    }
    rec.index = static_cast<int64_t>(tree_.size());
    rec.time = clock_->NowSeconds();
    Hash leaf = LeafHash(LeafBytes(rec));
    CompactTree next = tree_;
    next.Append(leaf);
    line = RecordLine(rec, next.Root());
    // Today's field bounds keep a line under the verifier's limit even when every byte is
    // escaped (about 60 KiB at most); this keeps a future change of those bounds from writing
    // a line the verifier would refuse.
    if (line.size() > kMaxLineBytes) {
      return Status::InvalidArgument("audit record is longer than " +
                                     std::to_string(kMaxLineBytes) + " bytes once rendered");
    }
    // Read the line back as the verifier will: what is returned is exactly what is stored,
    // and a line the verifier would reject is never written.
    stored = ParseRecordLine(line);
    if (!stored.ok() || LeafHash(LeafBytes(stored->record)) != leaf) {
      return Status::Internal("audit record does not survive its own serialisation");
    }
    line.push_back('\n');
    Status written = WriteAll(records_fd_, line);
    if (!written.ok()) {
      // Remove a partial line so that the file stays a sequence of whole records.
      if (::ftruncate(records_fd_, static_cast<off_t>(records_bytes_)) != 0) broken_ = true;
      rampart::log::Error("audit.write_failed", {{"index", rec.index}});
      return written;
    }
    line.pop_back();
    tree_ = next;
    leaves_.push_back(leaf);
    records_bytes_ += line.size() + 1;
    seq = written_seq_.load() + 1;
    written_seq_.store(seq);
    if (!options_.sync_each_append) {
      if (seq - synced_seq_.load() >= static_cast<uint64_t>(options_.sync_batch)) {
        RAMPART_RETURN_IF_ERROR(SyncLocked());
      }
      streamer_.Send(StreamKind::kRecord, rec.severity, rec.time, line);
      return std::move(stored->record);
    }
  }
  RAMPART_RETURN_IF_ERROR(SyncUpTo(seq));
  // Sent only once durable, so a witness never holds a record a crash took back. Concurrent
  // appenders may send in a different order than their indexes; each line carries its index.
  streamer_.Send(StreamKind::kRecord, rec.severity, rec.time, line);
  return std::move(stored->record);
}

Result<Checkpoint> Log::MakeCheckpoint(const Signer& signer) {
  std::lock_guard lock(mu_);
  if (broken_) {
    return Status::Internal("the audit log refuses checkpoints after a failed write; reopen it");
  }
  // A signed head must never cover a record a crash could still take away.
  if (synced_seq_.load() < written_seq_.load()) RAMPART_RETURN_IF_ERROR(SyncLocked());
  Checkpoint cp;
  cp.tree_size = static_cast<int64_t>(tree_.size());
  cp.root_hex = ToHex(tree_.Root());
  cp.time = clock_->NowSeconds();
  const std::string message = CheckpointMessage(cp.tree_size, cp.root_hex, cp.time);
  RAMPART_ASSIGN_OR_RETURN(cp.signature, signer(message));
  if (cp.signature.size() != crypto::kEd25519SignatureBytes) {
    return Status::InvalidArgument("a checkpoint signature must be 64 bytes");
  }
  if (!options_.checkpoint_public_key.empty() &&
      !crypto::VerifyEd25519(options_.checkpoint_public_key, message, cp.signature)) {
    return Status::InvalidArgument(
        "the checkpoint signature does not verify with the checkpoint public key");
  }
  std::string line = CheckpointLine(cp);
  line.push_back('\n');
  Status written = WriteAll(checkpoints_fd_, line);
  if (!written.ok()) {
    // Cut a partial line (a full disk) so that the next checkpoint starts on a line of its own.
    if (::ftruncate(checkpoints_fd_, static_cast<off_t>(checkpoints_bytes_)) != 0) broken_ = true;
    return written;
  }
  if (::fdatasync(checkpoints_fd_) != 0) {
    broken_ = true;  // as for records: the file's state is unknown after a failed sync
    return Status::Internal("cannot sync the audit checkpoints");
  }
  checkpoints_bytes_ += line.size();
  line.pop_back();
  streamer_.Send(StreamKind::kCheckpoint, "info", cp.time, line);
  latest_ = cp;
  return cp;
}

Status Log::Sync() {
  std::lock_guard lock(mu_);
  if (broken_) return Status::Internal("the audit log is unusable after a failed write");
  return synced_seq_.load() < written_seq_.load() ? SyncLocked() : Status::Ok();
}

Result<std::vector<Record>> Log::ReadRecords(int64_t from, int64_t max_records) const {
  std::vector<Record> out;
  const int64_t end = size();
  if (from < 0 || max_records <= 0 || from >= end) return out;
  std::ifstream in(dir_ + "/" + kRecordsFile, std::ios::binary);
  if (!in) return Status::Internal("cannot read the audit log records");
  std::string line;
  int64_t index = 0;
  while (index < end && static_cast<int64_t>(out.size()) < max_records && std::getline(in, line)) {
    if (index >= from) {
      RAMPART_ASSIGN_OR_RETURN(ParsedRecordLine parsed, ParseRecordLine(line));
      out.push_back(std::move(parsed.record));
    }
    ++index;
  }
  return out;
}

int64_t Log::size() const {
  std::lock_guard lock(mu_);
  return static_cast<int64_t>(tree_.size());
}

Hash Log::Root() const {
  std::lock_guard lock(mu_);
  return tree_.Root();
}

std::vector<Hash> Log::LeavesPrefix(int64_t n) const {
  std::lock_guard lock(mu_);
  if (n < 0 || n > static_cast<int64_t>(leaves_.size())) return {};
  return std::vector<Hash>(leaves_.begin(), leaves_.begin() + n);
}

Result<Hash> Log::RootAt(int64_t tree_size) const {
  if (tree_size < 0 || tree_size > size()) {
    return Status::InvalidArgument("tree size is beyond the log");
  }
  return RootOf(LeavesPrefix(tree_size));
}

Result<Hash> Log::LeafHashAt(int64_t index) const {
  std::lock_guard lock(mu_);
  if (index < 0 || index >= static_cast<int64_t>(leaves_.size())) {
    return Status::InvalidArgument("no record with that index");
  }
  return leaves_[static_cast<size_t>(index)];
}

Result<std::vector<Hash>> Log::Prove(int64_t index, int64_t tree_size) const {
  if (index < 0 || tree_size < 0 || tree_size > size()) {
    return Status::InvalidArgument("index and tree size must lie within the log");
  }
  // Copy the prefix under the lock (32 bytes a record) and hash outside it, so that a proof
  // over a long log does not stall appends.
  std::vector<Hash> leaves = LeavesPrefix(tree_size);
  return InclusionPath(leaves, static_cast<uint64_t>(index), static_cast<uint64_t>(tree_size));
}

Result<std::vector<std::vector<Hash>>> Log::ProveMany(const std::vector<int64_t>& indexes,
                                                      int64_t tree_size) const {
  if (tree_size < 0 || tree_size > size()) {
    return Status::InvalidArgument("the tree size must lie within the log");
  }
  std::vector<uint64_t> positions;
  positions.reserve(indexes.size());
  for (int64_t index : indexes) {
    if (index < 0) return Status::InvalidArgument("record indexes cannot be negative");
    positions.push_back(static_cast<uint64_t>(index));
  }
  std::vector<Hash> leaves = LeavesPrefix(tree_size);
  return InclusionPaths(leaves, positions, static_cast<uint64_t>(tree_size));
}

Result<std::vector<Hash>> Log::ProveConsistency(int64_t old_size, int64_t new_size) const {
  if (old_size < 0 || new_size < 0 || new_size > size()) {
    return Status::InvalidArgument("tree sizes must lie within the log");
  }
  std::vector<Hash> leaves = LeavesPrefix(new_size);
  return ConsistencyProof(leaves, static_cast<uint64_t>(old_size), static_cast<uint64_t>(new_size));
}

std::optional<Checkpoint> Log::LatestCheckpoint() const {
  std::lock_guard lock(mu_);
  return latest_;
}

}  // namespace rampart::audit
