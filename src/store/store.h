// The storage interface: everything Rampart persists goes through Store.
//
// Backends live in sub-folders (sqlite/ now, postgres/ later) and are opened by URI through
// OpenStore(). One conformance battery (tests/store/store_conformance_test.cc) runs against
// every backend.
//
// Contract for every backend:
//  - Thread-safe: any method may be called from any thread concurrently.
//  - Tenant isolation: every method that touches tenant-owned rows takes a Scope. A Scope for
//    one institution never reads, counts, changes or reveals the existence of another
//    institution's rows (NotFound, never PermissionDenied). Scope::All() is only handed out by
//    the API layer to cross-institution roles.
//  - Only parameterised statements; no SQL text is ever assembled from values.
//  - Errors: NotFound (no such row in scope), AlreadyExists (unique key taken), Conflict (the
//    row's state forbids the change), InvalidArgument (bad cursor), Internal (I/O). A failed
//    call changes nothing.
//
//   auto store = OpenStore("sqlite:var/rampart.db");
//   Scope scope = Scope::Institution(inst_id);
//   auto devices = (*store)->ListDevices(scope, DeviceFilter{}, PageRequest{50, ""});
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "core/alert.h"
#include "core/incident.h"
#include "core/model.h"
#include "store/response_records.h"

namespace rampart::store {

struct Scope {
  std::string institution_id;  // meaningful when !all
  bool all = false;
  static Scope Institution(std::string id) { return Scope{std::move(id), false}; }
  static Scope All() { return Scope{"", true}; }
};

struct PageRequest {
  int64_t limit = 50;  // 1..500, clamped by the API layer
  std::string cursor;  // opaque; empty for the first page
};

template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_cursor;  // empty when there is no further page
};

struct StaffFilter {
  std::string department;    // exact match; empty: any
  std::string mobile_index;  // exact blind-index match; empty: any
  std::string email_index;   // exact blind-index match; empty: any
};

// A staff row moved to a new master key (keeper::Keeper::RewrapKeys): written only while the
// row still holds old_wrapped_key, so that a concurrent edit, which sealed the row afresh under
// the current key, wins over the re-wrap of the key it replaced.
struct StaffKeyUpdate {
  std::string staff_id;
  std::string old_wrapped_key;  // raw
  std::string wrapped_key;      // raw
  int64_t key_version = 0;
};

struct DeviceFilter {
  std::optional<core::Platform> platform;
  std::optional<core::ComplianceState> compliance;
  std::optional<core::DeviceStatus> status;
  std::string staff_id;
  std::string group_id;
};

struct AlertFilter {
  std::string severity;          // exact level; empty: any
  std::string min_severity;      // this level or above (core::SeverityRank); empty: any
  std::string rule_id;           // exact; empty: any
  std::string entity;            // exact; empty: any
  int64_t since = 0;             // last_seen >= since (Unix seconds); 0: no bound
  std::optional<int64_t> until;  // first_seen <= until; none: no bound
  std::optional<core::AlertStatus> status;
  bool newest_first = false;  // pages in (created_at, id) order, descending
};

struct IncidentFilter {
  std::optional<core::IncidentState> state;
  std::string severity;          // exact level; empty: any
  int64_t since = 0;             // last_alert_at >= since; 0: no bound
  std::optional<int64_t> until;  // first_alert_at <= until; none: no bound
};

struct CommandFilter {
  std::optional<core::CommandState> state;
};

// A batch of commands created together (more than mass_command_threshold targets, or a
// destructive action on several devices; they share core::Command::batch_id), with its pause
// state. While paused, no command of the batch is approved, signed or delivered.
struct CommandBatch {
  std::string id;  // "bat_..."
  std::string institution_id;
  std::string type;        // the command type the batch carries
  std::string created_by;  // the principal that created it
  int64_t created_at = 0;
  std::map<core::CommandState, int64_t> counts;  // commands per state
  bool paused = false;
  std::string paused_by;  // who paused it last; kept after a resume
  std::string pause_reason;
  int64_t paused_at = 0;
  std::string resumed_by;
  int64_t resumed_at = 0;
};

// Result of a device reporting a command outcome.
enum class ResultOutcome {
  kRecorded,   // the state changed
  kDuplicate,  // the same outcome was already recorded: idempotent, nothing changed
};

// A command's signature as the keeper made it (raw bytes, not base64).
struct CommandSignatureParts {
  std::string key_id;
  std::string signature;
};

// Signs a command whose seq the store has just assigned. Called inside the store's write
// transaction, so what it signs is exactly what is stored; an error aborts the whole call and
// nothing is written. Must not call back into the store.
using CommandSigner = std::function<Result<CommandSignatureParts>(const core::Command&)>;

struct ComplianceSummary {
  int64_t compliant = 0;
  int64_t noncompliant = 0;
  int64_t unknown = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // --- Institutions (not tenant-owned: they are the tenants) ---
  virtual Status CreateInstitution(const core::Institution& inst) = 0;
  virtual Result<core::Institution> GetInstitution(const Scope& scope, const std::string& id) = 0;
  virtual Result<Page<core::Institution>> ListInstitutions(const Scope& scope,
                                                           const PageRequest& page) = 0;

  // --- Staff ---
  virtual Status CreateStaff(const core::Staff& staff) = 0;
  virtual Result<core::Staff> GetStaff(const Scope& scope, const std::string& id) = 0;
  virtual Result<Page<core::Staff>> ListStaff(const Scope& scope, const StaffFilter& filter,
                                              const PageRequest& page) = 0;
  // Replaces the sealed fields, indexes, masks, department and updated_at of an existing row.
  virtual Status UpdateStaff(const Scope& scope, const core::Staff& staff) = 0;
  // Conflict while a device is still assigned to the staff member.
  virtual Status DeleteStaff(const Scope& scope, const std::string& id) = 0;
  // Up to `limit` (1..500) rows of `scope` whose key_version is below `version`, by id, after
  // `after_id` ("" from the start): the master-key re-wrap job's pages.
  virtual Result<std::vector<core::Staff>> ListStaffWithKeyBelow(const Scope& scope,
                                                                 int64_t version,
                                                                 const std::string& after_id,
                                                                 int64_t limit) = 0;
  // How many rows of `scope` each master key version wraps.
  virtual Result<std::map<int64_t, int64_t>> CountStaffByKeyVersion(const Scope& scope) = 0;
  // Applies the updates in one transaction, each only where the row (in `scope`) still holds
  // its old_wrapped_key; updated_at is left alone (the record did not change). Returns how many
  // rows changed: rows edited or deleted meanwhile are skipped, not an error.
  virtual Result<int64_t> UpdateStaffKeys(const Scope& scope,
                                          const std::vector<StaffKeyUpdate>& updates) = 0;

  // --- Groups (of devices) ---
  virtual Status CreateGroup(const core::Group& group) = 0;
  virtual Result<core::Group> GetGroup(const Scope& scope, const std::string& id) = 0;
  virtual Result<Page<core::Group>> ListGroups(const Scope& scope, const PageRequest& page) = 0;
  // Also removes memberships, policy and app assignments of the group.
  virtual Status DeleteGroup(const Scope& scope, const std::string& id) = 0;
  // Device and group must both be in scope and in the same institution. Idempotent.
  virtual Status AddGroupMember(const Scope& scope, const std::string& group_id,
                                const std::string& device_id) = 0;
  virtual Status RemoveGroupMember(const Scope& scope, const std::string& group_id,
                                   const std::string& device_id) = 0;
  virtual Result<std::vector<std::string>> ListGroupMembers(const Scope& scope,
                                                            const std::string& group_id) = 0;
  virtual Result<std::vector<std::string>> ListDeviceGroups(const Scope& scope,
                                                            const std::string& device_id) = 0;

  // --- Enrollment tokens ---
  virtual Status CreateEnrollmentToken(const core::EnrollmentToken& token) = 0;
  virtual Result<Page<core::EnrollmentToken>> ListEnrollmentTokens(const Scope& scope,
                                                                   const PageRequest& page) = 0;
  virtual Status RevokeEnrollmentToken(const Scope& scope, const std::string& id) = 0;
  // Atomically: finds the token by hash, checks it is not revoked, not expired at `now` and has
  // uses left, counts one use, and inserts `device` with the token's institution_id and staff_id
  // (the device's own fields are overwritten with those). Returns the stored device.
  // Unauthenticated when no token has that hash or it is revoked, expired or exhausted (one
  // message for all four, so the caller learns nothing about which).
  // The token with that hash, whatever its state (unscoped: enrollment happens before any
  // scope exists). NotFound when there is none. EnrollDevice still decides whether it is usable.
  virtual Result<core::EnrollmentToken> FindEnrollmentToken(const std::string& token_hash) = 0;
  virtual Result<core::Device> EnrollDevice(const std::string& token_hash, core::Device device,
                                            int64_t now) = 0;

  // --- Devices ---
  virtual Result<core::Device> GetDevice(const Scope& scope, const std::string& id) = 0;
  virtual Result<Page<core::Device>> ListDevices(const Scope& scope, const DeviceFilter& filter,
                                                 const PageRequest& page) = 0;
  // Updates staff_id and ownership. The staff member must be in the device's institution.
  virtual Status UpdateDeviceAssignment(const Scope& scope, const std::string& device_id,
                                        const std::string& staff_id, core::Ownership ownership) = 0;
  // Stores a check-in: state, last_seen, compliance fields. NotFound for a retired device.
  virtual Status RecordCheckin(const std::string& device_id, const core::DeviceState& state,
                               int64_t last_seen, core::ComplianceState compliance,
                               const std::vector<core::ComplianceReason>& reasons,
                               int64_t noncompliant_since, int64_t compliance_action_taken_at) = 0;
  // Marks the device retired, clears its public key (so no later request verifies) and cancels
  // every command still queued, sent, not_now or awaiting_approval.
  virtual Status RetireDevice(const Scope& scope, const std::string& device_id, int64_t now) = 0;
  virtual Result<ComplianceSummary> SummarizeCompliance(const Scope& scope) = 0;
  virtual Result<int64_t> CountDevices(const Scope& scope) = 0;

  // --- API tokens ---
  virtual Status CreateApiToken(const core::ApiToken& token) = 0;
  // Unscoped by design: authentication happens before a scope exists. NotFound if no token.
  virtual Result<core::ApiToken> FindApiTokenByHash(const std::string& token_hash) = 0;
  // The token with that id, whatever its state. Unscoped like the lookup by hash: four-eyes
  // checks find the person behind the principal that asked (owner_id). NotFound if no token.
  virtual Result<core::ApiToken> GetApiToken(const std::string& id) = 0;
  virtual Result<Page<core::ApiToken>> ListApiTokens(const Scope& scope,
                                                     const PageRequest& page) = 0;
  virtual Status RevokeApiToken(const Scope& scope, const std::string& id) = 0;
  // Records that the token authenticated a request at `now` (unscoped, like the lookup).
  virtual Status TouchApiToken(const std::string& id, int64_t now) = 0;

  // --- Staff exports (four eyes) ---
  virtual Status CreateStaffExport(const core::StaffExport& e) = 0;
  virtual Result<core::StaffExport> GetStaffExport(const Scope& scope, const std::string& id) = 0;
  virtual Result<Page<core::StaffExport>> ListStaffExports(const Scope& scope,
                                                           const PageRequest& page) = 0;
  // Moves the export from state `from` to `to` in one statement (so two racing callers cannot
  // both win), setting decided_by/decided_at (to "approved"/"rejected") or downloaded_at and
  // record_count (to "downloaded"). Conflict when it is not in `from` or has expired (now >=
  // expires_at; the row keeps its state, readers show it as expired); NotFound when not in scope.
  virtual Result<core::StaffExport> TransitionStaffExport(const Scope& scope, const std::string& id,
                                                          const std::string& from,
                                                          const std::string& to,
                                                          const std::string& by, int64_t now,
                                                          int64_t record_count) = 0;

  // --- Admin users (docs/identity.md) ---
  // Users of an institution are tenant-owned; superadmins (institution_id empty) are visible
  // only through Scope::All(). AlreadyExists when the username is taken.
  virtual Status CreateAdminUser(const core::AdminUser& user) = 0;
  virtual Result<core::AdminUser> GetAdminUser(const Scope& scope, const std::string& id) = 0;
  // Unscoped by design: login happens before a scope exists. NotFound if no such user.
  virtual Result<core::AdminUser> FindAdminUserByUsername(const std::string& username) = 0;
  virtual Result<Page<core::AdminUser>> ListAdminUsers(const Scope& scope,
                                                       const PageRequest& page) = 0;
  // Sets role and disabled. Disabling also ends every session of the user, in the same
  // transaction.
  virtual Status UpdateAdminUserAccess(const Scope& scope, const std::string& id, core::Role role,
                                       bool disabled, int64_t now) = 0;
  // Replaces the password hash and ends every session of the user except `keep_session_id`
  // (the one that changed it; empty: all).
  virtual Status SetAdminPassword(const std::string& user_id, const std::string& password_hash,
                                  int64_t now, const std::string& keep_session_id) = 0;
  // Stores a TOTP secret awaiting confirmation (replacing any earlier pending one).
  virtual Status SetPendingTotp(const std::string& user_id, const std::string& secret,
                                int64_t now) = 0;
  // Makes the pending secret the active one, with `step` as the newest used step. Conflict
  // when no secret is pending or it is no longer `secret` (a second setup raced this one).
  virtual Status ConfirmTotp(const std::string& user_id, const std::string& secret, int64_t step,
                             int64_t now) = 0;
  // Records `step` as used; Conflict when a step at or after it was already used (a replayed
  // or concurrent code).
  virtual Status UseTotpStep(const std::string& user_id, int64_t step) = 0;
  // Removes the TOTP secrets and ends every session of the user.
  virtual Status ResetAdminMfa(const Scope& scope, const std::string& id, int64_t now) = 0;
  // Counts one failed login at `now`: starts a new window when the last one is older than
  // `window_seconds`; once `max_failures` are counted in the window the user is locked until
  // now + `lockout_seconds`. Returns the user's locked_until afterwards (0: not locked).
  virtual Result<int64_t> RecordLoginFailure(const std::string& user_id, int64_t now,
                                             int64_t window_seconds, int64_t max_failures,
                                             int64_t lockout_seconds) = 0;
  // Clears the failure count and any lock.
  virtual Status ClearLoginFailures(const std::string& user_id) = 0;

  // --- Admin sessions ---
  // Stores a session. If the user then has more than `max_active` live sessions (live: expires_at
  // and last_seen_at > idle_cutoff), the least recently used are deleted, in the same
  // transaction; returns how many were.
  virtual Result<int64_t> CreateAdminSession(const core::AdminSession& session, int64_t max_active,
                                             int64_t idle_cutoff) = 0;
  // Unscoped by design, like FindApiTokenByHash. NotFound if no session.
  virtual Result<core::AdminSession> FindAdminSessionByHash(const std::string& secret_hash) = 0;
  virtual Status TouchAdminSession(const std::string& id, int64_t now) = 0;
  virtual Status DeleteAdminSession(const std::string& id) = 0;
  // Deletes every session of a user in scope; returns how many. NotFound if the user is not.
  virtual Result<int64_t> DeleteAdminSessionsOfUser(const Scope& scope,
                                                    const std::string& user_id) = 0;
  // Deletes sessions past expires_at or unused since idle_cutoff; returns how many.
  virtual Result<int64_t> DeleteStaleAdminSessions(int64_t now, int64_t idle_cutoff) = 0;

  // --- Commands ---
  // Devices obey only signed commands: a command is deliverable only once it carries the
  // keeper's signature, and TakeDeliverableCommands never returns one without it.
  //
  // Assigns the next per-device seq (the passed seq is ignored) and stores the command in the
  // state it carries, which must be:
  //  - queued: `sign` is required; it is called inside the transaction once the seq is known and
  //    its key id and signature are stored with the row. If it fails nothing is written and its
  //    error is returned (Unavailable when the keeper is down).
  //  - awaiting_approval: `sign` must be empty; the command is stored unsigned (with its
  //    batch_id and batch_size) until ApproveCommands signs it.
  // InvalidArgument for any other state or a missing/unexpected signer. NotFound if the device
  // is not in scope; Conflict if it is retired.
  virtual Result<core::Command> EnqueueCommand(const Scope& scope, core::Command command,
                                               const CommandSigner& sign) = 0;
  virtual Result<core::Command> GetCommand(const Scope& scope, const std::string& device_id,
                                           const std::string& command_id) = 0;
  // The same without knowing the device (approval routes address a command by id only).
  virtual Result<core::Command> FindCommand(const Scope& scope, const std::string& command_id) = 0;
  // In seq order.
  virtual Result<Page<core::Command>> ListCommands(const Scope& scope, const std::string& device_id,
                                                   const CommandFilter& filter,
                                                   const PageRequest& page) = 0;
  // Approves the command and, when it has a batch_id, every other command of its batch still
  // awaiting approval, in one transaction: those past expires_at become expired; each of the
  // others gets a fresh seq (the next of its device, so devices receive commands in the order
  // they were signed), approved_by, and the signature `sign` makes over it, and moves to queued.
  // If any signature fails nothing changes and the error is returned. NotFound when the command
  // is not in scope; Conflict when it is not awaiting approval or its batch is paused. Returns
  // the queued commands.
  virtual Result<std::vector<core::Command>> ApproveCommands(const Scope& scope,
                                                             const std::string& command_id,
                                                             const std::string& approved_by,
                                                             int64_t now,
                                                             const CommandSigner& sign) = 0;
  // Refuses a command awaiting approval: it and the rest of its batch still awaiting approval
  // become canceled. NotFound / Conflict as ApproveCommands. Returns the canceled commands.
  virtual Result<std::vector<core::Command>> RejectApproval(const Scope& scope,
                                                            const std::string& command_id,
                                                            int64_t now) = 0;
  // After a command-key rotation: gives every pending (queued, sent, not_now) command in scope
  // that was signed with `old_key_id` a new signature from `sign`, in one transaction. A signer
  // error with code Unavailable aborts and changes nothing; any other error skips that command
  // (it keeps its old signature, which devices on the new key refuse: rows whose old signature
  // does not verify, or that the keeper's rules refuse now). Returns how many were re-signed.
  virtual Result<int64_t> ResignPendingCommands(const Scope& scope, const std::string& old_key_id,
                                                int64_t now, const CommandSigner& sign) = 0;
  // Atomically selects, in seq order, up to `limit` signed commands of the device that are
  // queued, not_now with not_before <= now, or sent with sent_at <= resend_sent_before (the
  // device never reported on them, e.g. the response carrying them was lost), and not expired;
  // marks them sent (sent_at = now) and returns them. Commands found expired on the way are
  // marked expired. A row without a signature is never delivered, whatever its state, nor is a
  // command of a paused batch.
  virtual Result<std::vector<core::Command>> TakeDeliverableCommands(
      const std::string& device_id, int64_t now, int limit, int64_t resend_sent_before) = 0;
  // Records a device's report on a command it was sent. `state` is acknowledged, error,
  // not_now or rejected (the device refused it: bad, missing or replayed signature; final).
  // A repeated identical report is kDuplicate. A report on a command that is not in state sent
  // (or a different outcome for one already finished) is Conflict. For not_now the command gets
  // not_before and not_now_count + 1; once not_now_count reaches max_not_now it becomes error
  // ("device kept answering not_now").
  virtual Result<ResultOutcome> RecordCommandResult(const std::string& device_id,
                                                    const std::string& command_id,
                                                    core::CommandState state,
                                                    const std::string& result_json,
                                                    const std::string& error, int64_t now,
                                                    int64_t not_before, int32_t max_not_now) = 0;
  // The batch with that id in scope, its counts per state and pause state. NotFound when no
  // command of the scope carries that batch id.
  virtual Result<CommandBatch> GetCommandBatch(const Scope& scope, const std::string& batch_id) = 0;
  // Pauses (paused = true: by, reason, now recorded) or resumes (by, now recorded as resumed_by,
  // resumed_at) a batch. Idempotent: *changed (if not null) says whether the state moved.
  // NotFound as GetCommandBatch. Returns the batch afterwards.
  virtual Result<CommandBatch> SetCommandBatchPaused(const Scope& scope,
                                                     const std::string& batch_id, bool paused,
                                                     const std::string& by,
                                                     const std::string& reason, int64_t now,
                                                     bool* changed) = 0;
  // Ids of the batches created by `created_by` in scope that still hold a command awaiting
  // approval, queued, sent or not_now, oldest first.
  virtual Result<std::vector<std::string>> ListUnfinishedCommandBatches(
      const Scope& scope, const std::string& created_by) = 0;
  // Cancels a queued, not_now or awaiting_approval command (only that one, not its batch).
  // Conflict once it was sent or finished.
  virtual Status CancelCommand(const Scope& scope, const std::string& device_id,
                               const std::string& command_id, int64_t now) = 0;
  // Marks every queued/sent/not_now/awaiting_approval command past expires_at as expired;
  // returns how many.
  virtual Result<int64_t> ExpireCommands(int64_t now) = 0;
  // Count of commands per state over all institutions (for /metrics).
  virtual Result<std::map<core::CommandState, int64_t>> CountCommandsByState() = 0;

  // --- Policies ---
  virtual Status CreatePolicy(const core::Policy& policy) = 0;
  virtual Result<core::Policy> GetPolicy(const Scope& scope, const std::string& id) = 0;
  virtual Result<Page<core::Policy>> ListPolicies(const Scope& scope, const PageRequest& page) = 0;
  // Replaces name, rules and updated_at.
  virtual Status UpdatePolicy(const Scope& scope, const core::Policy& policy) = 0;
  // Also removes the policy's assignments.
  virtual Status DeletePolicy(const Scope& scope, const std::string& id) = 0;
  // Policy and group (if any) must be in the assignment's institution. AlreadyExists if the same
  // policy is already assigned to the same target.
  virtual Status AssignPolicy(const core::PolicyAssignment& assignment) = 0;
  virtual Status DeletePolicyAssignment(const Scope& scope, const std::string& assignment_id) = 0;
  virtual Result<std::vector<core::PolicyAssignment>> ListPolicyAssignments(
      const Scope& scope, const std::string& policy_id) = 0;
  // Every policy that applies to the device: assigned to its institution or to one of its
  // groups; each policy once, ordered by id.
  virtual Result<std::vector<core::Policy>> PoliciesForDevice(const std::string& device_id) = 0;

  // --- Apps ---
  virtual Status CreateApp(const core::App& app) = 0;
  virtual Result<core::App> GetApp(const Scope& scope, const std::string& id) = 0;
  virtual Result<Page<core::App>> ListApps(const Scope& scope, const PageRequest& page) = 0;
  // The app of the institution with that package hash (device downloads look up this way).
  virtual Result<core::App> FindAppBySha256(const Scope& scope, const std::string& sha256) = 0;
  virtual Status SetAppQuarantined(const Scope& scope, const std::string& id, bool quarantined) = 0;
  // Quarantines (recording by, reason and now) or releases an app. Quarantining also cancels,
  // in the same transaction, every install_app command naming the app that is still awaiting
  // approval, queued or not_now (a released app is not pushed again by itself). Idempotent:
  // *changed (if not null) says whether the state moved. NotFound when the app is not in scope.
  // Returns the app afterwards.
  virtual Result<core::App> SetAppQuarantine(const Scope& scope, const std::string& id,
                                             bool quarantined, const std::string& by,
                                             const std::string& reason, int64_t now,
                                             bool* changed) = 0;
  // AlreadyExists if the app is already assigned to the group.
  virtual Status AssignApp(const core::AppAssignment& assignment) = 0;
  virtual Result<std::vector<core::AppAssignment>> ListAppAssignments(
      const Scope& scope, const std::string& app_id) = 0;

  // --- Alerts (raised by the detection engine) ---
  // Folds an observation into the open alert with the same (institution_id, rule_id, entity),
  // or creates one (a fresh id when observation.id is empty). Folding adds observation.count,
  // widens first_seen/last_seen, raises the severity to the higher of the two, merges ATT&CK
  // ids, and keeps at most max_evidence evidence events: the first half of them (rounded up)
  // as they came, the rest the latest ones. An acknowledged alert is
  // never reopened: a new observation after acknowledgement starts a new open alert. Unscoped:
  // only the detection engine calls it. Returns the stored alert.
  virtual Result<core::Alert> RecordAlert(const core::Alert& observation, int32_t max_evidence) = 0;
  // The observations folded in order, in one transaction (an alert storm costs one commit per
  // batch, not per alert): all stored, or none and the first error. Later observations see the
  // earlier ones, so two of one group fold into one alert.
  virtual Result<std::vector<core::Alert>> RecordAlerts(
      const std::vector<core::Alert>& observations, int32_t max_evidence) = 0;
  // A Scope for one institution sees that institution's alerts only; server-wide alerts
  // (no institution) are visible through Scope::All() alone.
  virtual Result<core::Alert> GetAlert(const Scope& scope, const std::string& id) = 0;
  // Ordered by (created_at, id), keyset-paginated like every list.
  virtual Result<Page<core::Alert>> ListAlerts(const Scope& scope, const AlertFilter& filter,
                                               const PageRequest& page) = 0;
  // Marks an open alert acknowledged by `by` at `now` and returns it. Acknowledging an
  // acknowledged alert changes nothing and returns it as it is (idempotent).
  virtual Result<core::Alert> AcknowledgeAlert(const Scope& scope, const std::string& id,
                                               const std::string& by, int64_t now) = 0;

  // === Incidents (issue 5, respond/incident*; docs/incidents.md) ===
  // Links a stored alert to an incident: the one it already belongs to (its severity and
  // last_alert_at raised if the alert grew), else the latest incident of the same
  // (institution, entity) that is not closed and whose last_alert_at is within window_seconds
  // before the alert's last_seen, else a new incident in state new. Unscoped: only the incident
  // tracker calls it. Returns the incident with its alert ids, opened_by_link set when this
  // call created it. NotFound if the alert is not stored.
  virtual Result<core::Incident> AttachAlertToIncident(const std::string& alert_id,
                                                       int64_t window_seconds, int64_t now) = 0;
  // AttachAlertToIncident for each id in order, in one transaction: all linked, or none and the
  // first error. The incidents come back in the ids' order.
  virtual Result<std::vector<core::Incident>> AttachAlertsToIncidents(
      const std::vector<std::string>& alert_ids, int64_t window_seconds, int64_t now) = 0;
  // With alert_ids. Scoped like alerts: server-wide incidents only through Scope::All().
  virtual Result<core::Incident> GetIncident(const Scope& scope, const std::string& id) = 0;
  // Ordered by (created_at, id); alert_ids left empty.
  virtual Result<Page<core::Incident>> ListIncidents(const Scope& scope,
                                                     const IncidentFilter& filter,
                                                     const PageRequest& page) = 0;
  // Moves the incident to `to` and records the transition (who, when, reason) in one
  // transaction. Conflict when core::IncidentTransitionAllowed refuses it (the message names
  // both states); NotFound when not in scope.
  virtual Result<core::Incident> TransitionIncident(const Scope& scope, const std::string& id,
                                                    core::IncidentState to, const std::string& by,
                                                    const std::string& reason, int64_t now) = 0;
  virtual Result<core::IncidentEntry> AddIncidentNote(const Scope& scope, const std::string& id,
                                                      const std::string& by,
                                                      const std::string& text, int64_t now) = 0;
  // Transitions and notes in the order recorded.
  virtual Result<std::vector<core::IncidentEntry>> ListIncidentEntries(const Scope& scope,
                                                                       const std::string& id) = 0;
  // Every command of the scope created, approved or finished in [since, until] (Unix seconds),
  // for an incident's impact; at most `limit` (oldest first).
  virtual Result<std::vector<core::Command>> ListCommandsInWindow(const Scope& scope, int64_t since,
                                                                  int64_t until, int64_t limit) = 0;
  // === end of Incidents ===
  // --- Response (src/respond: playbooks, denylist, lockdown; migration 6) ---
  // Adds a block, or when an active block (not removed, not expired at `now`) of the same
  // institution_id already holds the same value, extends its expiry to the later of the two and
  // returns it with `existed` set. Either way the row's change_seq moves forward. Unscoped: blocks
  // are server-wide.
  virtual Result<AddressBlock> AddAddressBlock(const AddressBlock& block, int64_t now,
                                               bool* existed) = 0;
  // Marks a block removed. NotFound for an unknown id; Conflict when it was already removed.
  virtual Result<AddressBlock> RemoveAddressBlock(int64_t id, const std::string& by,
                                                  int64_t now) = 0;
  virtual Result<AddressBlock> GetAddressBlock(int64_t id) = 0;
  // Blocks in force at `now` (not removed, not expired), oldest first.
  virtual Result<std::vector<AddressBlock>> ListActiveAddressBlocks(int64_t now) = 0;
  // Blocks that ran out by `now` (not removed by hand) and whose expiry has not been marked
  // announced: those that expired while the server was stopped, or whose mark failed. Oldest
  // first, at most `limit`.
  virtual Result<std::vector<AddressBlock>> ListUnannouncedExpiredBlocks(int64_t now,
                                                                         int64_t limit) = 0;
  // Records that a block's expiry was announced to the decision webhooks. NotFound for an
  // unknown id.
  virtual Status MarkBlockExpiryAnnounced(int64_t id) = 0;
  // Every block whose change_seq is above `after_seq`, in change order (at most `limit`).
  virtual Result<std::vector<AddressBlock>> ListAddressBlockChanges(int64_t after_seq,
                                                                    int64_t limit) = 0;
  // AlreadyExists when the id or hash is taken.
  virtual Status CreateBouncerKey(const BouncerKey& key) = 0;
  virtual Result<BouncerKey> FindBouncerKeyByHash(const std::string& key_hash) = 0;
  // Records a pull: the newest change_seq sent and when.
  virtual Status UpdateBouncerCursor(const std::string& id, int64_t last_seq, int64_t now) = 0;
  // Inserts or replaces the lockdown of lockdown.scope.
  virtual Status PutLockdown(const Lockdown& lockdown) = 0;
  // NotFound when that scope is not locked.
  virtual Status DeleteLockdown(const std::string& scope) = 0;
  // Sets the pending lift request of a locked scope, or clears it with an empty requested_by
  // (requested_at 0). Changes nothing else; NotFound when that scope is not locked.
  virtual Status SetLockdownLiftRequest(const std::string& scope, const std::string& requested_by,
                                        int64_t requested_at) = 0;
  // Lifts the lockdown of `scope` only while its pending lift request is still the one being
  // approved (same requester, same time): one conditional DELETE, so an approval can never apply
  // to a request cancelled or replaced in between. Conflict when the request changed or is gone,
  // or the scope is no longer locked.
  virtual Status LiftLockdownIfRequested(const std::string& scope, const std::string& requested_by,
                                         int64_t requested_at) = 0;
  virtual Result<std::vector<Lockdown>> ListLockdowns() = 0;
  // --- end Response ---
};

// Opens a backend by URI: "sqlite:PATH" (file created if missing, migrations applied) or
// "sqlite::memory:" for tests. InvalidArgument for an unknown scheme.
Result<std::unique_ptr<Store>> OpenStore(const std::string& uri);

}  // namespace rampart::store
