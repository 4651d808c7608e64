// Compliance evaluation: pure functions from a device's reported state and the policies that
// apply to it to a verdict with every reason listed, and the action due after a grace period.
//
//   auto verdict = EvaluateCompliance(device.platform, device.state, policies);
//   auto action = DueComplianceAction(verdict, policies, noncompliant_since, action_taken_at, now);
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/model.h"

namespace rampart::core {

struct ComplianceVerdict {
  ComplianceState state = ComplianceState::kUnknown;
  std::vector<ComplianceReason> reasons;  // empty when compliant
};

// With no policy the device is compliant. Each violated rule of each policy adds one reason.
ComplianceVerdict EvaluateCompliance(Platform platform, const DeviceState& state,
                                     const std::vector<Policy>& policies);

// Compares dotted numeric versions ("17.4.1" vs "17.10"); missing components count as 0 and a
// non-numeric component compares as 0. Returns <0, 0 or >0.
int CompareVersions(std::string_view a, std::string_view b);

struct DueAction {
  NonComplianceAction action = NonComplianceAction::kNone;
  std::string policy_id;  // the policy whose grace period ran out first
};

// The strongest action (lock > notify) among the violated policies whose grace period has run
// out since `noncompliant_since` and that no action has answered yet: a policy counts as
// answered once an action was taken at or after its own due time. So a still-non-compliant
// device is not locked again at every check-in, and an early notify does not prevent the lock
// of a policy with a longer grace period.
DueAction DueComplianceAction(const ComplianceVerdict& verdict, const std::vector<Policy>& policies,
                              int64_t noncompliant_since, int64_t action_taken_at, int64_t now);

}  // namespace rampart::core
