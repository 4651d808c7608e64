// File integrity monitoring of the install and web-root folders: a hashed baseline (SHA-256,
// size, permission bits of every regular file under the configured roots) kept in
// DATA/detect/integrity_baseline.json, an inotify watcher over every directory of the roots, and
// a periodic full rescan as a safety net (and at once when the kernel's event queue overflowed).
// Every difference from the baseline becomes a SecurityEvent for the live engine, where the
// bundled rules turn a new `.jsp` (the `/mifs/403.jsp` webshell) or a staged `.csv` into alerts.
//
//   FileIntegrityOptions opt;
//   opt.roots = {"/opt/rampart", "/srv/www"};
//   opt.baseline_file = BaselinePath(data_dir);
//   auto mon = FileIntegrityMonitor::Create(opt, engine);  // loads, or creates on first start
//   (*mon)->Start();                                        // watcher thread
//   ...
//   (*mon)->Stop();
//
// Events: `event.action` file.created | file.modified | file.deleted | file.permissions_changed,
// with `file.path`, `file.extension`, `file.hash.sha256`, `file.size`, `file.mode`,
// `file.in_baseline` (and `file.previous.sha256` / `file.previous.mode` for changes). A file is
// reported when what is on disk changes from what was last seen and differs from its baseline
// entry; a file brought back to exactly its baseline state is logged, not reported. A created
// file is reported once its writer closed it (or after `settle_millis` without an event), so a
// drop is one event, not "created empty" then "modified".
//
// The baseline is never replaced silently: it is created when the file does not exist, and
// re-created only by `rampart integrity baseline` (RunIntegrityBaselineCommand), which a running
// monitor notices and reloads. A configured root the baseline does not cover yet is added to it
// at start (logged), as on a first start.
//
// Thread safety: Create, Start, Stop and the destructor from one controlling thread; Flush from
// any thread while started; Rescan only when not started.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/event_sink.h"
#include "common/file_tree.h"
#include "common/status.h"

namespace rampart::detect {

struct IntegrityBaseline {
  int64_t created = 0;  // Unix seconds
  std::vector<std::string> roots;
  files::FileStates files;
  // Symbolic links are in `files` ("links": true in the file). Baselines written before links
  // were recorded have none: their links are taken in once at start, not reported as new.
  bool links_recorded = true;
};

// The baseline file's text (JSON); parsing is pure, so that it can be tested and fuzzed.
std::string SerializeBaseline(const IntegrityBaseline& baseline);
// InvalidArgument for anything but a well-formed baseline (see files::FileStatesFromJson).
Result<IntegrityBaseline> ParseBaseline(std::string_view text);

std::string IntegrityDir(const std::string& data_dir);  // DATA/detect (0700)
std::string BaselinePath(const std::string& data_dir);  // DATA/detect/integrity_baseline.json
// Reads and parses a baseline file as the monitor does at start (NotFound when there is none).
Result<IntegrityBaseline> LoadBaselineFile(const std::string& path);

// Scans the roots and writes a new baseline file (0600, atomically replaced). Returns it.
Result<IntegrityBaseline> CreateBaseline(const std::vector<std::string>& roots,
                                         const std::vector<std::string>& exclude,
                                         const std::string& baseline_file, int64_t now_seconds);

struct FileIntegrityOptions {
  std::vector<std::string> roots;    // directories (or files) to watch
  std::vector<std::string> exclude;  // absolute prefixes never watched (the data directory)
  std::string baseline_file;
  int64_t rescan_millis = 3600 * 1000;   // full rescan period
  int64_t settle_millis = 500;           // a created file not yet closed is reported after this
  int64_t baseline_check_millis = 2000;  // how often the baseline file is checked for a reload
};

struct FileIntegrityStats {
  uint64_t events = 0;        // SecurityEvents emitted
  uint64_t rescans = 0;       // full rescans (start, periodic, overflow)
  uint64_t overflows = 0;     // inotify queue overflows
  uint64_t read_errors = 0;   // files that could not be hashed
  uint64_t watched_dirs = 0;  // directories under watch now
  uint64_t baseline_files = 0;
};

class FileIntegrityMonitor {
 public:
  // Loads the baseline file (creating it from a scan when it does not exist). InvalidArgument
  // when no root is configured or the baseline file is unreadable or corrupt (it is not
  // replaced: the operator re-creates it). `sink` must outlive the monitor.
  static Result<std::unique_ptr<FileIntegrityMonitor>> Create(FileIntegrityOptions options,
                                                              EventSink* sink);
  ~FileIntegrityMonitor();
  FileIntegrityMonitor(const FileIntegrityMonitor&) = delete;
  FileIntegrityMonitor& operator=(const FileIntegrityMonitor&) = delete;

  // Sets the watches and starts the thread, whose first act is a full rescan against the
  // baseline (so that what changed while Rampart was stopped is reported). Internal when inotify
  // is unavailable.
  Status Start();
  // Joins the thread. Idempotent.
  void Stop();
  // Blocks until every change made before the call has been examined and its event emitted
  // (pending creations included). Only while started.
  void Flush();
  // Without a thread: one full rescan on the calling thread. Returns the events emitted.
  size_t Rescan();

  FileIntegrityStats stats() const;
  // Prometheus text of stats() (rampart_integrity_*) for /metrics; thread-safe.
  std::string RenderMetrics() const;

 private:
  class Impl;
  explicit FileIntegrityMonitor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `rampart integrity baseline --data DATA [--config FILE]`: re-creates the baseline of
// `detection.integrity_paths`, printing each difference it accepts from the previous one.
// Exit 0 on success, 1 when the baseline cannot be written, 2 for an unusable configuration.
int RunIntegrityBaselineCommand(const std::string& data_dir, const std::string& config_file);

}  // namespace rampart::detect
