// What the keeper signs and the agent verifies, so that a device obeys only commands the keeper
// approved — never a row an attacker wrote into the web tier's database.
//
// Every command delivered to a device carries an Ed25519 signature by its institution's command
// key (held only by the keeper) over CommandSigningString(...). At enrollment the device pins
// that key's public half and id. The key can move: a KeyRotation message signed by the old key
// names the new one; the agent switches its pin only when the old key's signature verifies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace rampart::core {

struct CommandSignatureFields {
  std::string device_id;
  std::string command_id;
  int64_t seq = 0;                 // per-device, strictly increasing (the store assigns it)
  std::string type;                // wire name, e.g. "wipe"
  std::string payload_sha256_hex;  // SHA-256 of the command's canonical payload JSON text
  int64_t expires_at = 0;          // Unix seconds; the agent refuses the command after it
};

// The canonical text of a command payload, whose SHA-256 is signed: the JSON parsed and dumped
// again by nlohmann::json (object keys sorted, no whitespace). Server and agent both compute it
// from the JSON value, so re-serialisation on the way does not change it. InvalidArgument when
// the text is not JSON.
Result<std::string> CanonicalPayload(std::string_view payload_json);

// "RAMPART-COMMAND-V1\n" DEVICE_ID "\n" COMMAND_ID "\n" SEQ "\n" TYPE "\n" PAYLOAD_SHA256 "\n"
// EXPIRES_AT
std::string CommandSigningString(const CommandSignatureFields& fields);

struct KeyRotationFields {
  std::string institution_id;
  std::string old_key_id;
  std::string new_key_id;
  std::string new_public_key_b64;  // base64 of the raw 32-byte Ed25519 public key
  int64_t issued_at = 0;
};

// "RAMPART-KEY-ROTATION-V1\n" INSTITUTION_ID "\n" OLD_KEY_ID "\n" NEW_KEY_ID "\n" NEW_PUBLIC_KEY
// "\n" ISSUED_AT — signed by the old key.
std::string KeyRotationSigningString(const KeyRotationFields& fields);

// "RAMPART-EVIDENCE-MANIFEST-V1\n" MANIFEST_SHA256_HEX — what an evidence bundle's signature
// covers (respond/evidence.h), signed by the keeper's audit-checkpoint key. The prefix keeps an
// evidence signature from passing for a checkpoint signature and the reverse.
std::string EvidenceSigningString(std::string_view manifest_sha256_hex);

}  // namespace rampart::core
