#include "respond/playbook_runner.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/text.h"
#include "core/model.h"

namespace rampart::respond {
namespace {

constexpr size_t kMaxQueue = 10000;
constexpr size_t kMaxRemembered = 100000;
constexpr size_t kMaxPending = 1000;
// The entity kind of an alert about one command batch ("command.batch_id=bat_...").
constexpr std::string_view kBatchEntity = "command.batch_id";

// The value of `field` in the alert's entity or, failing that, in its first evidence event
// that holds it (the entity names one field; a canary read is about an address *and* a token).
std::string FieldOf(const core::Alert& alert, std::string_view field) {
  if (EntityType(alert.entity) == field) return std::string(EntityValue(alert.entity));
  for (const auto& ev : alert.evidence) {
    auto j = nlohmann::json::parse(ev, nullptr, false);
    if (j.is_object() && j.contains(field) && j[std::string(field)].is_string()) {
      return j[std::string(field)].get<std::string>();
    }
  }
  return "";
}

// The store scope a step acts in: the alert's institution, or every one for a server-wide alert.
store::Scope ScopeOf(const core::Alert& alert) {
  return alert.institution_id.empty() ? store::Scope::All()
                                      : store::Scope::Institution(alert.institution_id);
}

}  // namespace

PlaybookRunner::PlaybookRunner(ActionEngine* engine, const Clock* clock)
    : engine_(engine), clock_(clock) {}

PlaybookRunner::~PlaybookRunner() {
  Stop();
}

void PlaybookRunner::SetPlaybooks(std::vector<Playbook> playbooks) {
  std::lock_guard lock(mu_);
  playbooks_ = std::move(playbooks);
}

size_t PlaybookRunner::playbook_count() const {
  std::lock_guard lock(mu_);
  return playbooks_.size();
}

void PlaybookRunner::Start() {
  std::lock_guard lock(mu_);
  if (started_) return;
  started_ = true;
  stopping_ = false;
  worker_ = std::thread([this] { Loop(); });
}

void PlaybookRunner::Stop() {
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

void PlaybookRunner::Submit(const core::Alert& alert) {
  {
    std::lock_guard lock(mu_);
    if (started_) {
      if (queue_.size() >= kMaxQueue) {
        log::Error("response.queue_full", {{"alert_id", alert.id}});
        return;
      }
      queue_.push_back(alert);
      cv_.notify_one();
      return;
    }
  }
  Run(alert);
}

void PlaybookRunner::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    core::Alert alert = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    Run(alert);
    lock.lock();
  }
}

void PlaybookRunner::Run(const core::Alert& alert) {
  // Our own failure alerts never trigger playbooks: a failing action must not loop.
  if (alert.rule_id == kActionFailedRule) return;
  std::vector<Playbook> matched;
  {
    std::lock_guard lock(mu_);
    for (const auto& pb : playbooks_) {
      if (!TriggerMatches(pb.trigger, alert)) continue;
      if (ran_.size() >= kMaxRemembered) ran_.clear();
      if (!ran_.insert(pb.id + '\0' + alert.id).second) continue;
      matched.push_back(pb);
    }
  }
  for (const auto& pb : matched) {
    log::Info("response.playbook_started",
              {{"playbook", pb.id}, {"alert_id", alert.id}, {"rule_id", alert.rule_id}});
    RunFrom(pb, 0, alert, false, "");
  }
}

void PlaybookRunner::RunFrom(const Playbook& pb, size_t first, const core::Alert& alert,
                             bool approved, const std::string& approver) {
  for (size_t i = first; i < pb.steps.size(); ++i) {
    const PlaybookStep& step = pb.steps[i];
    ActionContext ctx;
    ctx.actor = approver.empty() ? "system" : approver;
    ctx.playbook = pb.id;
    ctx.step = static_cast<int>(i + 1);
    ctx.alert_id = alert.id;
    ctx.rule_id = alert.rule_id;
    ctx.entity = alert.entity;
    if (step.requires_approval && !(approved && i == first)) {
      PendingStep p;
      p.id = core::NewId("pnd");
      p.playbook = pb.id;
      p.step = i;
      p.action = std::string(ToString(step.action));
      p.alert = alert;
      p.created_at = clock_->NowSeconds();
      {
        std::lock_guard lock(mu_);
        if (pending_.size() >= kMaxPending) pending_.erase(pending_.begin());
        pending_.push_back(p);
      }
      audit::Record r;
      r.actor = "system";
      r.action = "response." + p.action;
      r.target = alert.entity;
      r.outcome = "pending_approval";
      r.institution_id = alert.institution_id;
      r.details_json = nlohmann::json{{"playbook", pb.id},           {"step", ctx.step},
                                      {"alert_id", alert.id},        {"rule_id", alert.rule_id},
                                      {"entity", alert.entity},      {"attempt", 0},
                                      {"containment", true},         {"pending_id", p.id},
                                      {"at_ms", clock_->NowMillis()}}
                           .dump();
      engine_->AppendAudit(r);
      return;
    }
    Status s = RunStep(pb, i, alert, ctx);
    if (!s.ok()) {
      log::Warn("response.step_failed",
                {{"playbook", pb.id}, {"step", ctx.step}, {"error", s.message()}});
    }
  }
}

Status PlaybookRunner::RunStep(const Playbook& pb, size_t index, const core::Alert& alert,
                               ActionContext ctx) {
  const PlaybookStep& step = pb.steps[index];
  const std::string reason = "playbook " + pb.id + " on alert " + alert.id;
  switch (step.action) {
    case ActionKind::kBlockAddress: {
      std::string ip = FieldOf(alert, "source.ip");
      if (ip.empty()) {
        return engine_->FailStep(ctx, "block_address", alert.entity, alert.institution_id,
                                 Status::InvalidArgument("the alert names no source address"));
      }
      return engine_->BlockAddress(ctx, ip, step.duration_seconds, reason, alert.institution_id)
          .status();
    }
    case ActionKind::kRevokePrincipal:
    case ActionKind::kDisableUser: {
      std::string principal = FieldOf(alert, "user.name");
      const std::string name = std::string(ToString(step.action));
      if (principal.empty()) {
        return engine_->FailStep(ctx, name, alert.entity, alert.institution_id,
                                 Status::InvalidArgument("the alert names no principal"));
      }
      if (step.action == ActionKind::kDisableUser) return engine_->DisableUser(ctx, principal);
      return engine_->RevokePrincipal(ctx, principal, alert.institution_id).status();
    }
    case ActionKind::kLockdown: {
      std::string scope = step.server_wide ? std::string(kServerScope) : alert.institution_id;
      if (scope.empty()) {
        return engine_->FailStep(ctx, "lockdown", alert.entity, "",
                                 Status::InvalidArgument("the alert names no institution"));
      }
      return engine_->EnterLockdown(ctx, scope, reason);
    }
    case ActionKind::kPauseCommandBatch: {
      store::Scope scope = ScopeOf(alert);
      if (EntityType(alert.entity) == kBatchEntity) {
        return engine_
            ->PauseCommandBatch(ctx, scope, std::string(EntityValue(alert.entity)), reason)
            .status();
      }
      std::string principal = FieldOf(alert, "user.name");
      if (principal.empty()) {
        return engine_->FailStep(ctx, "pause_command_batch", alert.entity, alert.institution_id,
                                 Status::InvalidArgument("the alert names no principal or batch"));
      }
      return engine_->PauseBatchesOf(ctx, scope, principal, alert.institution_id, reason).status();
    }
    case ActionKind::kQuarantineApp: {
      store::Scope scope = ScopeOf(alert);
      if (std::string app_id = FieldOf(alert, "app.id"); !app_id.empty()) {
        return engine_->QuarantineApp(ctx, scope, app_id, reason).status();
      }
      // Package hashes are catalogued in lower-case hex; evidence may carry upper case.
      std::string sha256 = FieldOf(alert, "file.hash.sha256");
      if (sha256.empty()) {
        return engine_->FailStep(ctx, "quarantine_app", alert.entity, alert.institution_id,
                                 Status::InvalidArgument("the alert names no app or package hash"));
      }
      return engine_->QuarantinePackage(ctx, scope, AsciiLower(sha256), reason).status();
    }
    case ActionKind::kCaptureEvidence:
      return engine_->CaptureEvidence(ctx, alert).status();
    case ActionKind::kRotateCommandKey:
      return engine_->RotateCommandKey(ctx, alert.institution_id).status();
    case ActionKind::kRewrapMasterKey:
      return engine_->RewrapMasterKey(ctx).status();
  }
  return Status::Internal("unknown action");
}

std::vector<PendingStep> PlaybookRunner::Pending(const std::string& institution_id,
                                                 bool cross_institution) const {
  std::lock_guard lock(mu_);
  std::vector<PendingStep> out;
  for (const auto& p : pending_) {
    if (cross_institution ||
        (!institution_id.empty() && p.alert.institution_id == institution_id)) {
      out.push_back(p);
    }
  }
  return out;
}

Status PlaybookRunner::Approve(const std::string& id, const std::string& approver,
                               const std::string& institution_id, bool cross_institution) {
  PendingStep p;
  Playbook pb;
  {
    std::lock_guard lock(mu_);
    auto it = std::find_if(pending_.begin(), pending_.end(), [&](const PendingStep& s) {
      return s.id == id && (cross_institution ||
                            (!institution_id.empty() && s.alert.institution_id == institution_id));
    });
    if (it == pending_.end()) return Status::NotFound("pending step not found");
    auto found = std::find_if(playbooks_.begin(), playbooks_.end(),
                              [&](const Playbook& x) { return x.id == it->playbook; });
    if (found == playbooks_.end()) return Status::Conflict("the playbook is no longer loaded");
    p = *it;
    pb = *found;
    pending_.erase(it);
  }
  RunFrom(pb, p.step, p.alert, true, approver);
  return Status::Ok();
}

}  // namespace rampart::respond
