#include "core/model.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <utility>

#include "common/crypto.h"

namespace rampart::core {
namespace {

template <typename E, size_t N>
using NameTable = std::array<std::pair<E, std::string_view>, N>;

constexpr NameTable<Role, 5> kRoles{{{Role::kSuperAdmin, "superadmin"},
                                     {Role::kAdmin, "admin"},
                                     {Role::kHelpdesk, "helpdesk"},
                                     {Role::kAnalyst, "analyst"},
                                     {Role::kAuditor, "auditor"}}};
constexpr NameTable<Platform, 2> kPlatforms{
    {{Platform::kIos, "ios"}, {Platform::kAndroid, "android"}}};
constexpr NameTable<Ownership, 2> kOwnerships{
    {{Ownership::kCorporate, "corporate"}, {Ownership::kPersonal, "personal"}}};
constexpr NameTable<DeviceStatus, 2> kDeviceStatuses{
    {{DeviceStatus::kActive, "active"}, {DeviceStatus::kRetired, "retired"}}};
constexpr NameTable<ComplianceState, 3> kComplianceStates{
    {{ComplianceState::kUnknown, "unknown"},
     {ComplianceState::kCompliant, "compliant"},
     {ComplianceState::kNonCompliant, "noncompliant"}}};
constexpr NameTable<CommandType, 9> kCommandTypes{{{CommandType::kLock, "lock"},
                                                   {CommandType::kWipe, "wipe"},
                                                   {CommandType::kLostMode, "lost_mode"},
                                                   {CommandType::kClearPasscode, "clear_passcode"},
                                                   {CommandType::kRestart, "restart"},
                                                   {CommandType::kInstallApp, "install_app"},
                                                   {CommandType::kRemoveApp, "remove_app"},
                                                   {CommandType::kApplyPolicy, "apply_policy"},
                                                   {CommandType::kRetire, "retire"}}};
constexpr NameTable<CommandState, 9> kCommandStates{
    {{CommandState::kQueued, "queued"},
     {CommandState::kSent, "sent"},
     {CommandState::kAcknowledged, "acknowledged"},
     {CommandState::kError, "error"},
     {CommandState::kNotNow, "not_now"},
     {CommandState::kCanceled, "canceled"},
     {CommandState::kExpired, "expired"},
     {CommandState::kAwaitingApproval, "awaiting_approval"},
     {CommandState::kRejected, "rejected"}}};
constexpr NameTable<NonComplianceAction, 3> kActions{{{NonComplianceAction::kNone, "none"},
                                                      {NonComplianceAction::kNotify, "notify"},
                                                      {NonComplianceAction::kLock, "lock"}}};

template <typename E, size_t N>
std::string_view NameOf(const NameTable<E, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> Lookup(const NameTable<E, N>& table, std::string_view name) {
  for (const auto& [v, n] : table) {
    if (n == name) return v;
  }
  return std::nullopt;
}

}  // namespace

std::string_view ToString(Role v) {
  return NameOf(kRoles, v);
}
std::string_view ToString(Platform v) {
  return NameOf(kPlatforms, v);
}
std::string_view ToString(Ownership v) {
  return NameOf(kOwnerships, v);
}
std::string_view ToString(DeviceStatus v) {
  return NameOf(kDeviceStatuses, v);
}
std::string_view ToString(ComplianceState v) {
  return NameOf(kComplianceStates, v);
}
std::string_view ToString(CommandType v) {
  return NameOf(kCommandTypes, v);
}
std::string_view ToString(CommandState v) {
  return NameOf(kCommandStates, v);
}
std::string_view ToString(NonComplianceAction v) {
  return NameOf(kActions, v);
}

std::optional<Role> ParseRole(std::string_view s) {
  return Lookup(kRoles, s);
}
std::optional<Platform> ParsePlatform(std::string_view s) {
  return Lookup(kPlatforms, s);
}
std::optional<Ownership> ParseOwnership(std::string_view s) {
  return Lookup(kOwnerships, s);
}
std::optional<DeviceStatus> ParseDeviceStatus(std::string_view s) {
  return Lookup(kDeviceStatuses, s);
}
std::optional<ComplianceState> ParseComplianceState(std::string_view s) {
  return Lookup(kComplianceStates, s);
}
std::optional<CommandType> ParseCommandType(std::string_view s) {
  return Lookup(kCommandTypes, s);
}
std::optional<CommandState> ParseCommandState(std::string_view s) {
  return Lookup(kCommandStates, s);
}
std::optional<NonComplianceAction> ParseNonComplianceAction(std::string_view s) {
  return Lookup(kActions, s);
}

std::string NewId(std::string_view prefix) {
  std::string id(prefix);
  id += '_';
  id += crypto::RandomHex(12);
  return id;
}

std::string NewTimeOrderedId(std::string_view prefix) {
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  auto millis = static_cast<uint64_t>(now < 0 ? 0 : now);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(prefix);
  id += '_';
  for (int shift = 44; shift >= 0; shift -= 4) id += kHex[(millis >> shift) & 0xf];
  id += crypto::RandomHex(6);
  return id;
}

}  // namespace rampart::core
