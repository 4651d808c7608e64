#include "agent/protocol_client.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/json_util.h"
#include "core/device_signing.h"

namespace rampart::agent {

using nlohmann::json;
namespace ju = rampart::jsonutil;

namespace {

constexpr size_t kMaxCommandsPerCheckin = 1000;
constexpr size_t kMaxKeyRotations = 1000;
constexpr size_t kMaxIdLength = 128;

bool IsSafeId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

bool IsLowerHex(std::string_view s, size_t len) {
  if (s.size() != len) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Code CodeForHttp(int status) {
  switch (status) {
    case 400:
      return Code::kInvalidArgument;
    case 401:
      return Code::kUnauthenticated;
    case 403:
      return Code::kPermissionDenied;
    case 404:
      return Code::kNotFound;
    case 409:
      return Code::kConflict;
    case 413:
      return Code::kPayloadTooLarge;
    case 429:
      return Code::kResourceExhausted;
    default:
      return status >= 500 ? Code::kUnavailable : Code::kInternal;
  }
}

Status MakeStatus(Code code, std::string msg) {
  switch (code) {
    case Code::kInvalidArgument:
      return Status::InvalidArgument(std::move(msg));
    case Code::kUnauthenticated:
      return Status::Unauthenticated(std::move(msg));
    case Code::kPermissionDenied:
      return Status::PermissionDenied(std::move(msg));
    case Code::kNotFound:
      return Status::NotFound(std::move(msg));
    case Code::kConflict:
      return Status::Conflict(std::move(msg));
    case Code::kPayloadTooLarge:
      return Status::PayloadTooLarge(std::move(msg));
    case Code::kResourceExhausted:
      return Status::ResourceExhausted(std::move(msg));
    case Code::kUnavailable:
      return Status::Unavailable(std::move(msg));
    default:
      return Status::Internal(std::move(msg));
  }
}

Status BadResponse(const std::string& what, const Status& s) {
  return Status::Internal("malformed " + what + " response from server: " + s.message());
}

}  // namespace

Result<OutgoingRequest> SignRequest(const DeviceIdentity& identity, std::string method,
                                    std::string target, std::string body, int64_t now_seconds,
                                    const std::string& nonce_hex) {
  if (!IsLowerHex(nonce_hex, 32)) {
    return Status::InvalidArgument("nonce must be 32 lower-case hex characters");
  }
  if (identity.secret_key.size() != crypto::kEd25519SecretKeyBytes) {
    return Status::InvalidArgument("device secret key must be 64 bytes");
  }
  std::string signing = core::DeviceSigningString(method, target, now_seconds, nonce_hex,
                                                  crypto::Sha256Hex(body), identity.device_id);
  RAMPART_ASSIGN_OR_RETURN(std::string sig, crypto::SignEd25519(identity.secret_key, signing));
  OutgoingRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  r.headers = {
      {std::string(core::kDeviceHeader), identity.device_id},
      {std::string(core::kTimestampHeader), std::to_string(now_seconds)},
      {std::string(core::kNonceHeader), nonce_hex},
      {std::string(core::kSignatureHeader), crypto::Base64Encode(sig)},
  };
  if (!r.body.empty()) r.headers.emplace_back("content-type", "application/json");
  return r;
}

Result<OutgoingRequest> SignRequestNow(const DeviceIdentity& identity, std::string method,
                                       std::string target, std::string body, const Clock& clock) {
  return SignRequest(identity, std::move(method), std::move(target), std::move(body),
                     clock.NowSeconds(), crypto::RandomHex(16));
}

Result<std::string> BuildEnrollBody(const EnrollParams& p, const crypto::Ed25519KeyPair& keys) {
  if (keys.public_key.size() != crypto::kEd25519PublicKeyBytes) {
    return Status::InvalidArgument("public key must be 32 bytes");
  }
  std::string public_b64 = crypto::Base64Encode(keys.public_key);
  RAMPART_ASSIGN_OR_RETURN(
      std::string proof,
      crypto::SignEd25519(keys.secret_key, core::EnrollmentProofString(p.token, public_b64)));
  json body = {
      {"enrollment_token", p.token},
      {"public_key", public_b64},
      {"proof", crypto::Base64Encode(proof)},
      {"platform", core::ToString(p.platform)},
      {"model", p.model},
      {"serial", p.serial},
      {"os_version", p.os_version},
      {"ownership", core::ToString(p.ownership)},
  };
  return ju::Dump(body);
}

Result<EnrollResponse> ParseEnrollResponse(const std::string& body) {
  auto parsed = ju::ParseObject(body);
  if (!parsed.ok()) return BadResponse("enroll", parsed.status());
  const json& j = *parsed;
  EnrollResponse r;
  Status s = ju::GetString(j, "device_id", &r.device_id, true, kMaxIdLength);
  if (s.ok()) s = ju::GetString(j, "institution_id", &r.institution_id, true, kMaxIdLength);
  if (s.ok()) {
    s = ju::GetInt(j, "checkin_interval_seconds", &r.checkin_interval_seconds, false, 1,
                   7 * 24 * 3600);
  }
  if (s.ok()) {
    auto server = j.find("server");
    if (server != j.end() && server->is_object()) {
      s = ju::GetString(*server, "identity_key", &r.server_identity_key, false, 128);
      if (s.ok()) s = ju::GetString(*server, "tls_ca_sha256", &r.tls_ca_sha256, false, 64);
    }
  }
  if (s.ok()) {
    auto key = j.find("command_key");
    if (key == j.end() || !key->is_object()) {
      s = Status::InvalidArgument("'command_key' is missing");
    } else {
      std::string public_b64;
      s = ju::GetString(*key, "key_id", &r.command_key.key_id, true, kMaxIdLength);
      if (s.ok()) s = ju::GetString(*key, "public_key", &public_b64, true, 64);
      if (s.ok()) {
        auto raw = crypto::Base64Decode(public_b64);
        if (!raw.ok() || raw->size() != crypto::kEd25519PublicKeyBytes ||
            r.command_key.key_id.empty()) {
          s = Status::InvalidArgument("'command_key' is not an Ed25519 key with an id");
        } else {
          r.command_key.public_key = std::move(raw).value();
        }
      }
    }
  }
  if (!s.ok()) return BadResponse("enroll", s);
  if (!IsSafeId(r.device_id)) {
    return BadResponse("enroll", Status::InvalidArgument("device id has unexpected characters"));
  }
  return r;
}

std::string BuildCheckinBody(const core::DeviceState& state, const std::string& command_key_id) {
  json body = {{"state", DeviceStateToJson(state)}};
  if (!command_key_id.empty()) body["command_key_id"] = command_key_id;
  return ju::Dump(body);
}

Result<CheckinResponse> ParseCheckinResponse(const std::string& body) {
  auto parsed = ju::ParseObject(body);
  if (!parsed.ok()) return BadResponse("check-in", parsed.status());
  const json& j = *parsed;
  CheckinResponse r;
  Status s = ju::GetInt(j, "checkin_interval_seconds", &r.checkin_interval_seconds, false, 1,
                        7 * 24 * 3600);
  if (!s.ok()) return BadResponse("check-in", s);

  auto comp = j.find("compliance");
  if (comp != j.end() && !comp->is_null()) {
    if (!comp->is_object()) {
      return BadResponse("check-in", Status::InvalidArgument("'compliance' must be an object"));
    }
    s = ju::GetString(*comp, "state", &r.compliance_state, false, 32);
    if (!s.ok()) return BadResponse("check-in", s);
    auto reasons = comp->find("reasons");
    if (reasons != comp->end() && reasons->is_array()) {
      for (const auto& item : *reasons) {
        if (!item.is_object()) continue;
        core::ComplianceReason reason;
        s = ju::GetString(item, "policy_id", &reason.policy_id, false, kMaxIdLength);
        if (s.ok()) s = ju::GetString(item, "code", &reason.code, false, 64);
        if (s.ok()) s = ju::GetString(item, "message", &reason.message, false, 1024);
        if (!s.ok()) return BadResponse("check-in", s);
        r.reasons.push_back(std::move(reason));
      }
    }
  }

  auto rotations = j.find("key_rotations");
  if (rotations != j.end() && rotations->is_array()) {
    if (rotations->size() > kMaxKeyRotations) {
      return BadResponse("check-in", Status::InvalidArgument("too many key rotations"));
    }
    for (const auto& item : *rotations) {
      if (!item.is_object()) continue;
      WireKeyRotation rot;
      std::string sig_b64;
      s = ju::GetString(item, "institution_id", &rot.fields.institution_id, true, kMaxIdLength);
      if (s.ok()) s = ju::GetString(item, "old_key_id", &rot.fields.old_key_id, true, kMaxIdLength);
      if (s.ok()) s = ju::GetString(item, "new_key_id", &rot.fields.new_key_id, true, kMaxIdLength);
      if (s.ok())
        s = ju::GetString(item, "new_public_key", &rot.fields.new_public_key_b64, true, 64);
      if (s.ok()) s = ju::GetInt(item, "issued_at", &rot.fields.issued_at, true, 0, INT64_MAX);
      if (s.ok()) s = ju::GetString(item, "signature", &sig_b64, true, 128);
      if (!s.ok()) return BadResponse("check-in", s);
      // An undecodable signature stays empty and simply fails verification.
      auto sig = crypto::Base64Decode(sig_b64);
      if (sig.ok()) rot.signature = std::move(sig).value();
      r.key_rotations.push_back(std::move(rot));
    }
  }

  auto cmds = j.find("commands");
  if (cmds == j.end() || cmds->is_null()) return r;
  if (!cmds->is_array()) {
    return BadResponse("check-in", Status::InvalidArgument("'commands' must be an array"));
  }
  if (cmds->size() > kMaxCommandsPerCheckin) {
    return BadResponse("check-in", Status::InvalidArgument("too many commands"));
  }
  for (const auto& item : *cmds) {
    if (!item.is_object()) {
      return BadResponse("check-in", Status::InvalidArgument("a command must be an object"));
    }
    WireCommand c;
    s = ju::GetString(item, "id", &c.id, true, kMaxIdLength);
    if (s.ok()) s = ju::GetInt(item, "seq", &c.seq, true, 0, INT64_MAX);
    if (s.ok()) s = ju::GetString(item, "type", &c.type, true, 64);
    if (s.ok()) s = ju::GetInt(item, "expires_at", &c.expires_at, false, 0, INT64_MAX);
    if (!s.ok()) return BadResponse("check-in", s);
    if (!IsSafeId(c.id)) {
      return BadResponse("check-in",
                         Status::InvalidArgument("command id has unexpected characters"));
    }
    auto payload = item.find("payload");
    if (payload != item.end() && !payload->is_null()) c.payload = *payload;
    // Signature fields are read leniently: a command whose signature is missing or malformed
    // is still listed, so the agent can refuse it by id and report why.
    ju::GetString(item, "payload_sha256", &c.payload_sha256, false, 64).IgnoreError();
    auto sig = item.find("signature");
    if (sig != item.end() && sig->is_object()) {
      std::string value;
      if (ju::GetString(*sig, "key_id", &c.signature_key_id, false, kMaxIdLength).ok() &&
          ju::GetString(*sig, "value", &value, false, 128).ok()) {
        auto raw = crypto::Base64Decode(value);
        if (raw.ok()) c.signature = std::move(raw).value();
      } else {
        c.signature_key_id.clear();
      }
    }
    r.commands.push_back(std::move(c));
  }
  return r;
}

std::string BuildResultBody(const Outcome& o) {
  json body = {{"status", o.status}};
  if (!o.result.is_null() && !o.result.empty()) body["result"] = o.result;
  // The server keeps at most 1000 bytes of an error; longer text would be refused whole.
  if (!o.error.empty()) body["error"] = o.error.substr(0, 900);
  return ju::Dump(body);
}

std::string CommandResultTarget(const std::string& command_id) {
  return "/device/v1/commands/" + command_id + "/result";
}

std::string AppDownloadTarget(const std::string& sha256_hex) {
  return "/device/v1/apps/" + sha256_hex;
}

Status StatusFromHttp(int http_status, const std::string& body, const std::string& operation) {
  std::string msg = operation + " failed: HTTP " + std::to_string(http_status);
  auto parsed = ju::ParseObject(body);
  if (parsed.ok()) {
    auto err = parsed->find("error");
    if (err != parsed->end() && err->is_object()) {
      std::string code, message;
      if (ju::GetString(*err, "code", &code, false, 64).ok() && !code.empty()) {
        msg += " " + code;
      }
      if (ju::GetString(*err, "message", &message, false, 512).ok() && !message.empty()) {
        msg += ": " + message;
      }
    }
  }
  return MakeStatus(CodeForHttp(http_status), std::move(msg));
}

}  // namespace rampart::agent
