// KeeperClient: serve's side of the keeper socket. Implements Keeper by sending each call as one
// request frame; a small pool of connections is reused across threads.
//
// When the keeper cannot be reached, or answers garbage, every call returns Unavailable:
// callers fail closed (503), never fall back to doing the keeper's work themselves.
#pragma once

#include <memory>
#include <string>

#include "keeper/keeper.h"

namespace rampart::keeper {

struct ClientOptions {
  std::string socket_path;
  int timeout_ms = 10000;  // per call: a wedged keeper must not wedge serve's workers forever
  int max_idle_connections = 16;
};

class KeeperClient : public Keeper {
 public:
  explicit KeeperClient(ClientOptions options);
  ~KeeperClient() override;

  // Connects once and asks for the checkpoint public key: OK when the keeper answers.
  Status Ping();

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

 private:
  class Pool;
  std::unique_ptr<Pool> pool_;
};

}  // namespace rampart::keeper
