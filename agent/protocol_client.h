// The device side of the wire protocol (docs/protocol.md): building and signing requests and
// parsing responses as pure functions (shared by the blocking agent and the asynchronous
// simulator), and DeviceClient, a blocking client on top of http::HttpClient.
//
//   auto c = DeviceClient::Connect(url, ca_file);
//   auto enrolled = (*c)->Enroll(params, keys);            // unsigned
//   (*c)->SetIdentity({enrolled->device_id, keys.secret_key});
//   auto checkin = (*c)->Checkin(device.state);           // signed from here on
//
// Server responses are untrusted input: every parser validates types and bounds and rejects
// command ids that could not safely become part of a request target.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/command_verifier.h"
#include "agent/device_model.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/status.h"
#include "core/model.h"
#include "http/client.h"

namespace rampart::agent {

// The device's signing identity once enrolled.
struct DeviceIdentity {
  std::string device_id;
  std::string secret_key;  // 64 raw bytes, libsodium layout
};

struct OutgoingRequest {
  std::string method;
  std::string target;
  http::HeaderList headers;
  std::string body;
};

// A request carrying the four X-Rampart-* headers of docs/protocol.md over
// core::DeviceSigningString. `nonce_hex` must be 32 lower-case hex characters; InvalidArgument
// when it is not or when the secret key is malformed.
Result<OutgoingRequest> SignRequest(const DeviceIdentity& identity, std::string method,
                                    std::string target, std::string body, int64_t now_seconds,
                                    const std::string& nonce_hex);
// Same with a fresh random nonce and the clock's current time.
Result<OutgoingRequest> SignRequestNow(const DeviceIdentity& identity, std::string method,
                                       std::string target, std::string body, const Clock& clock);

struct EnrollParams {
  std::string token;
  core::Platform platform = core::Platform::kAndroid;
  std::string model;
  std::string serial;
  std::string os_version;
  core::Ownership ownership = core::Ownership::kCorporate;
};

// The body of POST /device/v1/enroll, with the proof of possession of the key.
Result<std::string> BuildEnrollBody(const EnrollParams& params, const crypto::Ed25519KeyPair& keys);

struct EnrollResponse {
  std::string device_id;
  std::string institution_id;
  std::string server_identity_key;  // base64, as sent
  std::string tls_ca_sha256;
  CommandKeyPin command_key;  // the institution's command key: required
  int64_t checkin_interval_seconds = 900;
};
// InvalidArgument when the answer lacks a well-formed "command_key".
Result<EnrollResponse> ParseEnrollResponse(const std::string& body);

// `command_key_id` (the pinned key) is sent when not empty.
std::string BuildCheckinBody(const core::DeviceState& state,
                             const std::string& command_key_id = "");

struct CheckinResponse {
  std::string compliance_state;  // "compliant", "noncompliant", "unknown"
  std::vector<core::ComplianceReason> reasons;
  std::vector<WireCommand> commands;           // in the order received (seq ascending)
  std::vector<WireKeyRotation> key_rotations;  // oldest first
  int64_t checkin_interval_seconds = 900;
};
Result<CheckinResponse> ParseCheckinResponse(const std::string& body);

std::string BuildResultBody(const Outcome& outcome);

// Request targets; the ids are validated by the parsers above (letters, digits, '_', '-').
std::string CommandResultTarget(const std::string& command_id);
std::string AppDownloadTarget(const std::string& sha256_hex);

inline constexpr char kEnrollTarget[] = "/device/v1/enroll";
inline constexpr char kCheckinTarget[] = "/device/v1/checkin";
inline constexpr char kUnenrollTarget[] = "/device/v1/unenroll";

// The Status for a non-2xx answer: the code follows the HTTP status and the message names the
// operation and carries the server's error message when the body has one.
Status StatusFromHttp(int http_status, const std::string& body, const std::string& operation);

// Blocking protocol client. Not thread-safe (one per thread), like the HttpClient under it.
class DeviceClient {
 public:
  // Unavailable when the server cannot be reached or its certificate does not chain to the CA.
  static Result<std::unique_ptr<DeviceClient>> Connect(
      const std::string& url, const std::string& ca_file,
      const Clock& clock = SystemClock::Instance());
  ~DeviceClient();
  DeviceClient(const DeviceClient&) = delete;
  DeviceClient& operator=(const DeviceClient&) = delete;

  Result<EnrollResponse> Enroll(const EnrollParams& params, const crypto::Ed25519KeyPair& keys);
  void SetIdentity(DeviceIdentity identity) { identity_ = std::move(identity); }

  Result<CheckinResponse> Checkin(const core::DeviceState& state,
                                  const std::string& command_key_id = "");
  // OK for "recorded" and "duplicate"; Conflict when the server holds a different outcome.
  Status ReportResult(const std::string& command_id, const Outcome& outcome);
  // The package bytes; NotFound / PermissionDenied (quarantined) as the server says.
  Result<std::string> DownloadApp(const std::string& sha256_hex);
  Status Unenroll();

 private:
  DeviceClient(std::unique_ptr<http::HttpClient> http, const Clock& clock);
  Result<http::ClientResponse> SendSigned(const std::string& method, const std::string& target,
                                          std::string body);

  std::unique_ptr<http::HttpClient> http_;
  const Clock& clock_;
  DeviceIdentity identity_;
};

}  // namespace rampart::agent
