// A keeper for application-layer tests: AppendAudit keeps records in memory so tests can check
// what was audited; everything else goes to `inner` (the fixture's real in-process keeper), or
// answers Unavailable, like a keeper that is down, when there is none.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "keeper/keeper.h"

namespace rampart::api::testing {

class FakeKeeper final : public keeper::Keeper {
 public:
  void set_inner(keeper::Keeper* inner) { inner_ = inner; }

  Result<keeper::SealedStaff> Seal(const keeper::SealRequest& r) override {
    if (!inner_) return Down();
    return inner_->Seal(r);
  }
  Result<std::vector<keeper::OpenedStaff>> Open(const keeper::OpenRequest& r) override {
    if (!inner_) return Down();
    return inner_->Open(r);
  }
  Result<std::string> BlindIndex(const std::string& i, const std::string& f,
                                 const std::string& v) override {
    if (!inner_) return Down();
    return inner_->BlindIndex(i, f, v);
  }
  Result<keeper::CommandKey> GetCommandKey(const std::string& i) override {
    if (!inner_) return Down();
    return inner_->GetCommandKey(i);
  }
  Result<keeper::CommandSignature> SignCommand(const keeper::SignCommandRequest& r) override {
    if (!inner_) return Down();
    return inner_->SignCommand(r);
  }
  Result<keeper::KeyRotation> RotateCommandKey(const keeper::Caller& c,
                                               const std::string& i) override {
    if (!inner_) return Down();
    return inner_->RotateCommandKey(c, i);
  }
  Result<std::vector<keeper::KeyRotation>> KeyRotations(const std::string& i) override {
    if (!inner_) return Down();
    return inner_->KeyRotations(i);
  }
  Result<audit::Record> AppendAudit(const audit::Record& record) override {
    std::lock_guard<std::mutex> lock(mu_);
    audit::Record stored = record;
    stored.index = static_cast<int64_t>(records_.size());
    records_.push_back(stored);
    return stored;
  }
  Result<keeper::Checkpoint> MakeCheckpoint() override { return Down(); }
  Result<std::string> CheckpointPublicKey() override { return Down(); }
  Result<std::vector<keeper::AuditProof>> ProveAudit(const keeper::AuditProofRequest&) override {
    return Down();
  }
  Result<std::string> SignEvidence(const keeper::SignEvidenceRequest& r) override {
    if (!inner_) return Down();
    return inner_->SignEvidence(r);
  }

  Result<keeper::MasterKeyStatus> RotateMasterKey(const keeper::Caller& c) override {
    if (!inner_) return Down();
    return inner_->RotateMasterKey(c);
  }
  Result<std::vector<keeper::RewrappedKey>> RewrapKeys(const keeper::RewrapRequest& r) override {
    if (!inner_) return Down();
    return inner_->RewrapKeys(r);
  }
  Result<keeper::MasterKeyStatus> GetMasterKeyStatus(const keeper::Caller& c) override {
    if (!inner_) return Down();
    return inner_->GetMasterKeyStatus(c);
  }

  Result<keeper::AuditPage> QueryAudit(const keeper::AuditQuery& q) override {
    RAMPART_RETURN_IF_ERROR(keeper::ValidateAuditQuery(q));
    std::lock_guard<std::mutex> lock(mu_);

    keeper::AuditPage page;
    int64_t i = q.cursor;
    for (; i < static_cast<int64_t>(records_.size()); ++i) {
      if (static_cast<int64_t>(page.records.size()) >= q.limit) break;
      if (keeper::AuditQueryMatches(q, records_[static_cast<size_t>(i)])) {
        page.records.push_back(records_[static_cast<size_t>(i)]);
      }
    }
    page.next_cursor = i < static_cast<int64_t>(records_.size()) ? i : -1;
    ++audit_queries_;
    return page;
  }
  // How many QueryAudit calls were answered.
  int64_t audit_queries() const {
    std::lock_guard<std::mutex> lock(mu_);
    return audit_queries_;
  }
  // Puts a crafted record into the log as the keeper or the playbook engine would have written
  // it (time and all): figures are tested against records with known times.
  void InjectAudit(audit::Record r) {
    std::lock_guard<std::mutex> lock(mu_);
    r.index = static_cast<int64_t>(records_.size());
    records_.push_back(std::move(r));
  }

  std::vector<audit::Record> Records() const {
    std::lock_guard<std::mutex> lock(mu_);
    return records_;
  }
  // Records with that action, in order.
  std::vector<audit::Record> WithAction(const std::string& action) const {
    std::vector<audit::Record> out;
    for (const auto& r : Records()) {
      if (r.action == action) out.push_back(r);
    }
    return out;
  }

 private:
  static Status Down() {
    return Status::Unavailable("recording keeper: no inner keeper to answer");
  }
  keeper::Keeper* inner_ = nullptr;
  mutable std::mutex mu_;
  std::vector<audit::Record> records_;
  int64_t audit_queries_ = 0;
};

}  // namespace rampart::api::testing
