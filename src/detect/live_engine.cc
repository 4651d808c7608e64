#include "detect/live_engine.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/files.h"
#include "common/log.h"
#include "common/text.h"
#include "detect/bounded_queue.h"
#include "detect/correlation.h"
#include "detect/event.h"
#include "detect/hs_runtime.h"
#include "detect/ioc.h"

namespace rampart::detect {
namespace {

constexpr size_t kMaxEvidenceValue = 512;

// Fields whose percent-decoded form rules also look at.
constexpr Field kDecodedFields[] = {Field::kUrlOriginal, Field::kUrlPath, Field::kUrlQuery};

// Who or what an alert is about; a syslog program (process.name) last, for the messages that
// name nothing else.
std::string EntityOf(const Event& ev) {
  for (Field f : {Field::kSourceIp, Field::kUserName, Field::kDeviceId, Field::kFilePath,
                  Field::kProcessName}) {
    if (ev.Has(f) && !ev.Get(f).empty()) {
      return std::string(FieldName(f)) + "=" + std::string(ev.Get(f));
    }
  }
  return "server";
}

std::string NormalSeverity(const std::string& s) {
  return core::IsAlertSeverity(s) ? s : std::string("medium");
}

// Whether every entry an import skipped was withdrawn by its issuer: expired or revoked.
bool OnlyWithdrawn(const ImportReport& report) {
  for (const auto& [reason, count] : report.reasons) {
    if (reason != "indicator expired" && reason != "indicator past valid_until" &&
        reason != "indicator revoked") {
      return false;
    }
  }
  return true;
}

// Reads each IoC file into *store, and into *yielded how many indicators each usable one gave;
// a file that cannot be read or parsed goes to *unusable (and the log), the others are read
// all the same. So does one of `must_yield` (files that gave indicators last time) that gives
// none now, unless all it holds has expired or been revoked: a feed that had indicators and
// has none is an empty or error-page download far more often than one whose issuer withdrew
// every indicator.
void LoadFeeds(const std::vector<std::string>& files, int64_t now, IocStore* store,
               std::vector<UnusableFeed>* unusable, std::map<std::string, size_t>* yielded,
               const std::set<std::string>& must_yield = {}) {
  for (const auto& file : files) {
    auto report = ImportIocFile(file, now, store);
    if (report.ok() && report->added == 0 && must_yield.count(file) &&
        (report->skipped == 0 || !OnlyWithdrawn(*report))) {
      report =
          Status::InvalidArgument("no indicator in the file (" + std::to_string(report->skipped) +
                                  " entries skipped): an empty or error-page download?");
    }
    if (!report.ok()) {
      unusable->push_back({file, report.status().message()});
      log::Error("detect.ioc_feed_unusable",
                 {{"file", file}, {"error", report.status().message()}});
      continue;
    }
    (*yielded)[file] += report->added;
    log::Info("detect.ioc_feed_loaded", {{"file", file},
                                         {"added", static_cast<int64_t>(report->added)},
                                         {"skipped", static_cast<int64_t>(report->skipped)}});
  }
}

// The correlations of `next` whose windows start empty after `previous` (changed, or new), by
// id (name, title).
std::vector<std::string> RestartedCorrelations(const std::vector<CorrelationRule>& previous,
                                               const std::vector<CorrelationRule>& next) {
  std::vector<std::string> out;
  const std::vector<size_t> counterparts = CorrelationCounterparts(previous, next);
  for (size_t i = 0; i < next.size(); ++i) {
    if (counterparts[i] == kNoCounterpart) out.push_back(CorrelationName(next[i]));
  }
  return out;
}

// Writes the saved windows' file on a thread of its own, so that a checkpoint holds the engine
// only while it serialises (into a buffer kept from one checkpoint to the next: fresh memory
// costs more to touch than the text costs to write), not while the file is written and synced.
// One write at a time; the engine serialises into the buffer again only once it is collected.
class WindowsFileWriter {
 public:
  // What a write holds, for the engine (taken as written once it is) and the log.
  struct Write {
    const char* logged_as = "";
    uint64_t feeds = 0;  // matches fed to the tracker when serialised
    size_t keys = 0;
    size_t left_out = 0;
    std::chrono::milliseconds serialised{0};  // the engine's share
  };

  WindowsFileWriter() = default;
  WindowsFileWriter(const WindowsFileWriter&) = delete;
  WindowsFileWriter& operator=(const WindowsFileWriter&) = delete;
  ~WindowsFileWriter() {
    if (thread_.joinable()) thread_.join();
  }

  // The text to write next; not to be touched while a write is under way.
  std::string* buffer() { return &buffer_; }
  bool under_way() const { return thread_.joinable() || written_here_; }
  bool finished() const { return written_here_ || done_.load(std::memory_order_acquire); }

  // Writes the buffer to `path` (replacing it whole, as files::WritePrivateFile does) and logs
  // the outcome as soon as it is known: in the background on a thread of its own, else (or when
  // no thread can be started) here.
  void Start(std::string path, const Write& write, bool background) {
    write_ = write;
    if (background) {
      done_.store(false, std::memory_order_relaxed);
      try {
        thread_ = std::thread([this, path] {
          WriteNow(path);
          done_.store(true, std::memory_order_release);
        });
        return;
      } catch (const std::system_error&) {
        // Out of threads: written here, as before there was a writer.
      }
    }
    WriteNow(path);
    written_here_ = true;
  }
  // Waits for the write under way (there must be one): what it held when it succeeded.
  std::optional<Write> Collect() {
    if (thread_.joinable()) thread_.join();
    written_here_ = false;
    if (!status_.ok()) return std::nullopt;
    return write_;
  }

 private:
  void WriteNow(const std::string& path) {
    const auto started = std::chrono::steady_clock::now();
    try {
      status_ = files::WritePrivateFile(path, buffer_);
      const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - started);
      if (status_.ok()) {
        log::Info(write_.logged_as,
                  {{"keys", static_cast<int64_t>(write_.keys - write_.left_out)},
                   {"left_out", static_cast<int64_t>(write_.left_out)},
                   {"bytes", static_cast<int64_t>(buffer_.size())},
                   {"serialise_millis", static_cast<int64_t>(write_.serialised.count())},
                   {"write_millis", static_cast<int64_t>(took.count())}});
      } else {
        // Not taken as written: the next checkpoint tries again.
        log::Warn("detect.correlation_windows_not_saved", {{"error", status_.message()}});
      }
    } catch (const std::exception& e) {
      // Out of memory in a log line or a path: the checkpoint is tried again, the engine lives.
      status_ = Status::Internal(e.what());
    }
  }

  std::string buffer_;
  std::thread thread_;
  std::atomic<bool> done_{false};
  bool written_here_ = false;  // a write done on the caller's thread, not collected yet
  Write write_;
  Status status_;
};

}  // namespace

class LiveEngine::Impl {
 public:
  Impl(LiveEngineOptions options, const Clock* clock, AlertHandler* handler)
      : options_(std::move(options)),
        clock_(clock),
        handler_(handler),
        queue_(options_.queue_capacity) {}

  ~Impl() { Stop(); }

  Status Load();
  void Emit(SecurityEvent event);
  bool TryEmit(SecurityEvent& event);
  void ReportLost(uint64_t count) { queue_.AddDropped(count); }
  void Wake();
  Result<IocReload> ReloadIocs();
  Result<RulesReload> ReloadRules();
  void Start();
  void Stop();
  size_t ProcessPending();
  // LiveEngineOptions::correlation_state_file: taken up at Load, written at Stop and every
  // correlation_checkpoint_millis while windows change.
  void RestoreCorrelationWindows();
  void SaveCorrelationWindows();
  void CheckpointCorrelationWindows();
  // Writes the windows to correlation_state_file (removes it when none is open); `background`:
  // on the writer's thread, after serialising them here. False when a write begun before has
  // not finished (only in the background: otherwise it is waited for).
  bool WriteCorrelationWindows(const char* logged_as, bool background);
  // Takes the outcome of the write under way, if any: waits for it with `wait`, else returns
  // false while it runs. True when no write is under way any more.
  bool CollectWindowsWrite(bool wait);
  LiveEngineStats stats() const;
  size_t rule_count() const { return rule_count_.load(); }
  size_t correlation_count() const { return correlation_count_.load(); }
  const std::vector<SkippedRule>& skipped() const { return skipped_; }
  const std::vector<UnusableFeed>& unusable_feeds() const { return unusable_feeds_; }

 private:
  void Run();
  // Takes what ReloadIocs and ReloadRules handed over, if anything (engine thread).
  void TakeReload();
  // Processes every queued event, each after taking any reload handed over before it, so that
  // an event emitted after a reload returned is matched with what it loaded. Returns how many.
  size_t Drain();
  void Process(const SecurityEvent& se);
  void Housekeeping();
  const std::string& Evidence(const SecurityEvent& se, int64_t ts);
  void Raise(const std::string& rule_id, const std::string& title, const std::string& severity,
             const std::vector<std::string>& attack, std::string entity,
             const std::string& institution_id, int64_t ts, std::string evidence, int64_t count = 1,
             int64_t first_ts = 0, std::vector<std::string> earlier_evidence = {});
  // A correlation's alert: `evidence` is the event that completed it, or for a window decided
  // at its end the last event it counted; `ts` that event's time.
  void RaiseCorrelation(const CorrelationHit& hit, const std::string& institution_id, int64_t ts,
                        const std::string& evidence);
  // A window decided at its end, from the institution and evidence its note keeps.
  void RaiseDecidedWindow(const CorrelationHit& hit);
  // What such a window keeps of its latest event: institution and evidence, at most about
  // kMaxWindowEvidence bytes of it.
  static constexpr size_t kMaxWindowEvidence = 2048;
  std::string WindowNoteOf(const std::string& institution_id, const SecurityEvent& se, int64_t ts);
  // The event's evidence, cut to about kMaxWindowEvidence bytes: what a window keeps of an event.
  std::string CompactEvidence(const SecurityEvent& se, int64_t ts);
  // What a correlation's keys keep of the events they count, so that its alert shows them
  // (CorrelationTracker::KeepCountedNotes): at most this much per correlation.
  static constexpr size_t kCountedNoteBytesPerCorrelation = size_t{4} << 20;

  LiveEngineOptions options_;
  const Clock* clock_;
  AlertHandler* handler_;
  BoundedQueue<SecurityEvent> queue_;

  // Engine-thread state.
  // What the rules compile to; built on whichever thread loads them, then installed on the
  // engine thread (Install).
  struct CompiledRules {
    std::unique_ptr<RuleSet> rules;
    LinkedCorrelations linked;
    std::vector<SkippedRule> skipped;
  };
  Result<CompiledRules> CompileRules() const;
  // Makes `compiled` the engine's rules; each correlation takes up the windows of its
  // counterpart in the rules before (CorrelationCounterparts).
  void Install(CompiledRules compiled);

  std::unique_ptr<RuleSet> rules_;
  std::unique_ptr<RuleMatcher> matcher_;
  std::unique_ptr<CorrelationTracker> tracker_;
  std::unique_ptr<IocStore> iocs_ = std::make_unique<IocStore>();
  // Per rule index: the (correlation, slot) pairs it feeds; and whether it alerts on its own.
  std::vector<std::vector<std::pair<size_t, size_t>>> feeds_;
  std::vector<bool> generates_;
  std::unordered_set<std::string> canary_paths_;
  std::unordered_set<std::string> canary_tokens_;
  std::unique_ptr<NewAddressLoginDetector> login_detector_;
  bool windows_saved_ = false;  // since the last Start
  // What the last write of the windows saw (engine thread): the matches fed to the tracker and
  // the keys it held; when both are unchanged, a checkpoint has nothing new to write.
  uint64_t correlation_feeds_ = 0;
  uint64_t feeds_at_checkpoint_ = 0;
  size_t keys_at_checkpoint_ = 0;
  std::chrono::steady_clock::time_point last_checkpoint_ = std::chrono::steady_clock::now();
  // Set when windows were taken up at start: the first housekeeping writes what it changed
  // without waiting for the interval.
  bool checkpoint_due_ = false;
  WindowsFileWriter windows_writer_;
  std::unique_ptr<NewFileUseDetector> new_files_;
  void ObserveFileUse(const SecurityEvent& se, const Event& ev, int64_t ts);
  std::vector<SkippedRule> skipped_;
  std::vector<UnusableFeed> unusable_feeds_;
  // Feeds that could not be used, at Create or at a reload, whose alerts are not raised yet
  // (engine thread).
  std::vector<UnusableFeed> feeds_to_report_;
  // Handed over by ReloadIocs (new indicators, null when the reload failed, and the feeds it
  // could not use) and ReloadRules. Guarded by reload_mu_; reload_pending_ says there is
  // something.
  std::mutex reload_mu_;
  // The files whose indicators the engine's store holds (those usable at the last load
  // accepted), with how many each gave.
  std::map<std::string, size_t> feeds_in_use_;
  std::unique_ptr<IocStore> reloaded_iocs_;
  // The correlation rules of the last rules accepted (installed or pending), and the rules
  // handed over by ReloadRules.
  std::vector<CorrelationRule> correlations_in_use_;
  std::unique_ptr<CompiledRules> reloaded_rules_;
  std::vector<UnusableFeed> reload_unusable_;
  std::atomic<bool> reload_pending_{false};
  Event event_;
  std::vector<uint32_t> hits_;
  std::vector<CorrelationHit> corr_hits_;
  std::vector<IocMatch> ioc_hits_;
  std::string evidence_;
  bool evidence_built_ = false;
  uint64_t reported_drops_ = 0;
  // Coalescing: the first observation of a (institution, rule, entity) in a housekeeping period
  // goes to the handler at once (first-alert latency); repeats in the same period are folded
  // here and handed over at the next housekeeping, so a flood of one probe costs one store
  // write per second, not one per request.
  std::unordered_set<std::string> delivered_this_period_;
  std::unordered_map<std::string, core::Alert> pending_;
  void Deliver(const core::Alert& a);
  void FlushPending();

  std::atomic<size_t> rule_count_{0};
  std::atomic<size_t> correlation_count_{0};
  std::atomic<uint64_t> processed_{0};
  std::atomic<uint64_t> alerts_{0};
  std::atomic<size_t> tracked_keys_{0};
  std::atomic<uint64_t> evicted_keys_{0};
  std::atomic<size_t> indicator_count_{0};  // in the store the engine matches with
  std::atomic<uint64_t> rules_reloads_{0};
  std::atomic<uint64_t> rules_reloads_refused_{0};
  std::atomic<uint64_t> ioc_reloads_{0};
  std::atomic<uint64_t> ioc_reloads_refused_{0};
  uint64_t evicted_before_ = 0;  // by trackers a rules reload replaced (engine thread)

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> stop_{false};
};

Result<LiveEngine::Impl::CompiledRules> LiveEngine::Impl::CompileRules() const {
  RuleSetBuilder builder;
  builder.set_keep_correlations(true);
  for (const auto& dir : options_.rule_dirs) {
    Status s = builder.AddPath(dir);
    if (!s.ok()) return Status::InvalidArgument("rules: " + s.message());
  }
  for (size_t i = 0; i < options_.rule_texts.size(); ++i) {
    builder.AddRuleText(options_.rule_texts[i], "rule text " + std::to_string(i + 1))
        .IgnoreError();  // recorded in skipped()
  }
  CompiledRules compiled;
  RAMPART_ASSIGN_OR_RETURN(compiled.rules, builder.Build());
  compiled.skipped = compiled.rules->skipped();
  compiled.linked = LinkCorrelations(*compiled.rules, builder.correlations());
  compiled.skipped.insert(compiled.skipped.end(), compiled.linked.skipped.begin(),
                          compiled.linked.skipped.end());
  return compiled;
}

void LiveEngine::Impl::Install(CompiledRules compiled) {
  // The matcher reads the rule set it was made for: the new one is made before anything is
  // replaced, and the old set outlives the old matcher.
  auto matcher = std::make_unique<RuleMatcher>(*compiled.rules);
  std::unique_ptr<RuleSet> old = std::move(rules_);
  rules_ = std::move(compiled.rules);
  matcher_ = std::move(matcher);
  old.reset();
  feeds_ = std::move(compiled.linked.feeds);
  generates_ = std::move(compiled.linked.generates);
  auto tracker = std::make_unique<CorrelationTracker>(std::move(compiled.linked.rules),
                                                      options_.max_tracked_keys);
  // The completing event is evidence of its own: the rest of max_evidence shows what it counted.
  tracker->KeepCountedNotes(options_.max_evidence > 1 ? options_.max_evidence - 1 : 0,
                            kCountedNoteBytesPerCorrelation);
  if (tracker_) {
    const WindowsTakenUp taken = tracker->TakeWindowsFrom(*tracker_);
    if (!taken.dropped.empty()) {
      log::Info("detect.correlation_windows_dropped",
                {{"correlations", Joined(taken.dropped)}, {"reason", "changed or removed"}});
    }
    // The evictions counter (a metric) goes on from the old tracker's count.
    evicted_before_ += tracker_->evicted_keys();
  }
  tracker_ = std::move(tracker);
  rule_count_ = rules_->size();
  correlation_count_ = tracker_->rules().size();
  tracked_keys_ = tracker_->tracked_keys();
  evicted_keys_ = evicted_before_ + tracker_->evicted_keys();
}

Status LiveEngine::Impl::Load() {
  RAMPART_ASSIGN_OR_RETURN(CompiledRules compiled, CompileRules());
  skipped_ = compiled.skipped;
  correlations_in_use_ = compiled.linked.rules;
  Install(std::move(compiled));
  // A feed cut short by a failed download must not keep the server (and every other feed and
  // rule) down: it is left out, logged, and raised as an alert by the first housekeeping.
  LoadFeeds(options_.ioc_files, clock_->NowMillis(), iocs_.get(), &unusable_feeds_, &feeds_in_use_);
  indicator_count_ = iocs_->size();
  feeds_to_report_ = unusable_feeds_;
  if (HsScanMode() != "hs_scan") {
    // Scans bypass the library's own choice of CPU code, or could not although they should.
    log::Warn("detect.vectorscan_workaround", {{"scan", std::string(HsScanMode())}});
  }
  for (std::string path : options_.canary_paths) {
    if (path.size() > 1 && path.back() == '/') path.pop_back();  // compared without it
    canary_paths_.insert(std::move(path));
  }
  canary_tokens_.insert(options_.canary_token_ids.begin(), options_.canary_token_ids.end());
  if (options_.new_file_use.enabled) {
    new_files_ = std::make_unique<NewFileUseDetector>(options_.new_file_use);
  }
  RestoreCorrelationWindows();
  if (options_.login_detector.enabled) {
    login_detector_ = std::make_unique<NewAddressLoginDetector>(options_.login_detector);
    if (Status s = login_detector_->Load(); !s.ok()) {
      // Detection goes on with an empty memory rather than keeping the server down.
      log::Warn("detect.login_memory_unreadable", {{"error", s.message()}});
    }
  }
  return Status::Ok();
}

void LiveEngine::Impl::Emit(SecurityEvent event) {
  if (!queue_.TryPush(std::move(event))) return;  // counted; reported by Housekeeping
  Wake();
}

bool LiveEngine::Impl::TryEmit(SecurityEvent& event) {
  if (!queue_.TryPush(std::move(event), /*count_drop=*/false)) return false;
  Wake();
  return true;
}

void LiveEngine::Impl::Wake() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_relaxed)) {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_one();
  }
}

void LiveEngine::Impl::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  windows_saved_ = false;
  thread_ = std::thread([this] { Run(); });
}

void LiveEngine::Impl::Stop() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      cv_.notify_one();
    }
    thread_.join();
  }
  SaveCorrelationWindows();
}

void LiveEngine::Impl::RestoreCorrelationWindows() {
  const std::string& path = options_.correlation_state_file;
  if (path.empty()) return;
  auto text = files::ReadWholeFile(path, kMaxSavedWindowsBytes);
  if (!text.ok()) {
    if (text.status().code() != Code::kNotFound) {
      log::Warn("detect.correlation_windows_discarded", {{"reason", text.status().message()}});
      ::unlink(path.c_str());
    }
    return;
  }
  // With checkpoints, the file stays until the first housekeeping that changes the windows
  // (one decided or swept as idle, a match) writes them anew, so that a crash loop keeps them
  // without raising a window decided since on every start. Without, it is taken up once.
  const bool checkpoints = options_.correlation_checkpoint_millis > 0;
  if (!checkpoints) ::unlink(path.c_str());
  auto taken = tracker_->RestoreWindows(*text);
  if (!taken.ok()) {
    log::Warn("detect.correlation_windows_discarded", {{"reason", taken.status().message()}});
    if (checkpoints) ::unlink(path.c_str());
    return;
  }
  tracked_keys_ = tracker_->tracked_keys();
  keys_at_checkpoint_ = tracked_keys_;
  checkpoint_due_ = true;
  log::Info("detect.correlation_windows_restored",
            {{"keys", static_cast<int64_t>(taken->keys)},
             {"correlations", static_cast<int64_t>(taken->correlations)},
             {"dropped", Joined(taken->dropped)}});
}

void LiveEngine::Impl::SaveCorrelationWindows() {
  const std::string& path = options_.correlation_state_file;
  if (path.empty() || !tracker_ || windows_saved_) return;
  windows_saved_ = true;  // once per stop (the destructor stops again)
  WriteCorrelationWindows("detect.correlation_windows_saved", /*background=*/false);
}

void LiveEngine::Impl::CheckpointCorrelationWindows() {
  // Stopping, the save at Stop() follows.
  if (options_.correlation_state_file.empty() || options_.correlation_checkpoint_millis <= 0 ||
      stop_.load()) {
    return;
  }
  // A write still under way: this housekeeping leaves the checkpoint to the next.
  if (!CollectWindowsWrite(/*wait=*/false)) return;
  const auto now = std::chrono::steady_clock::now();
  if (!checkpoint_due_ &&
      now - last_checkpoint_ < std::chrono::milliseconds(options_.correlation_checkpoint_millis)) {
    return;
  }
  checkpoint_due_ = false;
  last_checkpoint_ = now;
  if (correlation_feeds_ == feeds_at_checkpoint_ &&
      tracker_->tracked_keys() == keys_at_checkpoint_) {
    return;  // nothing counted, decided or forgotten since the file was written
  }
  WriteCorrelationWindows("detect.correlation_windows_checkpointed", /*background=*/true);
}

bool LiveEngine::Impl::WriteCorrelationWindows(const char* logged_as, bool background) {
  // One write at a time, in order: a removal must not be overtaken by a write begun before it.
  if (!CollectWindowsWrite(/*wait=*/!background)) return false;
  const std::string& path = options_.correlation_state_file;
  const size_t keys = tracker_->tracked_keys();
  if (keys == 0) {
    // None open: an older save must not come back at the next start.
    if (::unlink(path.c_str()) == 0 || errno == ENOENT) {
      feeds_at_checkpoint_ = correlation_feeds_;
      keys_at_checkpoint_ = 0;
    }
    std::string().swap(*windows_writer_.buffer());  // a flood's worth of text, no longer needed
    return true;
  }
  const auto started = std::chrono::steady_clock::now();
  WindowsFileWriter::Write write;
  write.logged_as = logged_as;
  write.feeds = correlation_feeds_;
  write.keys = keys;
  tracker_->SaveWindowsInto(windows_writer_.buffer(), kMaxSavedWindowsBytes, &write.left_out);
  write.serialised = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  // A flood's worth of room kept after the flood has ebbed is let go.
  std::string* text = windows_writer_.buffer();
  if (text->capacity() > (size_t{1} << 20) && text->capacity() / 4 > text->size()) {
    text->shrink_to_fit();
  }
  windows_writer_.Start(path, write, background);
  if (!background) CollectWindowsWrite(/*wait=*/true);
  return true;
}

bool LiveEngine::Impl::CollectWindowsWrite(bool wait) {
  if (!windows_writer_.under_way()) return true;
  if (!wait && !windows_writer_.finished()) return false;
  if (auto written = windows_writer_.Collect()) {
    feeds_at_checkpoint_ = written->feeds;
    keys_at_checkpoint_ = written->keys;
  }
  return true;
}

void LiveEngine::Impl::Run() {
  auto last_housekeeping = std::chrono::steady_clock::now();
  const auto period = std::chrono::milliseconds(std::max<int64_t>(options_.housekeeping_millis, 1));
  for (;;) {
    Drain();
    auto now = std::chrono::steady_clock::now();
    if (now - last_housekeeping >= period) {
      Housekeeping();
      last_housekeeping = now;
    }
    if (stop_.load()) {
      Drain();
      Housekeeping();
      return;
    }
    std::unique_lock<std::mutex> lock(mu_);
    sleeping_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (queue_.Empty() && !stop_.load() && !reload_pending_.load()) cv_.wait_for(lock, period);
    sleeping_.store(false, std::memory_order_relaxed);
  }
}

size_t LiveEngine::Impl::ProcessPending() {
  size_t n = Drain();
  Housekeeping();
  // Inline, a checkpoint begun is finished before this returns: the caller reads its file.
  CollectWindowsWrite(/*wait=*/true);
  return n;
}

size_t LiveEngine::Impl::Drain() {
  size_t n = 0;
  SecurityEvent ev;
  TakeReload();
  while (queue_.TryPop(&ev)) {
    TakeReload();
    Process(ev);
    ++n;
  }
  return n;
}

Result<IocReload> LiveEngine::Impl::ReloadIocs() {
  std::set<std::string> gave_indicators;
  {
    std::lock_guard<std::mutex> lock(reload_mu_);
    for (const auto& [file, count] : feeds_in_use_) {
      if (count > 0) gave_indicators.insert(file);
    }
  }
  auto store = std::make_unique<IocStore>();
  std::vector<UnusableFeed> unusable;
  std::map<std::string, size_t> usable;
  LoadFeeds(options_.ioc_files, clock_->NowMillis(), store.get(), &unusable, &usable,
            gave_indicators);
  IocReload reload{usable.size(), store->size()};
  std::unique_ptr<IocStore> replaced;  // a pending store this one replaces, freed unlocked
  // A feed the engine uses that cannot be read now (a download cut short) keeps the reload
  // from applying: its indicators would be lost. One that was unusable already blocks nothing.
  std::string lost;
  {
    std::lock_guard<std::mutex> lock(reload_mu_);
    for (UnusableFeed& feed : unusable) {
      if (feeds_in_use_.count(feed.file)) {
        feed.indicators_kept = true;
        lost += (lost.empty() ? "" : "; ") + feed.file + ": " + feed.error;
      }
    }
    // (A failed reload leaves an earlier one that the engine has not taken yet pending.)
    if (lost.empty()) {
      replaced = std::move(reloaded_iocs_);
      reloaded_iocs_ = std::move(store);
      feeds_in_use_ = std::move(usable);
    }
    reload_unusable_ = unusable;
    reload_pending_ = true;
  }
  Wake();
  if (!lost.empty()) {
    ++ioc_reloads_refused_;
    return Status::InvalidArgument("IoC feeds not reloaded, the current indicators stay: " + lost);
  }
  ++ioc_reloads_;
  return reload;
}

Result<RulesReload> LiveEngine::Impl::ReloadRules() {
  Result<CompiledRules> built = CompileRules();
  if (!built.ok()) {
    ++rules_reloads_refused_;
    return built.status();
  }
  CompiledRules compiled = std::move(built).value();
  RulesReload reload;
  reload.rules = compiled.rules->size();
  reload.correlations = compiled.linked.rules.size();
  reload.skipped = compiled.skipped;
  std::unique_ptr<CompiledRules> replaced;  // a pending set this one replaces, freed unlocked
  {
    std::lock_guard<std::mutex> lock(reload_mu_);
    // Compared with the last rules accepted. (When a pending reload is replaced before the
    // engine took it, the engine goes from the rules it has to the last ones, each correlation
    // to its counterpart.)
    reload.correlations_restarted =
        RestartedCorrelations(correlations_in_use_, compiled.linked.rules);
    correlations_in_use_ = compiled.linked.rules;
    replaced = std::move(reloaded_rules_);
    reloaded_rules_ = std::make_unique<CompiledRules>(std::move(compiled));
    reload_pending_ = true;
  }
  Wake();
  ++rules_reloads_;
  return reload;
}

void LiveEngine::Impl::TakeReload() {
  if (!reload_pending_.load()) return;
  std::unique_ptr<IocStore> store;
  std::vector<UnusableFeed> unusable;
  std::unique_ptr<CompiledRules> rules;
  {
    std::lock_guard<std::mutex> lock(reload_mu_);
    store = std::move(reloaded_iocs_);
    unusable = std::move(reload_unusable_);
    reload_unusable_.clear();
    rules = std::move(reloaded_rules_);
    reload_pending_ = false;
  }
  // What they replace is freed here, on the engine thread, the only one that read it.
  if (store) {
    iocs_ = std::move(store);
    indicator_count_ = iocs_->size();
  }
  if (rules) Install(std::move(*rules));
  feeds_to_report_.insert(feeds_to_report_.end(), unusable.begin(), unusable.end());
}

LiveEngineStats LiveEngine::Impl::stats() const {
  LiveEngineStats s;
  s.processed = processed_.load();
  s.dropped = queue_.dropped();
  s.alerts = alerts_.load();
  s.tracked_keys = tracked_keys_.load();
  s.evicted_keys = evicted_keys_.load();
  s.rules = rule_count_.load();
  s.correlations = correlation_count_.load();
  s.indicators = indicator_count_.load();
  s.rules_reloads = rules_reloads_.load();
  s.rules_reloads_refused = rules_reloads_refused_.load();
  s.ioc_reloads = ioc_reloads_.load();
  s.ioc_reloads_refused = ioc_reloads_refused_.load();
  return s;
}

void LiveEngine::Impl::Deliver(const core::Alert& a) {
  constexpr size_t kMaxCoalescedKeys = 10000;
  std::string key = a.institution_id;
  key.append(1, '\0').append(a.rule_id).append(1, '\0').append(a.entity);
  if (delivered_this_period_.size() < kMaxCoalescedKeys &&
      delivered_this_period_.insert(key).second) {
    handler_->OnAlert(a);
    return;
  }
  auto [it, fresh] = pending_.try_emplace(std::move(key), a);
  if (!fresh) {
    core::Alert& p = it->second;
    p.count += a.count;
    p.last_seen = std::max(p.last_seen, a.last_seen);
    p.last_seen_ms = std::max(p.last_seen_ms, a.last_seen_ms);
    if (core::SeverityRank(a.severity) > core::SeverityRank(p.severity)) p.severity = a.severity;
    // As the store folds them: a correlation's alert carries several events, and the latest
    // (the one that completed it) must not be the one left out.
    core::FoldEvidence(&p.evidence, a.evidence,
                       options_.max_evidence < 0 ? 0 : static_cast<size_t>(options_.max_evidence));
  }
  if (pending_.size() >= kMaxCoalescedKeys) FlushPending();
}

void LiveEngine::Impl::FlushPending() {
  for (const auto& [key, alert] : pending_) handler_->OnAlert(alert);
  pending_.clear();
  delivered_this_period_.clear();
}

void LiveEngine::Impl::Housekeeping() {
  int64_t now = clock_->NowMillis();
  tracker_->Sweep(now);
  corr_hits_.clear();
  tracker_->CloseIdleWindows(now, &corr_hits_);
  for (const CorrelationHit& hit : corr_hits_) RaiseDecidedWindow(hit);
  FlushPending();
  tracked_keys_ = tracker_->tracked_keys();
  evicted_keys_ = evicted_before_ + tracker_->evicted_keys();
  CheckpointCorrelationWindows();
  if (!feeds_to_report_.empty()) {
    for (const UnusableFeed& feed : feeds_to_report_) {
      nlohmann::json ev = {{"@timestamp", FormatRfc3339(now / 1000)},
                           {"event.action", "detection.ioc_feed_unusable"},
                           {"file.path", feed.file},
                           {"error.message", feed.error},
                           {"ioc_feed.indicators_kept", feed.indicators_kept}};
      Raise("rampart-detection-ioc-feed-unusable",
            feed.indicators_kept
                ? "IoC feed could not be reloaded; the indicators loaded before stay in use"
                : "IoC feed could not be loaded; detection runs without it",
            "high", {"T1562"}, "file.path=" + feed.file, "", now, ev.dump(), 1);
    }
    feeds_to_report_.clear();
    FlushPending();
  }
  uint64_t dropped = queue_.dropped();
  if (dropped > reported_drops_) {
    uint64_t delta = dropped - reported_drops_;
    reported_drops_ = dropped;
    nlohmann::json ev = {{"@timestamp", FormatRfc3339(now / 1000)},
                         {"event.action", "detection.events_dropped"},
                         {"dropped", delta},
                         {"dropped_total", dropped},
                         {"queue_capacity", queue_.capacity()}};
    log::Warn("detect.events_dropped", {{"dropped", delta}, {"dropped_total", dropped}});
    Raise("rampart-detection-events-dropped",
          "Detection engine dropped events (queue full, or the syslog socket overflowed)", "high",
          {"T1562"}, "engine=live", "", now, ev.dump(), static_cast<int64_t>(delta));
    FlushPending();
  }
}

namespace {

// RFC 3339 UTC to the millisecond: time to detect is measured from it (respond/impact.h).
std::string EvidenceStamp(int64_t ms) {
  if (ms < 0) ms = 0;
  std::string stamp = FormatRfc3339(ms / 1000);
  stamp.insert(stamp.size() - 1, "." + std::to_string(1000 + ms % 1000).substr(1));
  return stamp;
}

}  // namespace

const std::string& LiveEngine::Impl::Evidence(const SecurityEvent& se, int64_t ts) {
  if (evidence_built_) return evidence_;
  nlohmann::json j = nlohmann::json::object();
  j["@timestamp"] = EvidenceStamp(ts);
  for (const auto& [k, v] : se.fields) {
    j[k] = v.size() > kMaxEvidenceValue ? v.substr(0, kMaxEvidenceValue) : v;
  }
  if (!se.institution_id.empty()) j["organization.id"] = se.institution_id;
  evidence_ = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  evidence_built_ = true;
  return evidence_;
}

void LiveEngine::Impl::Raise(const std::string& rule_id, const std::string& title,
                             const std::string& severity, const std::vector<std::string>& attack,
                             std::string entity, const std::string& institution_id, int64_t ts,
                             std::string evidence, int64_t count, int64_t first_ts,
                             std::vector<std::string> earlier_evidence) {
  if (first_ts == 0 || first_ts > ts) first_ts = ts;
  core::Alert a;
  a.institution_id = institution_id;
  a.rule_id = rule_id;
  a.rule_title = title;
  a.entity = std::move(entity);
  a.severity = NormalSeverity(severity);
  a.attack = attack;
  a.evidence = std::move(earlier_evidence);
  a.evidence.push_back(std::move(evidence));
  a.first_seen = first_ts / 1000;
  a.last_seen = ts / 1000;
  a.first_seen_ms = first_ts;
  a.last_seen_ms = ts;
  a.created_at = ts / 1000;
  a.count = count;
  ++alerts_;
  Deliver(a);
}

void LiveEngine::Impl::RaiseCorrelation(const CorrelationHit& hit,
                                        const std::string& institution_id, int64_t ts,
                                        const std::string& evidence) {
  const CorrelationRule& c = tracker_->rules()[hit.correlation];
  if (!c.alerts) return;  // it only feeds a chained correlation
  nlohmann::json ev_json = nlohmann::json::parse(evidence, nullptr, false);
  if (ev_json.is_object()) {
    ev_json["correlation.type"] = CorrelationTypeName(c.type);
    ev_json["correlation.value"] = hit.value;
    ev_json["correlation.timespan_seconds"] = c.timespan_millis / 1000;
    if (hit.at_window_end) {
      // A tumbling window, from its first event: the evidence is the last event it counted.
      ev_json["correlation.window_start"] = EvidenceStamp(hit.first_millis);
      const int64_t end = hit.first_millis > INT64_MAX - c.timespan_millis
                              ? INT64_MAX
                              : hit.first_millis + c.timespan_millis;
      ev_json["correlation.window_end"] = EvidenceStamp(end);
    } else {
      // The evidence is the event that completed the correlation; the events it counted lie
      // in the timespan before it, and an incident's impact must reach back to them.
      ev_json["correlation.window_start"] = EvidenceStamp(ts - c.timespan_millis);
    }
    ev_json["correlation.first_event"] = EvidenceStamp(hit.first_millis);
    if (!hit.values.empty()) {
      // What was enumerated (device or staff ids), as many as an analyst can read.
      constexpr size_t kMaxValues = 100;
      nlohmann::json values = nlohmann::json::array();
      for (size_t i = 0; i < hit.values.size() && i < kMaxValues; ++i) {
        values.push_back(hit.values[i]);
      }
      ev_json["correlation.values"] = std::move(values);
    }
  }
  // A window of an actor of no institution (its scope) belongs to the one institution all its
  // events concerned, when they concerned one: that institution sees it and its playbooks lock
  // that institution down; one spread over several (or over some and none) is server-wide.
  const std::string& owner =
      !institution_id.empty() || hit.concerns == kMixedConcerns ? institution_id : hit.concerns;
  // The alert spans the counted events: first_seen is the earliest, count how many; its evidence
  // is the counted events the window kept, oldest first, then the one that completed it.
  Raise(c.info.id, c.info.title, c.info.severity, c.info.attack, hit.entity, owner, ts,
        ev_json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), hit.value,
        hit.first_millis, hit.counted_notes);
}

std::string LiveEngine::Impl::WindowNoteOf(const std::string& institution_id,
                                           const SecurityEvent& se, int64_t ts) {
  // The institution, length first, then the evidence: whole when short, as it is for requests;
  // else each value cut and the fields taken while they fit, since the engine keeps one note per
  // open window (up to max_tracked_keys of them per correlation).
  std::string note = std::to_string(institution_id.size());
  note.push_back(':');
  note.append(institution_id);
  return note.append(CompactEvidence(se, ts));
}

std::string LiveEngine::Impl::CompactEvidence(const SecurityEvent& se, int64_t ts) {
  const std::string& evidence = Evidence(se, ts);
  if (evidence.size() <= kMaxWindowEvidence) return evidence;
  constexpr size_t kMaxValue = 128;
  nlohmann::json j = nlohmann::json::object();
  j["@timestamp"] = EvidenceStamp(ts);
  j["evidence.truncated"] = true;
  if (!se.institution_id.empty()) j["organization.id"] = se.institution_id.substr(0, kMaxValue);
  size_t budget = kMaxWindowEvidence;
  for (const auto& [k, v] : se.fields) {
    const size_t cost = std::min(k.size(), kMaxValue) + std::min(v.size(), kMaxValue) + 8;
    if (cost > budget) break;
    budget -= cost;
    j[k.substr(0, kMaxValue)] = v.substr(0, kMaxValue);
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void LiveEngine::Impl::RaiseDecidedWindow(const CorrelationHit& hit) {
  std::string_view note = hit.note;
  size_t length = 0;
  auto [end, ec] = std::from_chars(note.data(), note.data() + note.size(), length);
  if (ec != std::errc() || end == note.data() + note.size() || *end != ':') {
    return;  // every such window was fed with a note (Process)
  }
  note.remove_prefix(static_cast<size_t>(end + 1 - note.data()));
  if (length > note.size()) return;
  RaiseCorrelation(hit, std::string(note.substr(0, length)), hit.last_millis,
                   std::string(note.substr(length)));
}

void LiveEngine::Impl::Process(const SecurityEvent& se) {
  ++processed_;
  const int64_t ts = se.timestamp_millis != 0 ? se.timestamp_millis : clock_->NowMillis();
  evidence_built_ = false;
  Event& ev = event_;
  ev.Clear();
  size_t total = 64;
  for (const auto& [k, v] : se.fields) total += v.size() * 2 + 8;
  ev.ReserveScratch(total * 2);
  for (const auto& [k, v] : se.fields) {
    auto f = FieldFromName(k);
    if (!f) continue;
    ev.SetCopy(*f, v);
    if (*f == Field::kHttpResponseStatusCode) {
      int code = 0;
      for (char c : v) code = (c >= '0' && c <= '9' && code < 1000) ? code * 10 + (c - '0') : code;
      ev.set_status_code(code);
    }
  }
  if (!se.institution_id.empty() && !ev.Has(Field::kOrganizationId)) {
    ev.SetCopy(Field::kOrganizationId, se.institution_id);
  }
  for (Field f : kDecodedFields) {
    if (ev.Has(f)) ev.DecodeField(f);
  }
  ev.ResolvePath();
  if (ev.Has(Field::kUrlOriginal) && se.Get("event.original").empty()) {
    // Keyword rules search the whole line; give them what an access log line would hold (log
    // sources hand over the real line).
    std::string line;
    line.reserve(total);
    line.append(ev.Get(Field::kSourceIp)).append(" \"").append(ev.Get(Field::kHttpRequestMethod));
    line.append(" ").append(ev.Get(Field::kUrlOriginal)).append("\" ");
    line.append(ev.Get(Field::kHttpResponseStatusCode)).append(" \"");
    line.append(ev.Get(Field::kUserAgentOriginal)).append("\"");
    ev.SetCopy(Field::kEventOriginal, line);
  }
  ev.set_timestamp_millis(ts);
  const std::string& inst = se.institution_id;

  // Canaries first: they alert whatever the rules say.
  if (!canary_paths_.empty() && ev.Has(Field::kUrlPath)) {
    // Each form once: raw, then decoded and resolved only where they differ. A trailing '/'
    // reaches the same resource on most servers ("/mifs/canary/" for "/mifs/canary").
    auto listed = [&](std::string_view path) {
      if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
      return canary_paths_.count(std::string(path)) > 0;
    };
    if (listed(ev.Get(Field::kUrlPath)) ||
        (ev.HasDistinctDecoded(Field::kUrlPath) && listed(ev.Decoded(Field::kUrlPath))) ||
        (ev.HasDistinctResolvedPath() && listed(ev.ResolvedPath()))) {
      Raise("rampart-canary-path", "Request to a canary path", "critical", {"T1190", "T1083"},
            EntityOf(ev), inst, ts, Evidence(se, ts));
    }
  }
  // A token is used on this server only: an outside source's user.name is not one (a log line
  // naming the canary's id is no use of it).
  if (!canary_tokens_.empty() && ev.Has(Field::kUserName) &&
      IsRampartAction(se.Get("event.action")) &&
      canary_tokens_.count(std::string(ev.Get(Field::kUserName)))) {
    Raise("rampart-canary-token", "Use of a canary API token", "critical", {"T1078", "T1552.001"},
          "user.name=" + std::string(ev.Get(Field::kUserName)), inst, ts, Evidence(se, ts));
  }

  if (login_detector_ && se.Get("event.action") == "auth.login") {
    std::string_view user = se.Get("user.name");
    std::string_view address = se.Get("source.ip");
    if (!user.empty() && !address.empty() &&
        login_detector_->Observe(user, address, ts) == LoginVerdict::kAlert) {
      Raise("rampart-admin-login-new-address",
            "Admin login from a new address outside working hours", "high", {"T1078"},
            "user.name=" + std::string(user), inst, ts, Evidence(se, ts));
    }
  }

  if (new_files_) ObserveFileUse(se, ev, ts);

  matcher_->Match(ev, &hits_);
  corr_hits_.clear();
  // Windows belong to the actor's institution (SecurityEvent): an alert raised for one
  // institution holds none of another's events. An unauthenticated or server-wide actor has one
  // window across institutions, which also keeps what its events concerned (RaiseCorrelation).
  const std::string& scope = se.actor_institution_id;
  std::string counted;
  for (uint32_t h : hits_) {
    const RuleInfo& r = rules_->rule(h);
    if (generates_[h]) {
      Raise(r.id.empty() ? r.title : r.id, r.title, r.severity, r.attack, EntityOf(ev), inst, ts,
            Evidence(se, ts));
    }
    for (const auto& [index, slot] : feeds_[h]) {
      ++correlation_feeds_;
      // What the window keeps of this event, for the alert that shows what it counted (built
      // once for all the correlations that keep it).
      const bool keeps_note = tracker_->KeepsCountedNotes(index);
      if (keeps_note && counted.empty()) counted = CompactEvidence(se, ts);
      const std::string_view counted_note =
          keeps_note ? std::string_view(counted) : std::string_view();
      if (!tracker_->NeedsWindowNote(index)) {
        tracker_->OnMatch(index, slot, ev, ts, &corr_hits_, nullptr, scope, inst, counted_note);
        continue;
      }
      // Decided later, in Housekeeping, with no event at hand: keep the window's institution and
      // this event's evidence, and when it arrived (a followed log's times may lag the clock).
      const std::string note = WindowNoteOf(scope, se, ts);
      const WindowNote window_note{note, clock_->NowMillis()};
      tracker_->OnMatch(index, slot, ev, ts, &corr_hits_, &window_note, scope, inst, counted_note);
    }
  }
  for (const auto& hit : corr_hits_) {
    // A window this event decided (it lies a timespan past it) is raised with its own last event.
    if (hit.at_window_end) {
      RaiseDecidedWindow(hit);
    } else {
      RaiseCorrelation(hit, scope, ts, Evidence(se, ts));
    }
  }
  if (iocs_->size() > 0) {
    iocs_->MatchEvent(ev, ts, &ioc_hits_);
    // As in rampart scan: the payload of an event a rule flagged is read for indicators too.
    iocs_->MatchEmbedded(ev, /*payloads=*/!hits_.empty(), ts, &ioc_hits_);
    for (const auto& m : ioc_hits_) {
      const Ioc& ioc = *m.ioc;
      Raise(
          "rampart-ioc",
          "Indicator of compromise (" + std::string(IocTypeName(ioc.type)) + ") from " + ioc.source,
          ioc.severity, ioc.attack, std::string(FieldName(m.field)) + "=" + ioc.value, inst, ts,
          Evidence(se, ts));
    }
  }
}

void LiveEngine::Impl::ObserveFileUse(const SecurityEvent& se, const Event& ev, int64_t ts) {
  std::string_view action = se.Get("event.action");
  // The engine's clock, not the event's: a sender's far-future time must not make the detector
  // forget every file at once.
  const int64_t now = clock_->NowMillis();
  if (action == "file.created") {
    new_files_->FileCreated(se.Get("file.path"), now);
    return;
  }
  if (action == "file.deleted") {
    new_files_->FileDeleted(se.Get("file.path"));
    return;
  }
  // A refused request (401, 403, ...) did not reach the file, nor did one the front proxy
  // answered for a back end that was down (502, 503, 504: restarts and upgrades, when new
  // pages appear); a 500 did (a page that throws has run, and a webshell failing on its input
  // is still one). A 404 with parameters to a new script counts too: the file is on disk, and
  // a webshell may answer its own requests with 404 to look like nothing is there. Its body
  // is an error page, not the file, so it is no download.
  const int status = ev.status_code();
  const bool parameters =
      !ev.Get(Field::kUrlQuery).empty() || ev.Get(Field::kHttpRequestMethod) == "POST";
  const bool hidden_script = status == 404 && parameters;
  if (!ev.Has(Field::kUrlPath) || (status >= 400 && status != 500 && !hidden_script)) return;
  uint64_t bytes = 0;
  for (char c : ev.Get(Field::kHttpResponseBodyBytes)) {
    if (hidden_script || c < '0' || c > '9' || bytes > (uint64_t{1} << 60)) break;
    bytes = bytes * 10 + static_cast<uint64_t>(c - '0');
  }
  NewFileUse use = new_files_->Request(ev.Decoded(Field::kUrlPath), parameters, bytes, now);
  if (use.kind == NewFileUse::Kind::kScriptCalled) {
    Raise("rampart-new-script-called",
          "Request with parameters to a script created after the baseline (webshell use)",
          "critical", {"T1505.003", "T1190"}, "file.path=" + use.file, se.institution_id, ts,
          Evidence(se, ts));
  } else if (use.kind == NewFileUse::Kind::kLargeDownload) {
    Raise("rampart-new-file-large-download",
          "Large download of a file created after the baseline (staged data)", "high",
          {"T1074.001", "T1041"}, "file.path=" + use.file, se.institution_id, ts, Evidence(se, ts));
  }
}

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<LiveEngine>> LiveEngine::Create(LiveEngineOptions options,
                                                       const Clock* clock, AlertHandler* handler) {
  auto impl = std::make_unique<Impl>(std::move(options), clock, handler);
  RAMPART_RETURN_IF_ERROR(impl->Load());
  return std::unique_ptr<LiveEngine>(new LiveEngine(std::move(impl)));
}

LiveEngine::LiveEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LiveEngine::~LiveEngine() = default;

void LiveEngine::Emit(SecurityEvent event) {
  impl_->Emit(std::move(event));
}
bool LiveEngine::TryEmit(SecurityEvent& event) {
  return impl_->TryEmit(event);
}
void LiveEngine::ReportLost(uint64_t count) {
  impl_->ReportLost(count);
}
void LiveEngine::Start() {
  impl_->Start();
}
void LiveEngine::Stop() {
  impl_->Stop();
}
size_t LiveEngine::ProcessPending() {
  return impl_->ProcessPending();
}
Result<IocReload> LiveEngine::ReloadIocs() {
  return impl_->ReloadIocs();
}
Result<RulesReload> LiveEngine::ReloadRules() {
  return impl_->ReloadRules();
}
LiveEngineStats LiveEngine::stats() const {
  return impl_->stats();
}
size_t LiveEngine::rule_count() const {
  return impl_->rule_count();
}
size_t LiveEngine::correlation_count() const {
  return impl_->correlation_count();
}
const std::vector<SkippedRule>& LiveEngine::skipped() const {
  return impl_->skipped();
}
const std::vector<UnusableFeed>& LiveEngine::unusable_feeds() const {
  return impl_->unusable_feeds();
}

}  // namespace rampart::detect
