// Runs playbooks against stored alerts. serve hands every stored alert to Submit() (from the
// alert pipeline's writer thread, which must not wait); a worker thread matches the playbooks
// and runs their steps in order through ActionEngine. A step that requires approval stops the
// run: it waits in Pending() until an admin approves it, then it and the steps after it run.
//
//   PlaybookRunner runner(&engine, &clock);
//   runner.SetPlaybooks(LoadPlaybookDir("rules/playbooks").playbooks);
//   runner.Start();
//   pipeline->AddStoredListener([&](const core::Alert& a) { runner.Submit(a); });
//
// Thread-safe. Pending approvals live in memory: a restart drops them (the audit log keeps the
// "pending_approval" record, and the alert is still there to act on by hand).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "core/alert.h"
#include "respond/actions.h"
#include "respond/playbook.h"

namespace rampart::respond {

struct PendingStep {
  std::string id;  // "pnd_..."
  std::string playbook;
  size_t step = 0;  // index into the playbook's steps
  std::string action;
  core::Alert alert;
  int64_t created_at = 0;
};

class PlaybookRunner {
 public:
  PlaybookRunner(ActionEngine* engine, const Clock* clock);
  ~PlaybookRunner();
  PlaybookRunner(const PlaybookRunner&) = delete;
  PlaybookRunner& operator=(const PlaybookRunner&) = delete;

  void SetPlaybooks(std::vector<Playbook> playbooks);
  size_t playbook_count() const;

  // Queues an alert for the worker; without Start() runs it at once on the calling thread.
  // Never blocks on I/O when started (the queue is bounded; overflow is logged and dropped).
  void Submit(const core::Alert& alert);
  // Runs every matching playbook for the alert now, on this thread. Each (playbook, alert) pair
  // runs once: the pipeline calls again for every event folded into the same alert.
  void Run(const core::Alert& alert);
  void Start();
  void Stop();

  // Steps waiting for approval that `institution_id` may see ("" with cross_institution: all).
  std::vector<PendingStep> Pending(const std::string& institution_id, bool cross_institution) const;
  // Runs the pending step and the rest of its playbook as `approver`. NotFound when no such
  // pending step is visible to the caller.
  Status Approve(const std::string& id, const std::string& approver,
                 const std::string& institution_id, bool cross_institution);

 private:
  void RunFrom(const Playbook& pb, size_t first, const core::Alert& alert, bool approved,
               const std::string& approver);
  Status RunStep(const Playbook& pb, size_t index, const core::Alert& alert, ActionContext ctx);
  void Loop();

  ActionEngine* engine_;
  const Clock* clock_;
  mutable std::mutex mu_;
  std::vector<Playbook> playbooks_;      // guarded by mu_
  std::unordered_set<std::string> ran_;  // "playbook\0alert id"; guarded by mu_
  std::vector<PendingStep> pending_;     // guarded by mu_
  std::deque<core::Alert> queue_;        // guarded by mu_
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  bool started_ = false;
  std::thread worker_;
};

}  // namespace rampart::respond
