// Small text helpers shared by components that parse protocol tokens (HTTP methods, header
// names, playbook keywords, IoC values) or show untrusted text on a terminal.
// Locale-independent on purpose: protocol tokens are ASCII, and std::tolower would change with
// the process locale.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rampart {

constexpr char AsciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

inline std::string AsciiUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
  return out;
}

// Untrusted text (a log line, a feed's value, a rule file's title) as it may be shown on an
// analyst's terminal: control bytes (C0, DEL, C1), bytes that are not valid UTF-8, invisible
// format characters (bidirectional overrides, zero-width characters, U+2028/U+2029) and the
// backslash written as \xNN (\\ for the backslash), so that it can neither move the cursor,
// retitle the window, reorder what is shown nor pass for another line; other valid UTF-8
// (titles, paths) stays readable.
void AppendTerminalSafe(std::string_view text, std::string* out);
std::string TerminalSafe(std::string_view text);

// `text` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD, for
// formats that require UTF-8 (RFC 5424 structured data).
std::string ValidUtf8(std::string_view text);

// The parts with `separator` between them ("a,b,c"), for lists in a log line's field.
std::string Joined(const std::vector<std::string>& parts, std::string_view separator = ",");

}  // namespace rampart
