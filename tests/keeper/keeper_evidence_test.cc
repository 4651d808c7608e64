// The keeper's evidence operations over the real Merkle log: sign_evidence signs only the
// domain-prefixed manifest digest, refuses callers that may not capture evidence and audits
// both; prove_audit answers inclusion proofs that verify against a signed checkpoint.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../http/test_util.h"
#include "../support/log_records.h"
#include "audit/format.h"
#include "audit/log.h"
#include "audit/merkle.h"
#include "common/crypto.h"
#include "core/command_signing.h"
#include "keeper/log_trail.h"
#include "keeper/protocol.h"
#include "keeper/service.h"

namespace rampart::keeper {
namespace {

using http::testing::TempDir;

class KeeperEvidenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::InitCrypto().ok());
    audit::LogOptions log_options;
    log_options.clock = &clock_;
    auto log = audit::Log::Open(dir_.path() + "/audit", log_options);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    trail_ = std::make_unique<LogTrail>(log_.get());
    KeeperOptions options;
    options.key_dir = dir_.path() + "/keeper";
    auto k = KeeperService::Open(options, trail_.get(), &clock_);
    ASSERT_TRUE(k.ok()) << k.status().ToString();
    keeper_ = std::move(k).value();
  }

  static Caller EvidenceCaller(std::string role, std::string institution = "ins_a") {
    return Caller{"tok_" + role, role,           std::move(institution),
                  "req_ev",      "198.51.100.9", "evidence.capture"};
  }

  std::vector<audit::Record> Records(const std::string& action) {
    return rampart::testing::LogRecordsWithAction(*log_, action);
  }

  TempDir dir_;
  ManualClock clock_{1'780'000'000'000};
  std::unique_ptr<audit::Log> log_;
  std::unique_ptr<LogTrail> trail_;
  std::unique_ptr<KeeperService> keeper_;
};

TEST_F(KeeperEvidenceTest, SignsOnlyTheDomainPrefixedDigestAndAuditsIt) {
  const std::string digest = crypto::Sha256Hex("manifest bytes");
  SignEvidenceRequest req{EvidenceCaller("admin"), "evb_0123456789ab", "ins_a", digest};
  auto signature = keeper_->SignEvidence(req);
  ASSERT_TRUE(signature.ok()) << signature.status().ToString();
  auto public_key = keeper_->CheckpointPublicKey();
  ASSERT_TRUE(public_key.ok());
  EXPECT_TRUE(crypto::VerifyEd25519(*public_key, core::EvidenceSigningString(digest), *signature));
  // The signature is over the prefixed message, never the bare digest or a checkpoint message.
  EXPECT_FALSE(crypto::VerifyEd25519(*public_key, digest, *signature));
  EXPECT_FALSE(
      crypto::VerifyEd25519(*public_key, audit::CheckpointMessage(1, digest, 0), *signature));

  auto signed_records = Records("evidence.sign");
  ASSERT_EQ(signed_records.size(), 1u);
  EXPECT_EQ(signed_records[0].target, "evb_0123456789ab");
  EXPECT_EQ(signed_records[0].outcome, "success");
  EXPECT_EQ(signed_records[0].actor, "tok_admin");
  auto details = nlohmann::json::parse(signed_records[0].details_json);
  EXPECT_EQ(details.value("manifest_sha256", ""), digest);
}

TEST_F(KeeperEvidenceTest, RefusesCallersThatMayNotCaptureEvidence) {
  const std::string digest = crypto::Sha256Hex("m");
  auto helpdesk =
      keeper_->SignEvidence({EvidenceCaller("helpdesk"), "evb_00000000000a", "ins_a", digest});
  EXPECT_EQ(helpdesk.status().code(), Code::kPermissionDenied);
  auto auditor =
      keeper_->SignEvidence({EvidenceCaller("auditor"), "evb_00000000000b", "ins_a", digest});
  EXPECT_EQ(auditor.status().code(), Code::kPermissionDenied);
  // An institution's admin cannot have another institution's bundle signed.
  auto other =
      keeper_->SignEvidence({EvidenceCaller("admin"), "evb_00000000000c", "ins_b", digest});
  EXPECT_EQ(other.status().code(), Code::kPermissionDenied);
  // The playbook engine and cross-institution roles may.
  Caller system{"system", "system", "ins_b", "", "", "evidence.capture"};
  EXPECT_TRUE(keeper_->SignEvidence({system, "evb_00000000000d", "ins_b", digest}).ok());
  EXPECT_TRUE(
      keeper_->SignEvidence({EvidenceCaller("superadmin", ""), "evb_00000000000e", "ins_b", digest})
          .ok());

  std::vector<std::string> outcomes;
  for (const auto& r : Records("evidence.sign")) outcomes.push_back(r.outcome);
  EXPECT_EQ(outcomes,
            (std::vector<std::string>{"denied", "denied", "denied", "success", "success"}));
}

TEST_F(KeeperEvidenceTest, RefusesMalformedDigestsAndIds) {
  Caller admin = EvidenceCaller("admin");
  EXPECT_EQ(keeper_->SignEvidence({admin, "evb_1", "ins_a", "abc"}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(keeper_->SignEvidence({admin, "evb_1", "ins_a", std::string(64, 'G')}).status().code(),
            Code::kInvalidArgument);
  // A checkpoint message is not a digest: the keeper never signs caller-chosen text.
  EXPECT_EQ(keeper_
                ->SignEvidence(
                    {admin, "evb_1", "ins_a", audit::CheckpointMessage(1, std::string(64, 'a'), 1)})
                .status()
                .code(),
            Code::kInvalidArgument);
  EXPECT_EQ(keeper_->SignEvidence({admin, "cmd_1", "ins_a", std::string(64, 'a')}).status().code(),
            Code::kInvalidArgument);
  EXPECT_TRUE(Records("evidence.sign").empty());
}

TEST_F(KeeperEvidenceTest, InclusionProofsVerifyAgainstASignedCheckpoint) {
  std::vector<audit::Record> appended;
  for (int i = 0; i < 13; ++i) {
    audit::Record r;
    r.actor = "tok_admin";
    r.action = "device.update";
    r.target = "dev_" + std::to_string(i);
    r.outcome = "success";
    r.institution_id = "ins_a";
    auto stored = keeper_->AppendAudit(r);
    ASSERT_TRUE(stored.ok()) << stored.status().ToString();
    appended.push_back(*stored);
  }
  auto checkpoint = keeper_->MakeCheckpoint();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status().ToString();
  auto public_key = keeper_->CheckpointPublicKey();
  ASSERT_TRUE(public_key.ok());
  ASSERT_TRUE(crypto::VerifyEd25519(
      *public_key,
      audit::CheckpointMessage(checkpoint->tree_size, checkpoint->root_hex, checkpoint->time),
      checkpoint->signature));
  auto root = audit::HashFromHex(checkpoint->root_hex);
  ASSERT_TRUE(root.ok());

  AuditProofRequest req{EvidenceCaller("analyst"), checkpoint->tree_size, {0, 5, 12}};
  auto proofs = keeper_->ProveAudit(req);
  ASSERT_TRUE(proofs.ok()) << proofs.status().ToString();
  ASSERT_EQ(proofs->size(), 3u);
  for (const AuditProof& p : *proofs) {
    const audit::Hash leaf =
        audit::LeafHash(audit::LeafBytes(appended[static_cast<size_t>(p.index)]));
    EXPECT_EQ(audit::ToHex(leaf), p.leaf_hash_hex);
    std::vector<audit::Hash> path;
    for (const auto& h : p.path_hex) path.push_back(*audit::HashFromHex(h));
    EXPECT_TRUE(audit::VerifyInclusion(leaf, static_cast<uint64_t>(p.index),
                                       static_cast<uint64_t>(checkpoint->tree_size), path, *root));
    // A proof does not carry over to another record.
    const audit::Hash other = audit::LeafHash(audit::LeafBytes(appended[(p.index + 1) % 13]));
    EXPECT_FALSE(audit::VerifyInclusion(other, static_cast<uint64_t>(p.index),
                                        static_cast<uint64_t>(checkpoint->tree_size), path, *root));
  }
  EXPECT_EQ(Records("audit.prove").size(), 1u);

  AuditProofRequest beyond{EvidenceCaller("admin"), checkpoint->tree_size, {checkpoint->tree_size}};
  EXPECT_EQ(keeper_->ProveAudit(beyond).status().code(), Code::kInvalidArgument);
  AuditProofRequest helpdesk{EvidenceCaller("helpdesk"), checkpoint->tree_size, {0}};
  EXPECT_EQ(keeper_->ProveAudit(helpdesk).status().code(), Code::kPermissionDenied);
}

TEST_F(KeeperEvidenceTest, EvidenceOpsTravelOverTheProtocol) {
  const std::string digest = crypto::Sha256Hex("over the wire");
  SignEvidenceRequest req{EvidenceCaller("admin"), "evb_00000000abcd", "ins_a", digest};
  auto answer = DecodeAnswer(HandleRequest(*keeper_, EncodeRequest("sign_evidence", ToWire(req))));
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  ASSERT_TRUE(answer->is_string());
  auto signature = crypto::Base64Decode(answer->get<std::string>());
  ASSERT_TRUE(signature.ok());
  EXPECT_TRUE(crypto::VerifyEd25519(*keeper_->CheckpointPublicKey(),
                                    core::EvidenceSigningString(digest), *signature));

  bool malformed = false;
  HandleRequest(*keeper_, R"({"op":"sign_evidence","args":{"bundle_id":"evb_1"}})", &malformed);
  EXPECT_TRUE(malformed);

  audit::Record r;
  r.actor = "tok_admin";
  r.action = "device.update";
  r.outcome = "success";
  ASSERT_TRUE(keeper_->AppendAudit(r).ok());
  auto checkpoint = keeper_->MakeCheckpoint();
  ASSERT_TRUE(checkpoint.ok());
  AuditProofRequest prove{EvidenceCaller("admin"), checkpoint->tree_size, {0}};
  auto proofs = DecodeAnswer(HandleRequest(*keeper_, EncodeRequest("prove_audit", ToWire(prove))));
  ASSERT_TRUE(proofs.ok()) << proofs.status().ToString();
  ASSERT_TRUE(proofs->is_array());
  ASSERT_EQ(proofs->size(), 1u);
  auto proof = AuditProofFromWire((*proofs)[0]);
  ASSERT_TRUE(proof.ok());
  EXPECT_EQ(proof->index, 0);
  EXPECT_EQ(proof->leaf_hash_hex.size(), 64u);
}

}  // namespace
}  // namespace rampart::keeper
