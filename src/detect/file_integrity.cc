#include "detect/file_integrity.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unordered_map>

#include "common/clock.h"
#include "common/config.h"
#include "common/files.h"
#include "common/json_util.h"
#include "common/log.h"

namespace rampart::detect {
namespace {

constexpr std::string_view kBaselineFormat = "rampart-integrity-baseline";
constexpr size_t kMaxBaselineEntries = 10'000'000;
constexpr size_t kMaxBaselineBytes = size_t{2} << 30;

constexpr uint32_t kWatchMask = IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
                                IN_DELETE | IN_ATTRIB | IN_DONT_FOLLOW | IN_ONLYDIR;

std::string ExtensionOf(std::string_view path) {
  auto slash = path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return "";
  std::string ext(name.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  });
  return ext;
}

// Roots as they are compared and stored: absolute, normal, without duplicates.
std::vector<std::string> NormalRoots(const std::vector<std::string>& roots) {
  std::vector<std::string> out;
  for (const auto& r : roots) {
    std::string a = files::AbsolutePath(r);
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  return out;
}

struct FileStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  int64_t mtime_ns = 0;
  off_t size = -1;
  bool operator==(const FileStamp&) const = default;
};

FileStamp StampOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {st.st_dev, st.st_ino, st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec,
          st.st_size};
}

}  // namespace

Result<IntegrityBaseline> LoadBaselineFile(const std::string& path) {
  auto text = files::ReadWholeFile(path, kMaxBaselineBytes);
  if (!text.ok()) return text.status();
  auto b = ParseBaseline(*text);
  if (!b.ok()) return Status::InvalidArgument(path + ": " + b.status().message());
  return b;
}

std::string SerializeBaseline(const IntegrityBaseline& baseline) {
  nlohmann::json doc =
      files::FileListToJson(kBaselineFormat, {baseline.created, baseline.roots, baseline.files});
  if (baseline.links_recorded) doc["links"] = true;
  return doc.dump(1) + "\n";
}

Result<IntegrityBaseline> ParseBaseline(std::string_view text) {
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded()) return Status::InvalidArgument("baseline is not JSON");
  auto parsed = files::FileListFromJson(doc, kBaselineFormat, {"links"}, kMaxBaselineEntries,
                                        /*allow_links=*/true);
  if (!parsed.ok()) return Status::InvalidArgument("baseline: " + parsed.status().message());
  bool links = doc.contains("links");
  if (links && !doc["links"].is_boolean()) {
    return Status::InvalidArgument("baseline: 'links' must be true or false");
  }
  return IntegrityBaseline{parsed->created, std::move(parsed->roots), std::move(parsed->entries),
                           links && doc["links"].get<bool>()};
}

std::string IntegrityDir(const std::string& data_dir) {
  return data_dir + "/detect";
}
std::string BaselinePath(const std::string& data_dir) {
  return IntegrityDir(data_dir) + "/integrity_baseline.json";
}

Result<IntegrityBaseline> CreateBaseline(const std::vector<std::string>& roots,
                                         const std::vector<std::string>& exclude,
                                         const std::string& baseline_file, int64_t now_seconds) {
  IntegrityBaseline b;
  b.created = now_seconds;
  b.roots = NormalRoots(roots);
  files::TreeScan scan = files::ScanTrees(b.roots, exclude, /*with_links=*/true);
  for (const auto& e : scan.errors) log::Warn("integrity.read_error", {{"error", e}});
  b.files = std::move(scan.files);
  std::string dir = std::filesystem::path(baseline_file).parent_path().string();
  if (!dir.empty()) RAMPART_RETURN_IF_ERROR(files::EnsurePrivateDirectory(dir));
  RAMPART_RETURN_IF_ERROR(files::WritePrivateFile(baseline_file, SerializeBaseline(b)));
  return b;
}

class FileIntegrityMonitor::Impl {
 public:
  Impl(FileIntegrityOptions options, EventSink* sink, IntegrityBaseline baseline)
      : options_(std::move(options)), sink_(sink), baseline_(std::move(baseline)) {
    // What was last seen starts as the baseline: the first rescan reports every difference.
    seen_ = baseline_.files;
    baseline_stamp_ = StampOf(options_.baseline_file);
  }
  ~Impl() { Stop(); }

  Status Start();
  void Stop();
  void Flush();
  size_t Rescan();
  FileIntegrityStats stats() const {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return stats_;
  }

 private:
  void Run();
  void DrainInotify(int64_t now);
  void HandleEvent(const inotify_event& ev, int64_t now);
  void ProcessReady(int64_t now, bool force);
  void AddWatchTree(const std::string& dir, int depth);
  void RemoveWatchesUnder(const std::string& dir);
  void ResetWatches();
  void ObservePath(const std::string& path);
  void Observe(const std::string& path, const std::optional<files::FileState>& now);
  void MaybeReloadBaseline();
  bool Excluded(const std::string& path) const;
  void Bump(uint64_t FileIntegrityStats::*field, uint64_t n = 1) {
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.*field += n;
  }

  FileIntegrityOptions options_;
  EventSink* sink_;

  // Watcher-thread state (or the caller's, for Rescan without a thread).
  IntegrityBaseline baseline_;
  FileStamp baseline_stamp_;
  files::FileStates seen_;
  int inotify_fd_ = -1;
  int wake_fd_ = -1;
  std::unordered_map<int, std::string> wd_path_;
  std::map<std::string, int> path_wd_;
  std::set<std::string> ready_;             // examine at the end of this batch
  std::map<std::string, int64_t> pending_;  // created, not yet closed: examine at deadline
  size_t emitted_in_call_ = 0;

  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex flush_mu_;
  std::condition_variable flush_cv_;
  uint64_t flush_requested_ = 0;
  uint64_t flush_done_ = 0;

  mutable std::mutex stats_mu_;
  FileIntegrityStats stats_;
};

bool FileIntegrityMonitor::Impl::Excluded(const std::string& path) const {
  for (const auto& ex : options_.exclude) {
    if (files::IsUnder(path, ex)) return true;
  }
  return false;
}

void FileIntegrityMonitor::Impl::Observe(const std::string& path,
                                         const std::optional<files::FileState>& now) {
  auto seen_it = seen_.find(path);
  std::optional<files::FileState> prev;
  if (seen_it != seen_.end()) prev = seen_it->second;
  if (prev == now) return;
  if (now) {
    seen_[path] = *now;
  } else {
    seen_.erase(path);
  }
  auto base_it = baseline_.files.find(path);
  const bool in_baseline = base_it != baseline_.files.end();
  if (in_baseline && now && *now == base_it->second) {
    log::Info("integrity.restored", {{"path", path}});
    return;
  }
  const char* action = "file.permissions_changed";
  if (!prev) {
    action = "file.created";
  } else if (!now) {
    action = "file.deleted";
  } else if (prev->sha256 != now->sha256 || prev->size != now->size) {
    action = "file.modified";
  }
  const files::FileState& shown = now ? *now : *prev;
  SecurityEvent ev(action);
  ev.Set("file.path", path)
      .Set("file.extension", ExtensionOf(path))
      .Set("file.mode", files::ModeText(shown.mode))
      .Set("file.in_baseline", in_baseline ? "true" : "false");
  if (shown.is_link()) {
    // A link into the web root serves its target (Apache's FollowSymLinks): what it points
    // to is the news, and there is no content of its own to hash.
    ev.Set("file.type", "symlink").Set("file.target_path", shown.link_target);
  } else {
    ev.Set("file.type", "file")
        .Set("file.hash.sha256", shown.sha256)
        .Set("file.size", std::to_string(shown.size));
  }
  if (prev && now && !prev->is_link()) {
    ev.Set("file.previous.sha256", prev->sha256)
        .Set("file.previous.mode", files::ModeText(prev->mode));
  } else if (prev && now) {
    ev.Set("file.previous.target_path", prev->link_target);
  }
  // Feeds often name a webshell by MD5 or SHA-1 alone: new content is read once more for them
  // (only when it is reported, so the baseline stays SHA-256 only). Content that changed
  // between the two reads gets no legacy digests here, which would describe other bytes than
  // the event's SHA-256; they come when that change is observed (the writer's close, or a
  // rescan).
  if (now && !now->is_link() && (!prev || prev->sha256 != now->sha256)) {
    if (auto legacy = files::LegacyFileDigests(path);
        legacy.ok() && legacy->sha256 == now->sha256 && legacy->size == now->size) {
      ev.Set("file.hash.md5", legacy->md5).Set("file.hash.sha1", legacy->sha1);
    }
  }
  log::Warn("integrity.change", {{"action", action}, {"path", path}});
  sink_->Emit(std::move(ev));
  ++emitted_in_call_;
  Bump(&FileIntegrityStats::events);
}

void FileIntegrityMonitor::Impl::ObservePath(const std::string& path) {
  if (Excluded(path)) return;
  auto h = files::StateOfPath(path);
  if (h.ok()) {
    Observe(path, *h);
  } else if (h.status().code() == Code::kNotFound) {
    Observe(path, std::nullopt);
  } else {
    Bump(&FileIntegrityStats::read_errors);
    log::Warn("integrity.read_error", {{"path", path}, {"error", h.status().message()}});
  }
}

size_t FileIntegrityMonitor::Impl::Rescan() {
  emitted_in_call_ = 0;
  MaybeReloadBaseline();
  files::TreeScan scan = files::ScanTrees(options_.roots, options_.exclude, /*with_links=*/true);
  Bump(&FileIntegrityStats::read_errors, scan.errors.size());
  for (const auto& e : scan.errors) log::Warn("integrity.read_error", {{"error", e}});
  // Whatever was seen under a root and is gone now was deleted.
  std::vector<std::string> gone;
  for (const auto& [path, st] : seen_) {
    if (scan.files.count(path)) continue;
    for (const auto& root : options_.roots) {
      if (files::IsUnder(path, root)) {
        gone.push_back(path);
        break;
      }
    }
  }
  for (const auto& path : gone) ObservePath(path);  // re-checked: a read error is not a delete
  for (const auto& [path, st] : scan.files) Observe(path, st);
  pending_.clear();
  ready_.clear();
  Bump(&FileIntegrityStats::rescans);
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.baseline_files = baseline_.files.size();
  }
  return emitted_in_call_;
}

void FileIntegrityMonitor::Impl::MaybeReloadBaseline() {
  FileStamp stamp = StampOf(options_.baseline_file);
  if (stamp == baseline_stamp_) return;
  baseline_stamp_ = stamp;
  auto b = LoadBaselineFile(options_.baseline_file);
  if (!b.ok()) {
    log::Error("integrity.baseline_unreadable",
               {{"file", options_.baseline_file}, {"error", b.status().message()}});
    return;
  }
  baseline_ = std::move(b).value();
  log::Info("integrity.baseline_reloaded",
            {{"files", static_cast<int64_t>(baseline_.files.size())}});
}

void FileIntegrityMonitor::Impl::AddWatchTree(const std::string& dir, int depth) {
  if (Excluded(dir) || depth > 64) return;
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return;
  int wd = ::inotify_add_watch(inotify_fd_, dir.c_str(), kWatchMask);
  if (wd < 0) {
    // ENOSPC: fs.inotify.max_user_watches is reached; the periodic rescan still covers it.
    log::Error("integrity.watch_failed", {{"path", dir}, {"error", std::strerror(errno)}});
    return;
  }
  if (auto old = path_wd_.find(dir); old != path_wd_.end() && old->second != wd) {
    wd_path_.erase(old->second);
  }
  wd_path_[wd] = dir;
  path_wd_[dir] = wd;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) AddWatchTree(it->path().string(), depth + 1);
  }
}

void FileIntegrityMonitor::Impl::RemoveWatchesUnder(const std::string& dir) {
  for (auto it = path_wd_.begin(); it != path_wd_.end();) {
    if (files::IsUnder(it->first, dir)) {
      ::inotify_rm_watch(inotify_fd_, it->second);
      wd_path_.erase(it->second);
      it = path_wd_.erase(it);
    } else {
      ++it;
    }
  }
}

void FileIntegrityMonitor::Impl::ResetWatches() {
  for (const auto& [wd, path] : wd_path_) ::inotify_rm_watch(inotify_fd_, wd);
  wd_path_.clear();
  path_wd_.clear();
  for (const auto& root : options_.roots) AddWatchTree(root, 0);
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_.watched_dirs = wd_path_.size();
}

void FileIntegrityMonitor::Impl::HandleEvent(const inotify_event& ev, int64_t now) {
  if (ev.mask & IN_Q_OVERFLOW) {
    Bump(&FileIntegrityStats::overflows);
    log::Warn("integrity.queue_overflow");
    ResetWatches();
    Rescan();
    return;
  }
  auto dir_it = wd_path_.find(ev.wd);
  if (ev.mask & IN_IGNORED) {
    if (dir_it != wd_path_.end()) {
      path_wd_.erase(dir_it->second);
      wd_path_.erase(dir_it);
    }
    return;
  }
  if (dir_it == wd_path_.end() || ev.len == 0 || ev.name[0] == '\0') return;
  const std::string path = dir_it->second + "/" + ev.name;
  if (Excluded(path)) return;
  if (ev.mask & IN_ISDIR) {
    if (ev.mask & (IN_CREATE | IN_MOVED_TO)) {
      AddWatchTree(path, 0);
      // Files written before the watch existed are only found by looking. In a directory just
      // made they may still be open for writing: they wait like any created file (a close
      // examines them at once); a directory moved in brings finished files.
      for (const auto& [p, st] :
           files::ScanTrees({path}, options_.exclude, /*with_links=*/true).files) {
        if (ev.mask & IN_CREATE) {
          pending_.emplace(p, now + options_.settle_millis);
        } else {
          Observe(p, st);
        }
      }
    } else if (ev.mask & (IN_DELETE | IN_MOVED_FROM)) {
      RemoveWatchesUnder(path);
      std::vector<std::string> under;
      for (auto it = seen_.lower_bound(path); it != seen_.end(); ++it) {
        if (files::IsUnder(it->first, path)) {
          under.push_back(it->first);
        } else if (it->first.compare(0, path.size(), path) != 0) {
          break;
        }
      }
      for (const auto& p : under) ObservePath(p);
    }
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.watched_dirs = wd_path_.size();
    return;
  }
  if (ev.mask & IN_CREATE) {
    pending_[path] = now + options_.settle_millis;
  } else if ((ev.mask & IN_ATTRIB) && pending_.count(path)) {
    // Still being written (cp -p sets the mode before closing): wait for the close.
  } else if (ev.mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_ATTRIB | IN_DELETE | IN_MOVED_FROM)) {
    pending_.erase(path);
    ready_.insert(path);
  }
}

void FileIntegrityMonitor::Impl::DrainInotify(int64_t now) {
  alignas(inotify_event) char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      HandleEvent(*ev, now);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
    }
  }
}

void FileIntegrityMonitor::Impl::ProcessReady(int64_t now, bool force) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (force || it->second <= now) {
      ready_.insert(it->first);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  std::set<std::string> batch;
  batch.swap(ready_);
  for (const auto& path : batch) ObservePath(path);
}

Status FileIntegrityMonitor::Impl::Start() {
  if (thread_.joinable()) return Status::Ok();
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) {
    return Status::Internal(std::string("inotify unavailable: ") + std::strerror(errno));
  }
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    ::close(inotify_fd_);
    inotify_fd_ = -1;
    return Status::Internal(std::string("eventfd: ") + std::strerror(errno));
  }
  // Watches before the first scan: nothing changed in between goes unseen.
  ResetWatches();
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void FileIntegrityMonitor::Impl::Stop() {
  if (thread_.joinable()) {
    stop_ = true;
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  inotify_fd_ = wake_fd_ = -1;
  // Wake any Flush caller left waiting.
  std::lock_guard<std::mutex> lock(flush_mu_);
  flush_done_ = flush_requested_;
  flush_cv_.notify_all();
}

void FileIntegrityMonitor::Impl::Flush() {
  std::unique_lock<std::mutex> lock(flush_mu_);
  if (!thread_.joinable() || stop_) return;
  uint64_t ticket = ++flush_requested_;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  flush_cv_.wait(lock, [&] { return flush_done_ >= ticket || stop_; });
}

void FileIntegrityMonitor::Impl::Run() {
  Rescan();
  int64_t next_rescan = SteadyMillis() + options_.rescan_millis;
  int64_t next_baseline_check = SteadyMillis() + options_.baseline_check_millis;
  while (!stop_) {
    int64_t now = SteadyMillis();
    int64_t wake = std::min(next_rescan, next_baseline_check);
    for (const auto& [path, deadline] : pending_) wake = std::min(wake, deadline);
    int timeout = static_cast<int>(std::clamp<int64_t>(wake - now, 0, 60'000));
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int rc = ::poll(fds, 2, timeout);
    if (rc < 0 && errno != EINTR) {
      log::Error("integrity.poll_failed", {{"error", std::strerror(errno)}});
      return;
    }
    uint64_t flush_ticket = 0;
    if (rc > 0 && (fds[1].revents & POLLIN)) {
      uint64_t v = 0;
      [[maybe_unused]] ssize_t n = ::read(wake_fd_, &v, sizeof v);
      // Taken before draining: every change made before Flush() was called is queued by now.
      std::lock_guard<std::mutex> lock(flush_mu_);
      flush_ticket = flush_requested_;
    }
    if (stop_) break;
    now = SteadyMillis();
    DrainInotify(now);
    ProcessReady(now, flush_ticket != 0);
    if (now >= next_baseline_check) {
      MaybeReloadBaseline();
      next_baseline_check = now + options_.baseline_check_millis;
    }
    if (now >= next_rescan) {
      Rescan();
      next_rescan = SteadyMillis() + options_.rescan_millis;
    }
    if (flush_ticket != 0) {
      std::lock_guard<std::mutex> lock(flush_mu_);
      flush_done_ = std::max(flush_done_, flush_ticket);
      flush_cv_.notify_all();
    }
  }
}

FileIntegrityMonitor::FileIntegrityMonitor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FileIntegrityMonitor::~FileIntegrityMonitor() = default;

Result<std::unique_ptr<FileIntegrityMonitor>> FileIntegrityMonitor::Create(
    FileIntegrityOptions options, EventSink* sink) {
  if (options.roots.empty()) return Status::InvalidArgument("no integrity path configured");
  if (options.baseline_file.empty()) return Status::InvalidArgument("no baseline file given");
  options.roots = NormalRoots(options.roots);
  for (auto& ex : options.exclude) ex = files::AbsolutePath(ex);
  const int64_t now_seconds = SystemClock::Instance().NowMillis() / 1000;
  IntegrityBaseline baseline;
  struct stat st {};
  if (::lstat(options.baseline_file.c_str(), &st) != 0 && errno == ENOENT) {
    auto b = CreateBaseline(options.roots, options.exclude, options.baseline_file, now_seconds);
    if (!b.ok())
      return Status::InvalidArgument("cannot create the baseline: " + b.status().message());
    baseline = std::move(b).value();
    log::Info(
        "integrity.baseline_created",
        {{"file", options.baseline_file}, {"files", static_cast<int64_t>(baseline.files.size())}});
  } else {
    auto b = LoadBaselineFile(options.baseline_file);
    if (!b.ok()) {
      return Status::InvalidArgument(b.status().message() +
                                     " (re-create it with `rampart integrity baseline`)");
    }
    baseline = std::move(b).value();
    // A root added to the configuration since is baselined as on a first start; the rest of
    // the baseline stays as the operator accepted it.
    std::vector<std::string> added;
    for (const auto& root : options.roots) {
      bool covered = false;
      for (const auto& old : baseline.roots) covered = covered || files::IsUnder(root, old);
      if (!covered) added.push_back(root);
    }
    bool changed = false;
    if (!added.empty()) {
      files::TreeScan scan = files::ScanTrees(added, options.exclude, /*with_links=*/true);
      for (auto& [path, fs] : scan.files) baseline.files.emplace(path, fs);
      for (const auto& root : added) {
        baseline.roots.push_back(root);
        log::Warn("integrity.baseline_root_added", {{"root", root}});
      }
      changed = true;
    }
    if (!baseline.links_recorded) {
      // A baseline from before links were recorded: the links on disk now are taken in, each
      // named in the log for the operator to look at, rather than all reported as new files.
      files::TreeScan scan = files::ScanTrees(baseline.roots, options.exclude, /*with_links=*/true);
      for (auto& [path, fs] : scan.files) {
        if (!fs.is_link() || !baseline.files.emplace(path, fs).second) continue;
        log::Warn("integrity.baseline_link_added", {{"path", path}, {"target", fs.link_target}});
      }
      baseline.links_recorded = true;
      changed = true;
    }
    if (changed) {
      RAMPART_RETURN_IF_ERROR(
          files::WritePrivateFile(options.baseline_file, SerializeBaseline(baseline)));
    }
  }
  auto impl = std::make_unique<Impl>(std::move(options), sink, std::move(baseline));
  return std::unique_ptr<FileIntegrityMonitor>(new FileIntegrityMonitor(std::move(impl)));
}

Status FileIntegrityMonitor::Start() {
  return impl_->Start();
}
void FileIntegrityMonitor::Stop() {
  impl_->Stop();
}
void FileIntegrityMonitor::Flush() {
  impl_->Flush();
}
size_t FileIntegrityMonitor::Rescan() {
  return impl_->Rescan();
}
FileIntegrityStats FileIntegrityMonitor::stats() const {
  return impl_->stats();
}

std::string FileIntegrityMonitor::RenderMetrics() const {
  FileIntegrityStats s = impl_->stats();
  std::string out;
  auto metric = [&](const char* name, const char* type, uint64_t v) {
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    out.append(name).append(" ").append(std::to_string(v)).append("\n");
  };
  metric("rampart_integrity_events_total", "counter", s.events);
  metric("rampart_integrity_rescans_total", "counter", s.rescans);
  metric("rampart_integrity_queue_overflows_total", "counter", s.overflows);
  metric("rampart_integrity_read_errors_total", "counter", s.read_errors);
  metric("rampart_integrity_watched_dirs", "gauge", s.watched_dirs);
  metric("rampart_integrity_baseline_files", "gauge", s.baseline_files);
  return out;
}

int RunIntegrityBaselineCommand(const std::string& data_dir, const std::string& config_file) {
  Config config;
  if (!config_file.empty()) {
    if (Status s = LoadConfigFile(config_file, &config); !s.ok()) {
      std::cerr << "rampart integrity baseline: " << s.message() << "\n";
      return 2;
    }
  }
  const auto& roots = config.detection.integrity_paths;
  if (roots.empty()) {
    std::cerr << "rampart integrity baseline: the configuration names no "
                 "detection.integrity_paths\n";
    return 2;
  }
  std::vector<std::string> exclude = {files::AbsolutePath(data_dir)};
  for (const auto& ex : config.detection.integrity_exclude) {
    exclude.push_back(files::AbsolutePath(ex));
  }
  const std::string path = BaselinePath(data_dir);
  files::FileStates before;
  bool had_one = false;
  if (auto old = LoadBaselineFile(path); old.ok()) {
    before = std::move(old->files);
    had_one = true;
  } else if (old.status().code() != Code::kNotFound) {
    std::cout << "previous baseline unreadable (" << old.status().message() << "); replacing it\n";
  }
  auto b = CreateBaseline(roots, exclude, path, SystemClock::Instance().NowMillis() / 1000);
  if (!b.ok()) {
    std::cerr << "rampart integrity baseline: " << b.status().message() << "\n";
    return 1;
  }
  size_t accepted = 0;
  if (had_one) {
    // The operator accepts these: show them, so that an unexpected one is not blessed unseen.
    for (const auto& c : files::DiffFileStates(before, b->files)) {
      std::cout << "accepted " << files::ChangeKindName(c.kind) << ": " << c.path << "\n";
      ++accepted;
    }
  }
  std::cout << "baseline written: " << path << " (" << b->files.size() << " files under "
            << b->roots.size() << " roots; " << accepted << " differences accepted)\n";
  log::Info("integrity.baseline_recreated", {{"files", static_cast<int64_t>(b->files.size())},
                                             {"accepted", static_cast<int64_t>(accepted)}});
  return 0;
}

}  // namespace rampart::detect
