// Small ASCII text helpers shared by components that parse protocol tokens (HTTP methods,
// header names, playbook keywords, IoC values). Locale-independent on purpose: protocol tokens
// are ASCII, and std::tolower would change with the process locale.
#pragma once

#include <string>
#include <string_view>

namespace rampart {

constexpr char AsciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

}  // namespace rampart
