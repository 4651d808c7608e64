#include "core/compliance.h"

#include <algorithm>
#include <string>

namespace rampart::core {
namespace {

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

void Add(std::vector<ComplianceReason>& out, const Policy& p, std::string code,
         std::string message) {
  out.push_back(ComplianceReason{p.id, std::move(code), std::move(message)});
}

void EvaluateOne(Platform platform, const DeviceState& s, const Policy& p,
                 std::vector<ComplianceReason>& out) {
  const PolicyRules& r = p.rules;
  if (r.passcode_min_length > 0) {
    if (!s.passcode_set) {
      Add(out, p, "passcode_missing", "a passcode is required");
    } else if (s.passcode_length < r.passcode_min_length) {
      Add(out, p, "passcode_too_short",
          "passcode has " + std::to_string(s.passcode_length) + " characters, policy requires " +
              std::to_string(r.passcode_min_length));
    }
  }
  if (r.require_storage_encryption && !s.storage_encrypted) {
    Add(out, p, "storage_not_encrypted", "storage encryption is required");
  }
  const std::string& min_os =
      platform == Platform::kIos ? r.min_os_version_ios : r.min_os_version_android;
  if (!min_os.empty() && CompareVersions(s.os_version, min_os) < 0) {
    Add(out, p, "os_too_old",
        "OS version " + s.os_version + " is older than the required " + min_os);
  }
  if (r.block_compromised && s.compromised) {
    Add(out, p, "device_compromised",
        platform == Platform::kIos ? "device is jailbroken" : "device is rooted");
  }
  if (!r.camera_allowed && !s.camera_disabled) {
    Add(out, p, "camera_not_disabled", "policy disables the camera but it is still enabled");
  }
  for (const auto& app : r.required_apps) {
    if (!Contains(s.installed_apps, app)) {
      Add(out, p, "required_app_missing", "required app " + app + " is not installed");
    }
  }
  for (const auto& app : r.forbidden_apps) {
    if (Contains(s.installed_apps, app)) {
      Add(out, p, "forbidden_app_installed", "forbidden app " + app + " is installed");
    }
  }
}

int Rank(NonComplianceAction a) {
  switch (a) {
    case NonComplianceAction::kNone:
      return 0;
    case NonComplianceAction::kNotify:
      return 1;
    case NonComplianceAction::kLock:
      return 2;
  }
  return 0;
}

}  // namespace

ComplianceVerdict EvaluateCompliance(Platform platform, const DeviceState& state,
                                     const std::vector<Policy>& policies) {
  ComplianceVerdict verdict;
  for (const auto& p : policies) EvaluateOne(platform, state, p, verdict.reasons);
  verdict.state =
      verdict.reasons.empty() ? ComplianceState::kCompliant : ComplianceState::kNonCompliant;
  return verdict;
}

int CompareVersions(std::string_view a, std::string_view b) {
  auto next = [](std::string_view& s) -> long {
    if (s.empty()) return 0;
    size_t dot = s.find('.');
    std::string_view part = s.substr(0, dot);
    s = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
    long v = 0;
    for (char c : part) {
      if (c < '0' || c > '9') return 0;
      if (v > 100000000) return v;  // bound: absurd components compare as equal-large
      v = v * 10 + (c - '0');
    }
    return v;
  };
  while (!a.empty() || !b.empty()) {
    long x = next(a);
    long y = next(b);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

DueAction DueComplianceAction(const ComplianceVerdict& verdict, const std::vector<Policy>& policies,
                              int64_t noncompliant_since, int64_t action_taken_at, int64_t now) {
  DueAction due;
  if (verdict.state != ComplianceState::kNonCompliant || noncompliant_since <= 0) return due;
  for (const auto& p : policies) {
    if (p.rules.action == NonComplianceAction::kNone) continue;
    bool violated = std::any_of(verdict.reasons.begin(), verdict.reasons.end(),
                                [&](const ComplianceReason& r) { return r.policy_id == p.id; });
    if (!violated) continue;
    int64_t due_at = noncompliant_since + p.rules.grace_seconds;
    if (now < due_at) continue;
    // An action taken at or after this policy's due time already answered it; an earlier,
    // weaker action (a notify after a short grace) does not stop a later lock.
    if (action_taken_at >= due_at) continue;
    if (Rank(p.rules.action) > Rank(due.action)) {
      due.action = p.rules.action;
      due.policy_id = p.id;
    }
  }
  return due;
}

}  // namespace rampart::core
