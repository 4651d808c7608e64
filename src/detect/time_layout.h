// Times written in a strftime layout of the administrator's own (Apache's `%{%d/%b/%Y %T}t`),
// read back. The layout is compiled once; each line's text is then matched from a place in it,
// and the match takes exactly what the layout wrote there, so a space inside the time does not
// split the line.
//
//   auto layout = StrftimeLayout::Compile("%d/%b/%Y %T");  // InvalidArgument names a conversion
//   TimeParts parts;
//   size_t end = layout->Match(line, pos, &parts);         // npos: not written in this layout
//   std::optional<int64_t> millis = parts.Millis();        // nullopt: no valid date and time
//
// Names are the C locale's (English), as Apache writes them. Several layouts may fill one
// TimeParts (a date in one, the zone in another). A time without a zone (%z) is UTC.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace rampart::detect {

struct TimeParts {
  int year = -1;  // -1: not given
  int month = 0, day = 0, year_day = 0;
  int hour = 0, minute = 0, second = 0;
  int hour12 = 0;  // %I; with %p it gives the hour
  int pm = -1;     // %p: 0 AM, 1 PM
  int offset_minutes = 0;
  int64_t epoch_seconds = -1;  // %s
  int64_t fraction_millis = 0;
  // Unix milliseconds: %s if given, else the date (year with month and day, or day of the
  // year) and time; nullopt for a date that does not exist or a time out of range.
  std::optional<int64_t> Millis() const;
};

class StrftimeLayout {
 public:
  // InvalidArgument for a conversion that cannot be read back (%C, %G, %g, %E and %O forms,
  // GNU's flags) or a '%' at the end, naming it.
  static Result<StrftimeLayout> Compile(std::string_view format);

  // Where the text written in this layout from `pos` ends, with what it gives in *parts; npos
  // when the text there is not in this layout.
  size_t Match(std::string_view text, size_t pos, TimeParts* parts) const;

  // What the layout writes, as bits: several layouts that make one time together give what
  // their bits together give (Missing).
  enum Gives : uint16_t {
    kYear = 1,
    kMonth = 2,
    kMonthDay = 4,
    kYearDay = 8,
    kEpoch = 16,
    kOffset = 32,    // %z
    kZoneName = 64,  // %Z
    kHour12 = 128,   // %I, %l
    kAmPm = 256,     // %p
  };
  uint16_t gives() const { return gives_; }
  // Why layouts that give `gives` together cannot make a time, or empty: no date (a year with
  // a month and day or a day of the year, or %s), a zone's name without its offset, a 12-hour
  // clock without AM or PM.
  static std::string_view Missing(uint16_t gives);
  // Whether the text the layout writes ends where the layout does: not when it ends in %s or
  // %Z, which are as long as their value.
  bool ends_by_itself() const { return ends_by_itself_; }

 private:
  enum class Op : uint8_t {
    kLiteral,
    kYear4,
    kYear2,
    kMonth2,
    kMonthAbbrev,
    kMonthName,
    kDay2,
    kDaySpace,  // %e: " 5" or "15"
    kYearDay3,
    kHour24,
    kHour24Space,  // %k
    kHour12,
    kHour12Space,  // %l
    kMinute,
    kSecond,
    kAmPm,
    kWeekdayAbbrev,
    kWeekdayName,
    kWeekdayDigit,  // %u, %w: read, not used
    kWeekNumber,    // %U, %V, %W: read, not used
    kOffset,        // %z: +hhmm
    kZoneName,      // %Z: letters, not used (an offset must be given by %z)
    kEpoch,         // %s
  };
  struct Step {
    Op op = Op::kLiteral;
    char literal = 0;
  };
  struct Conversion;
  static const Conversion kConversions[];
  StrftimeLayout() = default;

  std::vector<Step> steps_;
  uint16_t gives_ = 0;
  bool ends_by_itself_ = true;
};

}  // namespace rampart::detect
