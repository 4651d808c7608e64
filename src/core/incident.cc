#include "core/incident.h"

namespace rampart::core {

namespace {
constexpr std::string_view kStateNames[] = {"new",        "triaged",   "contained",
                                            "eradicated", "recovered", "closed"};
}  // namespace

std::string_view ToString(IncidentState v) {
  return kStateNames[static_cast<int>(v)];
}

std::optional<IncidentState> ParseIncidentState(std::string_view s) {
  for (int i = 0; i < 6; ++i) {
    if (kStateNames[i] == s) return static_cast<IncidentState>(i);
  }
  return std::nullopt;
}

bool IncidentTransitionAllowed(IncidentState from, IncidentState to) {
  if (from == IncidentState::kClosed) return false;
  return static_cast<int>(to) > static_cast<int>(from);
}

}  // namespace rampart::core
