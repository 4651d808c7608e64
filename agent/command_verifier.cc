#include "agent/command_verifier.h"

#include <algorithm>

#include "common/crypto.h"

namespace rampart::agent {

std::string_view ToString(Rejection r) {
  switch (r) {
    case Rejection::kUnsigned:
      return "unsigned";
    case Rejection::kUnknownKey:
      return "unknown_key";
    case Rejection::kBadSignature:
      return "bad_signature";
    case Rejection::kPayloadMismatch:
      return "payload_mismatch";
    case Rejection::kExpired:
      return "expired";
    case Rejection::kReplayed:
      return "replayed";
    case Rejection::kOutOfOrder:
      return "out_of_order";
  }
  return "unknown";
}

std::optional<Rejection> CheckCommand(const CommandTrust& trust, const std::string& device_id,
                                      const WireCommand& cmd, int64_t now) {
  if (cmd.signature.empty() || cmd.signature_key_id.empty()) return Rejection::kUnsigned;
  if (trust.pin.key_id.empty() || cmd.signature_key_id != trust.pin.key_id) {
    return Rejection::kUnknownKey;
  }
  // The payload as delivered, in the canonical form the server hashed.
  std::string actual_hash = crypto::Sha256Hex(cmd.payload.dump());
  core::CommandSignatureFields f;
  f.device_id = device_id;
  f.command_id = cmd.id;
  f.seq = cmd.seq;
  f.type = cmd.type;
  // The server states the hash it signed; without it, the signature must cover the payload
  // delivered (a mismatch then shows as a bad signature).
  f.payload_sha256_hex = cmd.payload_sha256.empty() ? actual_hash : cmd.payload_sha256;
  f.expires_at = cmd.expires_at;
  if (!crypto::VerifyEd25519(trust.pin.public_key, core::CommandSigningString(f), cmd.signature)) {
    return Rejection::kBadSignature;
  }
  if (f.payload_sha256_hex != actual_hash) return Rejection::kPayloadMismatch;
  if (cmd.expires_at <= now) return Rejection::kExpired;
  if (std::find(trust.recent_ids.begin(), trust.recent_ids.end(), cmd.id) !=
      trust.recent_ids.end()) {
    return Rejection::kReplayed;
  }
  if (cmd.seq <= trust.low_watermark) return Rejection::kOutOfOrder;
  return std::nullopt;
}

void MarkExecuted(CommandTrust& trust, const WireCommand& cmd) {
  trust.low_watermark = std::max(trust.low_watermark, cmd.seq);
  trust.recent_ids.push_back(cmd.id);
  while (trust.recent_ids.size() > kRecentCommandIds) trust.recent_ids.pop_front();
}

int FollowRotations(CommandTrust& trust, const std::string& institution_id,
                    const std::vector<WireKeyRotation>& rotations) {
  int followed = 0;
  for (const WireKeyRotation& r : rotations) {
    if (r.fields.old_key_id != trust.pin.key_id || r.fields.institution_id != institution_id) {
      continue;
    }
    if (r.fields.new_key_id.empty() || r.fields.new_key_id == trust.pin.key_id) continue;
    auto new_key = crypto::Base64Decode(r.fields.new_public_key_b64);
    if (!new_key.ok() || new_key->size() != crypto::kEd25519PublicKeyBytes) continue;
    if (!crypto::VerifyEd25519(trust.pin.public_key, core::KeyRotationSigningString(r.fields),
                               r.signature)) {
      continue;
    }
    trust.pin.key_id = r.fields.new_key_id;
    trust.pin.public_key = std::move(new_key).value();
    ++followed;
  }
  return followed;
}

}  // namespace rampart::agent
