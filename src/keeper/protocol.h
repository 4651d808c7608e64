// The keeper's wire protocol over its Unix-domain socket.
//
// A frame is a 4-byte big-endian length followed by that many bytes of JSON (at most
// kMaxFrameBytes). A request is {"op": NAME, "args": {...}}; the answer is
// {"ok": true, "result": ...} or {"ok": false, "code": STATUS_CODE, "error": MESSAGE}.
// Binary values (ciphertexts, keys, signatures) travel as base64. One request per frame, answers
// in order; a connection carries any number of them.
//
// Ops: seal, open, blind_index, get_command_key, sign_command, rotate_command_key,
// key_rotations, append_audit, checkpoint, checkpoint_public_key, query_audit, prove_audit,
// sign_evidence, rotate_master_key, rewrap_keys, master_key_status.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "keeper/keeper.h"

namespace rampart::keeper {

inline constexpr uint32_t kMaxFrameBytes = 16u * 1024 * 1024;

// Runs one request body against `keeper` and returns the answer body. Malformed requests get an
// {"ok": false, "code": "invalid_argument"} answer and set *malformed; nothing throws.
std::string HandleRequest(Keeper& keeper, std::string_view request_body, bool* malformed = nullptr);

// Request encoding and answer decoding, for KeeperClient.
std::string EncodeRequest(std::string_view op, const nlohmann::json& args);
// The "result" of an ok answer, or the Status the keeper returned.
Result<nlohmann::json> DecodeAnswer(std::string_view answer_body);

// Wire forms of the keeper's types. From* functions return InvalidArgument naming the field.
nlohmann::json ToWire(const Caller& v);
nlohmann::json ToWire(const SealRequest& v);
nlohmann::json ToWire(const SealedStaff& v);
nlohmann::json ToWire(const OpenRequest& v);
nlohmann::json ToWire(const OpenedStaff& v);
nlohmann::json ToWire(const CommandKey& v);
nlohmann::json ToWire(const SignCommandRequest& v);
nlohmann::json ToWire(const CommandSignature& v);
nlohmann::json ToWire(const KeyRotation& v);
nlohmann::json ToWire(const audit::Record& v);
nlohmann::json ToWire(const Checkpoint& v);
nlohmann::json ToWire(const AuditQuery& v);
nlohmann::json ToWire(const AuditPage& v);
nlohmann::json ToWire(const SignEvidenceRequest& v);
nlohmann::json ToWire(const AuditProofRequest& v);
nlohmann::json ToWire(const AuditProof& v);
nlohmann::json ToWire(const MasterKeyStatus& v);
nlohmann::json ToWire(const RewrapRequest& v);
nlohmann::json ToWire(const RewrappedKey& v);
Result<Caller> CallerFromWire(const nlohmann::json& j);
Result<SealRequest> SealRequestFromWire(const nlohmann::json& j);
Result<SealedStaff> SealedStaffFromWire(const nlohmann::json& j);
Result<OpenRequest> OpenRequestFromWire(const nlohmann::json& j);
Result<OpenedStaff> OpenedStaffFromWire(const nlohmann::json& j);
Result<CommandKey> CommandKeyFromWire(const nlohmann::json& j);
Result<SignCommandRequest> SignCommandRequestFromWire(const nlohmann::json& j);
Result<CommandSignature> CommandSignatureFromWire(const nlohmann::json& j);
Result<KeyRotation> KeyRotationFromWire(const nlohmann::json& j);
Result<audit::Record> RecordFromWire(const nlohmann::json& j);
Result<Checkpoint> CheckpointFromWire(const nlohmann::json& j);
Result<AuditQuery> AuditQueryFromWire(const nlohmann::json& j);
Result<AuditPage> AuditPageFromWire(const nlohmann::json& j);
Result<SignEvidenceRequest> SignEvidenceRequestFromWire(const nlohmann::json& j);
Result<AuditProofRequest> AuditProofRequestFromWire(const nlohmann::json& j);
Result<AuditProof> AuditProofFromWire(const nlohmann::json& j);
Result<MasterKeyStatus> MasterKeyStatusFromWire(const nlohmann::json& j);
Result<RewrapRequest> RewrapRequestFromWire(const nlohmann::json& j);
Result<RewrappedKey> RewrappedKeyFromWire(const nlohmann::json& j);

}  // namespace rampart::keeper
