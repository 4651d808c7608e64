#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agent/protocol_client.h"
#include "common/crypto.h"
#include "core/device_signing.h"

namespace rampart::agent {
namespace {

using nlohmann::json;

std::string HeaderValue(const http::HeaderList& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

class ProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    keys_ = crypto::GenerateEd25519();
    identity_ = {"dev_0123456789abcdef01234567", keys_.secret_key};
  }
  crypto::Ed25519KeyPair keys_;
  DeviceIdentity identity_;
};

TEST_F(ProtocolTest, SignedRequestCarriesHeadersThatVerify) {
  std::string body = R"({"state":{}})";
  std::string nonce = "00112233445566778899aabbccddeeff";
  auto req = SignRequest(identity_, "POST", "/device/v1/checkin", body, 1769770000, nonce);
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  EXPECT_EQ(HeaderValue(req->headers, "x-rampart-device"), identity_.device_id);
  EXPECT_EQ(HeaderValue(req->headers, "x-rampart-timestamp"), "1769770000");
  EXPECT_EQ(HeaderValue(req->headers, "x-rampart-nonce"), nonce);
  EXPECT_EQ(HeaderValue(req->headers, "content-type"), "application/json");

  auto sig = crypto::Base64Decode(HeaderValue(req->headers, "x-rampart-signature"));
  ASSERT_TRUE(sig.ok());
  std::string expected_signing = "RAMPART-DEVICE-V1\nPOST\n/device/v1/checkin\n1769770000\n" +
                                 nonce + "\n" + crypto::Sha256Hex(body) + "\n" +
                                 identity_.device_id;
  EXPECT_EQ(core::DeviceSigningString("POST", "/device/v1/checkin", 1769770000, nonce,
                                      crypto::Sha256Hex(body), identity_.device_id),
            expected_signing);
  EXPECT_TRUE(crypto::VerifyEd25519(keys_.public_key, expected_signing, *sig));
  // Any change to what was signed breaks the signature.
  std::string tampered = expected_signing;
  tampered.replace(tampered.find("POST"), 4, "GET ");
  EXPECT_FALSE(crypto::VerifyEd25519(keys_.public_key, tampered, *sig));
  auto other = crypto::GenerateEd25519();
  EXPECT_FALSE(crypto::VerifyEd25519(other.public_key, expected_signing, *sig));
}

TEST_F(ProtocolTest, SignedGetHashesTheEmptyBody) {
  auto req = SignRequest(identity_, "GET", AppDownloadTarget(std::string(64, 'a')), "", 5,
                         std::string(32, 'f'));
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->target, "/device/v1/apps/" + std::string(64, 'a'));
  EXPECT_EQ(HeaderValue(req->headers, "content-type"), "");
  auto sig = crypto::Base64Decode(HeaderValue(req->headers, "x-rampart-signature"));
  ASSERT_TRUE(sig.ok());
  std::string signing = core::DeviceSigningString("GET", req->target, 5, std::string(32, 'f'),
                                                  crypto::Sha256Hex(""), identity_.device_id);
  EXPECT_TRUE(crypto::VerifyEd25519(keys_.public_key, signing, *sig));
}

TEST_F(ProtocolTest, SignRequestNowUsesFreshNonces) {
  ManualClock clock(1769770000123);
  auto a = SignRequestNow(identity_, "POST", "/device/v1/checkin", "{}", clock);
  auto b = SignRequestNow(identity_, "POST", "/device/v1/checkin", "{}", clock);
  ASSERT_TRUE(a.ok() && b.ok());
  std::string na = HeaderValue(a->headers, "x-rampart-nonce");
  EXPECT_EQ(na.size(), 32u);
  EXPECT_EQ(na.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(na, HeaderValue(b->headers, "x-rampart-nonce"));
  EXPECT_EQ(HeaderValue(a->headers, "x-rampart-timestamp"), "1769770000");
}

TEST_F(ProtocolTest, SignRequestRejectsBadNonceAndKey) {
  EXPECT_FALSE(SignRequest(identity_, "GET", "/", "", 1, "XYZ").ok());
  EXPECT_FALSE(SignRequest(identity_, "GET", "/", "", 1, std::string(32, 'A')).ok());
  DeviceIdentity bad{"dev_x", "short"};
  EXPECT_FALSE(SignRequest(bad, "GET", "/", "", 1, std::string(32, 'a')).ok());
}

TEST_F(ProtocolTest, EnrollBodyCarriesAVerifiableProof) {
  EnrollParams p{.token = "enr_secret",
                 .platform = core::Platform::kIos,
                 .model = "iPhone 15",
                 .serial = "F2LX",
                 .os_version = "17.4",
                 .ownership = core::Ownership::kPersonal};
  auto body = BuildEnrollBody(p, keys_);
  ASSERT_TRUE(body.ok());
  json j = json::parse(*body);
  EXPECT_EQ(j["enrollment_token"], "enr_secret");
  EXPECT_EQ(j["platform"], "ios");
  EXPECT_EQ(j["ownership"], "personal");
  EXPECT_EQ(j["os_version"], "17.4");
  std::string pub_b64 = j["public_key"];
  EXPECT_EQ(*crypto::Base64Decode(pub_b64), keys_.public_key);
  auto proof = crypto::Base64Decode(j["proof"].get<std::string>());
  ASSERT_TRUE(proof.ok());
  EXPECT_TRUE(crypto::VerifyEd25519(keys_.public_key,
                                    core::EnrollmentProofString("enr_secret", pub_b64), *proof));
  EXPECT_FALSE(crypto::VerifyEd25519(keys_.public_key,
                                     core::EnrollmentProofString("enr_other", pub_b64), *proof));
}

TEST_F(ProtocolTest, ParsesEnrollResponse) {
  std::string key = crypto::GenerateEd25519().public_key;
  json answer = json::parse(R"({"device_id":"dev_1","institution_id":"ins_1",
      "server":{"identity_key":"AAAA","tls_ca_sha256":"ab"},"checkin_interval_seconds":60})");
  answer["command_key"] = {{"key_id", "ck_1"}, {"public_key", crypto::Base64Encode(key)}};
  auto r = ParseEnrollResponse(answer.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->device_id, "dev_1");
  EXPECT_EQ(r->institution_id, "ins_1");
  EXPECT_EQ(r->server_identity_key, "AAAA");
  EXPECT_EQ(r->checkin_interval_seconds, 60);
  EXPECT_EQ(r->command_key.key_id, "ck_1");
  EXPECT_EQ(r->command_key.public_key, key);
  // Without a well-formed command key the device could verify nothing: refused.
  json no_key = answer;
  no_key.erase("command_key");
  EXPECT_FALSE(ParseEnrollResponse(no_key.dump()).ok());
  json short_key = answer;
  short_key["command_key"]["public_key"] = crypto::Base64Encode("short");
  EXPECT_FALSE(ParseEnrollResponse(short_key.dump()).ok());
  EXPECT_FALSE(ParseEnrollResponse(R"({"institution_id":"ins_1"})").ok());
  EXPECT_FALSE(ParseEnrollResponse(R"({"device_id":"../x","institution_id":"i"})").ok());
  EXPECT_FALSE(ParseEnrollResponse("not json").ok());
}

TEST_F(ProtocolTest, ParsesSignaturesAndRotationsLeniently) {
  std::string sig = std::string(64, 's');
  json answer = {
      {"commands",
       json::array({{{"id", "cmd_1"},
                     {"seq", 1},
                     {"type", "lock"},
                     {"payload", json::object()},
                     {"payload_sha256", std::string(64, 'a')},
                     {"signature", {{"key_id", "ck_1"}, {"value", crypto::Base64Encode(sig)}}}},
                    {{"id", "cmd_2"}, {"seq", 2}, {"type", "lock"}},
                    {{"id", "cmd_3"},
                     {"seq", 3},
                     {"type", "lock"},
                     {"signature", {{"key_id", "ck_1"}, {"value", "%%%"}}}}})},
      {"key_rotations", json::array({{{"institution_id", "ins_1"},
                                      {"old_key_id", "ck_1"},
                                      {"new_key_id", "ck_2"},
                                      {"new_public_key", "AAAA"},
                                      {"issued_at", 5},
                                      {"signature", crypto::Base64Encode(sig)}}})}};
  auto r = ParseCheckinResponse(answer.dump());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->commands.size(), 3u) << "unsigned and malformed commands are kept to be refused";
  EXPECT_EQ(r->commands[0].signature_key_id, "ck_1");
  EXPECT_EQ(r->commands[0].signature, sig);
  EXPECT_EQ(r->commands[0].payload_sha256, std::string(64, 'a'));
  EXPECT_TRUE(r->commands[1].signature.empty());
  EXPECT_TRUE(r->commands[2].signature.empty());
  ASSERT_EQ(r->key_rotations.size(), 1u);
  EXPECT_EQ(r->key_rotations[0].fields.new_key_id, "ck_2");
  EXPECT_EQ(r->key_rotations[0].signature, sig);
  EXPECT_EQ(json::parse(BuildCheckinBody(core::DeviceState{}, "ck_1"))["command_key_id"], "ck_1");
  EXPECT_FALSE(json::parse(BuildCheckinBody(core::DeviceState{})).contains("command_key_id"));
}

TEST_F(ProtocolTest, CheckinBodyHasTheStateFields) {
  core::DeviceState s;
  s.os_version = "17.4";
  s.passcode_set = true;
  s.passcode_length = 6;
  s.battery_percent = 81;
  s.installed_apps = {"com.example.mail"};
  json j = json::parse(BuildCheckinBody(s));
  EXPECT_EQ(j["state"]["os_version"], "17.4");
  EXPECT_EQ(j["state"]["passcode_length"], 6);
  EXPECT_EQ(j["state"]["battery_percent"], 81);
  EXPECT_EQ(j["state"]["storage_encrypted"], false);
  EXPECT_EQ(j["state"]["installed_apps"], json::array({"com.example.mail"}));
}

TEST_F(ProtocolTest, ParsesCheckinResponseWithCommandsInOrder) {
  auto r = ParseCheckinResponse(R"({
    "compliance": {"state": "noncompliant", "reasons": [
      {"policy_id": "pol_1", "code": "passcode_too_short", "message": "too short"}]},
    "commands": [
      {"id": "cmd_a", "seq": 4, "type": "lock", "payload": {}, "expires_at": 1769770000},
      {"id": "cmd_b", "seq": 5, "type": "install_app", "payload": {"bundle_id": "x"}}],
    "checkin_interval_seconds": 300})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->compliance_state, "noncompliant");
  ASSERT_EQ(r->reasons.size(), 1u);
  EXPECT_EQ(r->reasons[0].code, "passcode_too_short");
  ASSERT_EQ(r->commands.size(), 2u);
  EXPECT_EQ(r->commands[0].id, "cmd_a");
  EXPECT_EQ(r->commands[0].seq, 4);
  EXPECT_EQ(r->commands[0].expires_at, 1769770000);
  EXPECT_EQ(r->commands[1].type, "install_app");
  EXPECT_EQ(r->commands[1].payload["bundle_id"], "x");
  EXPECT_EQ(r->checkin_interval_seconds, 300);
}

TEST_F(ProtocolTest, RejectsMalformedCheckinResponses) {
  EXPECT_FALSE(ParseCheckinResponse("[]").ok());
  EXPECT_FALSE(ParseCheckinResponse(R"({"commands": {}})").ok());
  EXPECT_FALSE(ParseCheckinResponse(R"({"commands": [{"seq": 1, "type": "lock"}]})").ok());
  // A command id becomes part of a request target: path characters are refused.
  EXPECT_FALSE(
      ParseCheckinResponse(R"({"commands": [{"id": "../../admin", "seq": 1, "type": "lock"}]})")
          .ok());
  EXPECT_FALSE(
      ParseCheckinResponse(R"({"commands": [{"id": "c?x=1", "seq": 1, "type": "lock"}]})").ok());
  EXPECT_TRUE(ParseCheckinResponse(R"({"commands": []})").ok());
}

TEST_F(ProtocolTest, ResultBody) {
  Outcome ok;
  ok.status = "acknowledged";
  ok.result = {{"locked", true}};
  json j = json::parse(BuildResultBody(ok));
  EXPECT_EQ(j["status"], "acknowledged");
  EXPECT_EQ(j["result"]["locked"], true);
  EXPECT_FALSE(j.contains("error"));
  Outcome bad;
  bad.status = "error";
  bad.error = "package hash mismatch";
  j = json::parse(BuildResultBody(bad));
  EXPECT_EQ(j["status"], "error");
  EXPECT_EQ(j["error"], "package hash mismatch");
  EXPECT_FALSE(j.contains("result"));
  EXPECT_EQ(CommandResultTarget("cmd_1"), "/device/v1/commands/cmd_1/result");
}

TEST_F(ProtocolTest, StatusFromHttpMapsCodesAndKeepsTheServerMessage) {
  Status s = StatusFromHttp(401, R"({"error":{"code":"unauthenticated","message":"bad token"}})",
                            "enrollment");
  EXPECT_EQ(s.code(), Code::kUnauthenticated);
  EXPECT_NE(s.message().find("enrollment failed"), std::string::npos);
  EXPECT_NE(s.message().find("bad token"), std::string::npos);
  EXPECT_EQ(StatusFromHttp(403, "", "download").code(), Code::kPermissionDenied);
  EXPECT_EQ(StatusFromHttp(404, "<html>", "download").code(), Code::kNotFound);
  EXPECT_EQ(StatusFromHttp(409, "", "result").code(), Code::kConflict);
  EXPECT_EQ(StatusFromHttp(503, "", "check-in").code(), Code::kUnavailable);
}

}  // namespace
}  // namespace rampart::agent
