#include "respond/master_key_rewrap.h"

#include <algorithm>
#include <chrono>

#include "common/log.h"

namespace rampart::respond {
namespace {

constexpr size_t kMaxFailedIds = 100;

bool RewrapRetryable(const Status& s) {
  return s.code() == Code::kUnavailable || s.code() == Code::kInternal;
}

keeper::Caller JobCaller() {
  keeper::Caller c;
  c.principal = "system";
  c.role = "system";
  c.purpose = "master_key.rewrap";
  return c;
}

}  // namespace

MasterKeyRewrap::MasterKeyRewrap(store::Store* store, keeper::Keeper* keeper, const Clock* clock,
                                 MasterKeyRewrapOptions options)
    : store_(store), keeper_(keeper), clock_(clock), options_(options) {
  options_.batch_size =
      std::clamp<int64_t>(options_.batch_size, 1, static_cast<int64_t>(keeper::kMaxRewrapPerCall));
  options_.retry_millis = std::max<int64_t>(options_.retry_millis, 1);
}

MasterKeyRewrap::~MasterKeyRewrap() {
  Stop();
}

void MasterKeyRewrap::Start() {
  std::lock_guard lock(mu_);
  if (started_) return;
  started_ = true;
  stopping_ = false;
  kicked_ = true;  // a restart may have cut a re-wrap off: look at once
  worker_ = std::thread([this] { Loop(); });
}

void MasterKeyRewrap::Stop() {
  {
    std::lock_guard lock(mu_);
    if (!started_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard lock(mu_);
  started_ = false;
}

void MasterKeyRewrap::Kick() {
  {
    std::lock_guard lock(mu_);
    kicked_ = true;
  }
  cv_.notify_all();
}

MasterKeyRewrapSnapshot MasterKeyRewrap::Snapshot() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

void MasterKeyRewrap::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || kicked_; });
    if (stopping_) return;
    kicked_ = false;
    lock.unlock();
    Status s = RunPass();
    lock.lock();
    if (!s.ok() && RewrapRetryable(s)) {
      // The keeper restarting, the database busy: the same pass again later, unless stopped.
      cv_.wait_for(lock, std::chrono::milliseconds(options_.retry_millis),
                   [this] { return stopping_ || kicked_; });
      if (stopping_) return;
      kicked_ = true;
    }
  }
}

Status MasterKeyRewrap::RunPass() {
  std::lock_guard pass(pass_mu_);
  auto fail = [this](const Status& s) {
    std::lock_guard lock(mu_);
    snapshot_.state = RewrapRetryable(s) ? "retrying" : "failed";
    snapshot_.last_error = s.message();
    log::Error("master_key.rewrap_failed", {{"error", s.message()}});
    return s;
  };
  if (keeper_ == nullptr) return fail(Status::Unavailable("no keeper configured"));
  auto status = keeper_->GetMasterKeyStatus(JobCaller());
  if (!status.ok()) return fail(status.status());
  const int64_t target = status->current_version;
  {
    std::lock_guard lock(mu_);
    // A pass retried after a transient error goes on from where it failed, counting on; a new
    // pass starts afresh.
    if (snapshot_.state != "retrying" || snapshot_.target_version != target) {
      snapshot_ = MasterKeyRewrapSnapshot{};
      snapshot_.started_at = clock_->NowSeconds();
      resume_after_.clear();
    }
    snapshot_.state = "running";
    snapshot_.target_version = target;
    snapshot_.last_error.clear();
  }
  // Rows moved or failed are behind the cursor: each row is looked at once per pass.
  for (;;) {
    bool end = false;
    std::string last_id;
    if (Status s = RewrapPage(target, resume_after_, &last_id, &end); !s.ok()) return fail(s);
    if (end) break;
    resume_after_ = last_id;
  }
  resume_after_.clear();
  MasterKeyRewrapSnapshot done;
  {
    std::lock_guard lock(mu_);
    snapshot_.state = "done";
    snapshot_.finished_at = clock_->NowSeconds();
    done = snapshot_;
  }
  if (done.rewrapped > 0 || done.failed > 0) {
    log::Info("master_key.rewrap_done", {{"version", done.target_version},
                                         {"rewrapped", done.rewrapped},
                                         {"failed", done.failed},
                                         {"skipped", done.skipped}});
  }
  return Status::Ok();
}

Status MasterKeyRewrap::RewrapPage(int64_t target, const std::string& after, std::string* last_id,
                                   bool* end) {
  const store::Scope all = store::Scope::All();
  RAMPART_ASSIGN_OR_RETURN(std::vector<core::Staff> rows,
                           store_->ListStaffWithKeyBelow(all, target, after, options_.batch_size));
  if (rows.empty()) {
    *end = true;
    return Status::Ok();
  }
  keeper::RewrapRequest request;
  request.caller = JobCaller();
  for (const auto& r : rows) {
    request.records.push_back({r.institution_id, r.id, r.wrapped_key, r.key_version});
  }
  RAMPART_ASSIGN_OR_RETURN(std::vector<keeper::RewrappedKey> answers, keeper_->RewrapKeys(request));
  if (answers.size() != rows.size()) {
    return Status::Internal("the keeper answered a different number of records");
  }
  std::vector<store::StaffKeyUpdate> updates;
  std::vector<std::string> failed;
  for (size_t i = 0; i < rows.size(); ++i) {
    const keeper::RewrappedKey& a = answers[i];
    if (a.staff_id != rows[i].id) return Status::Internal("the keeper answered out of order");
    if (!a.ok) {
      failed.push_back(rows[i].id);
      log::Warn("master_key.rewrap_record_failed", {{"staff_id", rows[i].id}, {"error", a.error}});
      continue;
    }
    if (a.key_version <= rows[i].key_version) continue;
    updates.push_back({rows[i].id, rows[i].wrapped_key, a.wrapped_key, a.key_version});
  }
  int64_t changed = 0;
  if (!updates.empty()) {
    RAMPART_ASSIGN_OR_RETURN(changed, store_->UpdateStaffKeys(all, updates));
  }
  {
    std::lock_guard lock(mu_);
    snapshot_.rewrapped += changed;
    snapshot_.skipped += static_cast<int64_t>(updates.size()) - changed;
    snapshot_.failed += static_cast<int64_t>(failed.size());
    for (auto& id : failed) {
      if (snapshot_.failed_staff_ids.size() >= kMaxFailedIds) break;
      snapshot_.failed_staff_ids.push_back(std::move(id));
    }
  }
  *last_id = rows.back().id;
  *end = false;
  return Status::Ok();
}

}  // namespace rampart::respond
