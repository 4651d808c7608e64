#include "keeper/client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/crypto.h"
#include "keeper/protocol.h"
#include "keeper/socket_io.h"

namespace rampart::keeper {

using nlohmann::json;

class KeeperClient::Pool {
 public:
  explicit Pool(ClientOptions options) : options_(std::move(options)) {}
  ~Pool() {
    for (int fd : idle_) ::close(fd);
  }

  Result<json> Call(std::string_view op, const json& args) {
    std::string request = EncodeRequest(op, args);
    // A pooled connection may have been closed by a keeper restart: one retry on a fresh one.
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool fresh = false;
      int fd = Take();
      if (fd < 0) {
        fd = Connect();
        fresh = true;
      }
      if (fd < 0) return Status::Unavailable("keeper is not reachable");
      std::string answer;
      Status io = WriteFrame(fd, request);
      bool sent = io.ok();
      if (sent) io = ReadFrame(fd, &answer);
      if (!io.ok()) {
        ::close(fd);
        // Retried only when the keeper cannot have run it: the write failed, or the peer had
        // closed the pooled connection (a keeper restart). A timeout after sending is not
        // retried: decrypt budgets and signing limits must not be spent twice.
        bool retry = !fresh && (!sent || io.code() == Code::kNotFound);
        if (!retry) return Status::Unavailable("keeper connection failed: " + io.message());
        continue;
      }
      Give(fd);
      return DecodeAnswer(answer);
    }
    return Status::Unavailable("keeper is not reachable");
  }

 private:
  int Take() {
    std::lock_guard lock(mu_);
    if (idle_.empty()) return -1;
    int fd = idle_.back();
    idle_.pop_back();
    return fd;
  }

  void Give(int fd) {
    std::lock_guard lock(mu_);
    if (static_cast<int>(idle_.size()) < options_.max_idle_connections) {
      idle_.push_back(fd);
    } else {
      ::close(fd);
    }
  }

  int Connect() {
    sockaddr_un addr{};
    if (options_.socket_path.size() >= sizeof(addr.sun_path)) return -1;
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, options_.socket_path.c_str(), options_.socket_path.size() + 1);
    timeval tv{options_.timeout_ms / 1000, (options_.timeout_ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  ClientOptions options_;
  std::mutex mu_;
  std::vector<int> idle_;
};

KeeperClient::KeeperClient(ClientOptions options)
    : pool_(std::make_unique<Pool>(std::move(options))) {}
KeeperClient::~KeeperClient() = default;

namespace {

// An answer of the wrong shape is the keeper's fault (or an impostor's): Unavailable.
template <typename T>
Result<T> Unwrap(Result<T> r) {
  if (!r.ok() && r.status().code() == Code::kInvalidArgument) {
    return Status::Unavailable("keeper answer malformed: " + r.status().message());
  }
  return r;
}

}  // namespace

Status KeeperClient::Ping() {
  return CheckpointPublicKey().status();
}

Result<SealedStaff> KeeperClient::Seal(const SealRequest& request) {
  RAMPART_ASSIGN_OR_RETURN(json result, pool_->Call("seal", ToWire(request)));
  return Unwrap(SealedStaffFromWire(result));
}

Result<std::vector<OpenedStaff>> KeeperClient::Open(const OpenRequest& request) {
  RAMPART_ASSIGN_OR_RETURN(json result, pool_->Call("open", ToWire(request)));
  if (!result.is_array()) return Status::Unavailable("keeper answer malformed");
  if (result.size() != request.records.size()) {
    return Status::Unavailable("keeper answered a different number of records");
  }
  std::vector<OpenedStaff> out;
  for (const auto& item : result) {
    RAMPART_ASSIGN_OR_RETURN(OpenedStaff o, Unwrap(OpenedStaffFromWire(item)));
    out.push_back(std::move(o));
  }
  return out;
}

Result<std::string> KeeperClient::BlindIndex(const std::string& institution_id,
                                             const std::string& field, const std::string& value) {
  RAMPART_ASSIGN_OR_RETURN(
      json result,
      pool_->Call("blind_index",
                  json{{"institution_id", institution_id}, {"field", field}, {"value", value}}));
  if (!result.is_string()) return Status::Unavailable("keeper answer malformed");
  return result.get<std::string>();
}

Result<CommandKey> KeeperClient::GetCommandKey(const std::string& institution_id) {
  RAMPART_ASSIGN_OR_RETURN(
      json result, pool_->Call("get_command_key", json{{"institution_id", institution_id}}));
  return Unwrap(CommandKeyFromWire(result));
}

Result<CommandSignature> KeeperClient::SignCommand(const SignCommandRequest& request) {
  RAMPART_ASSIGN_OR_RETURN(json result, pool_->Call("sign_command", ToWire(request)));
  return Unwrap(CommandSignatureFromWire(result));
}

Result<KeyRotation> KeeperClient::RotateCommandKey(const Caller& caller,
                                                   const std::string& institution_id) {
  RAMPART_ASSIGN_OR_RETURN(
      json result, pool_->Call("rotate_command_key", json{{"caller", ToWire(caller)},
                                                          {"institution_id", institution_id}}));
  return Unwrap(KeyRotationFromWire(result));
}

Result<std::vector<KeyRotation>> KeeperClient::KeyRotations(const std::string& institution_id) {
  RAMPART_ASSIGN_OR_RETURN(json result,
                           pool_->Call("key_rotations", json{{"institution_id", institution_id}}));
  if (!result.is_array()) return Status::Unavailable("keeper answer malformed");
  std::vector<KeyRotation> out;
  for (const auto& item : result) {
    RAMPART_ASSIGN_OR_RETURN(KeyRotation r, Unwrap(KeyRotationFromWire(item)));
    out.push_back(std::move(r));
  }
  return out;
}

Result<audit::Record> KeeperClient::AppendAudit(const audit::Record& record) {
  RAMPART_ASSIGN_OR_RETURN(json result, pool_->Call("append_audit", ToWire(record)));
  return Unwrap(RecordFromWire(result));
}

Result<Checkpoint> KeeperClient::MakeCheckpoint() {
  RAMPART_ASSIGN_OR_RETURN(json result, pool_->Call("checkpoint", json::object()));
  return Unwrap(CheckpointFromWire(result));
}

Result<std::string> KeeperClient::CheckpointPublicKey() {
  RAMPART_ASSIGN_OR_RETURN(json result, pool_->Call("checkpoint_public_key", json::object()));
  if (!result.is_string()) return Status::Unavailable("keeper answer malformed");
  auto key = crypto::Base64Decode(result.get<std::string>());
  if (!key.ok()) return Status::Unavailable("keeper answer malformed");
  return std::move(key).value();
}

Result<AuditPage> KeeperClient::QueryAudit(const AuditQuery& query) {
  RAMPART_ASSIGN_OR_RETURN(json result, pool_->Call("query_audit", ToWire(query)));
  return Unwrap(AuditPageFromWire(result));
}

Result<std::vector<AuditProof>> KeeperClient::ProveAudit(const AuditProofRequest& request) {
  RAMPART_ASSIGN_OR_RETURN(json result, pool_->Call("prove_audit", ToWire(request)));
  if (!result.is_array() || result.size() != request.indexes.size()) {
    return Status::Unavailable("keeper answer malformed");
  }
  std::vector<AuditProof> out;
  for (const auto& item : result) {
    RAMPART_ASSIGN_OR_RETURN(AuditProof p, Unwrap(AuditProofFromWire(item)));
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::string> KeeperClient::SignEvidence(const SignEvidenceRequest& request) {
  RAMPART_ASSIGN_OR_RETURN(json result, pool_->Call("sign_evidence", ToWire(request)));
  if (!result.is_string()) return Status::Unavailable("keeper answer malformed");
  auto signature = crypto::Base64Decode(result.get<std::string>());
  if (!signature.ok()) return Status::Unavailable("keeper answer malformed");
  return std::move(signature).value();
}

Result<MasterKeyStatus> KeeperClient::RotateMasterKey(const Caller& caller) {
  RAMPART_ASSIGN_OR_RETURN(json result,
                           pool_->Call("rotate_master_key", json{{"caller", ToWire(caller)}}));
  return Unwrap(MasterKeyStatusFromWire(result));
}

Result<std::vector<RewrappedKey>> KeeperClient::RewrapKeys(const RewrapRequest& request) {
  RAMPART_ASSIGN_OR_RETURN(json result, pool_->Call("rewrap_keys", ToWire(request)));
  if (!result.is_array() || result.size() != request.records.size()) {
    return Status::Unavailable("keeper answer malformed");
  }
  std::vector<RewrappedKey> out;
  for (const auto& item : result) {
    RAMPART_ASSIGN_OR_RETURN(RewrappedKey r, Unwrap(RewrappedKeyFromWire(item)));
    out.push_back(std::move(r));
  }
  return out;
}

Result<MasterKeyStatus> KeeperClient::GetMasterKeyStatus(const Caller& caller) {
  RAMPART_ASSIGN_OR_RETURN(json result,
                           pool_->Call("master_key_status", json{{"caller", ToWire(caller)}}));
  return Unwrap(MasterKeyStatusFromWire(result));
}

}  // namespace rampart::keeper
