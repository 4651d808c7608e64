#include "detect/reload_watch.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "common/clock.h"
#include "common/log.h"
#include "detect/sigma.h"

namespace rampart::detect {
namespace {

namespace fs = std::filesystem;

// However busy the watched directories are (a feed kept in a directory other programs write
// to), the files are looked at no more often than this.
constexpr int64_t kMinLookGapMillis = 100;

constexpr uint32_t kReloadWatchMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                      IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |
                                      IN_ONLYDIR;

WatchedFile StampFile(const std::string& path) {
  WatchedFile stamp;
  stamp.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return stamp;  // follows links, as the loaders do
  stamp.exists = true;
  stamp.device = static_cast<uint64_t>(st.st_dev);
  stamp.inode = static_cast<uint64_t>(st.st_ino);
  stamp.size = static_cast<uint64_t>(st.st_size);
  stamp.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  // Moved by every write and every change of the modification time, and not settable: a file
  // rewritten to the same size with its modification time put back (`cp -p`, `rsync -t`)
  // still differs.
  stamp.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  return stamp;
}

std::string DirectoryOf(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

// The directories a look found: those to watch, and among them the rule trees, where any
// rule file or subdirectory that comes or goes matters.
struct WatchPlan {
  std::set<std::string> dirs;
  std::set<std::string> rule_tree;
};

// Absolute, without "." or ".." or a trailing separator, so that a path named in the
// configuration compares equal to the one an event names (its directory and its name).
std::string NormalizedPath(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  if (ec) p = path;
  std::string out = p.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

ReloadWatchOptions Normalized(ReloadWatchOptions options) {
  for (auto& path : options.rule_dirs) path = NormalizedPath(path);
  for (auto& path : options.ioc_files) path = NormalizedPath(path);
  return options;
}

// Stamps the files and, when `plan` is given, names the directories whose entries decide them:
// each rule directory, its subdirectories and its parent (where it can be created or removed),
// and the directory of each rule file named on its own and of each feed.
WatchedFiles LookAt(const ReloadWatchOptions& options, WatchPlan* plan) {
  WatchedFiles look;
  for (const auto& path : options.rule_dirs) {
    if (plan != nullptr) plan->dirs.insert(DirectoryOf(path));
    std::error_code ec;
    auto status = fs::status(path, ec);
    // A file named on its own is read whatever its extension (RuleSetBuilder::AddPath).
    if (!ec && fs::is_regular_file(status)) {
      look.rules.push_back(StampFile(path));
      continue;
    }
    if (ec || !fs::is_directory(status)) continue;
    if (plan != nullptr) {
      plan->dirs.insert(path);
      plan->rule_tree.insert(path);
    }
    fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec);
    if (ec) continue;
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      std::error_code entry_ec;
      if (plan != nullptr && it->is_directory(entry_ec) && !it->is_symlink(entry_ec)) {
        plan->dirs.insert(it->path().string());
        plan->rule_tree.insert(it->path().string());
        continue;
      }
      if (!it->is_regular_file(entry_ec) || !IsRuleFileName(it->path().filename().string())) {
        continue;
      }
      look.rules.push_back(StampFile(it->path().string()));
    }
  }
  std::sort(look.rules.begin(), look.rules.end(),
            [](const WatchedFile& a, const WatchedFile& b) { return a.path < b.path; });
  for (const auto& file : options.ioc_files) {
    if (plan != nullptr) plan->dirs.insert(DirectoryOf(file));
    look.iocs.push_back(StampFile(file));
  }
  return look;
}

}  // namespace

WatchedFiles LookAtWatchedFiles(const ReloadWatchOptions& options) {
  return LookAt(Normalized(options), nullptr);
}

ChangeSettler::ChangeSettler(WatchedFiles acted_on, int64_t settle_millis)
    : acted_on_(std::move(acted_on)), last_(acted_on_), settle_millis_(settle_millis) {}

std::optional<ReloadNeeded> ChangeSettler::Observe(WatchedFiles look, int64_t now) {
  if (look != last_) {
    last_ = std::move(look);
    last_change_ = now;
  }
  if (last_ == acted_on_ || now - last_change_ < settle_millis_) return std::nullopt;
  ReloadNeeded need{last_.rules != acted_on_.rules, last_.iocs != acted_on_.iocs};
  acted_on_ = last_;
  return need;
}

std::optional<int64_t> ChangeSettler::settles_at() const {
  if (last_ == acted_on_) return std::nullopt;
  return last_change_ + settle_millis_;
}

struct ReloadWatcher::Impl {
  ReloadWatchOptions options;
  ChangeSettler settler{{}, 0};
  int inotify_fd = -1;
  int wake_fd = -1;
  std::map<std::string, int> watches;    // directory -> watch descriptor
  std::map<int, std::string> dir_of_wd;  // the reverse, to name an event's file
  std::set<std::string> rule_tree;       // rule directories and their subdirectories
  std::set<std::string> configured;      // rule paths and feed files, as named
  std::atomic<uint64_t> looks{0};
  std::thread thread;
  std::atomic<bool> stop{false};
  Callback on_change;

  ~Impl() {
    if (inotify_fd >= 0) ::close(inotify_fd);
    if (wake_fd >= 0) ::close(wake_fd);
  }

  // Watches exactly `dirs`. A directory that does not exist (yet) is left to the periodic look.
  // True when a directory is watched that was not before.
  bool UpdateWatches(const std::set<std::string>& dirs) {
    if (inotify_fd < 0) return false;
    bool added = false;
    auto forget = [&](std::map<std::string, int>::iterator it) {
      // Two paths to one directory share its descriptor: removed with the last of them.
      int wd = it->second;
      auto next = watches.erase(it);
      bool shared = std::any_of(watches.begin(), watches.end(),
                                [wd](const auto& entry) { return entry.second == wd; });
      if (!shared) {
        ::inotify_rm_watch(inotify_fd, wd);
        dir_of_wd.erase(wd);
      }
      return next;
    };
    for (auto it = watches.begin(); it != watches.end();) {
      it = dirs.count(it->first) == 0 ? forget(it) : std::next(it);
    }
    for (const auto& dir : dirs) {
      // Added again after every look: a directory removed and created anew is another inode,
      // and one renamed away keeps its old descriptor, which is dropped here.
      int wd = ::inotify_add_watch(inotify_fd, dir.c_str(), kReloadWatchMask);
      auto it = watches.find(dir);
      const bool known = it != watches.end() && it->second == wd;
      if (it != watches.end() && !known) forget(it);
      if (wd < 0) continue;
      added = added || !known;
      watches[dir] = wd;
      dir_of_wd[wd] = dir;
    }
    return added;
  }

  // Looks at the files, and watches the directories the look names; when that watches one not
  // watched before, looks again: a file written into it between the walk that found it and its
  // watch would otherwise wait for the next periodic look.
  WatchedFiles LookAndWatch() {
    WatchedFiles look;
    for (int round = 0; round < 8; ++round) {
      WatchPlan plan;
      look = LookAt(options, &plan);
      ++looks;
      rule_tree = std::move(plan.rule_tree);
      if (!UpdateWatches(plan.dirs)) break;
    }
    return look;
  }

  // Whether an event can change what a look sees: one about a file the loaders read, a
  // directory of the rule trees, or a configured path; not one about the other files of a
  // directory that holds a feed or a rule directory.
  bool Matters(const inotify_event& ev) const {
    if (ev.mask & IN_Q_OVERFLOW) return true;  // events were lost
    auto dir = dir_of_wd.find(ev.wd);
    if (dir == dir_of_wd.end()) return false;  // a watch already dropped
    const bool in_rule_tree = rule_tree.count(dir->second) > 0;
    if (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) return in_rule_tree;
    if (ev.len == 0) return false;
    const std::string name(ev.name);
    const std::string path = dir->second == "/" ? "/" + name : dir->second + "/" + name;
    if (configured.count(path) > 0) return true;
    return in_rule_tree && ((ev.mask & IN_ISDIR) != 0 || IsRuleFileName(name));
  }

  // True when an event that matters came.
  bool DrainInotify() {
    alignas(inotify_event) char buf[16 * 1024];
    bool matters = false;
    for (;;) {
      ssize_t n = ::read(inotify_fd, buf, sizeof buf);
      if (n <= 0) break;
      for (ssize_t off = 0; off < n;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
        matters = matters || Matters(*ev);
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      }
    }
    return matters;
  }

  void Run() {
    int64_t last_look = SteadyMillis();
    int64_t next_poll = last_look + options.poll_millis;
    bool look_due = false;
    while (!stop) {
      int64_t now = SteadyMillis();
      int64_t wake_at = next_poll;
      if (auto settles = settler.settles_at()) wake_at = std::min(wake_at, *settles);
      if (look_due) wake_at = std::min(wake_at, last_look + kMinLookGapMillis);
      int timeout = static_cast<int>(std::clamp<int64_t>(wake_at - now, 0, 60'000));
      pollfd fds[2] = {{wake_fd, POLLIN, 0}, {inotify_fd, POLLIN, 0}};
      int rc = ::poll(fds, inotify_fd >= 0 ? 2 : 1, timeout);
      if (rc < 0 && errno != EINTR) {
        // Not expected with these descriptors; the periodic look goes on regardless.
        log::Error("detect.reload_watch_poll_failed", {{"error", std::strerror(errno)}});
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
      }
      if (stop) break;
      if (rc > 0 && (fds[0].revents & POLLIN)) {
        uint64_t v = 0;  // a Stop that a Start followed
        [[maybe_unused]] ssize_t n = ::read(wake_fd, &v, sizeof v);
      }
      if (rc > 0 && inotify_fd >= 0 && (fds[1].revents & POLLIN) && DrainInotify()) {
        look_due = true;
      }
      now = SteadyMillis();
      auto settles = settler.settles_at();
      bool due = (look_due && now >= last_look + kMinLookGapMillis) || now >= next_poll ||
                 (settles && now >= *settles);
      if (!due) continue;
      look_due = false;
      last_look = now;
      next_poll = now + options.poll_millis;
      WatchedFiles look = LookAndWatch();
      if (auto need = settler.Observe(std::move(look), SteadyMillis())) on_change(*need);
    }
  }
};

Result<std::unique_ptr<ReloadWatcher>> ReloadWatcher::Create(ReloadWatchOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = Normalized(std::move(options));
  for (const auto& path : impl->options.rule_dirs) impl->configured.insert(path);
  for (const auto& path : impl->options.ioc_files) impl->configured.insert(path);
  impl->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->wake_fd < 0) return Status::Internal(std::string("eventfd: ") + std::strerror(errno));
  impl->inotify_fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (impl->inotify_fd < 0) {
    // Out of inotify instances (fs.inotify.max_user_instances): the periodic look still sees
    // every change, later.
    log::Warn("detect.reload_watch_inotify_unavailable",
              {{"error", std::strerror(errno)},
               {"poll_millis", static_cast<int64_t>(impl->options.poll_millis)}});
  }
  // Watched before the look that later changes are measured from, so that a change made after
  // it (while the engine loads) wakes the thread once started.
  impl->settler = ChangeSettler(impl->LookAndWatch(), impl->options.settle_millis);
  return std::unique_ptr<ReloadWatcher>(new ReloadWatcher(std::move(impl)));
}

uint64_t ReloadWatcher::looks() const {
  return impl_->looks.load();
}

ReloadWatcher::ReloadWatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ReloadWatcher::~ReloadWatcher() {
  Stop();
}

void ReloadWatcher::Start(Callback on_change) {
  if (impl_->thread.joinable()) return;
  impl_->on_change = std::move(on_change);
  impl_->stop = false;
  impl_->thread = std::thread([impl = impl_.get()] { impl->Run(); });
}

void ReloadWatcher::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->stop = true;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(impl_->wake_fd, &one, sizeof one);
  impl_->thread.join();
}

}  // namespace rampart::detect
