// Which institutions (or the whole server) are in lockdown, cached in memory for the request
// path: App asks IsLocked() on every admin request. The store is the record; ActionEngine
// writes it and then updates this cache. Thread-safe.
#pragma once

#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/response_records.h"
#include "store/store.h"

namespace rampart::respond {

inline constexpr std::string_view kServerScope = "*";

class LockdownState {
 public:
  // Reads every lockdown from the store (at start).
  Status Load(store::Store& store);
  // True when the server is locked, or `institution_id` (non-empty) is.
  bool IsLocked(const std::string& institution_id) const;
  bool ServerLocked() const;
  // True when the server or any institution is locked.
  bool AnyLocked() const;
  std::optional<store::Lockdown> Get(const std::string& scope) const;
  std::vector<store::Lockdown> List() const;
  void Put(const store::Lockdown& lockdown);
  void Erase(const std::string& scope);

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, store::Lockdown> by_scope_;  // guarded by mu_
};

}  // namespace rampart::respond
