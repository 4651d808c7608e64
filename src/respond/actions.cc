#include "respond/actions.h"

#include <nlohmann/json.hpp>
#include <thread>

#include "common/crypto.h"
#include "common/log.h"
#include "core/command_signing.h"
#include "core/commands.h"
#include "core/model.h"

namespace rampart::respond {
namespace {

bool Transient(const Status& s) {
  return s.code() == Code::kUnavailable || s.code() == Code::kInternal;
}

std::string ScopeInstitution(const std::string& scope) {
  return scope == kServerScope ? std::string() : scope;
}

}  // namespace

ActionEngine::ActionEngine(store::Store* store, keeper::Keeper* keeper, const Clock* clock,
                           Denylist* denylist, LockdownState* lockdowns,
                           ActionEngineOptions options)
    : store_(store),
      keeper_(keeper),
      clock_(clock),
      denylist_(denylist),
      lockdowns_(lockdowns),
      options_(std::move(options)) {
  if (options_.max_attempts < 1) options_.max_attempts = 1;
  for (const std::string& entry : options_.never_block) {
    if (auto net = ParseCidr(entry)) {
      never_block_.push_back(*net);
      never_block_text_.push_back(entry);
    }
  }
  denylist_->KeepOpen(never_block_);
  if (!options_.sleep) {
    options_.sleep = [](int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); };
  }
}

Status ActionEngine::Load() {
  {
    std::lock_guard lock(blocks_mu_);
    RAMPART_ASSIGN_OR_RETURN(auto blocks, store_->ListActiveAddressBlocks(clock_->NowSeconds()));
    live_blocks_.clear();
    for (auto& b : blocks) {
      // Made before response.never_block named the address: the front door admits it anyway
      // (Denylist::KeepOpen), but bouncers and webhooks were told of it, so someone should lift
      // it.
      if (auto target = ParseBlockTarget(b.value); target.ok()) {
        if (std::string kept = NeverBlockOverlap(*target, never_block_, never_block_text_);
            !kept.empty()) {
          log::Warn("response.block_covers_never_block",
                    {{"block_id", b.id}, {"value", b.value}, {"never_block", kept}});
        }
      }
      live_blocks_[b.id] = std::move(b);
    }
  }
  RAMPART_RETURN_IF_ERROR(RefreshDenylist());
  return lockdowns_->Load(*store_);
}

void ActionEngine::SetBlockObserver(BlockObserver observer) {
  std::lock_guard lock(blocks_mu_);
  block_observer_ = std::move(observer);
}

void ActionEngine::NotifyLocked(BlockChange::Kind kind, const store::AddressBlock& block,
                                int64_t now) {
  if (block_observer_) block_observer_(BlockChange{kind, block, now});
}

void ActionEngine::EndBlockLocked(BlockChange::Kind kind, const store::AddressBlock& block,
                                  int64_t now) {
  if (live_blocks_.erase(block.id) == 0) return;
  ReportEndLocked(kind, block, now);
}

void ActionEngine::ReportEndLocked(BlockChange::Kind kind, const store::AddressBlock& block,
                                   int64_t now) {
  NotifyLocked(kind, block, now);
  const store::AddressBlock* still = nullptr;
  for (const auto& [id, b] : live_blocks_) {
    if (b.value == block.value && b.expires_at > now &&
        (still == nullptr || b.expires_at > still->expires_at)) {
      still = &b;
    }
  }
  if (still != nullptr) NotifyLocked(BlockChange::Kind::kReissued, *still, now);
}

int ActionEngine::SweepExpiredLocked(int64_t now) {
  std::vector<store::AddressBlock> ended;
  for (const auto& [id, b] : live_blocks_) {
    if (b.expires_at <= now) ended.push_back(b);
  }
  for (const auto& b : ended) {
    EndBlockLocked(BlockChange::Kind::kExpired, b, now);
    log::Info("response.block_expired", {{"value", b.value}, {"block_id", b.id}});
    // Unmarked (the store was down), it is announced again at the next pass: twice rather
    // than never.
    if (Status marked = store_->MarkBlockExpiryAnnounced(b.id); !marked.ok()) {
      log::Warn("response.block_expiry_mark_failed",
                {{"block_id", b.id}, {"error", marked.message()}});
    }
  }
  // Those that ran out while the server was stopped go out before any new block of theirs.
  return static_cast<int>(ended.size()) + AnnounceMissedExpiriesLocked(now);
}

int ActionEngine::AnnounceMissedExpiriesLocked(int64_t now) {
  constexpr int64_t kBatch = 1000;
  auto missed = store_->ListUnannouncedExpiredBlocks(now, kBatch);
  if (!missed.ok()) {
    log::Warn("response.block_expiry_list_failed", {{"error", missed.status().message()}});
    return 0;
  }
  int announced = 0;
  for (const store::AddressBlock& b : *missed) {
    if (live_blocks_.count(b.id) != 0) continue;  // the sweep's
    ReportEndLocked(BlockChange::Kind::kExpired, b, now);
    log::Info("response.block_expired_while_stopped",
              {{"value", b.value}, {"block_id", b.id}, {"expired_at", b.expires_at}});
    if (Status marked = store_->MarkBlockExpiryAnnounced(b.id); !marked.ok()) {
      log::Warn("response.block_expiry_mark_failed",
                {{"block_id", b.id}, {"error", marked.message()}});
    }
    ++announced;
  }
  return announced;
}

Result<int> ActionEngine::ExpireBlocks() {
  int expired = 0;
  {
    std::lock_guard lock(blocks_mu_);
    expired = SweepExpiredLocked(clock_->NowSeconds());
  }
  // A refresh that failed earlier (the store was down) is retried here, so that a block added
  // ahead of a write that then failed does not stay enforced unseen.
  if (expired > 0 || denylist_stale_.load()) RAMPART_RETURN_IF_ERROR(RefreshDenylist());
  return expired;
}

Status ActionEngine::RefreshDenylist() {
  // blocks_mu_ first: a block is added to the denylist and written under it, so a refresh never
  // lists the store between the two and drops a block that is about to be on record.
  std::lock_guard blocks(blocks_mu_);
  std::lock_guard lock(denylist_refresh_mu_);
  auto listed = store_->ListActiveAddressBlocks(clock_->NowSeconds());
  if (!listed.ok()) {
    denylist_stale_ = true;
    return listed.status();
  }
  denylist_->Replace(*listed);
  denylist_stale_ = false;
  return Status::Ok();
}

Status ActionEngine::WithRetry(const std::function<Status()>& fn, int* attempts) {
  int64_t backoff = options_.initial_backoff_ms;
  Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    *attempts = attempt;
    last = fn();
    if (last.ok() || !Transient(last)) return last;
    if (attempt < options_.max_attempts) {
      options_.sleep(backoff);
      backoff *= 2;
    }
  }
  return last;
}

void ActionEngine::Audit(const ActionContext& ctx, const std::string& name,
                         const std::string& target, const std::string& outcome,
                         const std::string& institution_id, int attempt, bool containment,
                         const std::string& error, int64_t expires,
                         std::string_view extra_details_json) {
  nlohmann::json details = {{"playbook", ctx.playbook},  {"step", ctx.step},
                            {"alert_id", ctx.alert_id},  {"rule_id", ctx.rule_id},
                            {"entity", ctx.entity},      {"attempt", attempt},
                            {"containment", containment}};
  // The log stamps whole seconds; time to contain is measured in milliseconds from this.
  details["at_ms"] = clock_->NowMillis();
  if (outcome == "failure" || outcome == "denied") details["error"] = error;
  if (expires != 0) details["expires"] = expires;
  if (!extra_details_json.empty()) {
    nlohmann::json extra = nlohmann::json::parse(extra_details_json, nullptr, false);
    if (extra.is_object()) details.update(extra);
  }
  audit::Record r;
  r.actor = ctx.actor;
  r.action = "response." + name;
  r.target = target;
  r.outcome = outcome;
  r.institution_id = institution_id;
  r.request_id = ctx.request_id;
  r.source_ip = ctx.source_ip;
  r.severity = outcome == "failure" ? "warning" : (containment ? "critical" : "info");
  r.details_json = details.dump();
  AppendAudit(r);
}

void ActionEngine::AppendAudit(const audit::Record& r) {
  Status s = Status::Unavailable("no keeper configured");
  if (keeper_ != nullptr) {
    auto appended = keeper_->AppendAudit(r);
    s = appended.ok() ? Status::Ok() : appended.status();
  }
  if (!s.ok()) {
    log::Error("audit.append_failed", {{"action", r.action}, {"error", s.message()}});
  }
}

Status ActionEngine::FailStep(const ActionContext& ctx, const std::string& name,
                              const std::string& target, const std::string& institution_id,
                              const Status& error) {
  Audit(ctx, name, target, "failure", institution_id, 1, true, error.message(), 0);
  RaiseFailure(ctx, name, target, institution_id, error);
  return error;
}

void ActionEngine::RaiseFailure(const ActionContext& ctx, const std::string& name,
                                const std::string& target, const std::string& institution_id,
                                const Status& error) {
  log::Error("response.action_failed", {{"action", name},
                                        {"target", target},
                                        {"playbook", ctx.playbook},
                                        {"error", error.message()}});
  core::Alert a;
  a.institution_id = institution_id;
  a.rule_id = std::string(kActionFailedRule);
  a.rule_title = "A response action could not be completed";
  a.entity = "response.action=" + name;
  a.severity = "high";
  a.evidence.push_back(nlohmann::json{
      {"action", name},
      {"target", target},
      {"playbook", ctx.playbook},
      {"alert_id", ctx.alert_id},
      {"error",
       error.message()}}.dump());
  a.first_seen_ms = a.last_seen_ms = a.created_at_ms = clock_->NowMillis();
  a.first_seen = a.last_seen = a.created_at = a.created_at_ms / 1000;
  a.count = 1;
  auto stored = store_->RecordAlert(a, 5);
  if (!stored.ok()) {
    log::Error("response.failure_alert_lost", {{"error", stored.status().message()}});
  }
}

Status ActionEngine::Conclude(const ActionContext& ctx, const std::string& name,
                              const std::string& target, const std::string& institution_id,
                              int attempts, bool containment, const Status& s) {
  if (s.ok()) {
    Audit(ctx, name, target, "success", institution_id, attempts, containment, "", 0);
    return s;
  }
  Audit(ctx, name, target, "failure", institution_id, attempts, containment, s.message(), 0);
  if (Transient(s) || ctx.actor == "system") RaiseFailure(ctx, name, target, institution_id, s);
  return s;
}

Result<store::AddressBlock> ActionEngine::BlockAddress(const ActionContext& ctx,
                                                       std::string_view target,
                                                       int64_t duration_seconds,
                                                       const std::string& reason,
                                                       const std::string& institution_id) {
  auto parsed = ParseBlockTarget(target);
  if (!parsed.ok()) return parsed.status();
  if (std::string kept = NeverBlockOverlap(*parsed, never_block_, never_block_text_);
      !kept.empty()) {
    Status refused = Status::InvalidArgument(
        parsed->value + " covers " + kept +
        ", which response.never_block keeps open (a local reverse proxy or health checker is "
        "the peer of every request it forwards)");
    if (ctx.actor == "system") {
      return FailStep(ctx, "block_address", parsed->value, institution_id, refused);
    }
    Audit(ctx, "block_address", parsed->value, "denied", institution_id, 1, true, refused.message(),
          0);
    return refused;
  }
  if (!institution_id.empty()) {
    // Every block is enforced for every connection: an institution's block stays narrow.
    Status width = CheckInstitutionBlockWidth(*parsed);
    if (!width.ok()) {
      if (ctx.actor == "system") {
        return FailStep(ctx, "block_address", parsed->value, institution_id, width);
      }
      return width;
    }
  }
  if (duration_seconds <= 0 || duration_seconds > 366 * 24 * 3600) {
    return Status::InvalidArgument("duration must be between 1 second and a year");
  }
  const int64_t now = clock_->NowSeconds();
  store::AddressBlock block;
  block.value = parsed->value;
  block.scope = parsed->scope;
  block.reason = reason;
  block.origin = ctx.playbook.empty() ? "manual" : "playbook";
  block.scenario = ctx.playbook.empty() ? "rampart/manual" : "rampart/" + ctx.playbook;
  block.created_by = ctx.actor;
  block.institution_id = institution_id;
  block.created_at = now;
  block.expires_at = now + duration_seconds;
  store::AddressBlock stored;
  int attempts = 0;
  Status s = WithRetry(
      [&]() -> Status {
        {
          std::lock_guard lock(blocks_mu_);
          // An expired block of the same value is announced as ended before this one begins.
          SweepExpiredLocked(now);
          {
            // The front door closes before the block is on record, so that no connection is
            // admitted once a reader of the record (GET /api/v1/blocks) can see the block. A
            // failed write is undone by the refresh below.
            std::lock_guard refresh(denylist_refresh_mu_);
            denylist_->Add(block);
          }
          bool existed = false;
          auto r = store_->AddAddressBlock(block, now, &existed);
          if (!r.ok()) return r.status();
          stored = *r;
          auto known = live_blocks_.find(stored.id);
          const bool unchanged =
              known != live_blocks_.end() && known->second.expires_at == stored.expires_at;
          live_blocks_[stored.id] = stored;
          if (!unchanged) {
            NotifyLocked(existed ? BlockChange::Kind::kExtended : BlockChange::Kind::kAdded, stored,
                         now);
          }
        }
        return RefreshDenylist();
      },
      &attempts);
  if (!s.ok()) {
    // Drop the block added ahead of the write (a failed refresh leaves it enforced: it was asked
    // for, and the next refresh settles it).
    if (Status refreshed = RefreshDenylist(); !refreshed.ok()) {
      log::Warn("response.denylist_refresh_failed", {{"error", refreshed.message()}});
    }
    Audit(ctx, "block_address", block.value, "failure", institution_id, attempts, true, s.message(),
          block.expires_at);
    if (Transient(s) || ctx.actor == "system") {
      RaiseFailure(ctx, "block_address", block.value, institution_id, s);
    }
    return s;
  }
  Audit(ctx, "block_address", stored.value, "success", institution_id, attempts, true, "",
        stored.expires_at);
  log::Warn("response.address_blocked",
            {{"value", stored.value}, {"expires", stored.expires_at}, {"by", ctx.actor}});
  return stored;
}

Result<store::AddressBlock> ActionEngine::UnblockAddress(const ActionContext& ctx, int64_t id) {
  store::AddressBlock removed;
  int attempts = 0;
  Status s = WithRetry(
      [&]() -> Status {
        {
          std::lock_guard lock(blocks_mu_);
          const int64_t now = clock_->NowSeconds();
          SweepExpiredLocked(now);
          auto r = store_->RemoveAddressBlock(id, ctx.actor, now);
          if (!r.ok()) return r.status();
          removed = *r;
          EndBlockLocked(BlockChange::Kind::kRemoved, removed, now);
        }
        return RefreshDenylist();
      },
      &attempts);
  if (!s.ok()) {
    // A bad id is the caller's mistake, not a failed action: answered, not audited as one.
    if (s.code() == Code::kNotFound || s.code() == Code::kConflict) return s;
    Audit(ctx, "unblock_address", std::to_string(id), "failure", "", attempts, false, s.message(),
          0);
    RaiseFailure(ctx, "unblock_address", std::to_string(id), "", s);
    return s;
  }
  Audit(ctx, "unblock_address", removed.value, "success", removed.institution_id, attempts, false,
        "", 0);
  return removed;
}

Result<int64_t> ActionEngine::RevokePrincipal(const ActionContext& ctx,
                                              const std::string& principal,
                                              const std::string& institution_id) {
  int64_t ended = 0;
  int attempts = 0;
  Status s = WithRetry(
      [&]() -> Status {
        if (principal.rfind("tok_", 0) == 0) {
          // Revoking twice is harmless; the store answers NotFound only for an unknown id.
          Status r = store_->RevokeApiToken(store::Scope::All(), principal);
          if (r.ok()) ended = 1;
          return r;
        }
        if (principal.rfind("usr_", 0) == 0) {
          auto n = store_->DeleteAdminSessionsOfUser(store::Scope::All(), principal);
          if (!n.ok()) return n.status();
          ended = *n;
          return Status::Ok();
        }
        return Status::InvalidArgument("principal must be an API token (tok_) or a user (usr_)");
      },
      &attempts);
  RAMPART_RETURN_IF_ERROR(
      Conclude(ctx, "revoke_principal", principal, institution_id, attempts, true, s));
  return ended;
}

Status ActionEngine::DisableUser(const ActionContext& ctx, const std::string& user_id) {
  std::string institution_id;
  int attempts = 0;
  Status s = WithRetry(
      [&]() -> Status {
        auto user = store_->GetAdminUser(store::Scope::All(), user_id);
        if (!user.ok()) return user.status();
        institution_id = user->institution_id;
        if (user->disabled) return Status::Ok();
        return store_->UpdateAdminUserAccess(store::Scope::All(), user_id, user->role, true,
                                             clock_->NowSeconds());
      },
      &attempts);
  return Conclude(ctx, "disable_user", user_id, institution_id, attempts, true, s);
}

template <typename T>
Result<T> ActionEngine::ChangeObject(const ActionContext& ctx, const std::string& name,
                                     const std::string& target, const store::Scope& scope,
                                     bool containment, const ObjectChange<T>& change) {
  T object;
  int attempts = 0;
  Status s = WithRetry(
      [&]() -> Status {
        RAMPART_ASSIGN_OR_RETURN(object, change(clock_->NowSeconds()));
        return Status::Ok();
      },
      &attempts);
  // A bad id is an admin's mistake, not a failed action: answered, not audited as one.
  if (s.code() == Code::kNotFound && ctx.actor != "system") return s;
  RAMPART_RETURN_IF_ERROR(Conclude(ctx, name, target,
                                   scope.all ? object.institution_id : scope.institution_id,
                                   attempts, containment, s));
  return object;
}

Result<store::CommandBatch> ActionEngine::SetBatchPaused(const ActionContext& ctx,
                                                         const store::Scope& scope,
                                                         const std::string& batch_id, bool paused,
                                                         const std::string& reason) {
  bool changed = false;
  auto batch = ChangeObject<store::CommandBatch>(
      ctx, paused ? "pause_command_batch" : "resume_command_batch", batch_id, scope, paused,
      [&](int64_t now) {
        return store_->SetCommandBatchPaused(scope, batch_id, paused, ctx.actor, reason, now,
                                             &changed);
      });
  // `changed` is set before the writes: a write that failed after it must not be logged as done.
  if (changed && batch.ok()) {
    log::Warn(paused ? "response.command_batch_paused" : "response.command_batch_resumed",
              {{"batch_id", batch_id}, {"by", ctx.actor}});
  }
  return batch;
}

Result<core::App> ActionEngine::SetQuarantine(const ActionContext& ctx, const store::Scope& scope,
                                              const std::string& app_id, bool quarantined,
                                              const std::string& reason) {
  bool changed = false;
  auto app =
      ChangeObject<core::App>(ctx, quarantined ? "quarantine_app" : "release_app", app_id, scope,
                              quarantined, [&](int64_t now) {
                                return store_->SetAppQuarantine(scope, app_id, quarantined,
                                                                ctx.actor, reason, now, &changed);
                              });
  if (changed && app.ok()) {
    log::Warn(quarantined ? "app.quarantined" : "app.released",
              {{"app_id", app_id}, {"sha256", app->sha256}, {"by", ctx.actor}});
  }
  return app;
}

Result<core::App> ActionEngine::QuarantineApp(const ActionContext& ctx, const store::Scope& scope,
                                              const std::string& app_id,
                                              const std::string& reason) {
  return SetQuarantine(ctx, scope, app_id, true, reason);
}

Result<std::vector<core::App>> ActionEngine::QuarantinePackage(const ActionContext& ctx,
                                                               const store::Scope& scope,
                                                               const std::string& sha256,
                                                               const std::string& reason) {
  std::vector<std::string> ids;
  int attempts = 0;
  Status s = WithRetry(
      [&]() -> Status {
        ids.clear();
        store::PageRequest page{500, ""};
        for (;;) {
          RAMPART_ASSIGN_OR_RETURN(auto apps, store_->ListApps(scope, page));
          for (const auto& app : apps.items) {
            if (app.sha256 == sha256) ids.push_back(app.id);
          }
          if (apps.next_cursor.empty()) break;
          page.cursor = apps.next_cursor;
        }
        if (ids.empty()) return Status::NotFound("no app in the catalogue has that package hash");
        return Status::Ok();
      },
      &attempts);
  if (!s.ok()) {
    return Conclude(ctx, "quarantine_app", sha256, scope.institution_id, attempts, true, s);
  }
  std::vector<core::App> out;
  for (const std::string& id : ids) {
    RAMPART_ASSIGN_OR_RETURN(core::App app, QuarantineApp(ctx, scope, id, reason));
    out.push_back(std::move(app));
  }
  return out;
}

Result<core::App> ActionEngine::ReleaseApp(const ActionContext& ctx, const store::Scope& scope,
                                           const std::string& app_id) {
  return SetQuarantine(ctx, scope, app_id, false, "");
}

Result<store::CommandBatch> ActionEngine::PauseCommandBatch(const ActionContext& ctx,
                                                            const store::Scope& scope,
                                                            const std::string& batch_id,
                                                            const std::string& reason) {
  return SetBatchPaused(ctx, scope, batch_id, true, reason);
}

Result<store::CommandBatch> ActionEngine::ResumeCommandBatch(const ActionContext& ctx,
                                                             const store::Scope& scope,
                                                             const std::string& batch_id) {
  return SetBatchPaused(ctx, scope, batch_id, false, "");
}

Result<std::vector<std::string>> ActionEngine::PauseBatchesOf(const ActionContext& ctx,
                                                              const store::Scope& scope,
                                                              const std::string& principal,
                                                              const std::string& institution_id,
                                                              const std::string& reason) {
  std::vector<std::string> paused;
  int attempts = 0;
  Status s = WithRetry(
      [&]() -> Status {
        paused.clear();
        RAMPART_ASSIGN_OR_RETURN(auto ids, store_->ListUnfinishedCommandBatches(scope, principal));
        for (const std::string& id : ids) {
          bool changed = false;
          auto r = store_->SetCommandBatchPaused(scope, id, true, ctx.actor, reason,
                                                 clock_->NowSeconds(), &changed);
          if (!r.ok()) return r.status();
          if (changed) paused.push_back(id);
        }
        return Status::Ok();
      },
      &attempts);
  RAMPART_RETURN_IF_ERROR(
      Conclude(ctx, "pause_command_batch", principal, institution_id, attempts, true, s));
  for (const std::string& id : paused) {
    log::Warn("response.command_batch_paused", {{"batch_id", id}, {"by", ctx.actor}});
  }
  return paused;
}

Status ActionEngine::EnterLockdown(const ActionContext& ctx, const std::string& scope,
                                   const std::string& reason) {
  std::lock_guard<std::mutex> lockdown_lock(lockdown_mu_);
  if (scope.empty()) return Status::InvalidArgument("lockdown needs an institution or '*'");
  const std::string inst = ScopeInstitution(scope);
  int attempts = 0;
  Status s = WithRetry(
      [&]() -> Status {
        if (!inst.empty()) {
          auto found = store_->GetInstitution(store::Scope::All(), inst);
          if (!found.ok()) return found.status();
        }
        if (auto current = lockdowns_->Get(scope)) {
          // Already locked: keep who entered it and when; a pending lift request is void.
          if (current->lift_requested_by.empty()) return Status::Ok();
          current->lift_requested_by.clear();
          current->lift_requested_at = 0;
          // Only the request is cleared, so an approval racing with this finds it gone.
          Status cleared = store_->SetLockdownLiftRequest(scope, "", 0);
          if (cleared.ok()) {
            lockdowns_->Put(*current);
            return Status::Ok();
          }
          // Lifted in between: lock it again, as a new lockdown.
          if (cleared.code() != Code::kNotFound) return cleared;
        }
        store::Lockdown l;
        l.scope = scope;
        l.entered_by = ctx.actor;
        l.reason = reason;
        l.entered_at = clock_->NowSeconds();
        RAMPART_RETURN_IF_ERROR(store_->PutLockdown(l));
        lockdowns_->Put(l);
        return Status::Ok();
      },
      &attempts);
  if (!s.ok()) {
    Audit(ctx, "lockdown", scope, "failure", inst, attempts, true, s.message(), 0);
    if (Transient(s) || ctx.actor == "system") RaiseFailure(ctx, "lockdown", scope, inst, s);
    return s;
  }
  Audit(ctx, "lockdown", scope, "success", inst, attempts, true, "", 0);
  log::Warn("response.lockdown", {{"scope", scope}, {"by", ctx.actor}});
  return Status::Ok();
}

int64_t ActionEngine::LiftRequestExpiresAt(const store::Lockdown& l) const {
  if (l.lift_requested_by.empty()) return 0;
  return l.lift_requested_at + options_.lift_request_ttl_seconds;
}

Status ActionEngine::CheckLiftCaller(const ActionContext& ctx, const std::string& scope,
                                     const LiftActor& who, const std::string& step_name) {
  const std::string inst = ScopeInstitution(scope);
  Status refusal;
  if (!who.cross_institution && who.institution_id != inst) {
    // Another institution's lockdown is not even confirmed to exist.
    refusal = Status::NotFound("institution not found");
  } else if (!lockdowns_->Get(scope)) {
    refusal = Status::NotFound("not in lockdown");
  } else if (!who.is_session) {
    refusal = Status::PermissionDenied(
        "leaving lockdown needs two signed-in admins; an API token cannot take part");
  }
  if (!refusal.ok()) {
    Audit(ctx, step_name, scope, "failure", inst, 1, false, refusal.message(), 0);
  }
  return refusal;
}

Status ActionEngine::RequestLift(const ActionContext& ctx, const std::string& scope,
                                 const LiftActor& who) {
  std::lock_guard<std::mutex> lockdown_lock(lockdown_mu_);
  RAMPART_RETURN_IF_ERROR(CheckLiftCaller(ctx, scope, who, "lockdown_lift"));
  auto current = lockdowns_->Get(scope);
  if (!current) return Status::NotFound("not in lockdown");
  const int64_t now = clock_->NowSeconds();
  if (current->lift_requested_by == who.user_id && now < LiftRequestExpiresAt(*current)) {
    return Status::Ok();  // asked again while the request stands: same state
  }
  current->lift_requested_by = who.user_id;
  current->lift_requested_at = now;
  int attempts = 0;
  // Only the request is written: a lockdown lifted meanwhile is not brought back by asking.
  Status s =
      WithRetry([&] { return store_->SetLockdownLiftRequest(scope, who.user_id, now); }, &attempts);
  const std::string inst = ScopeInstitution(scope);
  if (s.code() == Code::kNotFound) {
    RAMPART_RETURN_IF_ERROR(lockdowns_->Load(*store_));
    Audit(ctx, "lockdown_lift", scope, "failure", inst, attempts, false, "not in lockdown", 0);
    return Status::NotFound("not in lockdown");
  }
  if (!s.ok()) {
    Audit(ctx, "lockdown_lift", scope, "failure", inst, attempts, false, s.message(), 0);
    return s;
  }
  lockdowns_->Put(*current);
  Audit(ctx, "lockdown_lift", scope, "pending_approval", inst, attempts, false, "", 0);
  return Status::Ok();
}

Status ActionEngine::ApproveLift(const ActionContext& ctx, const std::string& scope,
                                 const LiftActor& who) {
  std::lock_guard<std::mutex> lockdown_lock(lockdown_mu_);
  RAMPART_RETURN_IF_ERROR(CheckLiftCaller(ctx, scope, who, "lockdown_lift"));
  const std::string inst = ScopeInstitution(scope);
  auto current = lockdowns_->Get(scope);
  if (!current) return Status::NotFound("not in lockdown");
  Status refusal;
  if (current->lift_requested_by.empty()) {
    refusal = Status::Conflict("nobody has asked to leave this lockdown yet");
  } else if (current->lift_requested_by == who.user_id) {
    refusal = Status::PermissionDenied(
        "approver is the same person as the requester: the admin who asked to leave lockdown "
        "cannot also approve it; a second admin must");
  } else if (clock_->NowSeconds() >= LiftRequestExpiresAt(*current)) {
    refusal =
        Status::Conflict("the request to leave this lockdown has expired; an admin must ask again");
  }
  if (!refusal.ok()) {
    Audit(ctx, "lockdown_lift", scope, "failure", inst, 1, false, refusal.message(), 0);
    return refusal;
  }
  int attempts = 0;
  Status s = WithRetry(
      [&]() -> Status {
        return store_->LiftLockdownIfRequested(scope, current->lift_requested_by,
                                               current->lift_requested_at);
      },
      &attempts);
  if (s.code() == Code::kConflict) {
    // Cancelled (lockdown entered again) or replaced between our read and the lift: the
    // lockdown stands. The cache may be behind the store; read it again.
    if (Status reloaded = lockdowns_->Load(*store_); !reloaded.ok()) {
      log::Error("response.lockdown_reload_failed", {{"error", reloaded.message()}});
    }
    Audit(ctx, "lockdown_lift", scope, "failure", inst, attempts, false, s.message(), 0);
    return Status::Conflict(
        "the request to leave this lockdown was cancelled or replaced; nothing was lifted");
  }
  if (!s.ok()) {
    Audit(ctx, "lockdown_lift", scope, "failure", inst, attempts, false, s.message(), 0);
    RaiseFailure(ctx, "lockdown_lift", scope, inst, s);
    return s;
  }
  lockdowns_->Erase(scope);
  Audit(ctx, "lockdown_lift", scope, "success", inst, attempts, false, "", 0);
  log::Warn("response.lockdown_lifted",
            {{"scope", scope}, {"requested_by", current->lift_requested_by}, {"by", who.user_id}});
  return Status::Ok();
}

store::CommandSigner PendingCommandResigner(keeper::Keeper* keeper,
                                            const keeper::CommandKey& old_key,
                                            keeper::Caller caller) {
  return [keeper, old_key, caller = std::move(caller)](
             const core::Command& cmd) -> Result<store::CommandSignatureParts> {
    RAMPART_ASSIGN_OR_RETURN(std::string canonical, core::CanonicalPayload(cmd.payload_json));
    core::CommandSignatureFields fields{cmd.device_id,
                                        cmd.id,
                                        cmd.seq,
                                        std::string(core::ToString(cmd.type)),
                                        crypto::Sha256Hex(canonical),
                                        cmd.expires_at};
    if (!crypto::VerifyEd25519(old_key.public_key, core::CommandSigningString(fields),
                               cmd.signature)) {
      log::Warn("command.resign_refused", {{"command_id", cmd.id}, {"reason", "bad_signature"}});
      return Status::Conflict("the old key did not sign this command");
    }
    keeper::SignCommandRequest req;
    req.caller = caller;
    req.caller.principal = cmd.created_by;
    req.institution_id = cmd.institution_id;
    req.fields = std::move(fields);
    req.approved_by = cmd.approved_by;
    req.batch_size = cmd.batch_size;
    RAMPART_ASSIGN_OR_RETURN(keeper::CommandSignature sig, keeper->SignCommand(req));
    return store::CommandSignatureParts{std::move(sig.key_id), std::move(sig.signature)};
  };
}

namespace {

// The keeper's caller for what the playbook engine does itself: serve's own engine, bound to the
// institution the step acts for.
keeper::Caller EngineCaller(const ActionContext& ctx, const std::string& institution_id,
                            std::string purpose) {
  keeper::Caller c;
  c.principal = "system";
  c.role = "system";
  c.institution_id = institution_id;
  c.request_id = ctx.request_id;
  c.source_ip = ctx.source_ip;
  c.purpose = std::move(purpose);
  return c;
}

}  // namespace

Result<EvidenceCaptureOutcome> ActionEngine::CaptureEvidence(const ActionContext& ctx,
                                                             const core::Alert& alert) {
  const std::string name = "capture_evidence";
  if (evidence_ == nullptr || keeper_ == nullptr) {
    return FailStep(ctx, name, alert.entity, alert.institution_id,
                    Status::Unavailable("evidence capture is not configured"));
  }
  int attempts = 0;
  EvidenceCaptureOutcome out;
  std::string incident_id;
  Status s = WithRetry(
      [&]() -> Status {
        RAMPART_ASSIGN_OR_RETURN(core::Incident incident, evidence_->IncidentOfAlert(alert));
        incident_id = incident.id;
        RAMPART_ASSIGN_OR_RETURN(auto existing, evidence_->List(store::Scope::All(), incident.id));
        const int64_t now = clock_->NowSeconds();
        if (!existing.empty() &&
            existing.front().created_at > now - options_.evidence_dedup_seconds) {
          out.bundle = existing.front();
          out.reused = true;
          return Status::Ok();
        }
        RAMPART_ASSIGN_OR_RETURN(
            out.bundle,
            evidence_->Capture(store::Scope::All(), incident.id,
                               EngineCaller(ctx, incident.institution_id, "evidence.capture")));
        return Status::Ok();
      },
      &attempts);
  const std::string target = incident_id.empty() ? alert.entity : incident_id;
  if (!s.ok()) {
    Audit(ctx, name, target, "failure", alert.institution_id, attempts, false, s.message(), 0);
    RaiseFailure(ctx, name, target, alert.institution_id, s);
    return s;
  }
  nlohmann::json extra = {{"incident_id", incident_id},
                          {"bundle_id", out.bundle.bundle_id},
                          {"sha256", out.bundle.sha256_hex},
                          {"reused", out.reused}};
  Audit(ctx, name, target, "success", alert.institution_id, attempts, false, "", 0, extra.dump());
  log::Info("response.capture_evidence",
            {{"incident_id", incident_id}, {"bundle_id", out.bundle.bundle_id}});
  return out;
}

Result<KeyRotationOutcome> ActionEngine::RotateCommandKey(const ActionContext& ctx,
                                                          const std::string& institution_id) {
  const std::string name = "rotate_command_key";
  if (institution_id.empty()) {
    return FailStep(ctx, name, ctx.entity, "",
                    Status::InvalidArgument("the alert names no institution"));
  }
  if (keeper_ == nullptr) {
    return FailStep(ctx, name, institution_id, institution_id,
                    Status::Unavailable("no keeper configured"));
  }
  const keeper::Caller caller = EngineCaller(ctx, institution_id, "command_key.rotate");
  KeyRotationOutcome out;
  keeper::CommandKey old_key;
  int attempts = 0;
  Status s = WithRetry(
      [&]() -> Status {
        RAMPART_ASSIGN_OR_RETURN(auto rotations, keeper_->KeyRotations(institution_id));
        const int64_t now = clock_->NowSeconds();
        if (!rotations.empty() &&
            rotations.back().fields.issued_at > now - options_.key_rotation_dedup_seconds) {
          out.rotated = false;
          out.old_key_id = rotations.back().fields.old_key_id;
          out.new_key_id = rotations.back().fields.new_key_id;
          return Status::Ok();
        }
        RAMPART_ASSIGN_OR_RETURN(old_key, keeper_->GetCommandKey(institution_id));
        RAMPART_ASSIGN_OR_RETURN(keeper::KeyRotation rotation,
                                 keeper_->RotateCommandKey(caller, institution_id));
        out.rotated = true;
        out.old_key_id = rotation.fields.old_key_id;
        out.new_key_id = rotation.fields.new_key_id;
        return Status::Ok();
      },
      &attempts);
  if (s.ok() && out.rotated && out.old_key_id != old_key.key_id) {
    s = Status::Conflict(
        "a concurrent rotation moved the key; pending commands were not re-signed");
  }
  if (s.ok() && out.rotated) {
    // Devices learn the new key at their next check-in; commands still waiting for them must
    // carry the new key's signature by then.
    int resign_attempts = 0;
    s = WithRetry(
        [&]() -> Status {
          RAMPART_ASSIGN_OR_RETURN(
              out.resigned,
              store_->ResignPendingCommands(store::Scope::Institution(institution_id),
                                            old_key.key_id, clock_->NowSeconds(),
                                            PendingCommandResigner(keeper_, old_key, caller)));
          return Status::Ok();
        },
        &resign_attempts);
    attempts += resign_attempts;
  }
  nlohmann::json extra = {{"rotated", out.rotated},
                          {"old_key_id", out.old_key_id},
                          {"new_key_id", out.new_key_id},
                          {"resigned", out.resigned}};
  if (!s.ok()) {
    Audit(ctx, name, institution_id, "failure", institution_id, attempts, true, s.message(), 0,
          extra.dump());
    RaiseFailure(ctx, name, institution_id, institution_id, s);
    return s;
  }
  Audit(ctx, name, institution_id, "success", institution_id, attempts, true, "", 0, extra.dump());
  log::Warn("response.rotate_command_key", {{"institution_id", institution_id},
                                            {"rotated", out.rotated},
                                            {"new_key_id", out.new_key_id}});
  return out;
}

Result<MasterKeyRotationOutcome> ActionEngine::RewrapMasterKey(const ActionContext& ctx) {
  const std::string name = "rewrap_master_key";
  if (keeper_ == nullptr || rewrap_ == nullptr) {
    return FailStep(ctx, name, "master_key", "",
                    Status::Unavailable("master-key re-wrap is not configured"));
  }
  const keeper::Caller caller = EngineCaller(ctx, "", "master_key.rotate");
  MasterKeyRotationOutcome out;
  int attempts = 0;
  auto recent = [this](const keeper::MasterKeyStatus& status) {
    // Version 1 comes with the installation; only a later version is a rotation to reuse.
    return status.current_version > 1 && !status.versions.empty() &&
           status.versions.back().created_at >
               clock_->NowSeconds() - options_.master_key_rotation_dedup_seconds;
  };
  Status s = WithRetry(
      [&]() -> Status {
        RAMPART_ASSIGN_OR_RETURN(keeper::MasterKeyStatus status,
                                 keeper_->GetMasterKeyStatus(caller));
        if (recent(status)) {
          out.rotated = false;
          out.version = status.current_version;
          return Status::Ok();
        }
        auto rotated = keeper_->RotateMasterKey(caller);
        if (!rotated.ok() && rotated.status().code() == Code::kResourceExhausted) {
          // Another rotation (an admin's) won the race within the hour: reuse it.
          RAMPART_ASSIGN_OR_RETURN(status, keeper_->GetMasterKeyStatus(caller));
          out.rotated = false;
          out.version = status.current_version;
          return Status::Ok();
        }
        RAMPART_RETURN_IF_ERROR(rotated.status());
        out.rotated = true;
        out.version = rotated->current_version;
        return Status::Ok();
      },
      &attempts);
  nlohmann::json extra = {{"rotated", out.rotated}, {"version", out.version}};
  if (!s.ok()) {
    Audit(ctx, name, "master_key", "failure", "", attempts, true, s.message(), 0, extra.dump());
    RaiseFailure(ctx, name, "master_key", "", s);
    return s;
  }
  // Reused or new, the rows still on older versions move now (a reused rotation's job may have
  // been cut off by a restart).
  rewrap_->Kick();
  Audit(ctx, name, "master_key", "success", "", attempts, true, "", 0, extra.dump());
  log::Warn("response.rewrap_master_key", {{"rotated", out.rotated}, {"version", out.version}});
  return out;
}

}  // namespace rampart::respond
