// An in-process keeper::Keeper for tests: real Ed25519 command keys (one per institution,
// created on first use, rotatable), signatures over core::CommandSigningString, the four-eyes
// rule the keeper enforces, and an in-memory audit log. It holds no staff data: Seal, Open,
// BlindIndex, master keys, checkpoints, audit proofs and evidence signatures answer Unavailable, so
// a test that needs them fails loudly instead of passing on a pretend implementation.
//
//   testing::FakeKeeper keeper;
//   options.keeper = &keeper;
//   keeper.SetAvailable(false);   // every call answers Unavailable, as a keeper that is down
//   keeper.signed_requests();     // what serve asked to sign
//
// Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "audit/record.h"
#include "common/crypto.h"
#include "core/command_signing.h"
#include "core/model.h"
#include "keeper/keeper.h"

namespace rampart::testing {

class FakeKeeper : public keeper::Keeper {
 public:
  // Commands of more devices than this need approved_by (as the real keeper's policy).
  explicit FakeKeeper(int64_t mass_command_threshold = 10) : threshold_(mass_command_threshold) {}

  void SetAvailable(bool available) {
    std::lock_guard lock(mu_);
    available_ = available;
  }
  std::vector<keeper::SignCommandRequest> signed_requests() const {
    std::lock_guard lock(mu_);
    return signed_;
  }
  std::vector<audit::Record> audit_records() const {
    std::lock_guard lock(mu_);
    return audit_;
  }
  // The secret half of the institution's current key (tests forge or re-sign with it).
  std::string SecretKey(const std::string& institution_id) {
    std::lock_guard lock(mu_);
    return KeyLocked(institution_id).secret_key;
  }

  // Staff data goes to `vault` (the real keeper rules, in-process) when one is set.
  void set_vault(keeper::Keeper* vault) { vault_ = vault; }

  Result<keeper::SealedStaff> Seal(const keeper::SealRequest& r) override {
    if (vault_ == nullptr || !Available()) return NoStaffData();
    return vault_->Seal(r);
  }
  Result<std::vector<keeper::OpenedStaff>> Open(const keeper::OpenRequest& r) override {
    if (vault_ == nullptr || !Available()) return NoStaffData();
    return vault_->Open(r);
  }
  Result<std::string> BlindIndex(const std::string& i, const std::string& f,
                                 const std::string& v) override {
    if (vault_ == nullptr || !Available()) return NoStaffData();
    return vault_->BlindIndex(i, f, v);
  }

  Result<keeper::CommandKey> GetCommandKey(const std::string& institution_id) override {
    std::lock_guard lock(mu_);
    if (!available_) return Down();
    const Key& k = KeyLocked(institution_id);
    return keeper::CommandKey{institution_id, k.key_id, k.public_key, 0};
  }

  Result<keeper::CommandSignature> SignCommand(const keeper::SignCommandRequest& req) override {
    std::lock_guard lock(mu_);
    if (!available_) return Down();
    auto type = core::ParseCommandType(req.fields.type).value_or(core::CommandType::kWipe);
    bool destructive = type == core::CommandType::kWipe || type == core::CommandType::kRetire;
    if ((destructive || req.batch_size > threshold_) && req.approved_by.empty()) {
      return Status::PermissionDenied("this command needs a second admin's approval");
    }
    if (!req.approved_by.empty() && req.approved_by == req.caller.principal) {
      return Status::PermissionDenied("the approver cannot be the requester");
    }
    const Key& k = KeyLocked(req.institution_id);
    auto sig = crypto::SignEd25519(k.secret_key, core::CommandSigningString(req.fields));
    if (!sig.ok()) return sig.status();
    signed_.push_back(req);
    return keeper::CommandSignature{k.key_id, *sig};
  }

  Result<keeper::KeyRotation> RotateCommandKey(const keeper::Caller&,
                                               const std::string& institution_id) override {
    std::lock_guard lock(mu_);
    if (!available_) return Down();
    Key old = KeyLocked(institution_id);
    Key fresh = NewKey();
    keeper::KeyRotation r;
    r.fields = {institution_id, old.key_id, fresh.key_id, crypto::Base64Encode(fresh.public_key),
                static_cast<int64_t>(rotations_[institution_id].size() + 1)};
    auto sig = crypto::SignEd25519(old.secret_key, core::KeyRotationSigningString(r.fields));
    if (!sig.ok()) return sig.status();
    r.signature = *sig;
    keys_[institution_id] = fresh;
    rotations_[institution_id].push_back(r);
    return r;
  }

  Result<std::vector<keeper::KeyRotation>> KeyRotations(
      const std::string& institution_id) override {
    std::lock_guard lock(mu_);
    if (!available_) return Down();
    return rotations_[institution_id];
  }

  Result<audit::Record> AppendAudit(const audit::Record& record) override {
    std::lock_guard lock(mu_);
    if (!available_) return Down();
    audit::Record r = record;
    r.index = static_cast<int64_t>(audit_.size());
    audit_.push_back(r);
    return r;
  }
  Result<keeper::Checkpoint> MakeCheckpoint() override {
    return Status::Unavailable("the fake keeper keeps no Merkle log");
  }
  Result<std::string> CheckpointPublicKey() override {
    return Status::Unavailable("the fake keeper keeps no Merkle log");
  }
  Result<std::vector<keeper::AuditProof>> ProveAudit(const keeper::AuditProofRequest&) override {
    return Status::Unavailable("the fake keeper keeps no Merkle log");
  }
  // No checkpoint key here: evidence is signed by the real keeper (tests/keeper, tests/e2e).
  Result<std::string> SignEvidence(const keeper::SignEvidenceRequest&) override {
    return Status::Unavailable("the fake keeper holds no checkpoint key");
  }

  // Master keys wrap staff data: like Seal and Open, they go to `vault` when one is set.
  Result<keeper::MasterKeyStatus> RotateMasterKey(const keeper::Caller& c) override {
    if (vault_ == nullptr || !Available()) return NoStaffData();
    return vault_->RotateMasterKey(c);
  }
  Result<std::vector<keeper::RewrappedKey>> RewrapKeys(const keeper::RewrapRequest& r) override {
    if (vault_ == nullptr || !Available()) return NoStaffData();
    return vault_->RewrapKeys(r);
  }
  Result<keeper::MasterKeyStatus> GetMasterKeyStatus(const keeper::Caller& c) override {
    if (vault_ == nullptr || !Available()) return NoStaffData();
    return vault_->GetMasterKeyStatus(c);
  }

  Result<keeper::AuditPage> QueryAudit(const keeper::AuditQuery& q) override {
    RAMPART_RETURN_IF_ERROR(keeper::ValidateAuditQuery(q));
    std::lock_guard lock(mu_);
    if (!available_) return Down();
    keeper::AuditPage page;
    int64_t i = q.cursor;
    for (; i < static_cast<int64_t>(audit_.size()); ++i) {
      if (static_cast<int64_t>(page.records.size()) >= q.limit) break;
      if (keeper::AuditQueryMatches(q, audit_[static_cast<size_t>(i)])) {
        page.records.push_back(audit_[static_cast<size_t>(i)]);
      }
    }
    page.next_cursor = i < static_cast<int64_t>(audit_.size()) ? i : -1;
    ++audit_queries_;
    return page;
  }
  // How many QueryAudit calls were answered.
  int64_t audit_queries() const {
    std::lock_guard lock(mu_);
    return audit_queries_;
  }
  // Puts a crafted record into the log as the keeper or the playbook engine would have written
  // it (time and all): figures are tested against records with known times.
  void InjectAudit(audit::Record r) {
    std::lock_guard lock(mu_);
    r.index = static_cast<int64_t>(audit_.size());
    audit_.push_back(std::move(r));
  }

 private:
  struct Key {
    std::string key_id;
    std::string public_key;
    std::string secret_key;
  };
  static Status Down() { return Status::Unavailable("keeper is down"); }
  static Status NoStaffData() {
    return Status::Unavailable("keeper is down or holds no staff data");
  }
  bool Available() const {
    std::lock_guard lock(mu_);
    return available_;
  }
  static Key NewKey() {
    crypto::Ed25519KeyPair pair = crypto::GenerateEd25519();
    return Key{"ck_" + crypto::RandomHex(8), pair.public_key, pair.secret_key};
  }
  const Key& KeyLocked(const std::string& institution_id) {
    auto it = keys_.find(institution_id);
    if (it == keys_.end()) it = keys_.emplace(institution_id, NewKey()).first;
    return it->second;
  }

  mutable std::mutex mu_;
  const int64_t threshold_;
  bool available_ = true;
  keeper::Keeper* vault_ = nullptr;
  std::map<std::string, Key> keys_;
  std::map<std::string, std::vector<keeper::KeyRotation>> rotations_;
  std::vector<keeper::SignCommandRequest> signed_;
  std::vector<audit::Record> audit_;
  int64_t audit_queries_ = 0;
};

}  // namespace rampart::testing
