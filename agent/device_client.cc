// DeviceClient: the blocking protocol client on top of http::HttpClient. Kept apart from the
// pure builders and parsers in protocol_client.cc so those link without the HTTP client.
#include "agent/protocol_client.h"

namespace rampart::agent {

namespace {

bool IsSafeCommandId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

DeviceClient::DeviceClient(std::unique_ptr<http::HttpClient> http, const Clock& clock)
    : http_(std::move(http)), clock_(clock) {}

DeviceClient::~DeviceClient() = default;

Result<std::unique_ptr<DeviceClient>> DeviceClient::Connect(const std::string& url,
                                                            const std::string& ca_file,
                                                            const Clock& clock) {
  http::ClientOptions options;
  options.url = url;
  options.ca_file = ca_file;
  RAMPART_ASSIGN_OR_RETURN(std::unique_ptr<http::HttpClient> http,
                           http::HttpClient::Connect(options));
  return std::unique_ptr<DeviceClient>(new DeviceClient(std::move(http), clock));
}

Result<EnrollResponse> DeviceClient::Enroll(const EnrollParams& params,
                                            const crypto::Ed25519KeyPair& keys) {
  RAMPART_ASSIGN_OR_RETURN(std::string body, BuildEnrollBody(params, keys));
  RAMPART_ASSIGN_OR_RETURN(
      http::ClientResponse resp,
      http_->Send("POST", kEnrollTarget, {{"content-type", "application/json"}}, body));
  if (resp.status != 201 && resp.status != 200) {
    return StatusFromHttp(resp.status, resp.body, "enrollment");
  }
  return ParseEnrollResponse(resp.body);
}

Result<http::ClientResponse> DeviceClient::SendSigned(const std::string& method,
                                                      const std::string& target, std::string body) {
  RAMPART_ASSIGN_OR_RETURN(OutgoingRequest req,
                           SignRequestNow(identity_, method, target, std::move(body), clock_));
  return http_->Send(req.method, req.target, req.headers, req.body);
}

Result<CheckinResponse> DeviceClient::Checkin(const core::DeviceState& state,
                                              const std::string& command_key_id) {
  RAMPART_ASSIGN_OR_RETURN(
      http::ClientResponse resp,
      SendSigned("POST", kCheckinTarget, BuildCheckinBody(state, command_key_id)));
  if (resp.status != 200) return StatusFromHttp(resp.status, resp.body, "check-in");
  return ParseCheckinResponse(resp.body);
}

Status DeviceClient::ReportResult(const std::string& command_id, const Outcome& outcome) {
  if (!IsSafeCommandId(command_id))
    return Status::InvalidArgument("command id has unexpected characters");
  RAMPART_ASSIGN_OR_RETURN(
      http::ClientResponse resp,
      SendSigned("POST", CommandResultTarget(command_id), BuildResultBody(outcome)));
  if (resp.status != 200) return StatusFromHttp(resp.status, resp.body, "command result");
  return Status::Ok();
}

Result<std::string> DeviceClient::DownloadApp(const std::string& sha256_hex) {
  if (!IsSha256Hex(sha256_hex)) return Status::InvalidArgument("malformed package hash");
  RAMPART_ASSIGN_OR_RETURN(http::ClientResponse resp,
                           SendSigned("GET", AppDownloadTarget(sha256_hex), ""));
  if (resp.status != 200) return StatusFromHttp(resp.status, resp.body, "app download");
  return std::move(resp.body);
}

Status DeviceClient::Unenroll() {
  RAMPART_ASSIGN_OR_RETURN(http::ClientResponse resp, SendSigned("POST", kUnenrollTarget, "{}"));
  if (resp.status != 200) return StatusFromHttp(resp.status, resp.body, "unenroll");
  return Status::Ok();
}

}  // namespace rampart::agent
