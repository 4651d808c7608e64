// A store::Store that forwards to a real one and fails chosen methods on demand, to prove what
// callers do when the store fails (retries, failure alerts, nothing half-done). Generated from
// store.h's method list; a new Store method needs a line here (the compiler says so).
//
//   FaultyStore store(real.get());
//   store.FailNext("AddAddressBlock", 2, Status::Unavailable("disk"));  // the next two calls fail
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "store/store.h"

namespace rampart::store::testing {

class FaultyStore final : public Store {
 public:
  explicit FaultyStore(Store* inner) : inner_(inner) {}

  // The next `times` calls of `method` answer `error` without reaching the real store.
  void FailNext(const std::string& method, int times, Status error) {
    std::lock_guard lock(mu_);
    faults_[method] = {times, std::move(error)};
  }
  int calls(const std::string& method) const {
    std::lock_guard lock(mu_);
    auto it = calls_.find(method);
    return it == calls_.end() ? 0 : it->second;
  }

  Status CreateInstitution(const core::Institution& inst) override {
    if (Status s = Fault("CreateInstitution"); !s.ok()) return s;
    return inner_->CreateInstitution(inst);
  }
  Result<core::Institution> GetInstitution(const Scope& scope, const std::string& id) override {
    if (Status s = Fault("GetInstitution"); !s.ok()) return s;
    return inner_->GetInstitution(scope, id);
  }
  Result<Page<core::Institution>> ListInstitutions(const Scope& scope,
                                                   const PageRequest& page) override {
    if (Status s = Fault("ListInstitutions"); !s.ok()) return s;
    return inner_->ListInstitutions(scope, page);
  }
  Status CreateStaff(const core::Staff& staff) override {
    if (Status s = Fault("CreateStaff"); !s.ok()) return s;
    return inner_->CreateStaff(staff);
  }
  Result<core::Staff> GetStaff(const Scope& scope, const std::string& id) override {
    if (Status s = Fault("GetStaff"); !s.ok()) return s;
    return inner_->GetStaff(scope, id);
  }
  Result<Page<core::Staff>> ListStaff(const Scope& scope, const StaffFilter& filter,
                                      const PageRequest& page) override {
    if (Status s = Fault("ListStaff"); !s.ok()) return s;
    return inner_->ListStaff(scope, filter, page);
  }
  Status UpdateStaff(const Scope& scope, const core::Staff& staff) override {
    if (Status s = Fault("UpdateStaff"); !s.ok()) return s;
    return inner_->UpdateStaff(scope, staff);
  }
  Status DeleteStaff(const Scope& scope, const std::string& id) override {
    if (Status s = Fault("DeleteStaff"); !s.ok()) return s;
    return inner_->DeleteStaff(scope, id);
  }
  Result<std::vector<core::Staff>> ListStaffWithKeyBelow(const Scope& scope, int64_t version,
                                                         const std::string& after_id,
                                                         int64_t limit) override {
    if (Status s = Fault("ListStaffWithKeyBelow"); !s.ok()) return s;
    return inner_->ListStaffWithKeyBelow(scope, version, after_id, limit);
  }
  Result<std::map<int64_t, int64_t>> CountStaffByKeyVersion(const Scope& scope) override {
    if (Status s = Fault("CountStaffByKeyVersion"); !s.ok()) return s;
    return inner_->CountStaffByKeyVersion(scope);
  }
  Result<int64_t> UpdateStaffKeys(const Scope& scope,
                                  const std::vector<StaffKeyUpdate>& updates) override {
    if (Status s = Fault("UpdateStaffKeys"); !s.ok()) return s;
    return inner_->UpdateStaffKeys(scope, updates);
  }
  Status CreateGroup(const core::Group& group) override {
    if (Status s = Fault("CreateGroup"); !s.ok()) return s;
    return inner_->CreateGroup(group);
  }
  Result<core::Group> GetGroup(const Scope& scope, const std::string& id) override {
    if (Status s = Fault("GetGroup"); !s.ok()) return s;
    return inner_->GetGroup(scope, id);
  }
  Result<Page<core::Group>> ListGroups(const Scope& scope, const PageRequest& page) override {
    if (Status s = Fault("ListGroups"); !s.ok()) return s;
    return inner_->ListGroups(scope, page);
  }
  Status DeleteGroup(const Scope& scope, const std::string& id) override {
    if (Status s = Fault("DeleteGroup"); !s.ok()) return s;
    return inner_->DeleteGroup(scope, id);
  }
  Status AddGroupMember(const Scope& scope, const std::string& group_id,
                        const std::string& device_id) override {
    if (Status s = Fault("AddGroupMember"); !s.ok()) return s;
    return inner_->AddGroupMember(scope, group_id, device_id);
  }
  Status RemoveGroupMember(const Scope& scope, const std::string& group_id,
                           const std::string& device_id) override {
    if (Status s = Fault("RemoveGroupMember"); !s.ok()) return s;
    return inner_->RemoveGroupMember(scope, group_id, device_id);
  }
  Result<std::vector<std::string>> ListGroupMembers(const Scope& scope,
                                                    const std::string& group_id) override {
    if (Status s = Fault("ListGroupMembers"); !s.ok()) return s;
    return inner_->ListGroupMembers(scope, group_id);
  }
  Result<std::vector<std::string>> ListDeviceGroups(const Scope& scope,
                                                    const std::string& device_id) override {
    if (Status s = Fault("ListDeviceGroups"); !s.ok()) return s;
    return inner_->ListDeviceGroups(scope, device_id);
  }
  Status CreateEnrollmentToken(const core::EnrollmentToken& token) override {
    if (Status s = Fault("CreateEnrollmentToken"); !s.ok()) return s;
    return inner_->CreateEnrollmentToken(token);
  }
  Result<Page<core::EnrollmentToken>> ListEnrollmentTokens(const Scope& scope,
                                                           const PageRequest& page) override {
    if (Status s = Fault("ListEnrollmentTokens"); !s.ok()) return s;
    return inner_->ListEnrollmentTokens(scope, page);
  }
  Status RevokeEnrollmentToken(const Scope& scope, const std::string& id) override {
    if (Status s = Fault("RevokeEnrollmentToken"); !s.ok()) return s;
    return inner_->RevokeEnrollmentToken(scope, id);
  }
  Result<core::EnrollmentToken> FindEnrollmentToken(const std::string& token_hash) override {
    if (Status s = Fault("FindEnrollmentToken"); !s.ok()) return s;
    return inner_->FindEnrollmentToken(token_hash);
  }
  Result<core::Device> EnrollDevice(const std::string& token_hash, core::Device device,
                                    int64_t now) override {
    if (Status s = Fault("EnrollDevice"); !s.ok()) return s;
    return inner_->EnrollDevice(token_hash, device, now);
  }
  Result<core::Device> GetDevice(const Scope& scope, const std::string& id) override {
    if (Status s = Fault("GetDevice"); !s.ok()) return s;
    return inner_->GetDevice(scope, id);
  }
  Result<Page<core::Device>> ListDevices(const Scope& scope, const DeviceFilter& filter,
                                         const PageRequest& page) override {
    if (Status s = Fault("ListDevices"); !s.ok()) return s;
    return inner_->ListDevices(scope, filter, page);
  }
  Status UpdateDeviceAssignment(const Scope& scope, const std::string& device_id,
                                const std::string& staff_id, core::Ownership ownership) override {
    if (Status s = Fault("UpdateDeviceAssignment"); !s.ok()) return s;
    return inner_->UpdateDeviceAssignment(scope, device_id, staff_id, ownership);
  }
  Status RecordCheckin(const std::string& device_id, const core::DeviceState& state,
                       int64_t last_seen, core::ComplianceState compliance,
                       const std::vector<core::ComplianceReason>& reasons,
                       int64_t noncompliant_since, int64_t compliance_action_taken_at) override {
    if (Status s = Fault("RecordCheckin"); !s.ok()) return s;
    return inner_->RecordCheckin(device_id, state, last_seen, compliance, reasons,
                                 noncompliant_since, compliance_action_taken_at);
  }
  Status RetireDevice(const Scope& scope, const std::string& device_id, int64_t now) override {
    if (Status s = Fault("RetireDevice"); !s.ok()) return s;
    return inner_->RetireDevice(scope, device_id, now);
  }
  Result<ComplianceSummary> SummarizeCompliance(const Scope& scope) override {
    if (Status s = Fault("SummarizeCompliance"); !s.ok()) return s;
    return inner_->SummarizeCompliance(scope);
  }
  Result<int64_t> CountDevices(const Scope& scope) override {
    if (Status s = Fault("CountDevices"); !s.ok()) return s;
    return inner_->CountDevices(scope);
  }
  Status CreateApiToken(const core::ApiToken& token) override {
    if (Status s = Fault("CreateApiToken"); !s.ok()) return s;
    return inner_->CreateApiToken(token);
  }
  Result<core::ApiToken> FindApiTokenByHash(const std::string& token_hash) override {
    if (Status s = Fault("FindApiTokenByHash"); !s.ok()) return s;
    return inner_->FindApiTokenByHash(token_hash);
  }
  Result<core::ApiToken> GetApiToken(const std::string& id) override {
    if (Status s = Fault("GetApiToken"); !s.ok()) return s;
    return inner_->GetApiToken(id);
  }
  Result<Page<core::ApiToken>> ListApiTokens(const Scope& scope, const PageRequest& page) override {
    if (Status s = Fault("ListApiTokens"); !s.ok()) return s;
    return inner_->ListApiTokens(scope, page);
  }
  Status RevokeApiToken(const Scope& scope, const std::string& id) override {
    if (Status s = Fault("RevokeApiToken"); !s.ok()) return s;
    return inner_->RevokeApiToken(scope, id);
  }
  Status TouchApiToken(const std::string& id, int64_t now) override {
    if (Status s = Fault("TouchApiToken"); !s.ok()) return s;
    return inner_->TouchApiToken(id, now);
  }
  Status CreateStaffExport(const core::StaffExport& e) override {
    if (Status s = Fault("CreateStaffExport"); !s.ok()) return s;
    return inner_->CreateStaffExport(e);
  }
  Result<core::StaffExport> GetStaffExport(const Scope& scope, const std::string& id) override {
    if (Status s = Fault("GetStaffExport"); !s.ok()) return s;
    return inner_->GetStaffExport(scope, id);
  }
  Result<Page<core::StaffExport>> ListStaffExports(const Scope& scope,
                                                   const PageRequest& page) override {
    if (Status s = Fault("ListStaffExports"); !s.ok()) return s;
    return inner_->ListStaffExports(scope, page);
  }
  Result<core::StaffExport> TransitionStaffExport(const Scope& scope, const std::string& id,
                                                  const std::string& from, const std::string& to,
                                                  const std::string& by, int64_t now,
                                                  int64_t record_count) override {
    if (Status s = Fault("TransitionStaffExport"); !s.ok()) return s;
    return inner_->TransitionStaffExport(scope, id, from, to, by, now, record_count);
  }
  Status CreateAdminUser(const core::AdminUser& user) override {
    if (Status s = Fault("CreateAdminUser"); !s.ok()) return s;
    return inner_->CreateAdminUser(user);
  }
  Result<core::AdminUser> GetAdminUser(const Scope& scope, const std::string& id) override {
    if (Status s = Fault("GetAdminUser"); !s.ok()) return s;
    return inner_->GetAdminUser(scope, id);
  }
  Result<core::AdminUser> FindAdminUserByUsername(const std::string& username) override {
    if (Status s = Fault("FindAdminUserByUsername"); !s.ok()) return s;
    return inner_->FindAdminUserByUsername(username);
  }
  Result<Page<core::AdminUser>> ListAdminUsers(const Scope& scope,
                                               const PageRequest& page) override {
    if (Status s = Fault("ListAdminUsers"); !s.ok()) return s;
    return inner_->ListAdminUsers(scope, page);
  }
  Status UpdateAdminUserAccess(const Scope& scope, const std::string& id, core::Role role,
                               bool disabled, int64_t now) override {
    if (Status s = Fault("UpdateAdminUserAccess"); !s.ok()) return s;
    return inner_->UpdateAdminUserAccess(scope, id, role, disabled, now);
  }
  Status SetAdminPassword(const std::string& user_id, const std::string& password_hash, int64_t now,
                          const std::string& keep_session_id) override {
    if (Status s = Fault("SetAdminPassword"); !s.ok()) return s;
    return inner_->SetAdminPassword(user_id, password_hash, now, keep_session_id);
  }
  Status SetPendingTotp(const std::string& user_id, const std::string& secret,
                        int64_t now) override {
    if (Status s = Fault("SetPendingTotp"); !s.ok()) return s;
    return inner_->SetPendingTotp(user_id, secret, now);
  }
  Status ConfirmTotp(const std::string& user_id, const std::string& secret, int64_t step,
                     int64_t now) override {
    if (Status s = Fault("ConfirmTotp"); !s.ok()) return s;
    return inner_->ConfirmTotp(user_id, secret, step, now);
  }
  Status UseTotpStep(const std::string& user_id, int64_t step) override {
    if (Status s = Fault("UseTotpStep"); !s.ok()) return s;
    return inner_->UseTotpStep(user_id, step);
  }
  Status ResetAdminMfa(const Scope& scope, const std::string& id, int64_t now) override {
    if (Status s = Fault("ResetAdminMfa"); !s.ok()) return s;
    return inner_->ResetAdminMfa(scope, id, now);
  }
  Result<int64_t> RecordLoginFailure(const std::string& user_id, int64_t now,
                                     int64_t window_seconds, int64_t max_failures,
                                     int64_t lockout_seconds) override {
    if (Status s = Fault("RecordLoginFailure"); !s.ok()) return s;
    return inner_->RecordLoginFailure(user_id, now, window_seconds, max_failures, lockout_seconds);
  }
  Status ClearLoginFailures(const std::string& user_id) override {
    if (Status s = Fault("ClearLoginFailures"); !s.ok()) return s;
    return inner_->ClearLoginFailures(user_id);
  }
  Result<int64_t> CreateAdminSession(const core::AdminSession& session, int64_t max_active,
                                     int64_t idle_cutoff) override {
    if (Status s = Fault("CreateAdminSession"); !s.ok()) return s;
    return inner_->CreateAdminSession(session, max_active, idle_cutoff);
  }
  Result<core::AdminSession> FindAdminSessionByHash(const std::string& secret_hash) override {
    if (Status s = Fault("FindAdminSessionByHash"); !s.ok()) return s;
    return inner_->FindAdminSessionByHash(secret_hash);
  }
  Status TouchAdminSession(const std::string& id, int64_t now) override {
    if (Status s = Fault("TouchAdminSession"); !s.ok()) return s;
    return inner_->TouchAdminSession(id, now);
  }
  Status DeleteAdminSession(const std::string& id) override {
    if (Status s = Fault("DeleteAdminSession"); !s.ok()) return s;
    return inner_->DeleteAdminSession(id);
  }
  Result<int64_t> DeleteAdminSessionsOfUser(const Scope& scope,
                                            const std::string& user_id) override {
    if (Status s = Fault("DeleteAdminSessionsOfUser"); !s.ok()) return s;
    return inner_->DeleteAdminSessionsOfUser(scope, user_id);
  }
  Result<int64_t> DeleteStaleAdminSessions(int64_t now, int64_t idle_cutoff) override {
    if (Status s = Fault("DeleteStaleAdminSessions"); !s.ok()) return s;
    return inner_->DeleteStaleAdminSessions(now, idle_cutoff);
  }
  Result<core::Command> EnqueueCommand(const Scope& scope, core::Command command,
                                       const CommandSigner& sign) override {
    if (Status s = Fault("EnqueueCommand"); !s.ok()) return s;
    return inner_->EnqueueCommand(scope, command, sign);
  }
  Result<core::Command> GetCommand(const Scope& scope, const std::string& device_id,
                                   const std::string& command_id) override {
    if (Status s = Fault("GetCommand"); !s.ok()) return s;
    return inner_->GetCommand(scope, device_id, command_id);
  }
  Result<core::Command> FindCommand(const Scope& scope, const std::string& command_id) override {
    if (Status s = Fault("FindCommand"); !s.ok()) return s;
    return inner_->FindCommand(scope, command_id);
  }
  Result<Page<core::Command>> ListCommands(const Scope& scope, const std::string& device_id,
                                           const CommandFilter& filter,
                                           const PageRequest& page) override {
    if (Status s = Fault("ListCommands"); !s.ok()) return s;
    return inner_->ListCommands(scope, device_id, filter, page);
  }
  Result<std::vector<core::Command>> ApproveCommands(const Scope& scope,
                                                     const std::string& command_id,
                                                     const std::string& approved_by, int64_t now,
                                                     const CommandSigner& sign) override {
    if (Status s = Fault("ApproveCommands"); !s.ok()) return s;
    return inner_->ApproveCommands(scope, command_id, approved_by, now, sign);
  }
  Result<CommandBatch> GetCommandBatch(const Scope& scope, const std::string& batch_id) override {
    if (Status s = Fault("GetCommandBatch"); !s.ok()) return s;
    return inner_->GetCommandBatch(scope, batch_id);
  }
  Result<CommandBatch> SetCommandBatchPaused(const Scope& scope, const std::string& batch_id,
                                             bool paused, const std::string& by,
                                             const std::string& reason, int64_t now,
                                             bool* changed) override {
    if (Status s = Fault("SetCommandBatchPaused"); !s.ok()) return s;
    return inner_->SetCommandBatchPaused(scope, batch_id, paused, by, reason, now, changed);
  }
  Result<std::vector<std::string>> ListUnfinishedCommandBatches(
      const Scope& scope, const std::string& created_by) override {
    if (Status s = Fault("ListUnfinishedCommandBatches"); !s.ok()) return s;
    return inner_->ListUnfinishedCommandBatches(scope, created_by);
  }
  Result<std::vector<core::Command>> RejectApproval(const Scope& scope,
                                                    const std::string& command_id,
                                                    int64_t now) override {
    if (Status s = Fault("RejectApproval"); !s.ok()) return s;
    return inner_->RejectApproval(scope, command_id, now);
  }
  Result<int64_t> ResignPendingCommands(const Scope& scope, const std::string& old_key_id,
                                        int64_t now, const CommandSigner& sign) override {
    if (Status s = Fault("ResignPendingCommands"); !s.ok()) return s;
    return inner_->ResignPendingCommands(scope, old_key_id, now, sign);
  }
  Result<std::vector<core::Command>> TakeDeliverableCommands(const std::string& device_id,
                                                             int64_t now, int limit,
                                                             int64_t resend_sent_before) override {
    if (Status s = Fault("TakeDeliverableCommands"); !s.ok()) return s;
    return inner_->TakeDeliverableCommands(device_id, now, limit, resend_sent_before);
  }
  Result<ResultOutcome> RecordCommandResult(const std::string& device_id,
                                            const std::string& command_id, core::CommandState state,
                                            const std::string& result_json,
                                            const std::string& error, int64_t now,
                                            int64_t not_before, int32_t max_not_now) override {
    if (Status s = Fault("RecordCommandResult"); !s.ok()) return s;
    return inner_->RecordCommandResult(device_id, command_id, state, result_json, error, now,
                                       not_before, max_not_now);
  }
  Status CancelCommand(const Scope& scope, const std::string& device_id,
                       const std::string& command_id, int64_t now) override {
    if (Status s = Fault("CancelCommand"); !s.ok()) return s;
    return inner_->CancelCommand(scope, device_id, command_id, now);
  }
  Result<int64_t> ExpireCommands(int64_t now) override {
    if (Status s = Fault("ExpireCommands"); !s.ok()) return s;
    return inner_->ExpireCommands(now);
  }
  Result<std::map<core::CommandState, int64_t>> CountCommandsByState() override {
    if (Status s = Fault("CountCommandsByState"); !s.ok()) return s;
    return inner_->CountCommandsByState();
  }
  Status CreatePolicy(const core::Policy& policy) override {
    if (Status s = Fault("CreatePolicy"); !s.ok()) return s;
    return inner_->CreatePolicy(policy);
  }
  Result<core::Policy> GetPolicy(const Scope& scope, const std::string& id) override {
    if (Status s = Fault("GetPolicy"); !s.ok()) return s;
    return inner_->GetPolicy(scope, id);
  }
  Result<Page<core::Policy>> ListPolicies(const Scope& scope, const PageRequest& page) override {
    if (Status s = Fault("ListPolicies"); !s.ok()) return s;
    return inner_->ListPolicies(scope, page);
  }
  Status UpdatePolicy(const Scope& scope, const core::Policy& policy) override {
    if (Status s = Fault("UpdatePolicy"); !s.ok()) return s;
    return inner_->UpdatePolicy(scope, policy);
  }
  Status DeletePolicy(const Scope& scope, const std::string& id) override {
    if (Status s = Fault("DeletePolicy"); !s.ok()) return s;
    return inner_->DeletePolicy(scope, id);
  }
  Status AssignPolicy(const core::PolicyAssignment& assignment) override {
    if (Status s = Fault("AssignPolicy"); !s.ok()) return s;
    return inner_->AssignPolicy(assignment);
  }
  Status DeletePolicyAssignment(const Scope& scope, const std::string& assignment_id) override {
    if (Status s = Fault("DeletePolicyAssignment"); !s.ok()) return s;
    return inner_->DeletePolicyAssignment(scope, assignment_id);
  }
  Result<std::vector<core::PolicyAssignment>> ListPolicyAssignments(
      const Scope& scope, const std::string& policy_id) override {
    if (Status s = Fault("ListPolicyAssignments"); !s.ok()) return s;
    return inner_->ListPolicyAssignments(scope, policy_id);
  }
  Result<std::vector<core::Policy>> PoliciesForDevice(const std::string& device_id) override {
    if (Status s = Fault("PoliciesForDevice"); !s.ok()) return s;
    return inner_->PoliciesForDevice(device_id);
  }
  Status CreateApp(const core::App& app) override {
    if (Status s = Fault("CreateApp"); !s.ok()) return s;
    return inner_->CreateApp(app);
  }
  Result<core::App> GetApp(const Scope& scope, const std::string& id) override {
    if (Status s = Fault("GetApp"); !s.ok()) return s;
    return inner_->GetApp(scope, id);
  }
  Result<Page<core::App>> ListApps(const Scope& scope, const PageRequest& page) override {
    if (Status s = Fault("ListApps"); !s.ok()) return s;
    return inner_->ListApps(scope, page);
  }
  Result<core::App> FindAppBySha256(const Scope& scope, const std::string& sha256) override {
    if (Status s = Fault("FindAppBySha256"); !s.ok()) return s;
    return inner_->FindAppBySha256(scope, sha256);
  }
  Status SetAppQuarantined(const Scope& scope, const std::string& id, bool quarantined) override {
    if (Status s = Fault("SetAppQuarantined"); !s.ok()) return s;
    return inner_->SetAppQuarantined(scope, id, quarantined);
  }
  Result<core::App> SetAppQuarantine(const Scope& scope, const std::string& id, bool quarantined,
                                     const std::string& by, const std::string& reason, int64_t now,
                                     bool* changed) override {
    if (Status s = Fault("SetAppQuarantine"); !s.ok()) return s;
    return inner_->SetAppQuarantine(scope, id, quarantined, by, reason, now, changed);
  }
  Status AssignApp(const core::AppAssignment& assignment) override {
    if (Status s = Fault("AssignApp"); !s.ok()) return s;
    return inner_->AssignApp(assignment);
  }
  Result<std::vector<core::AppAssignment>> ListAppAssignments(const Scope& scope,
                                                              const std::string& app_id) override {
    if (Status s = Fault("ListAppAssignments"); !s.ok()) return s;
    return inner_->ListAppAssignments(scope, app_id);
  }
  Result<core::Alert> RecordAlert(const core::Alert& observation, int32_t max_evidence) override {
    if (Status s = Fault("RecordAlert"); !s.ok()) return s;
    return inner_->RecordAlert(observation, max_evidence);
  }
  Result<std::vector<core::Alert>> RecordAlerts(const std::vector<core::Alert>& observations,
                                                int32_t max_evidence) override {
    if (Status s = Fault("RecordAlerts"); !s.ok()) return s;
    return inner_->RecordAlerts(observations, max_evidence);
  }
  Result<core::Alert> GetAlert(const Scope& scope, const std::string& id) override {
    if (Status s = Fault("GetAlert"); !s.ok()) return s;
    return inner_->GetAlert(scope, id);
  }
  Result<Page<core::Alert>> ListAlerts(const Scope& scope, const AlertFilter& filter,
                                       const PageRequest& page) override {
    if (Status s = Fault("ListAlerts"); !s.ok()) return s;
    return inner_->ListAlerts(scope, filter, page);
  }
  Result<core::Alert> AcknowledgeAlert(const Scope& scope, const std::string& id,
                                       const std::string& by, int64_t now) override {
    if (Status s = Fault("AcknowledgeAlert"); !s.ok()) return s;
    return inner_->AcknowledgeAlert(scope, id, by, now);
  }
  // Incidents
  Result<core::Incident> AttachAlertToIncident(const std::string& alert_id, int64_t window_seconds,
                                               int64_t now) override {
    if (Status s = Fault("AttachAlertToIncident"); !s.ok()) return s;
    return inner_->AttachAlertToIncident(alert_id, window_seconds, now);
  }
  Result<std::vector<core::Incident>> AttachAlertsToIncidents(
      const std::vector<std::string>& alert_ids, int64_t window_seconds, int64_t now) override {
    if (Status s = Fault("AttachAlertsToIncidents"); !s.ok()) return s;
    return inner_->AttachAlertsToIncidents(alert_ids, window_seconds, now);
  }
  Result<core::Incident> GetIncident(const Scope& scope, const std::string& id) override {
    if (Status s = Fault("GetIncident"); !s.ok()) return s;
    return inner_->GetIncident(scope, id);
  }
  Result<Page<core::Incident>> ListIncidents(const Scope& scope, const IncidentFilter& filter,
                                             const PageRequest& page) override {
    if (Status s = Fault("ListIncidents"); !s.ok()) return s;
    return inner_->ListIncidents(scope, filter, page);
  }
  Result<core::Incident> TransitionIncident(const Scope& scope, const std::string& id,
                                            core::IncidentState to, const std::string& by,
                                            const std::string& reason, int64_t now) override {
    if (Status s = Fault("TransitionIncident"); !s.ok()) return s;
    return inner_->TransitionIncident(scope, id, to, by, reason, now);
  }
  Result<core::IncidentEntry> AddIncidentNote(const Scope& scope, const std::string& id,
                                              const std::string& by, const std::string& text,
                                              int64_t now) override {
    if (Status s = Fault("AddIncidentNote"); !s.ok()) return s;
    return inner_->AddIncidentNote(scope, id, by, text, now);
  }
  Result<std::vector<core::IncidentEntry>> ListIncidentEntries(const Scope& scope,
                                                               const std::string& id) override {
    if (Status s = Fault("ListIncidentEntries"); !s.ok()) return s;
    return inner_->ListIncidentEntries(scope, id);
  }
  Result<std::vector<core::Command>> ListCommandsInWindow(const Scope& scope, int64_t since,
                                                          int64_t until, int64_t limit) override {
    if (Status s = Fault("ListCommandsInWindow"); !s.ok()) return s;
    return inner_->ListCommandsInWindow(scope, since, until, limit);
  }
  // Response
  Result<AddressBlock> AddAddressBlock(const AddressBlock& block, int64_t now,
                                       bool* existed) override {
    if (Status s = Fault("AddAddressBlock"); !s.ok()) return s;
    return inner_->AddAddressBlock(block, now, existed);
  }
  Result<AddressBlock> RemoveAddressBlock(int64_t id, const std::string& by, int64_t now) override {
    if (Status s = Fault("RemoveAddressBlock"); !s.ok()) return s;
    return inner_->RemoveAddressBlock(id, by, now);
  }
  Result<AddressBlock> GetAddressBlock(int64_t id) override {
    if (Status s = Fault("GetAddressBlock"); !s.ok()) return s;
    return inner_->GetAddressBlock(id);
  }
  Result<std::vector<AddressBlock>> ListActiveAddressBlocks(int64_t now) override {
    if (Status s = Fault("ListActiveAddressBlocks"); !s.ok()) return s;
    return inner_->ListActiveAddressBlocks(now);
  }
  Result<std::vector<AddressBlock>> ListUnannouncedExpiredBlocks(int64_t now,
                                                                 int64_t limit) override {
    if (Status s = Fault("ListUnannouncedExpiredBlocks"); !s.ok()) return s;
    return inner_->ListUnannouncedExpiredBlocks(now, limit);
  }
  Status MarkBlockExpiryAnnounced(int64_t id) override {
    if (Status s = Fault("MarkBlockExpiryAnnounced"); !s.ok()) return s;
    return inner_->MarkBlockExpiryAnnounced(id);
  }
  Result<std::vector<AddressBlock>> ListAddressBlockChanges(int64_t after_seq,
                                                            int64_t limit) override {
    if (Status s = Fault("ListAddressBlockChanges"); !s.ok()) return s;
    return inner_->ListAddressBlockChanges(after_seq, limit);
  }
  Status CreateBouncerKey(const BouncerKey& key) override {
    if (Status s = Fault("CreateBouncerKey"); !s.ok()) return s;
    return inner_->CreateBouncerKey(key);
  }
  Result<BouncerKey> FindBouncerKeyByHash(const std::string& key_hash) override {
    if (Status s = Fault("FindBouncerKeyByHash"); !s.ok()) return s;
    return inner_->FindBouncerKeyByHash(key_hash);
  }
  Status UpdateBouncerCursor(const std::string& id, int64_t last_seq, int64_t now) override {
    if (Status s = Fault("UpdateBouncerCursor"); !s.ok()) return s;
    return inner_->UpdateBouncerCursor(id, last_seq, now);
  }
  Status PutLockdown(const Lockdown& lockdown) override {
    if (Status s = Fault("PutLockdown"); !s.ok()) return s;
    return inner_->PutLockdown(lockdown);
  }
  Status DeleteLockdown(const std::string& scope) override {
    if (Status s = Fault("DeleteLockdown"); !s.ok()) return s;
    return inner_->DeleteLockdown(scope);
  }
  Status SetLockdownLiftRequest(const std::string& scope, const std::string& requested_by,
                                int64_t requested_at) override {
    if (Status s = Fault("SetLockdownLiftRequest"); !s.ok()) return s;
    return inner_->SetLockdownLiftRequest(scope, requested_by, requested_at);
  }
  Status LiftLockdownIfRequested(const std::string& scope, const std::string& requested_by,
                                 int64_t requested_at) override {
    if (Status s = Fault("LiftLockdownIfRequested"); !s.ok()) return s;
    return inner_->LiftLockdownIfRequested(scope, requested_by, requested_at);
  }
  Result<std::vector<Lockdown>> ListLockdowns() override {
    if (Status s = Fault("ListLockdowns"); !s.ok()) return s;
    return inner_->ListLockdowns();
  }

 private:
  struct FaultSpec {
    int times = 0;
    Status error;
  };
  Status Fault(const std::string& method) {
    std::lock_guard lock(mu_);
    ++calls_[method];
    auto it = faults_.find(method);
    if (it == faults_.end() || it->second.times <= 0) return Status::Ok();
    --it->second.times;
    return it->second.error;
  }

  Store* inner_;
  mutable std::mutex mu_;
  std::map<std::string, FaultSpec> faults_;
  std::map<std::string, int> calls_;
};

}  // namespace rampart::store::testing
