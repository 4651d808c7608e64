// Follows log files like `tail -F` and hands each line, parsed, to the live engine.
//
//   FollowerOptions opt;
//   opt.paths = {"/var/log/ivanti/access_log"};
//   opt.positions_file = DATA + "/detect/positions.json";
//   auto follower = LogFollower::Create(opt, engine);  // engine: an EventSink
//   (*follower)->Start();   // its own thread, woken by inotify, polling as the fallback
//   ...
//   (*follower)->Stop();                                // reads what is there, saves positions
//
// Per path it handles:
// - rotation (the path now names another inode): the old file is read to its end, its last
//   unterminated line taken as a line, then the new file is read from its start;
// - rotation while the follower was stopped: the old file is looked for beside the path and
//   beside a symbolic link's target (a regular, uncompressed file whose name starts with the
//   path's name, with the saved inode and the saved bytes before the position, such as
//   access_log.1) and read from the saved position to its end first; when it is not there
//   (compressed, moved to another folder, deleted) that is logged
//   (detect.follow_rotated_unread) and only the new file is read;
// - truncation (the file is shorter than what was read): reading restarts at 0;
// - files that do not exist yet: followed from their start once they appear;
// - a last line without its newline: kept until the newline arrives;
// - lines over kMaxLineBytes and binary lines (NUL or mostly control bytes): counted, skipped and
//   logged with file and line number; never fatal.
// Positions (device, inode, offset and line of the first unread byte) are saved atomically in
// positions_file, so a restart resumes where the last run stopped (lines read in the last poll
// period before a crash may be read again). A path seen for the first time that already exists
// is followed from its end, as tail -F does, so that configuring a large old log does not flood
// the engine; `rampart scan` is the tool for history.
// Each file's format is detected from its first lines (log_parser.h DetectFormat); a later line
// that fails it but parses in the format it looks like moves the file to that format (a
// banner first must not blind the rest). A file given a layout of its own
// (FollowerOptions::layouts) is read in that layout only. Events carry
// the parsed fields plus `log.file.path` and `log.file.line`. A file whose lines mostly cannot be
// read (its format changed, its declared layout is wrong) emits detection.log_unreadable.
// Thread safety: Start/Stop/PollOnce from one controlling thread; stats() from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/event_sink.h"
#include "common/forwarded.h"
#include "common/status.h"
#include "detect/readability.h"

namespace rampart::detect {

class CustomLogFormat;

struct FollowerOptions {
  std::vector<std::string> paths;
  std::string positions_file;  // empty: positions are not remembered
  int64_t poll_millis = 250;
  // Lines taken from one file per poll, so one busy file cannot starve the others and a burst
  // is paced instead of overflowing the engine's queue.
  size_t max_lines_per_poll = 20000;
  // Reverse proxies in front of the servers that write the files: their lines are attributed
  // to the forwarded client (AttributeToForwardedClient, detect/log_parser.h).
  ProxyTrust log_proxies;
  // Paths (each one of `paths`) whose lines are in a declared layout (custom_log_format.h).
  std::map<std::string, std::shared_ptr<const CustomLogFormat>> layouts;
  // Each file's lines are judged in windows (readability.h): a window where half or more of
  // the lines could not be read emits detection.log_unreadable with `file.path` set to the path.
  ReadabilityOptions readability;
};

struct FollowerStats {
  uint64_t lines = 0;         // complete lines read
  uint64_t events = 0;        // lines parsed and emitted
  uint64_t parse_errors = 0;  // lines that are not in the file's format
  uint64_t oversized = 0;     // lines over kMaxLineBytes, skipped
  uint64_t binary = 0;        // binary lines, skipped
  uint64_t rotations = 0;
  uint64_t truncations = 0;
  uint64_t backpressure_waits = 0;  // lines that waited for room in the engine's queue
  // Followed files whose lines may be missing after a restart: the file rotated away while
  // stopped was not found, or other files were rotated after it (detect.follow_rotated_unread).
  uint64_t unread_rotations = 0;
  // Lines from a proxy in log_proxies: attributed to the client it named, or naming none.
  uint64_t forwarded_clients = 0;
  uint64_t forwarded_unnamed = 0;
  // Windows of a file's lines where half or more could not be read (detection.log_unreadable).
  uint64_t unreadable_windows = 0;
};

// Whether `positions_file` is one a follower can take up (absent is fine): what Create would
// refuse, read without following anything (`rampart config check --data`).
Status CheckPositionsFile(const std::string& positions_file);

class LogFollower {
 public:
  // Loads saved positions and looks at every path once (files present now and never seen
  // before are followed from their end). InvalidArgument when positions_file exists but is not
  // a positions file, or a path is empty or relative. `sink` must outlive the follower.
  static Result<std::unique_ptr<LogFollower>> Create(FollowerOptions options, EventSink* sink);
  ~LogFollower();
  LogFollower(const LogFollower&) = delete;
  LogFollower& operator=(const LogFollower&) = delete;

  // Starts the polling thread. Stop() runs one last poll, saves positions and joins. Idempotent.
  void Start();
  void Stop();
  // One pass over every path on the calling thread (tests drive the follower with it); saves
  // positions when they changed.
  void PollOnce();

  FollowerStats stats() const;

 private:
  class Impl;
  explicit LogFollower(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::detect
