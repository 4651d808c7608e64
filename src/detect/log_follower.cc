#include "detect/log_follower.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <thread>
#include <unordered_map>

#include "common/clock.h"
#include "common/files.h"
#include "common/log.h"
#include "detect/custom_log_format.h"
#include "detect/event.h"
#include "detect/log_parser.h"

namespace rampart::detect {
namespace {

constexpr size_t kFollowReadChunk = 64 * 1024;
constexpr size_t kFormatSampleLines = 20;
constexpr size_t kMaxPositionsFileBytes = 16 * 1024 * 1024;
// Parse errors are logged for the first few lines of a file, then only counted: a file in a
// format we do not read would otherwise log every line.
constexpr uint64_t kLoggedParseErrors = 5;

bool IsBinary(std::string_view line) {
  size_t control = 0;
  for (unsigned char c : line) {
    if (c == 0) return true;
    if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) ++control;
  }
  return control * 8 > line.size();
}

struct SavedPosition {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t offset = 0;
  uint64_t line = 0;
  bool skipping = false;
  std::optional<uint64_t> check;  // WindowCheck at `offset` when saved (absent in older files)
};

// The bytes just before a position, summed (FNV-1a, with their count): a file truncated and
// written again past that position (copytruncate, then a busy server), or a new file that
// reused the inode, has other bytes there, and is read from its start rather than resumed in
// the middle of its lines. nullopt when the bytes cannot be read.
constexpr uint64_t kCheckWindow = 64;
std::optional<uint64_t> WindowCheck(int fd, uint64_t end) {
  const uint64_t len = std::min(end, kCheckWindow);
  char buf[kCheckWindow];
  ssize_t n;
  do {
    n = ::pread(fd, buf, len, static_cast<off_t>(end - len));
  } while (n < 0 && errno == EINTR);
  if (n < 0 || static_cast<uint64_t>(n) != len) return std::nullopt;
  uint64_t h = 1469598103934665603ull ^ len;
  for (uint64_t i = 0; i < len; ++i) {
    h ^= static_cast<unsigned char>(buf[i]);
    h *= 1099511628211ull;
  }
  return h;
}

// Other bytes there now. A read that fails says nothing (a transient error must not re-read a
// whole file and repeat its alerts); a file cut shorter than the position is caught by size.
bool WindowCheckDiffers(int fd, uint64_t end, uint64_t check) {
  std::optional<uint64_t> now = WindowCheck(fd, end);
  return now && *now != check;
}

Result<std::unordered_map<std::string, SavedPosition>> LoadPositions(const std::string& file) {
  std::unordered_map<std::string, SavedPosition> out;
  if (file.empty()) return out;
  auto text = files::ReadWholeFile(file, kMaxPositionsFileBytes);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) return out;
    return text.status();
  }
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("files") || !j["files"].is_object()) {
    return Status::InvalidArgument(file + " is not a positions file");
  }
  for (const auto& [path, v] : j["files"].items()) {
    if (!v.is_object()) continue;
    SavedPosition p;
    p.dev = v.value("dev", uint64_t{0});
    p.ino = v.value("ino", uint64_t{0});
    p.offset = v.value("offset", uint64_t{0});
    p.line = v.value("line", uint64_t{0});
    p.skipping = v.value("skipping", false);
    if (v.contains("check") && v["check"].is_number_unsigned())
      p.check = v["check"].get<uint64_t>();
    out.emplace(path, p);
  }
  return out;
}

constexpr size_t kMaxSiblings = 4096;

std::string FolderOf(const std::string& path, size_t slash) {
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Calls visit(full path, lstat status) for each regular file in `folder` whose name `wanted`
// accepts, until visit returns true. At most kMaxSiblings accepted names are looked at, so a
// folder of millions of files costs a bounded walk.
template <typename Wanted, typename Visit>
void VisitSiblings(const std::string& folder, Wanted wanted, Visit visit) {
  DIR* dir = ::opendir(folder.c_str());
  if (dir == nullptr) return;
  size_t looked = 0;
  while (dirent* entry = ::readdir(dir)) {
    std::string_view candidate = entry->d_name;
    if (!wanted(candidate)) continue;
    if (++looked > kMaxSiblings) break;
    std::string full = folder + (folder == "/" ? "" : "/") + std::string(candidate);
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (visit(std::move(full), st)) break;
  }
  ::closedir(dir);
}

// The file a rotation while we were stopped renamed `path` to: the sibling in the same folder
// whose name starts with the path's name (access_log.1, access_log-20261123), is not a
// compressed copy, and is the saved device and inode. Empty when there is none (compressed,
// moved to another folder, deleted).
std::string SiblingWithInode(const std::string& path, uint64_t dev, uint64_t ino) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {};
  const std::string name = path.substr(slash + 1);
  std::string found;
  VisitSiblings(
      FolderOf(path, slash),
      [&](std::string_view candidate) {
        // A compressed copy is another inode anyway; one that reused the old inode is not text.
        return candidate.size() > name.size() && candidate.starts_with(name) &&
               !candidate.ends_with(".gz") && !candidate.ends_with(".xz") &&
               !candidate.ends_with(".bz2") && !candidate.ends_with(".zst");
      },
      [&](std::string full, const struct stat& st) {
        if (static_cast<uint64_t>(st.st_dev) != dev || static_cast<uint64_t>(st.st_ino) != ino) {
          return false;
        }
        found = std::move(full);
        return true;
      });
  return found;
}

// Whether `candidate` names a rotated copy of the file named `name`: the name, then '.', '-'
// or '_' and a digit (access_log.1, access_log.2.gz, access_log-20261123), and not another file
// that merely shares the prefix (access_log.json, access_log-audit).
bool RotatedCopyName(std::string_view candidate, std::string_view name) {
  if (candidate.size() < name.size() + 2 || !candidate.starts_with(name)) return false;
  char sep = candidate[name.size()], digit = candidate[name.size() + 1];
  return (sep == '.' || sep == '-' || sep == '_') && digit >= '0' && digit <= '9';
}

// Rotated copies beside `rotated` (the old file RotatedSibling found, open with status
// `old_st`) written after it, other than the file now at the path: rotated after it while we
// were stopped, so their lines are not read (the follower goes from the old file to the current
// one). Compressed copies count too (logrotate keeps the mtime).
std::vector<std::string> RotatedLater(const std::string& path, const std::string& rotated,
                                      const struct stat& old_st) {
  std::vector<std::string> later;
  struct stat current_st;
  const bool has_current = ::stat(path.c_str(), &current_st) == 0;
  const size_t slash = rotated.rfind('/');
  const std::string_view rotated_name = std::string_view(rotated).substr(slash + 1);
  // The copies are named after the followed path, or after its symlink's target.
  std::string name = path.substr(path.rfind('/') + 1);
  if (!RotatedCopyName(rotated_name, name)) {
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) == nullptr) return later;
    std::string_view target = resolved;
    name = std::string(target.substr(target.rfind('/') + 1));
    if (!RotatedCopyName(rotated_name, name)) return later;
  }
  // Whole-second file systems (ext3, some NFS) give copies rotated in the same second equal
  // times: those count as later.
  const bool whole_seconds = old_st.st_mtim.tv_nsec == 0;
  auto after_old = [&](const struct timespec& t) {
    if (t.tv_sec != old_st.st_mtim.tv_sec) return t.tv_sec > old_st.st_mtim.tv_sec;
    return whole_seconds ? t.tv_nsec == 0 : t.tv_nsec > old_st.st_mtim.tv_nsec;
  };
  auto same_file = [](const struct stat& a, const struct stat& b) {
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  };
  VisitSiblings(
      FolderOf(rotated, slash),
      [&](std::string_view candidate) { return RotatedCopyName(candidate, name); },
      [&](std::string full, const struct stat& st) {
        if (!same_file(st, old_st) && !(has_current && same_file(st, current_st)) &&
            after_old(st.st_mtim)) {
          later.push_back(std::move(full));
        }
        return false;
      });
  std::sort(later.begin(), later.end());
  return later;
}

// Beside the path, and beside the file it links to when it is a symbolic link (the target is
// what logrotate renames).
std::string RotatedSibling(const std::string& path, uint64_t dev, uint64_t ino) {
  std::string found = SiblingWithInode(path, dev, ino);
  if (!found.empty()) return found;
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) != nullptr && path != resolved) {
    return SiblingWithInode(resolved, dev, ino);
  }
  return {};
}

}  // namespace

class LogFollower::Impl {
 public:
  Impl(FollowerOptions options, EventSink* sink) : options_(std::move(options)), sink_(sink) {}
  ~Impl() {
    Stop();
    for (Tracked& t : files_) CloseFile(t);
  }

  Status Init();
  void Start();
  void Stop();
  void PollOnce();
  FollowerStats stats() const;

 private:
  struct Tracked {
    std::string path;
    int fd = -1;
    uint64_t dev = 0;
    uint64_t ino = 0;
    uint64_t read_pos = 0;  // bytes of the file consumed into `pending` or lines
    uint64_t line = 0;      // complete lines before `pending`
    std::string pending;    // bytes after the last newline
    bool skipping = false;  // inside a line over kMaxLineBytes: discard up to its newline
    std::optional<LineParser> parser;
    const CustomLogFormat* layout = nullptr;  // the declared layout, or null: recognised
    uint64_t parse_errors = 0;
    uint64_t format_changes = 0;
    ReadabilityWindow readability;
    bool warned_not_regular = false;
    // WindowCheck at check_at (a position already read), to tell a truncation that the file
    // then outgrew between two polls.
    std::optional<uint64_t> check;
    uint64_t check_at = 0;
  };

  // Returns true when the file was read to its end, false when the line budget ran out first.
  bool ReadAvailable(Tracked& t, size_t* budget);
  void ProcessChunk(Tracked& t, std::string_view chunk, size_t* budget);
  void HandleLine(Tracked& t, std::string_view line);
  // The file's declared layout, else the format its sample lines are in.
  static void ChooseParser(Tracked& t, std::span<const std::string_view> sample) {
    if (t.layout != nullptr) {
      t.parser.emplace(t.layout);
    } else {
      t.parser.emplace(DetectFormat(sample));
    }
  }
  void StepBack(Tracked& t, size_t line_bytes, size_t* budget);
  bool refused_ = false;  // HandleLine could not hand the line over (stopping, queue full)
  void SkipOversized(const Tracked& t, uint64_t line);
  // Counts a complete line in the file's readability window (readability.h), and reports the
  // window when that closed it.
  void Judge(Tracked& t, bool readable) {
    if (auto v =
            t.readability.Count(readable, t.line, poll_started_millis_, options_.readability)) {
      ReportWindow(t, *v);
    }
  }
  void ReportWindow(const Tracked& t, const ReadabilityVerdict& v);
  bool OpenFile(Tracked& t);
  // Points t at the file the path was rotated to while we were stopped, at the saved position.
  // False (t unchanged) when that file is not found beside the path or no longer matches.
  bool ResumeRotated(Tracked& t, const SavedPosition& p);
  void WarnRotatedUnread(const Tracked& t, const SavedPosition& p);
  // Takes up the open file t at the saved position p.
  void ResumeAt(Tracked& t, const SavedPosition& p);
  void CloseFile(Tracked& t);
  void ResetToStart(Tracked& t);
  void FinishFile(Tracked& t);
  // True when this poll ran out of budget on some file.
  bool PollFile(Tracked& t);
  void SavePositions(bool force);
  void Run();
  // Watches the folders of the followed paths, so that a write, a rotation or a new file wakes
  // the thread at once; the poll period stays as the fallback (a folder that does not exist
  // yet, a full inotify watch table, network file systems where inotify sees nothing).
  void WatchFolders();
  // Blocks until a watched folder changed, Stop() was called, or `timeout` passed.
  void WaitForChange(std::chrono::milliseconds timeout);
  void CloseWatch();

  FollowerOptions options_;
  EventSink* sink_;
  std::vector<Tracked> files_;
  Event event_;
  bool dirty_ = false;
  std::chrono::steady_clock::time_point last_save_{};
  // When the current PollFile began: the time a readability window opens at (one clock read
  // per poll, not per line).
  int64_t poll_started_millis_ = SteadyMillis();

  std::atomic<uint64_t> lines_{0}, events_{0}, parse_errors_{0}, oversized_{0}, binary_{0},
      rotations_{0}, truncations_{0}, backpressure_waits_{0}, unread_rotations_{0},
      forwarded_clients_{0}, forwarded_unnamed_{0}, unreadable_windows_{0};

  std::thread thread_;
  std::atomic<bool> stop_{false};
  int inotify_fd_ = -1;
  int wake_fd_ = -1;  // eventfd written by Stop()
};

Status CheckPositionsFile(const std::string& positions_file) {
  return LoadPositions(positions_file).status();
}

Status LogFollower::Impl::Init() {
  RAMPART_ASSIGN_OR_RETURN(auto saved, LoadPositions(options_.positions_file));
  for (const auto& path : options_.paths) {
    if (path.empty() || path[0] != '/') {
      return Status::InvalidArgument("followed log path '" + path + "' must be absolute");
    }
    Tracked t;
    t.path = path;
    if (auto layout = options_.layouts.find(path); layout != options_.layouts.end()) {
      t.layout = layout->second.get();
    }
    files_.push_back(std::move(t));
  }
  for (const auto& [path, layout] : options_.layouts) {
    if (layout == nullptr ||
        std::find(options_.paths.begin(), options_.paths.end(), path) == options_.paths.end()) {
      return Status::InvalidArgument("a layout is given for '" + path + "', which is not followed");
    }
  }
  for (Tracked& t : files_) {
    auto it = saved.find(t.path);
    if (!OpenFile(t)) {
      // Renamed away while we were stopped and not created again yet: the rest of the old file
      // is read where it now is. Otherwise followed from its start once it appears.
      if (it != saved.end() && !ResumeRotated(t, it->second)) WarnRotatedUnread(t, it->second);
      continue;
    }
    struct stat st;
    if (::fstat(t.fd, &st) != 0) continue;
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (it != saved.end() && it->second.dev == t.dev && it->second.ino == t.ino) {
      const SavedPosition& p = it->second;
      if (p.offset <= size && (!p.check || WindowCheck(t.fd, p.offset) == p.check)) {
        ResumeAt(t, p);
      } else {
        // Truncated while we were stopped, maybe written again past where we were, or a new
        // file on a reused inode: from the start.
        ++truncations_;
        log::Info("detect.follow_truncated", {{"file", t.path}, {"while", "stopped"}});
      }
    } else if (it != saved.end()) {
      // Rotated while we were stopped: the old file is no longer at this path. When it is still
      // beside it (access_log.1), its lines after the saved position are read first, and the
      // first poll moves on to the new file as after a live rotation.
      if (!ResumeRotated(t, it->second)) {
        ++rotations_;
        WarnRotatedUnread(t, it->second);
      }
    } else {
      // First sight of an existing file: from its end (the last complete line), counting its
      // lines so that line numbers in messages and evidence are true ones.
      char buf[kFollowReadChunk];
      uint64_t pos = 0, last_newline_end = 0, lines = 0;
      while (pos < size) {
        ssize_t n = ::pread(t.fd, buf, sizeof buf, static_cast<off_t>(pos));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; ++i) {
          if (buf[i] == '\n') {
            ++lines;
            last_newline_end = pos + static_cast<uint64_t>(i) + 1;
          }
        }
        pos += static_cast<uint64_t>(n);
      }
      t.read_pos = last_newline_end;
      t.line = lines;
    }
    dirty_ = true;
  }
  SavePositions(true);
  return Status::Ok();
}

void LogFollower::Impl::ResumeAt(Tracked& t, const SavedPosition& p) {
  t.read_pos = p.offset;
  t.line = p.line;
  t.skipping = p.skipping;
  t.check = p.check;
  t.check_at = p.offset;
}

void LogFollower::Impl::WarnRotatedUnread(const Tracked& t, const SavedPosition& p) {
  ++unread_rotations_;
  log::Warn("detect.follow_rotated_unread",
            {{"file", t.path},
             {"offset", static_cast<int64_t>(p.offset)},
             {"reason",
              "the file rotated away while stopped was not found beside it (or no longer "
              "matches); lines it may have got after this offset are not read"}});
}

bool LogFollower::Impl::ResumeRotated(Tracked& t, const SavedPosition& p) {
  // Without the check of the bytes before the position (positions from an older version), an
  // inode reused by another file could not be told apart: not resumed past the start.
  if (p.offset > 0 && !p.check) return false;
  const std::string sibling = RotatedSibling(t.path, p.dev, p.ino);
  if (sibling.empty()) return false;
  int fd = ::open(sibling.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_dev) != p.dev ||
      static_cast<uint64_t>(st.st_ino) != p.ino || static_cast<uint64_t>(st.st_size) < p.offset ||
      (p.check && WindowCheck(fd, p.offset) != p.check)) {
    ::close(fd);
    return false;
  }
  CloseFile(t);
  ResetToStart(t);
  t.fd = fd;
  t.dev = p.dev;
  t.ino = p.ino;
  ResumeAt(t, p);
  log::Info("detect.follow_resumed_rotated", {{"file", t.path}, {"rotated_to", sibling}});
  // Rotated more than once while stopped: the files in between are not read.
  if (std::vector<std::string> later = RotatedLater(t.path, sibling, st); !later.empty()) {
    ++unread_rotations_;
    std::string names;
    for (size_t i = 0; i < later.size() && i < 5; ++i) names += (i ? ", " : "") + later[i];
    if (later.size() > 5) names += ", ...";
    log::Warn("detect.follow_rotated_unread",
              {{"file", t.path},
               {"unread", names},
               {"reason",
                "rotated more than once while stopped: the rest of the old file and then the "
                "current one are read, not the files rotated in between (rampart scan reads "
                "them)"}});
  }
  return true;
}

bool LogFollower::Impl::OpenFile(Tracked& t) {
  // O_NONBLOCK: a FIFO at the path must not hang the follower; it is refused below anyway.
  int fd = ::open(t.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    if (!t.warned_not_regular) {
      log::Warn("detect.follow_not_regular_file", {{"file", t.path}});
      t.warned_not_regular = true;
    }
    return false;
  }
  t.fd = fd;
  t.dev = static_cast<uint64_t>(st.st_dev);
  t.ino = static_cast<uint64_t>(st.st_ino);
  ResetToStart(t);
  return true;
}

void LogFollower::Impl::CloseFile(Tracked& t) {
  if (t.fd >= 0) ::close(t.fd);
  t.fd = -1;
}

void LogFollower::Impl::ResetToStart(Tracked& t) {
  // The window ends with the bytes it counted, judged while the parser and the line numbers
  // are still theirs.
  if (auto v = t.readability.Finish(options_.readability)) ReportWindow(t, *v);
  t.read_pos = 0;
  t.check.reset();
  t.check_at = 0;
  t.line = 0;
  t.pending.clear();
  t.skipping = false;
  t.parser.reset();
  t.parse_errors = 0;
  t.format_changes = 0;
  dirty_ = true;
}

// The file will not grow any more (it was rotated away): its unterminated last line is a line.
void LogFollower::Impl::FinishFile(Tracked& t) {
  if (!t.pending.empty() && !t.skipping) {
    std::string last = std::move(t.pending);
    t.pending.clear();
    if (!t.parser) {
      std::string_view one[] = {last};
      ChooseParser(t, one);
    }
    HandleLine(t, last);
  }
  CloseFile(t);
}

bool LogFollower::Impl::ReadAvailable(Tracked& t, size_t* budget) {
  char buf[kFollowReadChunk];
  while (*budget > 0) {
    ssize_t n = ::pread(t.fd, buf, sizeof buf, static_cast<off_t>(t.read_pos));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    ProcessChunk(t, std::string_view(buf, static_cast<size_t>(n)), budget);
  }
  return false;
}

void LogFollower::Impl::ProcessChunk(Tracked& t, std::string_view chunk, size_t* budget) {
  if (!t.parser) {
    // The format is chosen from the first complete lines of the file.
    std::string head = t.pending;
    head.append(chunk);
    std::vector<std::string_view> sample;
    std::string_view rest = head;
    while (sample.size() < kFormatSampleLines) {
      size_t nl = rest.find('\n');
      if (nl == std::string_view::npos) break;
      std::string_view l = rest.substr(0, nl);
      if (l.size() <= kMaxLineBytes && !IsBinary(l)) sample.push_back(l);
      rest.remove_prefix(nl + 1);
    }
    if (!sample.empty()) ChooseParser(t, sample);
  }
  size_t start = 0;
  while (start < chunk.size()) {
    size_t nl = chunk.find('\n', start);
    if (nl == std::string_view::npos) {
      std::string_view tail = chunk.substr(start);
      t.read_pos += tail.size();
      dirty_ = true;
      if (t.skipping) return;
      if (t.pending.size() + tail.size() > kMaxLineBytes) {
        SkipOversized(t, t.line + 1);
        t.pending.clear();
        t.skipping = true;
        return;
      }
      t.pending.append(tail);
      return;
    }
    std::string_view piece = chunk.substr(start, nl - start);
    t.read_pos += piece.size() + 1;
    dirty_ = true;
    start = nl + 1;
    if (t.skipping) {
      t.skipping = false;
      ++t.line;
      ++lines_;
      Judge(t, false);
      continue;
    }
    if (!t.parser) {
      // The sample had only binary or oversized lines; decide on the next good one.
      std::string_view one[] = {piece};
      ChooseParser(t, one);
    }
    if (t.pending.empty()) {
      HandleLine(t, piece);
      if (refused_) return StepBack(t, piece.size() + 1, budget);
    } else if (t.pending.size() + piece.size() > kMaxLineBytes) {
      t.pending.clear();
      ++t.line;
      ++lines_;
      SkipOversized(t, t.line);
      Judge(t, false);
    } else {
      t.pending.append(piece);
      std::string line = std::move(t.pending);
      t.pending.clear();
      HandleLine(t, line);
      if (refused_) return StepBack(t, line.size() + 1, budget);
    }
    if (--*budget == 0) {
      // Stop at a line boundary: the rest of the chunk is read again next time.
      return;
    }
  }
}

// The line just handled was refused (stopping with a full queue): un-read it, and read no more.
void LogFollower::Impl::StepBack(Tracked& t, size_t line_bytes, size_t* budget) {
  refused_ = false;
  t.read_pos -= line_bytes;
  --t.line;
  --lines_;
  dirty_ = true;
  *budget = 0;
}

void LogFollower::Impl::SkipOversized(const Tracked& t, uint64_t line) {
  ++oversized_;
  log::Warn("detect.follow_line_too_long",
            {{"file", t.path}, {"line", line}, {"limit", static_cast<int64_t>(kMaxLineBytes)}});
}

void LogFollower::Impl::HandleLine(Tracked& t, std::string_view line) {
  refused_ = false;  // (one left by FinishFile's last line must not step back over this one)
  ++t.line;
  ++lines_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > kMaxLineBytes) {
    SkipOversized(t, t.line);
    Judge(t, false);
    return;
  }
  if (IsBinary(line)) {
    ++binary_;
    log::Warn("detect.follow_binary_line", {{"file", t.path}, {"line", t.line}});
    Judge(t, false);
    return;
  }
  if (line.find_first_not_of(" \t") == std::string_view::npos) return;
  bool parsed = t.parser->Parse(line, &event_);
  if (!parsed && t.layout == nullptr) {
    // The format came from the file's first lines, which may be a banner or a stray line
    // (a file being written often holds one line when first read): a line of another format
    // that parses as such moves the file to it, rather than leave the rest of it unread.
    // The access-log formats share one parser: only JSON against access log is a change.
    // A declared layout is not second-guessed.
    std::string_view one[] = {line};
    LogFormat other = DetectFormat(one);
    const bool json_now = t.parser->format() == LogFormat::kJsonLines;
    if ((other == LogFormat::kJsonLines) != json_now) {
      LineParser candidate(other);
      if (candidate.Parse(line, &event_)) {
        if (++t.format_changes <= kLoggedParseErrors) {
          log::Info("detect.follow_format_changed",
                    {{"file", t.path},
                     {"line", t.line},
                     {"from", LogFormatName(t.parser->format())},
                     {"to", LogFormatName(other)},
                     {"more_only_counted", t.format_changes == kLoggedParseErrors}});
        }
        t.parser.emplace(other);
        parsed = true;
      }
    }
  }
  if (!parsed) {
    ++parse_errors_;
    if (++t.parse_errors <= kLoggedParseErrors) {
      log::Warn("detect.follow_parse_error",
                {{"file", t.path},
                 {"line", t.line},
                 {"format", LogFormatName(t.parser->format())},
                 {"more_only_counted", t.parse_errors == kLoggedParseErrors}});
    }
    Judge(t, false);
    return;
  }
  switch (AttributeToForwardedClient(options_.log_proxies, &event_)) {
    case Attribution::kForwardedClient:
      ++forwarded_clients_;
      break;
    case Attribution::kNoClientNamed:
      ++forwarded_unnamed_;
      break;
    case Attribution::kNotFromProxy:
      break;
  }
  SecurityEvent se = ExternalSecurityEvent(event_);
  se.Set("log.file.path", t.path).Set("log.file.line", std::to_string(t.line));
  // The line stays on disk, so a full queue is waited out rather than the line dropped: a
  // burst in a followed log slows this thread, not detection.
  // While stopping, a line the queue cannot take is left unread: the saved position stays at
  // its start, and the next run reads it (ProcessChunk steps back over it).
  for (int waited_ms = 0; !sink_->TryEmit(se); waited_ms = std::min(waited_ms * 2 + 1, 50)) {
    if (stop_.load()) {
      refused_ = true;
      return;
    }
    if (waited_ms == 0) ++backpressure_waits_;
    std::this_thread::sleep_for(std::chrono::milliseconds(waited_ms + 1));
  }
  ++events_;
  Judge(t, true);
}

void LogFollower::Impl::ReportWindow(const Tracked& t, const ReadabilityVerdict& v) {
  const std::string_view format =
      t.parser ? LogFormatName(t.parser->format()) : std::string_view("unknown");
  if (v.changed) {
    // Once each way, not per window: the alert is what repeats.
    if (v.unreadable_window()) {
      log::Warn(
          "detect.follow_unreadable",
          {{"file", t.path}, {"format", format}, {"lines", v.lines}, {"unreadable", v.unreadable}});
    } else {
      log::Info("detect.follow_readable_again", {{"file", t.path}, {"format", format}});
    }
  }
  if (!v.unreadable_window()) return;
  ++unreadable_windows_;
  SecurityEvent ev = UnreadableLogEvent(v, format);
  ev.Set("file.path", t.path).Set("log.file.path", t.path);
  // Not waited for as lines are: a full queue counts the drop, and that raises its own alert.
  sink_->Emit(std::move(ev));
}

bool LogFollower::Impl::PollFile(Tracked& t) {
  poll_started_millis_ = SteadyMillis();
  size_t budget = options_.max_lines_per_poll == 0 ? 1 : options_.max_lines_per_poll;
  if (t.fd < 0) {
    if (!OpenFile(t)) return false;
    log::Info("detect.follow_opened", {{"file", t.path}});
  }
  struct stat path_st;
  bool exists = ::stat(t.path.c_str(), &path_st) == 0;
  struct stat fd_st;
  if (::fstat(t.fd, &fd_st) == 0 && (static_cast<uint64_t>(fd_st.st_size) < t.read_pos ||
                                     (t.check && WindowCheckDiffers(t.fd, t.check_at, *t.check)))) {
    // Shorter than what was read, or (copytruncate, then written past where we were before
    // this poll) other bytes where we had read.
    ++truncations_;
    log::Info("detect.follow_truncated", {{"file", t.path}});
    ResetToStart(t);
  }
  bool to_end = ReadAvailable(t, &budget);
  if (auto v = t.readability.Check(poll_started_millis_, options_.readability)) {
    ReportWindow(t, *v);
  }
  if (t.read_pos > 0) {
    t.check = WindowCheck(t.fd, t.read_pos);
    t.check_at = t.read_pos;
  }
  if (!to_end) return true;
  bool rotated = exists && (static_cast<uint64_t>(path_st.st_dev) != t.dev ||
                            static_cast<uint64_t>(path_st.st_ino) != t.ino);
  if (!rotated) return false;  // unchanged, or moved away with no successor yet: keep reading
  FinishFile(t);
  ++rotations_;
  log::Info("detect.follow_rotated", {{"file", t.path}});
  if (!OpenFile(t)) return false;
  return !ReadAvailable(t, &budget);
}

void LogFollower::Impl::PollOnce() {
  for (Tracked& t : files_) PollFile(t);
  SavePositions(true);
}

void LogFollower::Impl::SavePositions(bool force) {
  if (options_.positions_file.empty() || !dirty_) return;
  auto now = std::chrono::steady_clock::now();
  // At most once a second while lines flow: each save is an fsync.
  if (!force && now - last_save_ < std::chrono::seconds(1)) return;
  nlohmann::json files = nlohmann::json::object();
  for (const Tracked& t : files_) {
    if (t.dev == 0 && t.ino == 0) continue;
    const uint64_t offset = t.read_pos - (t.skipping ? 0 : t.pending.size());
    nlohmann::json entry = {{"dev", t.dev},
                            {"ino", t.ino},
                            {"offset", offset},
                            {"line", t.line},
                            {"skipping", t.skipping}};
    if (t.fd >= 0 && offset > 0) {
      if (auto check = WindowCheck(t.fd, offset)) entry["check"] = *check;
    }
    files[t.path] = std::move(entry);
  }
  nlohmann::json doc = {{"version", 1}, {"files", files}};
  Status s = files::WritePrivateFile(options_.positions_file, doc.dump());
  if (!s.ok()) {
    log::Warn("detect.follow_positions_not_saved", {{"error", s.message()}});
    return;
  }
  dirty_ = false;
  last_save_ = now;
}

void LogFollower::Impl::Run() {
  const auto period = std::chrono::milliseconds(std::max<int64_t>(options_.poll_millis, 1));
  for (;;) {
    bool more = false;
    for (Tracked& t : files_) more = PollFile(t) || more;
    SavePositions(false);
    if (stop_.load()) break;
    if (!more) WaitForChange(period);
    if (stop_.load()) break;
  }
  for (Tracked& t : files_) PollFile(t);
  SavePositions(true);
}

void LogFollower::Impl::WatchFolders() {
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) {
    log::Warn("detect.follow_inotify_unavailable", {{"error", std::strerror(errno)}});
    return;
  }
  constexpr uint32_t kMask = IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                             IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
  std::vector<std::string> folders;
  for (const auto& path : options_.paths) {
    std::string folder = path.substr(0, std::max<size_t>(path.rfind('/'), 1));
    if (std::find(folders.begin(), folders.end(), folder) != folders.end()) continue;
    folders.push_back(folder);
    if (::inotify_add_watch(inotify_fd_, folder.c_str(), kMask) < 0) {
      log::Warn("detect.follow_watch_failed",
                {{"folder", folder}, {"error", std::strerror(errno)}, {"fallback", "polling"}});
    }
  }
}

void LogFollower::Impl::WaitForChange(std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
  const nfds_t count = inotify_fd_ >= 0 ? 2 : 1;
  int n = ::poll(fds, count, static_cast<int>(timeout.count()));
  if (n <= 0 || count < 2 || (fds[1].revents & POLLIN) == 0) return;
  // Which file changed does not matter: every followed file is looked at (an fstat each), so
  // the events are only drained. Watched folders that vanish are not re-watched; the periodic
  // poll covers them.
  alignas(inotify_event) char buf[16 * 1024];
  while (::read(inotify_fd_, buf, sizeof buf) > 0) {
  }
}

void LogFollower::Impl::CloseWatch() {
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  inotify_fd_ = wake_fd_ = -1;
}

void LogFollower::Impl::Start() {
  if (thread_.joinable()) return;
  stop_.store(false);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    // Without a wake-up descriptor Stop() still works: the thread sees stop_ within a period.
    log::Warn("detect.follow_eventfd_failed", {{"error", std::strerror(errno)}});
  }
  WatchFolders();
  thread_ = std::thread([this] { Run(); });
}

void LogFollower::Impl::Stop() {
  if (!thread_.joinable()) {
    SavePositions(true);
    return;
  }
  stop_.store(true);
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }
  thread_.join();
  CloseWatch();
}

FollowerStats LogFollower::Impl::stats() const {
  FollowerStats s;
  s.lines = lines_.load();
  s.events = events_.load();
  s.parse_errors = parse_errors_.load();
  s.unreadable_windows = unreadable_windows_.load();
  s.oversized = oversized_.load();
  s.binary = binary_.load();
  s.rotations = rotations_.load();
  s.truncations = truncations_.load();
  s.backpressure_waits = backpressure_waits_.load();
  s.unread_rotations = unread_rotations_.load();
  s.forwarded_clients = forwarded_clients_.load();
  s.forwarded_unnamed = forwarded_unnamed_.load();
  return s;
}

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<LogFollower>> LogFollower::Create(FollowerOptions options, EventSink* sink) {
  auto impl = std::make_unique<Impl>(std::move(options), sink);
  RAMPART_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<LogFollower>(new LogFollower(std::move(impl)));
}

LogFollower::LogFollower(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LogFollower::~LogFollower() = default;

void LogFollower::Start() {
  impl_->Start();
}
void LogFollower::Stop() {
  impl_->Stop();
}
void LogFollower::PollOnce() {
  impl_->PollOnce();
}
FollowerStats LogFollower::stats() const {
  return impl_->stats();
}

}  // namespace rampart::detect
