// KeeperService: the keeper's logic, in-process. The keeper process serves it over its socket
// (keeper/socket_server.h); tests use it directly.
//
//   auto keeper = KeeperService::Open(options, &audit_trail, &SystemClock::Instance());
//   auto sealed = (*keeper)->Seal({caller, institution_id, staff_id, fields});
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/clock.h"
#include "keeper/keeper.h"

namespace rampart::keeper {

// Signs a message with the audit-checkpoint key; returns the raw signature.
using CheckpointSigner = std::function<Result<std::string>(std::string_view message)>;

// Where the keeper writes audit records: the tamper-evident log (audit::Log) in the keeper
// process. An interface so the keeper's rules can be tested without files.
class AuditTrail {
 public:
  virtual ~AuditTrail() = default;
  virtual Result<audit::Record> Append(const audit::Record& record) = 0;
  virtual Result<Checkpoint> MakeCheckpoint(const CheckpointSigner& sign) = 0;
  // Up to max_records records from index `from`, in index order; fewer at the end of the log.
  virtual Result<std::vector<audit::Record>> Read(int64_t from, int64_t max_records) = 0;
  // The leaf hash and RFC 6962 audit path of each record of `indexes` in the tree of the first
  // `tree_size` records, in the order asked, from one pass over the tree. InvalidArgument
  // unless 0 <= index < tree_size <= the log's size for every index.
  virtual Result<std::vector<AuditProof>> Prove(const std::vector<int64_t>& indexes,
                                                int64_t tree_size) = 0;
};

struct KeeperOptions {
  std::string key_dir;  // holds keys.json; created 0700; only the keeper opens it
  // Staff records each principal may decrypt per minute, by role wire name. A role that is
  // missing reads nothing.
  std::map<std::string, int64_t> decrypt_budget_per_minute = {
      {"superadmin", 300}, {"admin", 300}, {"helpdesk", 60}, {"analyst", 0}, {"auditor", 0}};
  // Admin commands (everything but install_app and apply_policy, which the server builds from
  // its catalogue) to more devices than this need a second admin's approval.
  int64_t mass_command_threshold = 10;
  // Destructive signatures (wipe, retire) per institution per hour, approvals or not: the
  // ceiling on what a stolen pair of admin credentials can do.
  int64_t max_destructive_per_hour = 50;
  // Staff records an institution may export (four-eyes approved bulk reads) per day.
  int64_t export_records_per_day = 10000;
};

class KeeperService : public Keeper {
 public:
  // Loads keys.json from options.key_dir, creating the directory and fresh keys on first start.
  static Result<std::unique_ptr<KeeperService>> Open(KeeperOptions options, AuditTrail* trail,
                                                     const Clock* clock);
  ~KeeperService() override;

  Result<SealedStaff> Seal(const SealRequest& request) override;
  Result<std::vector<OpenedStaff>> Open(const OpenRequest& request) override;
  Result<std::string> BlindIndex(const std::string& institution_id, const std::string& field,
                                 const std::string& value) override;
  Result<CommandKey> GetCommandKey(const std::string& institution_id) override;
  Result<CommandSignature> SignCommand(const SignCommandRequest& request) override;
  Result<KeyRotation> RotateCommandKey(const Caller& caller,
                                       const std::string& institution_id) override;
  Result<std::vector<KeyRotation>> KeyRotations(const std::string& institution_id) override;
  Result<audit::Record> AppendAudit(const audit::Record& record) override;
  Result<Checkpoint> MakeCheckpoint() override;
  Result<std::string> CheckpointPublicKey() override;
  Result<AuditPage> QueryAudit(const AuditQuery& query) override;
  Result<std::vector<AuditProof>> ProveAudit(const AuditProofRequest& request) override;
  Result<std::string> SignEvidence(const SignEvidenceRequest& request) override;
  Result<MasterKeyStatus> RotateMasterKey(const Caller& caller) override;
  Result<std::vector<RewrappedKey>> RewrapKeys(const RewrapRequest& request) override;
  Result<MasterKeyStatus> GetMasterKeyStatus(const Caller& caller) override;

  // Deletes master key `version` from the keys.json of `key_dir`, on the keeper host with the
  // keeper stopped (`rampart keeper retire-master-key`): never through serve, so that a
  // compromised web tier cannot make rows unreadable. Rows still wrapped under the version no
  // longer open afterwards: GET /api/v1/keys/master must show none left on it first.
  // InvalidArgument for the current version; NotFound for a version the keeper does not hold;
  // Conflict while a keeper process holds the key directory's audit log.
  static Status RetireMasterKey(const std::string& key_dir, int64_t version, const Clock& clock);

 private:
  class State;
  explicit KeeperService(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Display forms that reveal almost nothing: "J*** D***", "+32 4** *** *12", "j***@example.org".
std::string MaskName(std::string_view name);
std::string MaskMobile(std::string_view mobile);
std::string MaskEmail(std::string_view email);
// Lookup normalisation shared by Seal and BlindIndex: mobile keeps '+' and digits; email is
// trimmed and lower-cased.
std::string NormalizeMobile(std::string_view mobile);
std::string NormalizeEmail(std::string_view email);

}  // namespace rampart::keeper
