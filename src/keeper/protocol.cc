#include "keeper/protocol.h"

#include <nlohmann/json.hpp>

#include "common/crypto.h"

namespace rampart::keeper {
namespace {

using nlohmann::json;

// Readers used by every *FromWire: a missing or mistyped field is InvalidArgument naming it.
Status GetString(const json& j, const char* key, std::string* out, bool required = true) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return Status::InvalidArgument(std::string("missing field ") + key);
    out->clear();
    return Status::Ok();
  }
  if (!it->is_string()) return Status::InvalidArgument(std::string(key) + " must be a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

Status GetBytes(const json& j, const char* key, std::string* out, bool required = true) {
  std::string text;
  RAMPART_RETURN_IF_ERROR(GetString(j, key, &text, required));
  auto bytes = crypto::Base64Decode(text);
  if (!bytes.ok()) return Status::InvalidArgument(std::string(key) + " is not base64");
  *out = std::move(bytes).value();
  return Status::Ok();
}

Status GetInt(const json& j, const char* key, int64_t* out, bool required = true) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (required) return Status::InvalidArgument(std::string("missing field ") + key);
    return Status::Ok();
  }
  if (!it->is_number_integer()) {
    return Status::InvalidArgument(std::string(key) + " must be an integer");
  }
  *out = it->get<int64_t>();
  return Status::Ok();
}

Status GetBool(const json& j, const char* key, bool* out) {
  auto it = j.find(key);
  if (it == j.end()) return Status::Ok();
  if (!it->is_boolean()) return Status::InvalidArgument(std::string(key) + " must be a boolean");
  *out = it->get<bool>();
  return Status::Ok();
}

Status RequireObject(const json& j, std::string_view what) {
  if (!j.is_object()) return Status::InvalidArgument(std::string(what) + " must be an object");
  return Status::Ok();
}

Status StatusFromWire(std::string_view code, std::string message) {
  if (code == "invalid_argument") return Status::InvalidArgument(std::move(message));
  if (code == "unauthenticated") return Status::Unauthenticated(std::move(message));
  if (code == "permission_denied") return Status::PermissionDenied(std::move(message));
  if (code == "not_found") return Status::NotFound(std::move(message));
  if (code == "conflict") return Status::Conflict(std::move(message));
  if (code == "already_exists") return Status::AlreadyExists(std::move(message));
  if (code == "payload_too_large") return Status::PayloadTooLarge(std::move(message));
  if (code == "resource_exhausted") return Status::ResourceExhausted(std::move(message));
  if (code == "unavailable") return Status::Unavailable(std::move(message));
  return Status::Internal(std::move(message));
}

// Invalid UTF-8 in a value (a lookup string, a name) must not throw out of the protocol: it is
// replaced, and the keeper's answer says what it got.
std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string ErrorAnswer(const Status& status) {
  return Dump(json{{"ok", false}, {"code", CodeName(status.code())}, {"error", status.message()}});
}

std::string OkAnswer(json result) {
  return Dump(json{{"ok", true}, {"result", std::move(result)}});
}

template <typename T>
std::string Answer(const Result<T>& r) {
  if (!r.ok()) return ErrorAnswer(r.status());
  return OkAnswer(ToWire(*r));
}

}  // namespace

json ToWire(const Caller& v) {
  return {{"principal", v.principal},           {"role", v.role},
          {"institution_id", v.institution_id}, {"request_id", v.request_id},
          {"source_ip", v.source_ip},           {"purpose", v.purpose}};
}

Result<Caller> CallerFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "caller"));
  Caller v;
  RAMPART_RETURN_IF_ERROR(GetString(j, "principal", &v.principal));
  RAMPART_RETURN_IF_ERROR(GetString(j, "role", &v.role, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "institution_id", &v.institution_id, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "request_id", &v.request_id, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "source_ip", &v.source_ip, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "purpose", &v.purpose, false));
  return v;
}

json ToWire(const SealRequest& v) {
  return {{"caller", ToWire(v.caller)}, {"institution_id", v.institution_id},
          {"staff_id", v.staff_id},     {"name", v.fields.name},
          {"mobile", v.fields.mobile},  {"email", v.fields.email},
          {"canary", v.canary}};
}

Result<SealRequest> SealRequestFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "args"));
  SealRequest v;
  if (!j.contains("caller")) return Status::InvalidArgument("missing field caller");
  RAMPART_ASSIGN_OR_RETURN(v.caller, CallerFromWire(j.at("caller")));
  RAMPART_RETURN_IF_ERROR(GetString(j, "institution_id", &v.institution_id));
  RAMPART_RETURN_IF_ERROR(GetString(j, "staff_id", &v.staff_id));
  RAMPART_RETURN_IF_ERROR(GetString(j, "name", &v.fields.name, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "mobile", &v.fields.mobile, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "email", &v.fields.email, false));
  RAMPART_RETURN_IF_ERROR(GetBool(j, "canary", &v.canary));
  return v;
}

json ToWire(const SealedStaff& v) {
  return {{"ciphertext", crypto::Base64Encode(v.ciphertext)},
          {"wrapped_key", crypto::Base64Encode(v.wrapped_key)},
          {"key_version", v.key_version},
          {"mobile_index", v.mobile_index},
          {"email_index", v.email_index},
          {"masked_name", v.masked.name},
          {"masked_mobile", v.masked.mobile},
          {"masked_email", v.masked.email}};
}

Result<SealedStaff> SealedStaffFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "result"));
  SealedStaff v;
  RAMPART_RETURN_IF_ERROR(GetBytes(j, "ciphertext", &v.ciphertext));
  RAMPART_RETURN_IF_ERROR(GetBytes(j, "wrapped_key", &v.wrapped_key));
  RAMPART_RETURN_IF_ERROR(GetInt(j, "key_version", &v.key_version));
  RAMPART_RETURN_IF_ERROR(GetString(j, "mobile_index", &v.mobile_index, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "email_index", &v.email_index, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "masked_name", &v.masked.name, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "masked_mobile", &v.masked.mobile, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "masked_email", &v.masked.email, false));
  return v;
}

json ToWire(const OpenRequest& v) {
  json records = json::array();
  for (const auto& r : v.records) {
    records.push_back({{"institution_id", r.institution_id},
                       {"staff_id", r.staff_id},
                       {"ciphertext", crypto::Base64Encode(r.ciphertext)},
                       {"wrapped_key", crypto::Base64Encode(r.wrapped_key)},
                       {"key_version", r.key_version}});
  }
  return {{"caller", ToWire(v.caller)},
          {"records", std::move(records)},
          {"approved_by", v.approved_by}};
}

Result<OpenRequest> OpenRequestFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "args"));
  OpenRequest v;
  if (!j.contains("caller")) return Status::InvalidArgument("missing field caller");
  RAMPART_ASSIGN_OR_RETURN(v.caller, CallerFromWire(j.at("caller")));
  auto it = j.find("records");
  if (it == j.end() || !it->is_array()) return Status::InvalidArgument("records must be an array");
  for (const auto& r : *it) {
    RAMPART_RETURN_IF_ERROR(RequireObject(r, "record"));
    SealedRef ref;
    RAMPART_RETURN_IF_ERROR(GetString(r, "institution_id", &ref.institution_id));
    RAMPART_RETURN_IF_ERROR(GetString(r, "staff_id", &ref.staff_id));
    RAMPART_RETURN_IF_ERROR(GetBytes(r, "ciphertext", &ref.ciphertext));
    RAMPART_RETURN_IF_ERROR(GetBytes(r, "wrapped_key", &ref.wrapped_key));
    RAMPART_RETURN_IF_ERROR(GetInt(r, "key_version", &ref.key_version));
    v.records.push_back(std::move(ref));
  }
  RAMPART_RETURN_IF_ERROR(GetString(j, "approved_by", &v.approved_by, false));
  return v;
}

json ToWire(const OpenedStaff& v) {
  return {{"staff_id", v.staff_id},
          {"name", v.fields.name},
          {"mobile", v.fields.mobile},
          {"email", v.fields.email},
          {"canary", v.canary}};
}

Result<OpenedStaff> OpenedStaffFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "record"));
  OpenedStaff v;
  RAMPART_RETURN_IF_ERROR(GetString(j, "staff_id", &v.staff_id));
  RAMPART_RETURN_IF_ERROR(GetString(j, "name", &v.fields.name, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "mobile", &v.fields.mobile, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "email", &v.fields.email, false));
  RAMPART_RETURN_IF_ERROR(GetBool(j, "canary", &v.canary));
  return v;
}

json ToWire(const CommandKey& v) {
  return {{"institution_id", v.institution_id},
          {"key_id", v.key_id},
          {"public_key", crypto::Base64Encode(v.public_key)},
          {"created_at", v.created_at}};
}

Result<CommandKey> CommandKeyFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "result"));
  CommandKey v;
  RAMPART_RETURN_IF_ERROR(GetString(j, "institution_id", &v.institution_id));
  RAMPART_RETURN_IF_ERROR(GetString(j, "key_id", &v.key_id));
  RAMPART_RETURN_IF_ERROR(GetBytes(j, "public_key", &v.public_key));
  RAMPART_RETURN_IF_ERROR(GetInt(j, "created_at", &v.created_at));
  return v;
}

json ToWire(const SignCommandRequest& v) {
  const auto& f = v.fields;
  return {{"caller", ToWire(v.caller)},
          {"institution_id", v.institution_id},
          {"device_id", f.device_id},
          {"command_id", f.command_id},
          {"seq", f.seq},
          {"type", f.type},
          {"payload_sha256", f.payload_sha256_hex},
          {"expires_at", f.expires_at},
          {"approved_by", v.approved_by},
          {"batch_size", v.batch_size}};
}

Result<SignCommandRequest> SignCommandRequestFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "args"));
  SignCommandRequest v;
  if (!j.contains("caller")) return Status::InvalidArgument("missing field caller");
  RAMPART_ASSIGN_OR_RETURN(v.caller, CallerFromWire(j.at("caller")));
  auto& f = v.fields;
  RAMPART_RETURN_IF_ERROR(GetString(j, "institution_id", &v.institution_id));
  RAMPART_RETURN_IF_ERROR(GetString(j, "device_id", &f.device_id));
  RAMPART_RETURN_IF_ERROR(GetString(j, "command_id", &f.command_id));
  RAMPART_RETURN_IF_ERROR(GetInt(j, "seq", &f.seq));
  RAMPART_RETURN_IF_ERROR(GetString(j, "type", &f.type));
  RAMPART_RETURN_IF_ERROR(GetString(j, "payload_sha256", &f.payload_sha256_hex));
  RAMPART_RETURN_IF_ERROR(GetInt(j, "expires_at", &f.expires_at));
  RAMPART_RETURN_IF_ERROR(GetString(j, "approved_by", &v.approved_by, false));
  RAMPART_RETURN_IF_ERROR(GetInt(j, "batch_size", &v.batch_size, false));
  return v;
}

json ToWire(const CommandSignature& v) {
  return {{"key_id", v.key_id}, {"signature", crypto::Base64Encode(v.signature)}};
}

Result<CommandSignature> CommandSignatureFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "result"));
  CommandSignature v;
  RAMPART_RETURN_IF_ERROR(GetString(j, "key_id", &v.key_id));
  RAMPART_RETURN_IF_ERROR(GetBytes(j, "signature", &v.signature));
  return v;
}

json ToWire(const KeyRotation& v) {
  const auto& f = v.fields;
  return {{"institution_id", f.institution_id}, {"old_key_id", f.old_key_id},
          {"new_key_id", f.new_key_id},         {"new_public_key", f.new_public_key_b64},
          {"issued_at", f.issued_at},           {"signature", crypto::Base64Encode(v.signature)}};
}

Result<KeyRotation> KeyRotationFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "rotation"));
  KeyRotation v;
  auto& f = v.fields;
  RAMPART_RETURN_IF_ERROR(GetString(j, "institution_id", &f.institution_id));
  RAMPART_RETURN_IF_ERROR(GetString(j, "old_key_id", &f.old_key_id));
  RAMPART_RETURN_IF_ERROR(GetString(j, "new_key_id", &f.new_key_id));
  RAMPART_RETURN_IF_ERROR(GetString(j, "new_public_key", &f.new_public_key_b64));
  RAMPART_RETURN_IF_ERROR(GetInt(j, "issued_at", &f.issued_at));
  RAMPART_RETURN_IF_ERROR(GetBytes(j, "signature", &v.signature));
  return v;
}

json ToWire(const audit::Record& v) {
  return {{"index", v.index},
          {"time", v.time},
          {"actor", v.actor},
          {"action", v.action},
          {"target", v.target},
          {"outcome", v.outcome},
          {"institution_id", v.institution_id},
          {"request_id", v.request_id},
          {"source_ip", v.source_ip},
          {"severity", v.severity},
          {"details", v.details_json}};
}

Result<audit::Record> RecordFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "record"));
  audit::Record v;
  RAMPART_RETURN_IF_ERROR(GetInt(j, "index", &v.index, false));
  RAMPART_RETURN_IF_ERROR(GetInt(j, "time", &v.time, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "actor", &v.actor, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "action", &v.action));
  RAMPART_RETURN_IF_ERROR(GetString(j, "target", &v.target, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "outcome", &v.outcome, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "institution_id", &v.institution_id, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "request_id", &v.request_id, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "source_ip", &v.source_ip, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "severity", &v.severity));
  RAMPART_RETURN_IF_ERROR(GetString(j, "details", &v.details_json));
  return v;
}

json ToWire(const Checkpoint& v) {
  return {{"tree_size", v.tree_size},
          {"root", v.root_hex},
          {"time", v.time},
          {"signature", crypto::Base64Encode(v.signature)}};
}

Result<Checkpoint> CheckpointFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "result"));
  Checkpoint v;
  RAMPART_RETURN_IF_ERROR(GetInt(j, "tree_size", &v.tree_size));
  RAMPART_RETURN_IF_ERROR(GetString(j, "root", &v.root_hex));
  RAMPART_RETURN_IF_ERROR(GetInt(j, "time", &v.time));
  RAMPART_RETURN_IF_ERROR(GetBytes(j, "signature", &v.signature));
  return v;
}

json ToWire(const AuditQuery& v) {
  return {
      {"caller", ToWire(v.caller)},           {"since", v.since},   {"until", v.until},
      {"action_prefixes", v.action_prefixes}, {"actors", v.actors}, {"source_ips", v.source_ips},
      {"institution_id", v.institution_id},   {"limit", v.limit},   {"cursor", v.cursor}};
}

namespace {

Status GetStringList(const json& j, const char* key, std::vector<std::string>* out) {
  auto it = j.find(key);
  if (it == j.end()) return Status::Ok();
  if (!it->is_array() || it->size() > kMaxAuditQueryFilterValues) {
    return Status::InvalidArgument(std::string(key) + " must be a short array of strings");
  }
  for (const auto& v : *it) {
    if (!v.is_string()) return Status::InvalidArgument(std::string(key) + " must hold strings");
    out->push_back(v.get<std::string>());
  }
  return Status::Ok();
}

}  // namespace

Result<AuditQuery> AuditQueryFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "args"));
  AuditQuery v;
  if (!j.contains("caller")) return Status::InvalidArgument("missing caller");
  RAMPART_ASSIGN_OR_RETURN(v.caller, CallerFromWire(j.at("caller")));
  RAMPART_RETURN_IF_ERROR(GetInt(j, "since", &v.since, false));
  RAMPART_RETURN_IF_ERROR(GetInt(j, "until", &v.until, false));
  RAMPART_RETURN_IF_ERROR(GetStringList(j, "action_prefixes", &v.action_prefixes));
  RAMPART_RETURN_IF_ERROR(GetStringList(j, "actors", &v.actors));
  RAMPART_RETURN_IF_ERROR(GetStringList(j, "source_ips", &v.source_ips));
  RAMPART_RETURN_IF_ERROR(GetString(j, "institution_id", &v.institution_id, false));
  RAMPART_RETURN_IF_ERROR(GetInt(j, "limit", &v.limit));
  RAMPART_RETURN_IF_ERROR(GetInt(j, "cursor", &v.cursor, false));
  return v;
}

json ToWire(const AuditPage& v) {
  json records = json::array();
  for (const auto& r : v.records) records.push_back(ToWire(r));
  return {{"records", std::move(records)}, {"next_cursor", v.next_cursor}};
}

Result<AuditPage> AuditPageFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "result"));
  AuditPage v;
  RAMPART_RETURN_IF_ERROR(GetInt(j, "next_cursor", &v.next_cursor));
  auto it = j.find("records");
  if (it == j.end() || !it->is_array()) return Status::InvalidArgument("records must be an array");
  for (const auto& r : *it) {
    RAMPART_ASSIGN_OR_RETURN(audit::Record rec, RecordFromWire(r));
    v.records.push_back(std::move(rec));
  }
  return v;
}

json ToWire(const SignEvidenceRequest& v) {
  return {{"caller", ToWire(v.caller)},
          {"bundle_id", v.bundle_id},
          {"institution_id", v.institution_id},
          {"manifest_sha256", v.manifest_sha256_hex}};
}

Result<SignEvidenceRequest> SignEvidenceRequestFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "args"));
  SignEvidenceRequest v;
  if (!j.contains("caller")) return Status::InvalidArgument("missing caller");
  RAMPART_ASSIGN_OR_RETURN(v.caller, CallerFromWire(j.at("caller")));
  RAMPART_RETURN_IF_ERROR(GetString(j, "bundle_id", &v.bundle_id));
  RAMPART_RETURN_IF_ERROR(GetString(j, "institution_id", &v.institution_id, false));
  RAMPART_RETURN_IF_ERROR(GetString(j, "manifest_sha256", &v.manifest_sha256_hex));
  return v;
}

json ToWire(const AuditProofRequest& v) {
  return {{"caller", ToWire(v.caller)}, {"tree_size", v.tree_size}, {"indexes", v.indexes}};
}

Result<AuditProofRequest> AuditProofRequestFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "args"));
  AuditProofRequest v;
  if (!j.contains("caller")) return Status::InvalidArgument("missing caller");
  RAMPART_ASSIGN_OR_RETURN(v.caller, CallerFromWire(j.at("caller")));
  RAMPART_RETURN_IF_ERROR(GetInt(j, "tree_size", &v.tree_size));
  auto it = j.find("indexes");
  if (it == j.end() || !it->is_array() || it->size() > kMaxAuditProofsPerCall) {
    return Status::InvalidArgument("indexes must be an array of at most " +
                                   std::to_string(kMaxAuditProofsPerCall) + " integers");
  }
  for (const auto& index : *it) {
    if (!index.is_number_integer()) return Status::InvalidArgument("indexes must hold integers");
    v.indexes.push_back(index.get<int64_t>());
  }
  return v;
}

json ToWire(const AuditProof& v) {
  return {{"index", v.index}, {"leaf_hash", v.leaf_hash_hex}, {"path", v.path_hex}};
}

Result<AuditProof> AuditProofFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "proof"));
  AuditProof v;
  RAMPART_RETURN_IF_ERROR(GetInt(j, "index", &v.index));
  RAMPART_RETURN_IF_ERROR(GetString(j, "leaf_hash", &v.leaf_hash_hex));
  auto it = j.find("path");
  // A path has one hash per level of the tree: 64 levels cover any log.
  if (it == j.end() || !it->is_array() || it->size() > 64) {
    return Status::InvalidArgument("path must be an array of at most 64 hashes");
  }
  for (const auto& h : *it) {
    if (!h.is_string()) return Status::InvalidArgument("path must hold strings");
    v.path_hex.push_back(h.get<std::string>());
  }
  return v;
}

json ToWire(const MasterKeyStatus& v) {
  json versions = json::array();
  for (const auto& k : v.versions) {
    versions.push_back({{"version", k.version}, {"created_at", k.created_at}});
  }
  return {{"current_version", v.current_version}, {"versions", std::move(versions)}};
}

Result<MasterKeyStatus> MasterKeyStatusFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "result"));
  MasterKeyStatus v;
  RAMPART_RETURN_IF_ERROR(GetInt(j, "current_version", &v.current_version));
  auto it = j.find("versions");
  // A keeper holds one key per rotation, at most one an hour: far fewer than this.
  if (it == j.end() || !it->is_array() || it->empty() || it->size() > 100000) {
    return Status::InvalidArgument("versions must be a non-empty array");
  }
  for (const auto& k : *it) {
    RAMPART_RETURN_IF_ERROR(RequireObject(k, "version"));
    MasterKeyVersion version;
    RAMPART_RETURN_IF_ERROR(GetInt(k, "version", &version.version));
    RAMPART_RETURN_IF_ERROR(GetInt(k, "created_at", &version.created_at));
    v.versions.push_back(version);
  }
  return v;
}

json ToWire(const RewrapRequest& v) {
  json records = json::array();
  for (const auto& r : v.records) {
    records.push_back({{"institution_id", r.institution_id},
                       {"staff_id", r.staff_id},
                       {"wrapped_key", crypto::Base64Encode(r.wrapped_key)},
                       {"key_version", r.key_version}});
  }
  return {{"caller", ToWire(v.caller)}, {"records", std::move(records)}};
}

Result<RewrapRequest> RewrapRequestFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "args"));
  RewrapRequest v;
  if (!j.contains("caller")) return Status::InvalidArgument("missing caller");
  RAMPART_ASSIGN_OR_RETURN(v.caller, CallerFromWire(j.at("caller")));
  auto it = j.find("records");
  if (it == j.end() || !it->is_array() || it->size() > kMaxRewrapPerCall) {
    return Status::InvalidArgument("records must be an array of at most " +
                                   std::to_string(kMaxRewrapPerCall));
  }
  for (const auto& r : *it) {
    RAMPART_RETURN_IF_ERROR(RequireObject(r, "record"));
    WrappedKeyRef ref;
    RAMPART_RETURN_IF_ERROR(GetString(r, "institution_id", &ref.institution_id));
    RAMPART_RETURN_IF_ERROR(GetString(r, "staff_id", &ref.staff_id));
    RAMPART_RETURN_IF_ERROR(GetBytes(r, "wrapped_key", &ref.wrapped_key));
    RAMPART_RETURN_IF_ERROR(GetInt(r, "key_version", &ref.key_version));
    v.records.push_back(std::move(ref));
  }
  return v;
}

json ToWire(const RewrappedKey& v) {
  return {{"staff_id", v.staff_id},
          {"ok", v.ok},
          {"wrapped_key", crypto::Base64Encode(v.wrapped_key)},
          {"key_version", v.key_version},
          {"error", v.error}};
}

Result<RewrappedKey> RewrappedKeyFromWire(const json& j) {
  RAMPART_RETURN_IF_ERROR(RequireObject(j, "record"));
  RewrappedKey v;
  RAMPART_RETURN_IF_ERROR(GetString(j, "staff_id", &v.staff_id));
  RAMPART_RETURN_IF_ERROR(GetBool(j, "ok", &v.ok));
  RAMPART_RETURN_IF_ERROR(GetBytes(j, "wrapped_key", &v.wrapped_key, false));
  RAMPART_RETURN_IF_ERROR(GetInt(j, "key_version", &v.key_version));
  RAMPART_RETURN_IF_ERROR(GetString(j, "error", &v.error, false));
  return v;
}

std::string EncodeRequest(std::string_view op, const json& args) {
  return Dump(json{{"op", op}, {"args", args}});
}

Result<json> DecodeAnswer(std::string_view answer_body) {
  json doc = json::parse(answer_body, nullptr, false);
  if (!doc.is_object() || !doc.contains("ok") || !doc["ok"].is_boolean()) {
    return Status::Unavailable("keeper sent a malformed answer");
  }
  if (doc["ok"].get<bool>()) {
    auto it = doc.find("result");
    if (it == doc.end()) return Status::Unavailable("keeper answer has no result");
    return std::move(*it);
  }
  std::string code;
  std::string error;
  if (!GetString(doc, "code", &code).ok() || !GetString(doc, "error", &error).ok()) {
    return Status::Unavailable("keeper sent a malformed error");
  }
  return StatusFromWire(code, "keeper: " + error);
}

std::string HandleRequest(Keeper& keeper, std::string_view request_body, bool* malformed) {
  bool ignored = false;
  if (malformed == nullptr) malformed = &ignored;
  *malformed = false;
  // Only request-shape errors count as malformed; a well-formed request the keeper refuses is not.
  auto bad = [&](const Status& s) {
    *malformed = true;
    return ErrorAnswer(s);
  };
  try {
    json doc = json::parse(request_body, nullptr, false);
    if (!doc.is_object()) return bad(Status::InvalidArgument("request is not a JSON object"));
    std::string op;
    if (Status s = GetString(doc, "op", &op); !s.ok()) return bad(s);
    auto args_it = doc.find("args");
    if (args_it == doc.end() || !args_it->is_object()) {
      return bad(Status::InvalidArgument("args must be an object"));
    }
    const json& args = *args_it;
    if (op == "seal") {
      auto req = SealRequestFromWire(args);
      if (!req.ok()) return bad(req.status());
      return Answer(keeper.Seal(*req));
    }
    if (op == "open") {
      auto req = OpenRequestFromWire(args);
      if (!req.ok()) return bad(req.status());
      auto opened = keeper.Open(*req);
      if (!opened.ok()) return ErrorAnswer(opened.status());
      json out = json::array();
      for (const auto& o : *opened) out.push_back(ToWire(o));
      return OkAnswer(std::move(out));
    }
    if (op == "blind_index") {
      std::string institution, field, value;
      for (auto [key, dst] : {std::pair{"institution_id", &institution}, std::pair{"field", &field},
                              std::pair{"value", &value}}) {
        if (Status s = GetString(args, key, dst); !s.ok()) return bad(s);
      }
      auto index = keeper.BlindIndex(institution, field, value);
      if (!index.ok()) return ErrorAnswer(index.status());
      return OkAnswer(*index);
    }
    if (op == "get_command_key") {
      std::string institution;
      if (Status s = GetString(args, "institution_id", &institution); !s.ok())
        return ErrorAnswer(s);
      return Answer(keeper.GetCommandKey(institution));
    }
    if (op == "sign_command") {
      auto req = SignCommandRequestFromWire(args);
      if (!req.ok()) return bad(req.status());
      return Answer(keeper.SignCommand(*req));
    }
    if (op == "rotate_command_key") {
      std::string institution;
      if (Status s = GetString(args, "institution_id", &institution); !s.ok())
        return ErrorAnswer(s);
      if (!args.contains("caller")) return bad(Status::InvalidArgument("missing caller"));
      auto caller = CallerFromWire(args.at("caller"));
      if (!caller.ok()) return bad(caller.status());
      return Answer(keeper.RotateCommandKey(*caller, institution));
    }
    if (op == "key_rotations") {
      std::string institution;
      if (Status s = GetString(args, "institution_id", &institution); !s.ok())
        return ErrorAnswer(s);
      auto rotations = keeper.KeyRotations(institution);
      if (!rotations.ok()) return ErrorAnswer(rotations.status());
      json out = json::array();
      for (const auto& r : *rotations) out.push_back(ToWire(r));
      return OkAnswer(std::move(out));
    }
    if (op == "append_audit") {
      auto record = RecordFromWire(args);
      if (!record.ok()) return bad(record.status());
      return Answer(keeper.AppendAudit(*record));
    }
    if (op == "query_audit") {
      auto query = AuditQueryFromWire(args);
      if (!query.ok()) return bad(query.status());
      return Answer(keeper.QueryAudit(*query));
    }
    if (op == "prove_audit") {
      auto req = AuditProofRequestFromWire(args);
      if (!req.ok()) return bad(req.status());
      auto proofs = keeper.ProveAudit(*req);
      if (!proofs.ok()) return ErrorAnswer(proofs.status());
      json out = json::array();
      for (const auto& p : *proofs) out.push_back(ToWire(p));
      return OkAnswer(std::move(out));
    }
    if (op == "sign_evidence") {
      auto req = SignEvidenceRequestFromWire(args);
      if (!req.ok()) return bad(req.status());
      auto signature = keeper.SignEvidence(*req);
      if (!signature.ok()) return ErrorAnswer(signature.status());
      return OkAnswer(crypto::Base64Encode(*signature));
    }
    if (op == "rotate_master_key" || op == "master_key_status") {
      if (!args.contains("caller")) return bad(Status::InvalidArgument("missing caller"));
      auto caller = CallerFromWire(args.at("caller"));
      if (!caller.ok()) return bad(caller.status());
      return Answer(op == "rotate_master_key" ? keeper.RotateMasterKey(*caller)
                                              : keeper.GetMasterKeyStatus(*caller));
    }
    if (op == "rewrap_keys") {
      auto req = RewrapRequestFromWire(args);
      if (!req.ok()) return bad(req.status());
      auto rewrapped = keeper.RewrapKeys(*req);
      if (!rewrapped.ok()) return ErrorAnswer(rewrapped.status());
      json out = json::array();
      for (const auto& r : *rewrapped) out.push_back(ToWire(r));
      return OkAnswer(std::move(out));
    }
    if (op == "checkpoint") return Answer(keeper.MakeCheckpoint());
    if (op == "checkpoint_public_key") {
      auto key = keeper.CheckpointPublicKey();
      if (!key.ok()) return ErrorAnswer(key.status());
      return OkAnswer(crypto::Base64Encode(*key));
    }
    return bad(Status::InvalidArgument("unknown op"));
  } catch (const json::exception&) {
    // A value of an unexpected type deep inside a request: still the caller's fault.
    return bad(Status::InvalidArgument("malformed request"));
  } catch (const std::exception&) {
    // Out of memory or a system error: this request fails, the keeper stays up.
    return ErrorAnswer(Status::Internal("the keeper could not process the request"));
  }
}

}  // namespace rampart::keeper
