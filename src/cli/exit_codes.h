// Exit codes shared by the verify commands (audit verify, evidence verify, verify-install), so a
// script can tell "checked, and it differs" from "could not check at all".
#pragma once

namespace rampart::cli {

inline constexpr int kExitVerified = 0;
inline constexpr int kExitDifferent = 1;
inline constexpr int kExitUsage = 2;

}  // namespace rampart::cli
