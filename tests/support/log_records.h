// The records of a real audit log (audit::Log) with one action, in index order: what tests of
// the keeper's own audit trail look for.
#pragma once

#include <string>
#include <vector>

#include "audit/log.h"

namespace rampart::testing {

inline std::vector<audit::Record> LogRecordsWithAction(const audit::Log& log,
                                                       const std::string& action) {
  std::vector<audit::Record> out;
  auto all = log.ReadRecords(0, 1000000);
  if (!all.ok()) return out;
  for (auto& r : *all) {
    if (r.action == action) out.push_back(std::move(r));
  }
  return out;
}

}  // namespace rampart::testing
