#include "core/permissions.h"

#include <array>

namespace rampart::core {
namespace {

struct Grant {
  std::string_view permission;
  // superadmin, admin, helpdesk, analyst, auditor
  std::array<bool, 5> roles;
};

// Helpdesk reads the staff directory to answer calls; analysts and auditors see devices,
// policies and compliance but not staff personal data (least privilege for read-only roles).
constexpr std::array<Grant, 39> kGrants{{
    {"institutions.read", {true, true, true, true, true}},
    {"institutions.write", {true, false, false, false, false}},
    // Moving an institution's devices to a new command key.
    {"keys.rotate", {true, true, false, false, false}},
    // The keeper's staff-data master key, shared by every institution: the superadmin alone.
    {"keys.master", {true, false, false, false, false}},
    {"staff.read", {true, true, true, false, false}},
    {"staff.write", {true, true, false, false, false}},
    // Clear staff names and numbers, through the keeper's per-principal budget.
    {"staff.reveal", {true, true, true, false, false}},
    // Bulk export in clear, under four eyes (a second holder approves).
    {"staff.export", {true, true, false, false, false}},
    {"devices.read", {true, true, true, true, true}},
    {"devices.write", {true, true, true, false, false}},
    {"devices.command", {true, true, true, false, false}},
    {"devices.wipe", {true, true, false, false, false}},
    {"groups.read", {true, true, true, true, true}},
    {"groups.write", {true, true, false, false, false}},
    {"enrollment.read", {true, true, true, false, true}},
    {"enrollment.write", {true, true, true, false, false}},
    {"policies.read", {true, true, true, true, true}},
    {"policies.write", {true, true, false, false, false}},
    {"apps.read", {true, true, true, true, true}},
    {"apps.write", {true, true, false, false, false}},
    {"compliance.read", {true, true, true, true, true}},
    {"tokens.read", {true, true, false, false, true}},
    {"tokens.write", {true, true, false, false, false}},
    // Metrics count every institution's traffic and devices: cross-institution roles only.
    {"metrics.read", {true, false, false, false, false}},
    // Every signed-in person manages their own sign-in (session, password, second factor).
    {"account.self", {true, true, true, true, true}},
    // Auditors review who holds which role; helpdesk and analysts have no need to.
    {"users.read", {true, true, false, false, true}},
    {"users.write", {true, true, false, false, false}},
    // The security analyst and the auditor read the audit trail; helpdesk does not.
    {"audit.read", {true, true, false, true, true}},
    // Alerts: every role that investigates reads them; auditors may not change their state.
    {"alerts.read", {true, true, false, true, true}},
    {"alerts.write", {true, true, false, true, false}},
    // Incidents: the people who handle them. Their figures name staff ids and principals, so
    // helpdesk and auditors have no need.
    {"incidents.read", {true, true, false, true, false}},
    {"incidents.write", {true, true, false, true, false}},
    // Response (docs/incident-response.md): front-door blocks, lockdowns, playbook approvals.
    {"blocks.read", {true, true, false, true, true}},
    {"blocks.write", {true, true, false, false, false}},
    {"lockdown.read", {true, true, true, true, true}},
    {"lockdown.write", {true, true, false, false, false}},
    {"lockdown.server", {true, false, false, false, false}},
    {"response.read", {true, true, false, true, true}},
    {"response.write", {true, true, false, false, false}},
}};

size_t RoleIndex(Role r) {
  switch (r) {
    case Role::kSuperAdmin:
      return 0;
    case Role::kAdmin:
      return 1;
    case Role::kHelpdesk:
      return 2;
    case Role::kAnalyst:
      return 3;
    case Role::kAuditor:
      return 4;
  }
  return 4;
}

}  // namespace

bool RoleHasPermission(Role role, std::string_view permission) {
  for (const auto& g : kGrants) {
    if (g.permission == permission) return g.roles[RoleIndex(role)];
  }
  return false;
}

bool IsCrossInstitution(Role role) {
  return role == Role::kSuperAdmin;
}

}  // namespace rampart::core
