#include "core/device_signing.h"

namespace rampart::core {

std::string DeviceSigningString(std::string_view method, std::string_view target, int64_t timestamp,
                                std::string_view nonce, std::string_view body_sha256_hex,
                                std::string_view device_id) {
  std::string s = "RAMPART-DEVICE-V1\n";
  s.append(method).append("\n");
  s.append(target).append("\n");
  s.append(std::to_string(timestamp)).append("\n");
  s.append(nonce).append("\n");
  s.append(body_sha256_hex).append("\n");
  s.append(device_id);
  return s;
}

std::string EnrollmentProofString(std::string_view enrollment_token,
                                  std::string_view public_key_b64) {
  std::string s = "RAMPART-ENROLL-V1\n";
  s.append(enrollment_token).append("\n").append(public_key_b64);
  return s;
}

}  // namespace rampart::core
