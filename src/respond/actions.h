// Response actions: what a playbook step or an admin route does to contain an incident.
//
// Every action is idempotent (doing it twice leaves the same state and says so), writes exactly
// one audit record through the keeper with the shape below, and is retried with exponential
// backoff while it fails with a transient error (Unavailable, Internal). When an action cannot
// complete, the engine also stores an alert with rule id "rampart-response-action-failed".
//
// Audit record: action "response.<name>", actor "system" (playbooks) or the admin's principal,
// target the entity acted on, outcome "success" | "failure" | "pending_approval",
// institution_id when scoped, details_json {"playbook", "step", "alert_id", "rule_id",
// "entity", "attempt", "containment", "error" (failure only), "expires" (blocks)}.
//
// Thread-safe: the store, the keeper, the denylist and the lockdown cache are.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "core/alert.h"
#include "keeper/keeper.h"
#include "respond/decisions.h"
#include "respond/denylist.h"
#include "respond/evidence_capture.h"
#include "respond/lockdown.h"
#include "respond/master_key_rewrap.h"
#include "store/store.h"

namespace rampart::respond {

inline constexpr std::string_view kActionFailedRule = "rampart-response-action-failed";

// Who runs an action and why; copied into the audit record.
struct ActionContext {
  std::string actor = "system";  // "system" for playbooks, else the principal id
  std::string playbook;
  int step = 0;
  std::string alert_id;
  std::string rule_id;
  std::string entity;
  std::string request_id;
  std::string source_ip;
};

// Who asks to leave a lockdown. Only a signed-in user counts as a person: an API token cannot
// prove which human holds it, so two tokens could be one stolen pair.
struct LiftActor {
  bool is_session = false;
  // The person: "usr_..." for a session; for an API token its owner (or the token id when it
  // has none), so that an admin's own token is never the second admin.
  std::string user_id;
  bool cross_institution = false;
  std::string institution_id;  // the caller's institution
};

struct ActionEngineOptions {
  // Addresses and ranges no block may cover (respond/denylist.h, ParseNeverBlock); entries that
  // do not parse are ignored here (the configuration refuses them at start).
  std::vector<std::string> never_block = {"127.0.0.1", "::1"};
  int max_attempts = 3;
  int64_t initial_backoff_ms = 200;
  // How long a request to leave lockdown waits for its second admin before it expires.
  int64_t lift_request_ttl_seconds = 3600;
  // How to wait between attempts; tests pass a recorder instead of sleeping.
  std::function<void(int64_t millis)> sleep;
  // capture_evidence reuses a bundle of the same incident captured this recently.
  int64_t evidence_dedup_seconds = 600;
  // rotate_command_key does nothing when the institution's key was rotated this recently.
  int64_t key_rotation_dedup_seconds = 3600;
  // rewrap_master_key reuses a master-key rotation this recent instead of rotating again (the
  // keeper refuses more than one an hour anyway).
  int64_t master_key_rotation_dedup_seconds = 3600;
};

// What a playbook's capture_evidence step produced.
struct EvidenceCaptureOutcome {
  EvidenceBundleInfo bundle;
  bool reused = false;  // a bundle of the incident captured within the dedup window
};

// What a rotate_command_key step did.
struct KeyRotationOutcome {
  bool rotated = false;  // false: the key was rotated within the dedup window already
  std::string old_key_id;
  std::string new_key_id;
  int64_t resigned = 0;  // pending commands moved to the new key
};

// What a rewrap_master_key step did.
struct MasterKeyRotationOutcome {
  bool rotated = false;  // false: a rotation within the dedup window was reused
  int64_t version = 0;   // the master key version rows are moved to
};

// Signs a pending command again with its institution's current key, as its creator (the
// keeper's rules see the same principal and approval as at the first signature). Conflict when
// `old_key` did not sign it: a row an intruder wrote into the database is not laundered by a
// rotation. For store::Store::ResignPendingCommands after a command-key rotation.
store::CommandSigner PendingCommandResigner(keeper::Keeper* keeper,
                                            const keeper::CommandKey& old_key,
                                            keeper::Caller caller);

class ActionEngine {
 public:
  // Nothing owned; all must outlive the engine. keeper may be null (audit records are then
  // logged as lost, never silently skipped).
  ActionEngine(store::Store* store, keeper::Keeper* keeper, const Clock* clock, Denylist* denylist,
               LockdownState* lockdowns, ActionEngineOptions options = {});

  // Reads the active blocks into the denylist and the lockdowns into their cache (at start).
  Status Load();

  // Blocks an address or range for `duration_seconds` (1 s .. 1 year). InvalidArgument for a
  // bad address. A block already in force is extended, not duplicated.
  // institution_id: whose block it is (see store::AddressBlock); "" for server-wide.
  // PermissionDenied when an institution's block is wider than CheckInstitutionBlockWidth
  // allows, InvalidArgument when it covers an address of options.never_block (a playbook's
  // refused step is audited as a failure and raises the failure alert).
  Result<store::AddressBlock> BlockAddress(const ActionContext& ctx, std::string_view target,
                                           int64_t duration_seconds, const std::string& reason,
                                           const std::string& institution_id);
  // NotFound for an unknown id; Conflict when already removed.
  Result<store::AddressBlock> UnblockAddress(const ActionContext& ctx, int64_t id);
  // Who hears of block changes (the decision webhooks, respond/decision_webhooks.h): every add,
  // extension, removal and expiry, in the order the store made them, each ending exactly once
  // per run. Called with the engine's block lock held, so it must not wait (queue and return).
  // Set before the engine is used from other threads.
  using BlockObserver = std::function<void(const BlockChange&)>;
  void SetBlockObserver(BlockObserver observer);
  // Reports each block whose time ran out since it was last seen in force (kExpired, once), and
  // drops expired blocks from the denylist. Enforcement does not wait for this (Admit compares
  // expiry itself); run it periodically (App::RunMaintenance), and once at start after the
  // observer is set: blocks that expired while the server was stopped are reported then (each
  // expiry is marked announced in the store, so it is reported once across restarts). Returns
  // how many expired.
  Result<int> ExpireBlocks();
  // Ends every session and API token of a principal: "tok_..." revokes the token, "usr_..."
  // ends every session of the user. Returns how many credentials were ended (0 when already).
  Result<int64_t> RevokePrincipal(const ActionContext& ctx, const std::string& principal,
                                  const std::string& institution_id);
  // Pauses a command batch in `scope`: none of its commands is approved, signed or delivered
  // until it is resumed. Pausing a paused batch changes nothing. NotFound when the batch is not
  // in scope (a manual call's bad id is answered, not audited as a failed action).
  Result<store::CommandBatch> PauseCommandBatch(const ActionContext& ctx, const store::Scope& scope,
                                                const std::string& batch_id,
                                                const std::string& reason);
  // Lets a paused batch go on (audited as response.resume_command_batch; not containment).
  Result<store::CommandBatch> ResumeCommandBatch(const ActionContext& ctx,
                                                 const store::Scope& scope,
                                                 const std::string& batch_id);
  // Pauses every unfinished batch `principal` created in `scope` (one audit record, target the
  // principal). Returns the ids of the batches that were not paused before; none at all is
  // still success (nothing left to stop).
  Result<std::vector<std::string>> PauseBatchesOf(const ActionContext& ctx,
                                                  const store::Scope& scope,
                                                  const std::string& principal,
                                                  const std::string& institution_id,
                                                  const std::string& reason);
  // Quarantines an app package in `scope`: devices are no longer offered it nor may download
  // it, and its pending install commands are canceled (store.h, SetAppQuarantine). Already
  // quarantined: OK, nothing changes. NotFound as PauseCommandBatch.
  Result<core::App> QuarantineApp(const ActionContext& ctx, const store::Scope& scope,
                                  const std::string& app_id, const std::string& reason);
  // Quarantines every app of `scope` whose package has this SHA-256 (hex). NotFound (audited
  // as a failure) when the catalogue holds no such package. Returns the apps.
  Result<std::vector<core::App>> QuarantinePackage(const ActionContext& ctx,
                                                   const store::Scope& scope,
                                                   const std::string& sha256,
                                                   const std::string& reason);
  // Takes an app out of quarantine (audited as response.release_app; not containment).
  Result<core::App> ReleaseApp(const ActionContext& ctx, const store::Scope& scope,
                               const std::string& app_id);
  // Disables an admin account (which ends its sessions). Only "usr_..." principals.
  Status DisableUser(const ActionContext& ctx, const std::string& user_id);
  // Puts an institution, or the server (scope "*"), in lockdown. Already locked: OK.
  Status EnterLockdown(const ActionContext& ctx, const std::string& scope,
                       const std::string& reason);
  // The first of the two admins needed to leave a lockdown. PermissionDenied for an API token;
  // NotFound when the scope is not locked (or is another institution's). Refusals are audited.
  Status RequestLift(const ActionContext& ctx, const std::string& scope, const LiftActor& who);
  // The second admin: must be a signed-in user other than the requester. Lifts the lockdown.
  // Conflict when nobody asked yet, when the request expired (lift_request_ttl_seconds) or when
  // it was cancelled or replaced while this approval ran (the lift is one conditional write);
  // PermissionDenied for the same user or a token. Refusals are audited.
  Status ApproveLift(const ActionContext& ctx, const std::string& scope, const LiftActor& who);
  // When the pending lift request of `l` expires (0 when nobody asked).
  int64_t LiftRequestExpiresAt(const store::Lockdown& l) const;

  // Where capture_evidence keeps bundles; without one the action fails. Not owned; set before
  // the playbooks run.
  void SetEvidenceCollector(EvidenceCollector* collector) { evidence_ = collector; }
  // Captures the evidence bundle of the alert's incident (respond/evidence_capture.h), or
  // returns the one captured for that incident within evidence_dedup_seconds. The keeper signs
  // as the playbook engine ("system"). Failures are audited and raise the failure alert.
  Result<EvidenceCaptureOutcome> CaptureEvidence(const ActionContext& ctx,
                                                 const core::Alert& alert);
  // Rotates the institution's command key through the keeper and moves its pending commands to
  // the new key, unless the key was rotated within key_rotation_dedup_seconds (then nothing
  // changes and the outcome says so). InvalidArgument without an institution.
  Result<KeyRotationOutcome> RotateCommandKey(const ActionContext& ctx,
                                              const std::string& institution_id);

  // Where rewrap_master_key hands the re-wrap; without one the action fails. Not owned.
  void SetMasterKeyRewrap(MasterKeyRewrap* job) { rewrap_ = job; }
  // Rotates the keeper's staff-data master key (as the playbook engine, "system") unless the
  // current key came from a rotation within master_key_rotation_dedup_seconds, then has the
  // re-wrap job move every staff row to the current version. Server-wide: audited without an
  // institution. Failures are audited and raise the failure alert.
  Result<MasterKeyRotationOutcome> RewrapMasterKey(const ActionContext& ctx);

  // A step that could not even start (the alert lacks what it needs): audited as a failure,
  // with the failure alert. Returns `error`.
  Status FailStep(const ActionContext& ctx, const std::string& name, const std::string& target,
                  const std::string& institution_id, const Status& error);
  // Appends a record as is (pending approvals); a lost record is logged.
  void AppendAudit(const audit::Record& record);

  Denylist& denylist() { return *denylist_; }
  LockdownState& lockdowns() { return *lockdowns_; }

 private:
  // Runs fn until it succeeds, fails with a permanent error, or max_attempts are used up.
  // Returns the last status and sets *attempts.
  Status WithRetry(const std::function<Status()>& fn, int* attempts);
  void Audit(const ActionContext& ctx, const std::string& name, const std::string& target,
             const std::string& outcome, const std::string& institution_id, int attempt,
             bool containment, const std::string& error, int64_t expires,
             std::string_view extra_details_json = {});
  void RaiseFailure(const ActionContext& ctx, const std::string& name, const std::string& target,
                    const std::string& institution_id, const Status& error);
  // Audits how an action that ran through WithRetry ended (success or failure) and, when it
  // failed transiently or a playbook ran it, raises the failure alert. Returns `s`.
  Status Conclude(const ActionContext& ctx, const std::string& name, const std::string& target,
                  const std::string& institution_id, int attempts, bool containment,
                  const Status& s);
  // Changes one stored object (a batch, an app) with retries and concludes the action; a
  // manual call's NotFound is returned unaudited. The change gets the time and returns the
  // object afterwards (whose institution_id the audit record names when `scope` is every
  // institution).
  template <typename T>
  using ObjectChange = std::function<Result<T>(int64_t now)>;
  template <typename T>
  Result<T> ChangeObject(const ActionContext& ctx, const std::string& name,
                         const std::string& target, const store::Scope& scope, bool containment,
                         const ObjectChange<T>& change);
  Result<core::App> SetQuarantine(const ActionContext& ctx, const store::Scope& scope,
                                  const std::string& app_id, bool quarantined,
                                  const std::string& reason);
  Result<store::CommandBatch> SetBatchPaused(const ActionContext& ctx, const store::Scope& scope,
                                             const std::string& batch_id, bool paused,
                                             const std::string& reason);
  Status RefreshDenylist();
  // With blocks_mu_ held: reports a change to the observer.
  void NotifyLocked(BlockChange::Kind kind, const store::AddressBlock& block, int64_t now);
  // With blocks_mu_ held: forgets a block that ended (removed or expired) and reports it, unless
  // it was not in force as far as this engine knew (ended already); then re-announces the
  // longest-lasting other block of the same value still in force.
  void EndBlockLocked(BlockChange::Kind kind, const store::AddressBlock& block, int64_t now);
  // With blocks_mu_ held: reports `block` ended, then re-announces the longest-lasting other
  // block of the same value still in force.
  void ReportEndLocked(BlockChange::Kind kind, const store::AddressBlock& block, int64_t now);
  // With blocks_mu_ held: ends every known block expired at `now`, and marks each expiry
  // announced in the store; then AnnounceMissedExpiriesLocked. Returns how many.
  int SweepExpiredLocked(int64_t now);
  // With blocks_mu_ held: reports the blocks that expired while the server was stopped (the
  // store has them unannounced and this engine never knew them in force) and marks them.
  int AnnounceMissedExpiriesLocked(int64_t now);
  Status CheckLiftCaller(const ActionContext& ctx, const std::string& scope, const LiftActor& who,
                         const std::string& step_name);

  store::Store* store_;
  keeper::Keeper* keeper_;
  const Clock* clock_;
  Denylist* denylist_;
  LockdownState* lockdowns_;
  EvidenceCollector* evidence_ = nullptr;
  MasterKeyRewrap* rewrap_ = nullptr;
  ActionEngineOptions options_;
  std::vector<IpNetwork> never_block_;         // options_.never_block, parsed
  std::vector<std::string> never_block_text_;  // the entries that parsed, as written
  // Held from reading the blocks to swapping the snapshot, so two concurrent block changes
  // cannot leave the older list in force.
  std::mutex denylist_refresh_mu_;
  // The last refresh failed: the denylist may hold a block the store does not (ExpireBlocks
  // retries).
  std::atomic<bool> denylist_stale_{false};
  // Held from a block write in the store to the report of it (and by expiry sweeps), so that
  // reports leave in the store's order: an unban never overtakes the ban of a newer block.
  // Taken before denylist_refresh_mu_, never after.
  std::mutex blocks_mu_;
  std::map<int64_t, store::AddressBlock> live_blocks_;  // in force as last seen; blocks_mu_
  BlockObserver block_observer_;                        // guarded by blocks_mu_
  // Held by EnterLockdown, RequestLift and ApproveLift from the store write to the cache update,
  // so that a lift and a new lockdown racing cannot leave the cache unlocked while the store
  // holds the new lockdown (enforcement reads the cache).
  std::mutex lockdown_mu_;
};

}  // namespace rampart::respond
