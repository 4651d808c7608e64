#include "core/command_signing.h"

#include <nlohmann/json.hpp>

namespace rampart::core {

Result<std::string> CanonicalPayload(std::string_view payload_json) {
  nlohmann::json j = nlohmann::json::parse(payload_json, nullptr, false);
  if (j.is_discarded()) return Status::InvalidArgument("command payload is not JSON");
  return j.dump();
}

std::string CommandSigningString(const CommandSignatureFields& f) {
  std::string s = "RAMPART-COMMAND-V1\n";
  s += f.device_id;
  s += '\n';
  s += f.command_id;
  s += '\n';
  s += std::to_string(f.seq);
  s += '\n';
  s += f.type;
  s += '\n';
  s += f.payload_sha256_hex;
  s += '\n';
  s += std::to_string(f.expires_at);
  return s;
}

std::string KeyRotationSigningString(const KeyRotationFields& f) {
  std::string s = "RAMPART-KEY-ROTATION-V1\n";
  s += f.institution_id;
  s += '\n';
  s += f.old_key_id;
  s += '\n';
  s += f.new_key_id;
  s += '\n';
  s += f.new_public_key_b64;
  s += '\n';
  s += std::to_string(f.issued_at);
  return s;
}

std::string EvidenceSigningString(std::string_view manifest_sha256_hex) {
  std::string s = "RAMPART-EVIDENCE-MANIFEST-V1\n";
  s += manifest_sha256_hex;
  return s;
}

}  // namespace rampart::core
