#include "respond/lockdown.h"

#include <mutex>

namespace rampart::respond {

Status LockdownState::Load(store::Store& store) {
  RAMPART_ASSIGN_OR_RETURN(auto all, store.ListLockdowns());
  std::unique_lock lock(mu_);
  by_scope_.clear();
  for (auto& l : all) by_scope_[l.scope] = std::move(l);
  return Status::Ok();
}

bool LockdownState::IsLocked(const std::string& institution_id) const {
  std::shared_lock lock(mu_);
  if (by_scope_.empty()) return false;
  if (by_scope_.count(std::string(kServerScope))) return true;
  return !institution_id.empty() && by_scope_.count(institution_id) > 0;
}

bool LockdownState::ServerLocked() const {
  std::shared_lock lock(mu_);
  return by_scope_.count(std::string(kServerScope)) > 0;
}

bool LockdownState::AnyLocked() const {
  std::shared_lock lock(mu_);
  return !by_scope_.empty();
}

std::optional<store::Lockdown> LockdownState::Get(const std::string& scope) const {
  std::shared_lock lock(mu_);
  auto it = by_scope_.find(scope);
  if (it == by_scope_.end()) return std::nullopt;
  return it->second;
}

std::vector<store::Lockdown> LockdownState::List() const {
  std::shared_lock lock(mu_);
  std::vector<store::Lockdown> out;
  for (const auto& [scope, l] : by_scope_) out.push_back(l);
  return out;
}

void LockdownState::Put(const store::Lockdown& lockdown) {
  std::unique_lock lock(mu_);
  by_scope_[lockdown.scope] = lockdown;
}

void LockdownState::Erase(const std::string& scope) {
  std::unique_lock lock(mu_);
  by_scope_.erase(scope);
}

}  // namespace rampart::respond
