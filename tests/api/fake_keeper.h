// A keeper for application-layer tests: AppendAudit keeps records in memory so tests can check
// what was audited; everything else answers Unavailable, like a keeper that is down (the routes
// under test need none of it).
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "keeper/keeper.h"

namespace rampart::api::testing {

class FakeKeeper final : public keeper::Keeper {
 public:
  Result<keeper::SealedStaff> Seal(const keeper::SealRequest&) override { return Down(); }
  Result<std::vector<keeper::OpenedStaff>> Open(const keeper::OpenRequest&) override {
    return Down();
  }
  Result<std::string> BlindIndex(const std::string&, const std::string&,
                                 const std::string&) override {
    return Down();
  }
  Result<keeper::CommandKey> GetCommandKey(const std::string&) override { return Down(); }
  Result<keeper::CommandSignature> SignCommand(const keeper::SignCommandRequest&) override {
    return Down();
  }
  Result<keeper::KeyRotation> RotateCommandKey(const keeper::Caller&, const std::string&) override {
    return Down();
  }
  Result<std::vector<keeper::KeyRotation>> KeyRotations(const std::string&) override {
    return Down();
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
  static Status Down() { return Status::Unavailable("fake keeper: not implemented"); }
  mutable std::mutex mu_;
  std::vector<audit::Record> records_;
};

}  // namespace rampart::api::testing
