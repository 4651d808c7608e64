// The agent refuses every command it cannot trust, for each reason separately, executes the
// good ones, and follows a key rotation chain only link by verified link.
#include "agent/command_verifier.h"

#include <gtest/gtest.h>

#include "common/crypto.h"
#include "core/command_signing.h"

namespace rampart::agent {
namespace {

constexpr int64_t kNow = 1769760000;
const std::string kDevice = "dev_1";
const std::string kInstitution = "ins_1";

class CommandVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    key_ = crypto::GenerateEd25519();
    trust_.pin = {"ck_a", key_.public_key};
  }

  // A command signed the way the keeper signs it.
  WireCommand Signed(int64_t seq, const std::string& type = "lock",
                     nlohmann::json payload = {{"message", "hi"}},
                     const std::string& device = kDevice) {
    WireCommand c;
    c.id = "cmd_" + std::to_string(seq) + "_" + crypto::RandomHex(3);
    c.seq = seq;
    c.type = type;
    c.payload = std::move(payload);
    c.expires_at = kNow + 3600;
    c.payload_sha256 = crypto::Sha256Hex(c.payload.dump());
    Sign(c, key_.secret_key, "ck_a", device);
    return c;
  }
  static void Sign(WireCommand& c, const std::string& secret, const std::string& key_id,
                   const std::string& device = kDevice) {
    core::CommandSignatureFields f{device, c.id, c.seq, c.type, c.payload_sha256, c.expires_at};
    c.signature_key_id = key_id;
    c.signature = *crypto::SignEd25519(secret, core::CommandSigningString(f));
  }
  std::optional<Rejection> Check(const WireCommand& c, int64_t now = kNow) {
    return CheckCommand(trust_, kDevice, c, now);
  }
  static WireKeyRotation Rotate(const crypto::Ed25519KeyPair& old_key, const std::string& old_id,
                                const crypto::Ed25519KeyPair& new_key, const std::string& new_id,
                                const std::string& institution = kInstitution) {
    WireKeyRotation r;
    r.fields = {institution, old_id, new_id, crypto::Base64Encode(new_key.public_key), kNow};
    r.signature =
        *crypto::SignEd25519(old_key.secret_key, core::KeyRotationSigningString(r.fields));
    return r;
  }

  crypto::Ed25519KeyPair key_;
  CommandTrust trust_;
};

TEST_F(CommandVerifierTest, AGoodCommandPassesAndMovesTheWatermark) {
  WireCommand c = Signed(3);
  EXPECT_EQ(Check(c), std::nullopt);
  MarkExecuted(trust_, c);
  EXPECT_EQ(trust_.low_watermark, 3);
  // Seqs may have gaps (canceled or expired commands are never delivered).
  EXPECT_EQ(Check(Signed(9)), std::nullopt);
  // The server's own canonical form: key order in the delivered JSON does not matter.
  WireCommand policy = Signed(10, "apply_policy",
                              nlohmann::json::parse(R"({"rules":{"b":1,"a":2},"policy_id":"p"})"));
  EXPECT_EQ(Check(policy), std::nullopt);
}

TEST_F(CommandVerifierTest, UnsignedIsRefused) {
  WireCommand c = Signed(1);
  c.signature.clear();
  EXPECT_EQ(Check(c), Rejection::kUnsigned);
  c = Signed(1);
  c.signature_key_id.clear();
  EXPECT_EQ(Check(c), Rejection::kUnsigned);
  EXPECT_EQ(ToString(Rejection::kUnsigned), "unsigned");
}

TEST_F(CommandVerifierTest, UnknownKeyIsRefused) {
  auto other = crypto::GenerateEd25519();
  WireCommand c = Signed(1);
  Sign(c, other.secret_key, "ck_attacker");
  EXPECT_EQ(Check(c), Rejection::kUnknownKey);
  // No pin at all (a state file from before signed commands): nothing is trusted.
  CommandTrust empty;
  EXPECT_EQ(CheckCommand(empty, kDevice, Signed(1), kNow), Rejection::kUnknownKey);
  EXPECT_EQ(ToString(Rejection::kUnknownKey), "unknown_key");
}

TEST_F(CommandVerifierTest, BadSignatureIsRefused) {
  // Another key claiming the pinned id.
  auto other = crypto::GenerateEd25519();
  WireCommand forged = Signed(1);
  Sign(forged, other.secret_key, "ck_a");
  EXPECT_EQ(Check(forged), Rejection::kBadSignature);
  // A valid command for another device.
  EXPECT_EQ(Check(Signed(1, "wipe", {{"mode", "full"}}, "dev_other")), Rejection::kBadSignature);
  // Any signed field changed after signing.
  WireCommand c = Signed(2);
  c.type = "wipe";
  EXPECT_EQ(Check(c), Rejection::kBadSignature);
  c = Signed(2);
  c.seq = 5;
  EXPECT_EQ(Check(c), Rejection::kBadSignature);
  c = Signed(2);
  c.expires_at += 86400;
  EXPECT_EQ(Check(c), Rejection::kBadSignature);
  c = Signed(2);
  c.signature[10] ^= 0x01;
  EXPECT_EQ(Check(c), Rejection::kBadSignature);
  // Without a stated hash, a changed payload shows as a bad signature.
  c = Signed(2);
  c.payload_sha256.clear();
  c.payload["message"] = "changed";
  EXPECT_EQ(Check(c), Rejection::kBadSignature);
  EXPECT_EQ(ToString(Rejection::kBadSignature), "bad_signature");
}

TEST_F(CommandVerifierTest, PayloadMismatchIsRefused) {
  WireCommand c = Signed(1, "lock", {{"message", "Call IT"}});
  c.payload["message"] = "Call 0900-ATTACKER";
  EXPECT_EQ(Check(c), Rejection::kPayloadMismatch);
  EXPECT_EQ(ToString(Rejection::kPayloadMismatch), "payload_mismatch");
}

TEST_F(CommandVerifierTest, ExpiredIsRefusedByTheDevicesOwnClock) {
  WireCommand c = Signed(1);
  EXPECT_EQ(Check(c, c.expires_at - 1), std::nullopt);
  EXPECT_EQ(Check(c, c.expires_at), Rejection::kExpired);
  EXPECT_EQ(ToString(Rejection::kExpired), "expired");
}

TEST_F(CommandVerifierTest, ReplayedAndOutOfOrderAreRefused) {
  WireCommand first = Signed(4);
  WireCommand second = Signed(5);
  MarkExecuted(trust_, first);
  MarkExecuted(trust_, second);
  EXPECT_EQ(Check(first), Rejection::kReplayed);
  EXPECT_EQ(Check(second), Rejection::kReplayed);
  // A genuinely signed command older than what was executed: out of order.
  EXPECT_EQ(Check(Signed(3)), Rejection::kOutOfOrder);
  EXPECT_EQ(Check(Signed(5)), Rejection::kOutOfOrder) << "a new id with an executed seq";
  EXPECT_EQ(Check(Signed(6)), std::nullopt);
  // Once its id has left the recent list, a replay is still refused by its seq.
  for (int i = 0; i < static_cast<int>(kRecentCommandIds); ++i)
    MarkExecuted(trust_, Signed(10 + i));
  EXPECT_EQ(Check(first), Rejection::kOutOfOrder);
  EXPECT_EQ(trust_.recent_ids.size(), kRecentCommandIds);
  EXPECT_EQ(ToString(Rejection::kReplayed), "replayed");
  EXPECT_EQ(ToString(Rejection::kOutOfOrder), "out_of_order");
}

TEST_F(CommandVerifierTest, RotationChainIsFollowedOnlyThroughVerifiedLinks) {
  auto b = crypto::GenerateEd25519();
  auto c = crypto::GenerateEd25519();
  auto evil = crypto::GenerateEd25519();
  // Links that do not verify with the pinned key, name another institution, or start elsewhere
  // are ignored.
  std::vector<WireKeyRotation> bad = {
      Rotate(evil, "ck_a", evil, "ck_evil"),               // signed by a stranger
      Rotate(key_, "ck_a", evil, "ck_evil", "ins_other"),  // another institution
      Rotate(evil, "ck_x", evil, "ck_evil"),               // not from the pinned key
  };
  EXPECT_EQ(FollowRotations(trust_, kInstitution, bad), 0);
  EXPECT_EQ(trust_.pin.key_id, "ck_a");
  WireKeyRotation tampered = Rotate(key_, "ck_a", b, "ck_b");
  tampered.fields.new_public_key_b64 = crypto::Base64Encode(evil.public_key);
  EXPECT_EQ(FollowRotations(trust_, kInstitution, {tampered}), 0);

  // a -> b -> c, delivered oldest first: both links followed.
  std::vector<WireKeyRotation> chain = {Rotate(key_, "ck_a", b, "ck_b"),
                                        Rotate(b, "ck_b", c, "ck_c")};
  EXPECT_EQ(FollowRotations(trust_, kInstitution, chain), 2);
  EXPECT_EQ(trust_.pin.key_id, "ck_c");
  EXPECT_EQ(trust_.pin.public_key, c.public_key);
  // Commands by the new key verify; by the old key they are now unknown.
  WireCommand cmd = Signed(1);
  EXPECT_EQ(Check(cmd), Rejection::kUnknownKey);
  Sign(cmd, c.secret_key, "ck_c");
  EXPECT_EQ(Check(cmd), std::nullopt);
  // Replaying the chain changes nothing.
  EXPECT_EQ(FollowRotations(trust_, kInstitution, chain), 0);
  EXPECT_EQ(trust_.pin.key_id, "ck_c");
}

}  // namespace
}  // namespace rampart::agent
