// Reloads the rules and the IoC feeds when their files change, without a signal: a feed
// downloader that renames its new file over the old, or an analyst who saves a Sigma rule into
// a rule directory, is matched against within seconds of it.
//
//   ReloadWatchOptions opt;
//   opt.rule_dirs = engine_options.rule_dirs;
//   opt.ioc_files = engine_options.ioc_files;
//   auto watcher = ReloadWatcher::Create(opt);   // the first look, before the engine loads
//   ... LiveEngine::Create ...
//   (*watcher)->Start([&](ReloadNeeded what) { ... engine->ReloadRules() / ReloadIocs() ... });
//   ...
//   (*watcher)->Stop();
//
// What is compared is a stamp of every rule file (`*.yml` / `*.yaml` under the rule
// directories, as the rule loader walks them, and any file named as a rule path on its own) and
// of every feed file: path, device, inode, size, modification and change times. inotify on
// their directories wakes the watcher for an event about one of those files, a directory of the
// rule trees or a configured path (not for the other files of a feed's directory); a look every
// `poll_millis` catches what inotify cannot see (a network file system, a feed reached through
// a symbolic link, no inotify instance left). A change is acted on only once the files have
// stood still for `settle_millis`, so a file written in several steps is normally reloaded
// once, whole. One still half written when the watcher acts (a writer that paused longer than
// that) is read as it is: a broken feed keeps the indicators it would replace, a feed cut at a
// line end gives fewer for a while, a broken rule is skipped for a while; the write's end
// triggers the next reload. Files renamed into place are never seen half written.
//
// Thread safety: Create, Start, Stop and the destructor from one controlling thread. The
// callback runs on the watcher's own thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace rampart::detect {

struct ReloadWatchOptions {
  std::vector<std::string> rule_dirs;  // directories, or rule files named on their own
  std::vector<std::string> ioc_files;
  uint32_t settle_millis = 1000;
  uint32_t poll_millis = 5000;
};

// Which of the two sets changed since the last reload the watcher asked for.
struct ReloadNeeded {
  bool rules = false;
  bool iocs = false;
  bool operator==(const ReloadNeeded&) const = default;
};

// One file as the watcher last saw it. A missing file has exists = false (a feed that is
// not there yet, or was removed).
struct WatchedFile {
  std::string path;
  bool exists = false;
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  bool operator==(const WatchedFile&) const = default;
};

struct WatchedFiles {
  std::vector<WatchedFile> rules;  // sorted by path
  std::vector<WatchedFile> iocs;   // in the order of the options
  bool operator==(const WatchedFiles&) const = default;
};

// Stamps every rule file and feed file the options name. A rule directory that cannot be read
// contributes nothing, which is a change when it held rules before.
WatchedFiles LookAtWatchedFiles(const ReloadWatchOptions& options);

// Decides when a change is acted on; pure, so the timing rules are tested without threads or
// sleeps. Times are milliseconds on any monotonic clock.
class ChangeSettler {
 public:
  ChangeSettler(WatchedFiles acted_on, int64_t settle_millis);
  // A new look taken at `now`. Returns what to reload when the files differ from those last
  // acted on and have not changed for settle_millis; the settler then takes them as acted on.
  std::optional<ReloadNeeded> Observe(WatchedFiles look, int64_t now);
  // When the next look is due for a change waiting to settle; nullopt when none waits.
  std::optional<int64_t> settles_at() const;

 private:
  WatchedFiles acted_on_;
  WatchedFiles last_;
  int64_t last_change_ = 0;
  int64_t settle_millis_;
};

class ReloadWatcher {
 public:
  using Callback = std::function<void(ReloadNeeded)>;
  // Takes the first look, which later changes are measured from: create the watcher before the
  // engine reads the files, so that a change made while it loads is not missed. Without inotify
  // (none left for this user) it logs so and relies on the periodic look.
  static Result<std::unique_ptr<ReloadWatcher>> Create(ReloadWatchOptions options);
  ~ReloadWatcher();
  ReloadWatcher(const ReloadWatcher&) = delete;
  ReloadWatcher& operator=(const ReloadWatcher&) = delete;

  void Start(Callback on_change);
  void Stop();  // returns once a callback under way has returned
  // How many times the files were looked at, the first look included (for tests).
  uint64_t looks() const;

 private:
  struct Impl;
  explicit ReloadWatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::detect
