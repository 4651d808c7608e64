// The live detection engine of `rampart serve`: takes SecurityEvents from the request path
// (common/event_sink.h) through a bounded queue, and on its own thread runs the Sigma rules,
// the IoCs, the correlation rules (thresholds, distinct counts, sequences) and the canaries on
// each, handing every alert to an AlertHandler (which stores it and feeds the sinks).
//
//   LiveEngineOptions opt;
//   opt.rule_dirs = {"/usr/share/rampart/rules", "/etc/rampart/rules"};
//   opt.canary_paths = {"/api/v1/staff/export"};
//   auto engine = LiveEngine::Create(opt, &SystemClock::Instance(), &handler);
//   (*engine)->Start();                 // the engine thread
//   app_options.events = engine->get(); // App emits one event per answered request
//   ...
//   (*engine)->Stop();                  // drains what is queued, then joins
//
// Emit() never blocks: when the queue is full the event is dropped and counted, and a non-zero
// drop count raises its own alert ("rampart-detection-events-dropped"). Built-in alerts:
//   rampart-canary-path   a request to a configured canary path            critical, always
//   rampart-canary-token  any use of a configured canary API token id      critical, always
//   rampart-ioc           an address, domain, URL or user agent of an IoC   high
//   rampart-admin-login-new-address  a console login from an address new for the user,
//                         outside working hours (login_detector.h)         high
//   rampart-new-script-called  a request with parameters to a script file created after the
//                         baseline: webshell use (new_file_use.h)          critical
//   rampart-new-file-large-download  a large response for a file created after the baseline:
//                         staged data fetched (new_file_use.h)             high
// Repeats of one (institution, rule, entity) within a housekeeping period are folded into one
// observation (count, last_seen, evidence) delivered at the next housekeeping; the first one is
// delivered at once.
// Event times come from the event (or the engine's clock when the event has none), so tests
// drive windows with a ManualClock. Thread safety: Emit from any thread; everything else from
// the controlling thread (or, without Start(), ProcessPending drives the engine inline).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/event_sink.h"
#include "common/status.h"
#include "core/alert.h"
#include "detect/login_detector.h"
#include "detect/new_file_use.h"
#include "detect/sigma.h"

namespace rampart::detect {

// Receives every alert observation on the engine thread. May block (a store write, or room in
// a writer's queue); the request path never waits for it, only the engine does.
class AlertHandler {
 public:
  virtual ~AlertHandler() = default;
  virtual void OnAlert(const core::Alert& observation) = 0;
};

struct LiveEngineOptions {
  std::vector<std::string> rule_dirs;   // Sigma rules and correlation rules, all loaded
  std::vector<std::string> rule_texts;  // extra rule YAML (tests, benchmarks)
  std::vector<std::string> ioc_files;   // STIX 2.1, MISP or CSV
  size_t queue_capacity = 65536;
  size_t max_tracked_keys = 100000;           // per correlation rule
  int max_evidence = 10;                      // evidence events kept per alert
  std::vector<std::string> canary_paths;      // exact url.path values
  std::vector<std::string> canary_token_ids;  // API token ids (user.name of events)
  int64_t housekeeping_millis = 1000;         // drop check and window sweep period
  // Where the open correlation windows are kept: written at Stop() and, while they change,
  // every correlation_checkpoint_millis (0: only at Stop), taken up at Create by each
  // correlation whose counterpart saved them (CorrelationCounterparts), so that neither a
  // restart nor a crash resets a slow attacker's count. Empty: windows live in memory only.
  std::string correlation_state_file;
  int64_t correlation_checkpoint_millis = 5 * 60 * 1000;
  // rampart-admin-login-new-address (detect/login_detector.h), on `auth.login` events.
  NewAddressLoginOptions login_detector;
  // rampart-new-script-called and rampart-new-file-large-download (detect/new_file_use.h): the
  // integrity monitor's `file.created` events joined with later requests.
  NewFileUseOptions new_file_use;
};

struct LiveEngineStats {
  uint64_t processed = 0;
  uint64_t dropped = 0;
  uint64_t alerts = 0;
  size_t tracked_keys = 0;
  uint64_t evicted_keys = 0;
  // What the engine matches with (taken over at the event after a reload).
  size_t rules = 0;
  size_t correlations = 0;
  size_t indicators = 0;
  // Reloads handed over, and refused (rules that could not be built at all; feeds in use that
  // could not be read), since start.
  uint64_t rules_reloads = 0;
  uint64_t rules_reloads_refused = 0;
  uint64_t ioc_reloads = 0;
  uint64_t ioc_reloads_refused = 0;
};

// An IoC file the engine left out, and why ("invalid JSON at byte 701").
struct UnusableFeed {
  std::string file;
  std::string error;
  // Set when a reload was refused for it: the engine keeps the indicators it had.
  bool indicators_kept = false;
};

// What a reload of the IoC files read.
struct IocReload {
  size_t feeds = 0;       // files read and used
  size_t indicators = 0;  // indicators the engine matches from now on
};

// What a reload of the rules built.
struct RulesReload {
  size_t rules = 0;
  size_t correlations = 0;
  std::vector<SkippedRule> skipped;  // with their reasons, as at start
  // The correlations whose windows start empty (changed, or new), by id (name, title), compared
  // with the rules accepted last: every other one keeps its windows, in whatever place of the
  // set it now stands. (A reload that replaces one the engine has not taken yet: the engine
  // goes from its own rules to these, and logs detect.correlation_windows_dropped.)
  std::vector<std::string> correlations_restarted;
};

class LiveEngine final : public EventSink {
 public:
  // Loads and compiles the rules and IoCs. Rules that cannot be used are skipped (see
  // skipped()); an IoC file that cannot be read or parsed is left out (unusable_feeds(); logged,
  // and raised as a high alert `rampart-detection-ioc-feed-unusable` by the first
  // housekeeping). InvalidArgument only when the rule set cannot be built at all. `clock` and
  // `handler` must outlive the engine.
  static Result<std::unique_ptr<LiveEngine>> Create(LiveEngineOptions options, const Clock* clock,
                                                    AlertHandler* handler);
  ~LiveEngine() override;

  // Non-blocking; thread-safe.
  void Emit(SecurityEvent event) override;
  // Non-blocking; thread-safe. False, with nothing counted, when the queue is full.
  bool TryEmit(SecurityEvent& event) override;
  // Counted as dropped events (the drop alert reports them).
  void ReportLost(uint64_t count) override;

  // Starts the engine thread. Stop() processes what is queued, then joins. Idempotent.
  void Start();
  void Stop();
  // Without a thread: processes every queued event and runs housekeeping on the calling
  // thread. Returns the number of events processed.
  size_t ProcessPending();

  // Reads every IoC file again, on the calling thread, and hands the indicators to the engine,
  // which takes them before its next event: feeds refreshed in place (a nightly download from
  // a CERT) are matched without a restart, and no correlation window or alert state is lost.
  // All or nothing: when a file the engine uses cannot be read or parsed now, or gives no
  // indicator when it gave some last time (an empty download, an error page; a file whose
  // entries have all expired or been revoked passes), the engine keeps the indicators it has, the
  // error names the file, and the engine raises `rampart-detection-ioc-feed-unusable` for it at its
  // next housekeeping. A file that was unusable already blocks nothing. Callable from any thread;
  // meant for one caller at a time (with two at once, the one that finishes last wins), and a
  // reload replaces an earlier one the engine has not taken yet.
  Result<IocReload> ReloadIocs();
  // Builds the rules (rule_dirs and rule_texts) again, on the calling thread, and hands them to
  // the engine like ReloadIocs: a new Sigma rule is matched without a restart. The correlation
  // windows (counts, distinct values, sequences under way) are kept when the correlation rules
  // are the same as before, and start empty when any changed. A rule that cannot be used is
  // skipped, as at start; InvalidArgument, with the current rules kept, only when the set
  // cannot be built at all (a rule directory gone). Called as ReloadIocs is; a reload whose
  // windows are kept, replacing a pending one whose windows were not, restarts them.
  Result<RulesReload> ReloadRules();

  LiveEngineStats stats() const;
  size_t rule_count() const;
  size_t correlation_count() const;
  // As loaded by Create (ReloadRules and ReloadIocs report their own).
  const std::vector<SkippedRule>& skipped() const;
  const std::vector<UnusableFeed>& unusable_feeds() const;

 private:
  class Impl;
  explicit LiveEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::detect
