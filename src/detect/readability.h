// Judges the lines of one log source in windows, so that a source Rampart can no longer read
// raises an alert instead of leaving detection blind without a word. It happens when an upgrade
// changes a server's access-log format, when a declared layout (custom_log_format.h) is not
// the one the server writes, and when a sender fills its lines with garbage.
//
//   ReadabilityWindow window;  // one per source: a followed file, a syslog program
//   auto v = window.Count(parsed, line_number, now_millis, options);
//   if (v && v->unreadable_window()) {
//     SecurityEvent ev = UnreadableLogEvent(*v, "combined");
//     ev.Set("file.path", path);
//     sink->Emit(std::move(ev));
//   }
//   ... and at the end of each poll, window.Check(now_millis, options) the same way.
//
// A window closes after max_lines lines, or, when a Check comes max_millis or more after its
// first line, once it holds min_lines: a busy source is judged at once, a quiet one on enough
// lines. A window where half or more of the lines could not be read is unreadable.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/event_sink.h"

namespace rampart::detect {

struct ReadabilityOptions {
  uint64_t max_lines = 1000;
  int64_t max_millis = 60'000;
  uint64_t min_lines = 20;
};

struct ReadabilityVerdict {
  uint64_t lines = 0;                  // lines in the window
  uint64_t unreadable = 0;             // of those, not read: not in the format, binary, or too long
  uint64_t first_unreadable_line = 0;  // its number in the source; 0 when the source has none
  // The window before this one had the other verdict (the first window counts as following a
  // readable one): what an operator's log says once each way rather than per window.
  bool changed = false;

  bool unreadable_window() const { return lines > 0 && unreadable * 2 >= lines; }
};

class ReadabilityWindow {
 public:
  // Counts one line of the source. Returns the window's verdict when this line closed it.
  std::optional<ReadabilityVerdict> Count(bool readable, uint64_t line_number, int64_t now_millis,
                                          const ReadabilityOptions& options);
  // Returns the window's verdict when it is old enough and holds enough lines to close.
  std::optional<ReadabilityVerdict> Check(int64_t now_millis, const ReadabilityOptions& options);
  // The source now reads other bytes (a followed file rotated or truncated): returns the
  // window's verdict when it holds min_lines, else forgets its lines, so that a window never
  // mixes two files and its line numbers are the file's it names.
  std::optional<ReadabilityVerdict> Finish(const ReadabilityOptions& options);

 private:
  ReadabilityVerdict Close();

  uint64_t lines_ = 0;
  uint64_t unreadable_ = 0;
  uint64_t first_unreadable_line_ = 0;
  int64_t opened_millis_ = 0;
  bool last_unreadable_ = false;
};

// The event an unreadable window becomes (event.action `detection.log_unreadable`, which the
// bundled rule rampart_log_source_unreadable.yml alerts on), with the counts and a sentence
// for the analyst. `format` is the name of the format the lines were read in ("custom" for a
// declared layout, "unknown" when none was recognised yet). The caller adds what names the
// source: `file.path` for a followed file, `process.name` and the sender's address for a syslog
// program.
SecurityEvent UnreadableLogEvent(const ReadabilityVerdict& verdict, std::string_view format);

}  // namespace rampart::detect
