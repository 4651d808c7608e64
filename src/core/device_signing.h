// The device request signature, shared by the server (verifier) and the agent (signer).
//
// Every device request after enrollment carries four headers:
//   X-Rampart-Device:    the device id
//   X-Rampart-Timestamp: Unix seconds when signed
//   X-Rampart-Nonce:     32 lower-case hex characters, never reused by that device
//   X-Rampart-Signature: base64 Ed25519 signature over SigningString(...)
// The server rejects a signature that does not verify with the enrolled key, a timestamp more
// than the configured skew away from its clock, and a nonce it has seen from that device within
// the replay window.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rampart::core {

inline constexpr std::string_view kDeviceHeader = "x-rampart-device";
inline constexpr std::string_view kTimestampHeader = "x-rampart-timestamp";
inline constexpr std::string_view kNonceHeader = "x-rampart-nonce";
inline constexpr std::string_view kSignatureHeader = "x-rampart-signature";

// "RAMPART-DEVICE-V1\n" METHOD "\n" TARGET "\n" TIMESTAMP "\n" NONCE "\n" SHA256HEX(BODY) "\n"
// DEVICE_ID — TARGET is the request target exactly as sent (path and query).
std::string DeviceSigningString(std::string_view method, std::string_view target, int64_t timestamp,
                                std::string_view nonce, std::string_view body_sha256_hex,
                                std::string_view device_id);

// Enrollment is not signed by a device key yet; the agent proves possession of the key by
// signing this string (the enrollment token is the credential).
std::string EnrollmentProofString(std::string_view enrollment_token,
                                  std::string_view public_key_b64);

}  // namespace rampart::core
