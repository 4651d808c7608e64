#include "detect/readability.h"

#include <string>

namespace rampart::detect {

std::optional<ReadabilityVerdict> ReadabilityWindow::Count(bool readable, uint64_t line_number,
                                                           int64_t now_millis,
                                                           const ReadabilityOptions& options) {
  if (lines_ == 0) opened_millis_ = now_millis;
  ++lines_;
  if (!readable && unreadable_++ == 0) first_unreadable_line_ = line_number;
  if (lines_ < options.max_lines) return std::nullopt;
  return Close();
}

std::optional<ReadabilityVerdict> ReadabilityWindow::Check(int64_t now_millis,
                                                           const ReadabilityOptions& options) {
  if (lines_ == 0 || lines_ < options.min_lines) return std::nullopt;
  // A clock that stepped back leaves the window open until it passes the opening again.
  if (now_millis < opened_millis_ || now_millis - opened_millis_ < options.max_millis) {
    return std::nullopt;
  }
  return Close();
}

std::optional<ReadabilityVerdict> ReadabilityWindow::Finish(const ReadabilityOptions& options) {
  if (lines_ == 0) return std::nullopt;
  if (lines_ < options.min_lines) {
    lines_ = unreadable_ = first_unreadable_line_ = 0;
    return std::nullopt;
  }
  return Close();
}

ReadabilityVerdict ReadabilityWindow::Close() {
  ReadabilityVerdict v;
  v.lines = lines_;
  v.unreadable = unreadable_;
  v.first_unreadable_line = first_unreadable_line_;
  const bool unreadable = v.unreadable_window();
  v.changed = unreadable != last_unreadable_;
  last_unreadable_ = unreadable;
  lines_ = unreadable_ = first_unreadable_line_ = 0;
  return v;
}

SecurityEvent UnreadableLogEvent(const ReadabilityVerdict& verdict, std::string_view format) {
  SecurityEvent ev("detection.log_unreadable");
  std::string reason = std::to_string(verdict.unreadable) + " of the last " +
                       std::to_string(verdict.lines) + " lines could not be read ";
  if (format == "custom") {
    reason += "in the declared layout";
  } else if (format == "unknown") {
    reason += "in any format Rampart knows";
  } else {
    reason += "as " + std::string(format) + " lines";
  }
  if (verdict.first_unreadable_line != 0) {
    reason += " (the first at line " + std::to_string(verdict.first_unreadable_line) + ")";
  }
  ev.Set("event.reason", reason)
      .Set("log.format", format)
      .Set("log.lines", std::to_string(verdict.lines))
      .Set("log.lines_unreadable", std::to_string(verdict.unreadable));
  if (verdict.first_unreadable_line != 0) {
    ev.Set("log.file.line", std::to_string(verdict.first_unreadable_line));
  }
  return ev;
}

}  // namespace rampart::detect
