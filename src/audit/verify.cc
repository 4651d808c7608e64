#include "audit/verify.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <optional>
#include <utility>

#include "common/crypto.h"

namespace rampart::audit {

namespace {

struct Line {
  std::string_view text;
  uint64_t end = 0;  // byte offset just after the line's newline
  bool terminated = true;
};

std::vector<Line> SplitLines(std::string_view text) {
  std::vector<Line> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      lines.push_back({text.substr(start), text.size(), false});
      break;
    }
    lines.push_back({text.substr(start, nl - start), nl + 1, true});
    start = nl + 1;
  }
  return lines;
}

// Problems keyed by the record they name (-1: none, e.g. a forged checkpoint signature).
class Problems {
 public:
  void Add(int64_t index, std::string sentence) { items_.emplace_back(index, std::move(sentence)); }
  void Fill(VerifyReport* report) {
    // Stable: problems naming the same record keep the order they were found in.
    std::stable_sort(items_.begin(), items_.end(), [](const auto& a, const auto& b) {
      auto key = [](int64_t i) { return i < 0 ? INT64_MAX : i; };
      return key(a.first) < key(b.first);
    });
    report->ok = items_.empty();
    for (auto& [index, sentence] : items_) report->problems.push_back(sentence);
    if (!items_.empty()) {
      report->first_bad_index = items_.front().first;
      report->problem = items_.front().second;
    }
  }

 private:
  std::vector<std::pair<int64_t, std::string>> items_;
};

std::string Num(int64_t n) {
  return std::to_string(n);
}

// "record 5 was" or "records 5..8 were": records [from, to).
std::string Span(int64_t from, int64_t to) {
  return to - from == 1 ? "record " + Num(from) + " was"
                        : "records " + Num(from) + ".." + Num(to - 1) + " were";
}

Status ReadWholeFile(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no file " + path);
    return Status::Internal("cannot open " + path);
  }
  out->clear();
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return Status::Internal("cannot read " + path);
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return Status::Ok();
}

}  // namespace

VerifiedLog CheckLog(std::string_view records_text, std::string_view checkpoints_text,
                     std::string_view public_key) {
  VerifiedLog out;
  Problems problems;
  CompactTree tree;
  // Tree heads after every prefix, so that each checkpoint is checked against its own size.
  std::vector<Hash> roots = {EmptyRoot()};
  std::optional<int64_t> records_problem_at;
  size_t torn = 0;  // unterminated last lines: the only problems a writer may repair

  std::vector<Line> lines = SplitLines(records_text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const int64_t expected = static_cast<int64_t>(i);
    const std::string line_no = Num(static_cast<int64_t>(i) + 1);
    if (!lines[i].terminated) {
      // Only a crash between write(2) and its completion leaves a line without a newline; the
      // append was never acknowledged.
      ++torn;
      problems.Add(expected, "records.jsonl ends in an incomplete line " + line_no +
                                 " where record " + Num(expected) +
                                 " would be: an append interrupted by a crash (never "
                                 "acknowledged), or a cut made by hand");
      records_problem_at = expected;
      break;
    }
    auto parsed = ParseRecordLine(lines[i].text);
    if (!parsed.ok()) {
      problems.Add(expected, "line " + line_no + " of records.jsonl, where record " +
                                 Num(expected) +
                                 " should be, is malformed: " + parsed.status().message());
      records_problem_at = expected;
      break;
    }
    const int64_t found = parsed->record.index;
    if (found != expected) {
      // Tell a removal from a move: is the expected record further down the file?
      std::optional<size_t> moved_to;
      for (size_t j = i + 1; j < lines.size() && !moved_to; ++j) {
        auto later = ParseRecordLine(lines[j].text);
        if (later.ok() && later->record.index == expected) moved_to = j;
      }
      if (moved_to) {
        problems.Add(expected, "record " + Num(expected) + " is out of order: line " + line_no +
                                   " holds record " + Num(found) + " and record " + Num(expected) +
                                   " is on line " + Num(static_cast<int64_t>(*moved_to) + 1));
      } else if (found > expected) {
        problems.Add(expected, "record " + Num(expected) + " is missing: line " + line_no +
                                   " holds record " + Num(found) + " (" + Span(expected, found) +
                                   " removed)");
      } else {
        problems.Add(expected, "record " + Num(expected) + " is missing: line " + line_no +
                                   " holds record " + Num(found) +
                                   " again (a duplicated or moved record)");
      }
      records_problem_at = expected;
      break;
    }
    Hash leaf = LeafHash(LeafBytes(parsed->record));
    tree.Append(leaf);
    Hash root = tree.Root();
    if (root != parsed->root) {
      problems.Add(expected, "record " + Num(expected) + " (line " + line_no +
                                 ") was changed: it no longer hashes to the tree head stored "
                                 "with it");
      records_problem_at = expected;
      break;
    }
    out.leaves.push_back(leaf);
    roots.push_back(root);
    out.last_time = parsed->record.time;
    out.verified_bytes = lines[i].end;
  }
  const int64_t n = static_cast<int64_t>(out.leaves.size());
  out.report.records = n;

  int64_t previous_size = 0;
  int64_t last_good_size = 0;
  std::vector<Line> cp_lines = SplitLines(checkpoints_text);
  for (size_t i = 0; i < cp_lines.size(); ++i) {
    const std::string line_no = Num(static_cast<int64_t>(i) + 1);
    if (!cp_lines[i].terminated) {
      // As for records: only an interrupted write leaves a line without its newline, and the
      // checkpoint it was writing was never returned to anyone.
      ++torn;
      problems.Add(-1, "checkpoints.jsonl ends in an incomplete line " + line_no +
                           ": a checkpoint interrupted by a crash (never returned), or a cut "
                           "made by hand");
      break;
    }
    auto cp = ParseCheckpointLine(cp_lines[i].text);
    if (!cp.ok()) {
      problems.Add(
          -1, "line " + line_no + " of checkpoints.jsonl is malformed: " + cp.status().message());
      continue;
    }
    const std::string what =
        "the checkpoint on line " + line_no + " (tree size " + Num(cp->tree_size) + ")";
    if (!public_key.empty() &&
        !crypto::VerifyEd25519(public_key, CheckpointMessage(cp->tree_size, cp->root_hex, cp->time),
                               cp->signature)) {
      problems.Add(-1, what +
                           " has an invalid signature: it was forged, altered or signed "
                           "by another key");
      continue;
    }
    if (cp->tree_size < previous_size) {
      problems.Add(-1, what + " is smaller than the checkpoint before it (" + Num(previous_size) +
                           "): checkpoints were reordered");
    }
    previous_size = std::max(previous_size, cp->tree_size);
    if (cp->tree_size > n) {
      if (!records_problem_at) {
        problems.Add(n, Span(n, cp->tree_size) + " removed: the log ends after " + Num(n) +
                            " records but " + what + " signed " + Num(cp->tree_size));
      }
      // With a problem in the records already named, this checkpoint cannot be checked.
      continue;
    }
    if (ToHex(roots[cp->tree_size]) != cp->root_hex) {
      // Every stored commitment matched, so whoever changed a record recomputed the ones after
      // it; only the signed heads tell, and they tell which span: after the last good one.
      problems.Add(last_good_size,
                   "a record in " + Num(last_good_size) + ".." + Num(cp->tree_size - 1) +
                       " was changed together with the tree heads stored after it: " + what +
                       " signed a different head");
      continue;
    }
    out.checkpoints_bytes = cp_lines[i].end;
    ++out.report.checkpoints_verified;
    last_good_size = std::max(last_good_size, cp->tree_size);
    out.report.latest_checkpoint_size = last_good_size;
    out.checkpoints.push_back(*cp);
  }
  problems.Fill(&out.report);
  // Torn tails are recoverable only when nothing else is wrong.
  out.torn_tail_only = torn > 0 && out.report.problems.size() == torn;
  return out;
}

Result<VerifiedLog> LoadLog(const std::string& dir, std::string_view public_key) {
  if (!public_key.empty() && public_key.size() != crypto::kEd25519PublicKeyBytes) {
    return Status::InvalidArgument("the checkpoint public key must be 32 bytes");
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return Status::NotFound("no audit log directory at " + dir);
  }
  std::string records, checkpoints;
  RAMPART_RETURN_IF_ERROR(ReadWholeFile(dir + "/" + kRecordsFile, &records));
  Status cp = ReadWholeFile(dir + "/" + kCheckpointsFile, &checkpoints);
  if (!cp.ok() && cp.code() != Code::kNotFound) return cp;
  return CheckLog(records, checkpoints, public_key);
}

Result<Record> ReadRecord(const std::string& dir, int64_t index) {
  std::string records;
  RAMPART_RETURN_IF_ERROR(ReadWholeFile(dir + "/" + kRecordsFile, &records));
  std::vector<Line> lines = SplitLines(records);
  if (index < 0 || index >= static_cast<int64_t>(lines.size()) ||
      !lines[static_cast<size_t>(index)].terminated) {
    return Status::NotFound("records.jsonl has no record " + Num(index));
  }
  RAMPART_ASSIGN_OR_RETURN(ParsedRecordLine parsed,
                           ParseRecordLine(lines[static_cast<size_t>(index)].text));
  if (parsed.record.index != index) {
    return Status::InvalidArgument("line " + Num(index + 1) + " of records.jsonl holds record " +
                                   Num(parsed.record.index));
  }
  return std::move(parsed.record);
}

Result<VerifyReport> Verify(const std::string& dir, std::string_view checkpoint_public_key) {
  if (checkpoint_public_key.size() != crypto::kEd25519PublicKeyBytes) {
    return Status::InvalidArgument("the checkpoint public key must be 32 bytes");
  }
  RAMPART_ASSIGN_OR_RETURN(VerifiedLog log, LoadLog(dir, checkpoint_public_key));
  return std::move(log.report);
}

Result<std::string> ReadPublicKeyFile(const std::string& path) {
  std::string text;
  RAMPART_RETURN_IF_ERROR(ReadWholeFile(path, &text));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  auto key = crypto::HexDecode(text);
  if (!key.ok() || key->size() != crypto::kEd25519PublicKeyBytes) {
    return Status::InvalidArgument(path + " must hold the 32-byte key as 64 hex digits");
  }
  return std::move(key).value();
}

Status WritePublicKeyFile(const std::string& path, std::string_view public_key) {
  if (public_key.size() != crypto::kEd25519PublicKeyBytes) {
    return Status::InvalidArgument("the checkpoint public key must be 32 bytes");
  }
  std::string text = crypto::HexEncode(public_key) + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return Status::Internal("cannot write " + path);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  return ok ? Status::Ok() : Status::Internal("cannot write " + path);
}

}  // namespace rampart::audit
