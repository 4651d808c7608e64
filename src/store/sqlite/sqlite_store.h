// The SQLite backend of Store. Users go through OpenStore("sqlite:PATH"); this header is for
// open_store.cc and for backend-specific tests (migrations).
//
// Concurrency: one write connection guarded by write_mu_, plus a small pool of read-only
// connections for a file database. Every write method runs in one BEGIN IMMEDIATE transaction
// on the write connection, so writes are serialised inside the process (the mutex) and against
// other processes (SQLite's write lock, waited for with busy_timeout); a failed call rolls back
// and changes nothing. Reads run in a deferred transaction on a pooled connection and, thanks to
// WAL, see one consistent snapshot without blocking or being blocked by the writer. An in-memory
// database is private to its connection, so it has no read pool and reads share the write
// connection under the same mutex.
//
// Chosen over a single mutex-guarded connection because device check-ins and admin listings are
// mostly reads and would otherwise queue behind every write; chosen over a connection per thread
// because worker threads come and go with the HTTP server and the pool bounds open handles.
//
// Store methods never call one another, so write_mu_ need not be recursive and a read never
// waits for a reader it holds itself.
//
// Conventions of this backend (the interface leaves them open):
//  - expires_at == 0 means "never expires" for commands and enrollment tokens; otherwise a row is
//    expired from the second `now >= expires_at`.
//  - Pagination is keyset-based: the cursor is hex of "key:id" with key = created_at (enrolled_at
//    for devices, seq for commands), so pages neither skip nor repeat rows when rows are added
//    meanwhile. Any other cursor text is InvalidArgument.
//  - Create* methods require a non-empty id (InvalidArgument); EnrollDevice and EnqueueCommand
//    generate one when it is empty, since they return the stored row.
//  - AddGroupMember and RemoveGroupMember are idempotent.
//  - RetireDevice on an already retired device is OK and changes nothing.
//  - CountDevices and SummarizeCompliance count active devices only.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/store.h"

namespace rampart::store::sqlite {

class Connection;

class SqliteStore final : public Store {
 public:
  // Opens or creates the database at `path` (":memory:" for a private in-memory one) and
  // applies pending migrations.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  ~SqliteStore() override;

  // How many migrations Open() applied (0 when the database was already up to date).
  int migrations_applied() const { return migrations_applied_; }

  Status CreateInstitution(const core::Institution& inst) override;
  Result<core::Institution> GetInstitution(const Scope& scope, const std::string& id) override;
  Result<Page<core::Institution>> ListInstitutions(const Scope& scope,
                                                   const PageRequest& page) override;

  Status CreateStaff(const core::Staff& staff) override;
  Result<core::Staff> GetStaff(const Scope& scope, const std::string& id) override;
  Result<Page<core::Staff>> ListStaff(const Scope& scope, const StaffFilter& filter,
                                      const PageRequest& page) override;
  Status UpdateStaff(const Scope& scope, const core::Staff& staff) override;
  Status DeleteStaff(const Scope& scope, const std::string& id) override;
  Result<std::vector<core::Staff>> ListStaffWithKeyBelow(const Scope& scope, int64_t version,
                                                         const std::string& after_id,
                                                         int64_t limit) override;
  Result<std::map<int64_t, int64_t>> CountStaffByKeyVersion(const Scope& scope) override;
  Result<int64_t> UpdateStaffKeys(const Scope& scope,
                                  const std::vector<StaffKeyUpdate>& updates) override;

  Status CreateGroup(const core::Group& group) override;
  Result<core::Group> GetGroup(const Scope& scope, const std::string& id) override;
  Result<Page<core::Group>> ListGroups(const Scope& scope, const PageRequest& page) override;
  Status DeleteGroup(const Scope& scope, const std::string& id) override;
  Status AddGroupMember(const Scope& scope, const std::string& group_id,
                        const std::string& device_id) override;
  Status RemoveGroupMember(const Scope& scope, const std::string& group_id,
                           const std::string& device_id) override;
  Result<std::vector<std::string>> ListGroupMembers(const Scope& scope,
                                                    const std::string& group_id) override;
  Result<std::vector<std::string>> ListDeviceGroups(const Scope& scope,
                                                    const std::string& device_id) override;

  Status CreateEnrollmentToken(const core::EnrollmentToken& token) override;
  Result<Page<core::EnrollmentToken>> ListEnrollmentTokens(const Scope& scope,
                                                           const PageRequest& page) override;
  Status RevokeEnrollmentToken(const Scope& scope, const std::string& id) override;
  Result<core::EnrollmentToken> FindEnrollmentToken(const std::string& token_hash) override;
  Result<core::Device> EnrollDevice(const std::string& token_hash, core::Device device,
                                    int64_t now) override;

  Result<core::Device> GetDevice(const Scope& scope, const std::string& id) override;
  Result<Page<core::Device>> ListDevices(const Scope& scope, const DeviceFilter& filter,
                                         const PageRequest& page) override;
  Status UpdateDeviceAssignment(const Scope& scope, const std::string& device_id,
                                const std::string& staff_id, core::Ownership ownership) override;
  Status RecordCheckin(const std::string& device_id, const core::DeviceState& state,
                       int64_t last_seen, core::ComplianceState compliance,
                       const std::vector<core::ComplianceReason>& reasons,
                       int64_t noncompliant_since, int64_t compliance_action_taken_at) override;
  Status RetireDevice(const Scope& scope, const std::string& device_id, int64_t now) override;
  Result<ComplianceSummary> SummarizeCompliance(const Scope& scope) override;
  Result<int64_t> CountDevices(const Scope& scope) override;

  Status CreateApiToken(const core::ApiToken& token) override;
  Result<core::ApiToken> FindApiTokenByHash(const std::string& token_hash) override;
  Result<core::ApiToken> GetApiToken(const std::string& id) override;
  Result<Page<core::ApiToken>> ListApiTokens(const Scope& scope, const PageRequest& page) override;
  Status RevokeApiToken(const Scope& scope, const std::string& id) override;
  Status TouchApiToken(const std::string& id, int64_t now) override;

  Status CreateStaffExport(const core::StaffExport& e) override;
  Result<core::StaffExport> GetStaffExport(const Scope& scope, const std::string& id) override;
  Result<Page<core::StaffExport>> ListStaffExports(const Scope& scope,
                                                   const PageRequest& page) override;
  Result<core::StaffExport> TransitionStaffExport(const Scope& scope, const std::string& id,
                                                  const std::string& from, const std::string& to,
                                                  const std::string& by, int64_t now,
                                                  int64_t record_count) override;

  Status CreateAdminUser(const core::AdminUser& user) override;
  Result<core::AdminUser> GetAdminUser(const Scope& scope, const std::string& id) override;
  Result<core::AdminUser> FindAdminUserByUsername(const std::string& username) override;
  Result<Page<core::AdminUser>> ListAdminUsers(const Scope& scope,
                                               const PageRequest& page) override;
  Status UpdateAdminUserAccess(const Scope& scope, const std::string& id, core::Role role,
                               bool disabled, int64_t now) override;
  Status SetAdminPassword(const std::string& user_id, const std::string& password_hash, int64_t now,
                          const std::string& keep_session_id) override;
  Status SetPendingTotp(const std::string& user_id, const std::string& secret,
                        int64_t now) override;
  Status ConfirmTotp(const std::string& user_id, const std::string& secret, int64_t step,
                     int64_t now) override;
  Status UseTotpStep(const std::string& user_id, int64_t step) override;
  Status ResetAdminMfa(const Scope& scope, const std::string& id, int64_t now) override;
  Result<int64_t> RecordLoginFailure(const std::string& user_id, int64_t now,
                                     int64_t window_seconds, int64_t max_failures,
                                     int64_t lockout_seconds) override;
  Status ClearLoginFailures(const std::string& user_id) override;

  Result<int64_t> CreateAdminSession(const core::AdminSession& session, int64_t max_active,
                                     int64_t idle_cutoff) override;
  Result<core::AdminSession> FindAdminSessionByHash(const std::string& secret_hash) override;
  Status TouchAdminSession(const std::string& id, int64_t now) override;
  Status DeleteAdminSession(const std::string& id) override;
  Result<int64_t> DeleteAdminSessionsOfUser(const Scope& scope,
                                            const std::string& user_id) override;
  Result<int64_t> DeleteStaleAdminSessions(int64_t now, int64_t idle_cutoff) override;

  Result<core::Command> EnqueueCommand(const Scope& scope, core::Command command,
                                       const CommandSigner& sign) override;
  Result<core::Command> FindCommand(const Scope& scope, const std::string& command_id) override;
  Result<std::vector<core::Command>> ApproveCommands(const Scope& scope,
                                                     const std::string& command_id,
                                                     const std::string& approved_by, int64_t now,
                                                     const CommandSigner& sign) override;
  Result<CommandBatch> GetCommandBatch(const Scope& scope, const std::string& batch_id) override;
  Result<CommandBatch> SetCommandBatchPaused(const Scope& scope, const std::string& batch_id,
                                             bool paused, const std::string& by,
                                             const std::string& reason, int64_t now,
                                             bool* changed) override;
  Result<std::vector<std::string>> ListUnfinishedCommandBatches(
      const Scope& scope, const std::string& created_by) override;
  Result<std::vector<core::Command>> RejectApproval(const Scope& scope,
                                                    const std::string& command_id,
                                                    int64_t now) override;
  Result<int64_t> ResignPendingCommands(const Scope& scope, const std::string& old_key_id,
                                        int64_t now, const CommandSigner& sign) override;
  Result<core::Command> GetCommand(const Scope& scope, const std::string& device_id,
                                   const std::string& command_id) override;
  Result<Page<core::Command>> ListCommands(const Scope& scope, const std::string& device_id,
                                           const CommandFilter& filter,
                                           const PageRequest& page) override;
  Result<std::vector<core::Command>> TakeDeliverableCommands(const std::string& device_id,
                                                             int64_t now, int limit,
                                                             int64_t resend_sent_before) override;
  Result<ResultOutcome> RecordCommandResult(const std::string& device_id,
                                            const std::string& command_id, core::CommandState state,
                                            const std::string& result_json,
                                            const std::string& error, int64_t now,
                                            int64_t not_before, int32_t max_not_now) override;
  Status CancelCommand(const Scope& scope, const std::string& device_id,
                       const std::string& command_id, int64_t now) override;
  Result<int64_t> ExpireCommands(int64_t now) override;
  Result<std::map<core::CommandState, int64_t>> CountCommandsByState() override;

  Status CreatePolicy(const core::Policy& policy) override;
  Result<core::Policy> GetPolicy(const Scope& scope, const std::string& id) override;
  Result<Page<core::Policy>> ListPolicies(const Scope& scope, const PageRequest& page) override;
  Status UpdatePolicy(const Scope& scope, const core::Policy& policy) override;
  Status DeletePolicy(const Scope& scope, const std::string& id) override;
  Status AssignPolicy(const core::PolicyAssignment& assignment) override;
  Status DeletePolicyAssignment(const Scope& scope, const std::string& assignment_id) override;
  Result<std::vector<core::PolicyAssignment>> ListPolicyAssignments(
      const Scope& scope, const std::string& policy_id) override;
  Result<std::vector<core::Policy>> PoliciesForDevice(const std::string& device_id) override;

  Status CreateApp(const core::App& app) override;
  Result<core::App> GetApp(const Scope& scope, const std::string& id) override;
  Result<Page<core::App>> ListApps(const Scope& scope, const PageRequest& page) override;
  Result<core::App> FindAppBySha256(const Scope& scope, const std::string& sha256) override;
  Status SetAppQuarantined(const Scope& scope, const std::string& id, bool quarantined) override;
  Result<core::App> SetAppQuarantine(const Scope& scope, const std::string& id, bool quarantined,
                                     const std::string& by, const std::string& reason, int64_t now,
                                     bool* changed) override;
  Status AssignApp(const core::AppAssignment& assignment) override;
  Result<std::vector<core::AppAssignment>> ListAppAssignments(const Scope& scope,
                                                              const std::string& app_id) override;

  Result<core::Alert> RecordAlert(const core::Alert& observation, int32_t max_evidence) override;
  Result<std::vector<core::Alert>> RecordAlerts(const std::vector<core::Alert>& observations,
                                                int32_t max_evidence) override;
  Result<core::Alert> GetAlert(const Scope& scope, const std::string& id) override;
  Result<Page<core::Alert>> ListAlerts(const Scope& scope, const AlertFilter& filter,
                                       const PageRequest& page) override;
  Result<core::Alert> AcknowledgeAlert(const Scope& scope, const std::string& id,
                                       const std::string& by, int64_t now) override;

  // === Incidents (issue 5) ===
  Result<core::Incident> AttachAlertToIncident(const std::string& alert_id, int64_t window_seconds,
                                               int64_t now) override;
  Result<std::vector<core::Incident>> AttachAlertsToIncidents(
      const std::vector<std::string>& alert_ids, int64_t window_seconds, int64_t now) override;
  Result<core::Incident> GetIncident(const Scope& scope, const std::string& id) override;
  Result<Page<core::Incident>> ListIncidents(const Scope& scope, const IncidentFilter& filter,
                                             const PageRequest& page) override;
  Result<core::Incident> TransitionIncident(const Scope& scope, const std::string& id,
                                            core::IncidentState to, const std::string& by,
                                            const std::string& reason, int64_t now) override;
  Result<core::IncidentEntry> AddIncidentNote(const Scope& scope, const std::string& id,
                                              const std::string& by, const std::string& text,
                                              int64_t now) override;
  Result<std::vector<core::IncidentEntry>> ListIncidentEntries(const Scope& scope,
                                                               const std::string& id) override;
  Result<std::vector<core::Command>> ListCommandsInWindow(const Scope& scope, int64_t since,
                                                          int64_t until, int64_t limit) override;
  // === end of Incidents ===
  // --- Response (src/respond: playbooks, denylist, lockdown; migration 6) ---
  Result<AddressBlock> AddAddressBlock(const AddressBlock& block, int64_t now,
                                       bool* existed) override;
  Result<AddressBlock> RemoveAddressBlock(int64_t id, const std::string& by, int64_t now) override;
  Result<AddressBlock> GetAddressBlock(int64_t id) override;
  Result<std::vector<AddressBlock>> ListActiveAddressBlocks(int64_t now) override;
  Result<std::vector<AddressBlock>> ListUnannouncedExpiredBlocks(int64_t now,
                                                                 int64_t limit) override;
  Status MarkBlockExpiryAnnounced(int64_t id) override;
  Result<std::vector<AddressBlock>> ListAddressBlockChanges(int64_t after_seq,
                                                            int64_t limit) override;
  Status CreateBouncerKey(const BouncerKey& key) override;
  Result<BouncerKey> FindBouncerKeyByHash(const std::string& key_hash) override;
  Status UpdateBouncerCursor(const std::string& id, int64_t last_seq, int64_t now) override;
  Status PutLockdown(const Lockdown& lockdown) override;
  Status DeleteLockdown(const std::string& scope) override;
  Status SetLockdownLiftRequest(const std::string& scope, const std::string& requested_by,
                                int64_t requested_at) override;
  Status LiftLockdownIfRequested(const std::string& scope, const std::string& requested_by,
                                 int64_t requested_at) override;
  Result<std::vector<Lockdown>> ListLockdowns() override;
  // --- end Response ---

 private:
  SqliteStore() = default;

  // Runs fn(Connection&) in a BEGIN IMMEDIATE transaction on the write connection; commits when
  // fn returns OK, rolls back otherwise. fn returns Status or Result<T>.
  template <typename Fn>
  auto Write(Fn&& fn) -> decltype(fn(std::declval<Connection&>()));
  // Runs fn(Connection&) in a deferred (snapshot) transaction on a read connection.
  template <typename Fn>
  auto Read(Fn&& fn) -> decltype(fn(std::declval<Connection&>()));

  Connection* AcquireReader();
  void ReleaseReader(Connection* conn);

  int migrations_applied_ = 0;

  std::mutex write_mu_;
  std::unique_ptr<Connection> writer_;  // guarded by write_mu_

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Connection>> readers_;  // owned; fixed after Open()
  std::vector<Connection*> idle_readers_;             // guarded by pool_mu_
};

}  // namespace rampart::store::sqlite
