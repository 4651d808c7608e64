#include "detect/time_layout.h"

#include <array>
#include <string>

#include "detect/log_parser.h"

namespace rampart::detect {
namespace {

constexpr std::array<std::string_view, 12> kMonthNames = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};
constexpr std::array<std::string_view, 7> kWeekdayNames = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};

// `count` digits at pos (with `space_pad`, the first may be a space), as strftime pads them.
bool ReadDigits(std::string_view text, size_t* pos, size_t count, bool space_pad, int* out) {
  if (text.size() - *pos < count) return false;
  int value = 0;
  for (size_t i = 0; i < count; ++i) {
    const char c = text[*pos + i];
    if (c == ' ' && space_pad && i + 1 < count && value == 0) continue;
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *pos += count;
  *out = value;
  return true;
}

// One of `names`, or its first three letters when `abbreviated`; the index, or -1.
template <size_t N>
int ReadName(std::string_view text, size_t* pos, const std::array<std::string_view, N>& names,
             bool abbreviated) {
  for (size_t i = 0; i < N; ++i) {
    const std::string_view name = abbreviated ? names[i].substr(0, 3) : names[i];
    if (text.compare(*pos, name.size(), name) == 0) {
      *pos += name.size();
      return static_cast<int>(i);
    }
  }
  return -1;
}

bool IsLeap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

}  // namespace

std::optional<int64_t> TimeParts::Millis() const {
  int64_t seconds = 0;
  if (epoch_seconds >= 0) {
    seconds = epoch_seconds;
  } else {
    if (year < 0) return std::nullopt;
    int64_t days = 0;
    if (month != 0 || day != 0) {
      if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) {
        return std::nullopt;
      }
      days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    } else if (year_day != 0) {
      if (year_day < 1 || year_day > (IsLeap(year) ? 366 : 365)) return std::nullopt;
      days = DaysFromCivil(year, 1, 1) + year_day - 1;
    } else {
      return std::nullopt;
    }
    int h = hour;
    if (hour12 != 0) {
      if (hour12 > 12 || pm < 0) return std::nullopt;
      h = hour12 % 12 + (pm == 1 ? 12 : 0);
    }
    if (h > 23 || minute > 59 || second > 60) return std::nullopt;
    seconds = days * 86400 + h * 3600 + minute * 60 + second - int64_t{offset_minutes} * 60;
  }
  if (seconds < 0 || seconds > kMaxLogEpochMillis / 1000) return std::nullopt;
  const int64_t millis = seconds * 1000 + fraction_millis;
  if (millis > kMaxLogEpochMillis) return std::nullopt;
  return millis;
}

// What each conversion reads.
struct StrftimeLayout::Conversion {
  char letter;
  Op op;
  uint16_t gives;
};
const StrftimeLayout::Conversion StrftimeLayout::kConversions[] = {
    {'Y', Op::kYear4, kYear},
    {'y', Op::kYear2, kYear},
    {'m', Op::kMonth2, kMonth},
    {'b', Op::kMonthAbbrev, kMonth},
    {'h', Op::kMonthAbbrev, kMonth},
    {'B', Op::kMonthName, kMonth},
    {'d', Op::kDay2, kMonthDay},
    {'e', Op::kDaySpace, kMonthDay},
    {'j', Op::kYearDay3, kYearDay},
    {'H', Op::kHour24, 0},
    {'k', Op::kHour24Space, 0},
    {'I', Op::kHour12, kHour12},
    {'l', Op::kHour12Space, kHour12},
    {'M', Op::kMinute, 0},
    {'S', Op::kSecond, 0},
    {'p', Op::kAmPm, kAmPm},
    {'P', Op::kAmPm, kAmPm},
    {'a', Op::kWeekdayAbbrev, 0},
    {'A', Op::kWeekdayName, 0},
    {'u', Op::kWeekdayDigit, 0},
    {'w', Op::kWeekdayDigit, 0},
    {'U', Op::kWeekNumber, 0},
    {'V', Op::kWeekNumber, 0},
    {'W', Op::kWeekNumber, 0},
    {'z', Op::kOffset, kOffset},
    {'Z', Op::kZoneName, kZoneName},
    {'s', Op::kEpoch, kEpoch},
};

Result<StrftimeLayout> StrftimeLayout::Compile(std::string_view format) {
  StrftimeLayout layout;
  auto refuse = [&](size_t at, std::string_view what) {
    return Status::InvalidArgument("time layout \"" + std::string(format) + "\", offset " +
                                   std::to_string(at) + ": " + std::string(what));
  };
  // Composite conversions as the C locale writes them.
  auto expand = [](char c) -> std::string_view {
    switch (c) {
      case 'T':
      case 'X':
        return "%H:%M:%S";
      case 'F':
        return "%Y-%m-%d";
      case 'D':
      case 'x':
        return "%m/%d/%y";
      case 'R':
        return "%H:%M";
      case 'r':
        return "%I:%M:%S %p";
      case 'c':
        return "%a %b %e %H:%M:%S %Y";
      default:
        return {};
    }
  };
  auto add = [&](char c, size_t at) -> Status {
    for (const Conversion& conversion : kConversions) {
      if (conversion.letter != c) continue;
      layout.steps_.push_back({conversion.op, 0});
      layout.gives_ |= conversion.gives;
      return Status::Ok();
    }
    return refuse(at, std::string("%") + c + " cannot be read back");
  };
  // `at`: where in `format` an expansion's conversions are reported (the composite's place).
  auto compile = [&](std::string_view text, size_t base, bool expansion, auto& self) -> Status {
    for (size_t i = 0; i < text.size(); ++i) {
      const size_t at = expansion ? base : i;
      if (text[i] != '%') {
        layout.steps_.push_back({Op::kLiteral, text[i]});
        continue;
      }
      if (++i == text.size()) return refuse(at, "'%' ends the layout");
      const char conversion = text[i];
      if (conversion == '%') {
        layout.steps_.push_back({Op::kLiteral, '%'});
      } else if (conversion == 'n' || conversion == 't') {
        layout.steps_.push_back({Op::kLiteral, conversion == 'n' ? '\n' : '\t'});
      } else if (std::string_view parts = expand(conversion); !parts.empty() && !expansion) {
        RAMPART_RETURN_IF_ERROR(self(parts, i - 1, true, self));
      } else {
        RAMPART_RETURN_IF_ERROR(add(conversion, expansion ? base : i - 1));
      }
    }
    return Status::Ok();
  };
  RAMPART_RETURN_IF_ERROR(compile(format, 0, false, compile));
  layout.ends_by_itself_ = layout.steps_.empty() || (layout.steps_.back().op != Op::kEpoch &&
                                                     layout.steps_.back().op != Op::kZoneName);
  return layout;
}

std::string_view StrftimeLayout::Missing(uint16_t gives) {
  const bool date =
      (gives & kEpoch) != 0 ||
      ((gives & kYear) != 0 &&
       ((gives & (kMonth | kMonthDay)) == (kMonth | kMonthDay) || (gives & kYearDay) != 0));
  if (!date) {
    return "no date (a year with a month and day, a year with a day of the year, or %s)";
  }
  if ((gives & kEpoch) == 0 && (gives & kZoneName) != 0 && (gives & kOffset) == 0) {
    return "a zone's name (%Z) without its offset: log %z, as +0100 (a name does not say its "
           "offset, nor whether summer time applies)";
  }
  if ((gives & kEpoch) == 0 && (gives & kHour12) != 0 && (gives & kAmPm) == 0) {
    return "a 12-hour clock (%I, %l) without AM or PM (%p)";
  }
  return {};
}

size_t StrftimeLayout::Match(std::string_view text, size_t pos, TimeParts* parts) const {
  if (pos > text.size()) return std::string_view::npos;
  int value = 0;
  for (const Step& step : steps_) {
    switch (step.op) {
      case Op::kLiteral:
        if (pos >= text.size() || text[pos] != step.literal) return std::string_view::npos;
        ++pos;
        break;
      case Op::kYear4:
        if (!ReadDigits(text, &pos, 4, false, &parts->year)) return std::string_view::npos;
        break;
      case Op::kYear2:
        if (!ReadDigits(text, &pos, 2, false, &value)) return std::string_view::npos;
        parts->year = value < 69 ? 2000 + value : 1900 + value;  // POSIX's pivot
        break;
      case Op::kMonth2:
        if (!ReadDigits(text, &pos, 2, false, &parts->month)) return std::string_view::npos;
        break;
      case Op::kMonthAbbrev:
      case Op::kMonthName: {
        const int month = ReadName(text, &pos, kMonthNames, step.op == Op::kMonthAbbrev);
        if (month < 0) return std::string_view::npos;
        parts->month = month + 1;
        break;
      }
      case Op::kDay2:
      case Op::kDaySpace:
        if (!ReadDigits(text, &pos, 2, step.op == Op::kDaySpace, &parts->day)) {
          return std::string_view::npos;
        }
        break;
      case Op::kYearDay3:
        if (!ReadDigits(text, &pos, 3, false, &parts->year_day)) return std::string_view::npos;
        break;
      case Op::kHour24:
      case Op::kHour24Space:
        if (!ReadDigits(text, &pos, 2, step.op == Op::kHour24Space, &parts->hour)) {
          return std::string_view::npos;
        }
        break;
      case Op::kHour12:
      case Op::kHour12Space:
        if (!ReadDigits(text, &pos, 2, step.op == Op::kHour12Space, &parts->hour12) ||
            parts->hour12 == 0) {
          return std::string_view::npos;
        }
        break;
      case Op::kMinute:
        if (!ReadDigits(text, &pos, 2, false, &parts->minute)) return std::string_view::npos;
        break;
      case Op::kSecond:
        if (!ReadDigits(text, &pos, 2, false, &parts->second)) return std::string_view::npos;
        break;
      case Op::kAmPm: {
        if (text.size() - pos < 2) return std::string_view::npos;
        const char first = static_cast<char>(text[pos] | 0x20);
        const char second = static_cast<char>(text[pos + 1] | 0x20);
        if ((first != 'a' && first != 'p') || second != 'm') return std::string_view::npos;
        parts->pm = first == 'p' ? 1 : 0;
        pos += 2;
        break;
      }
      case Op::kWeekdayAbbrev:
      case Op::kWeekdayName:
        if (ReadName(text, &pos, kWeekdayNames, step.op == Op::kWeekdayAbbrev) < 0) {
          return std::string_view::npos;
        }
        break;
      case Op::kWeekdayDigit:
        if (!ReadDigits(text, &pos, 1, false, &value)) return std::string_view::npos;
        break;
      case Op::kWeekNumber:
        if (!ReadDigits(text, &pos, 2, false, &value)) return std::string_view::npos;
        break;
      case Op::kOffset: {
        if (text.size() - pos < 5 || (text[pos] != '+' && text[pos] != '-')) {
          return std::string_view::npos;
        }
        const bool west = text[pos] == '-';
        ++pos;
        int hours = 0, minutes = 0;
        if (!ReadDigits(text, &pos, 2, false, &hours) ||
            !ReadDigits(text, &pos, 2, false, &minutes) || hours > 23 || minutes > 59) {
          return std::string_view::npos;
        }
        parts->offset_minutes = (hours * 60 + minutes) * (west ? -1 : 1);
        break;
      }
      case Op::kZoneName: {
        // Letters ("CET"), or, for zones without an abbreviation, the offset as glibc names
        // them ("+03", "-0330").
        const size_t start = pos;
        if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
          ++pos;
          while (pos < text.size() && pos - start <= 4 && text[pos] >= '0' && text[pos] <= '9') {
            ++pos;
          }
          if (pos - start != 3 && pos - start != 5) return std::string_view::npos;
          break;
        }
        while (pos < text.size() &&
               ((text[pos] >= 'A' && text[pos] <= 'Z') || (text[pos] >= 'a' && text[pos] <= 'z'))) {
          ++pos;
        }
        if (pos == start) return std::string_view::npos;
        break;
      }
      case Op::kEpoch: {
        const size_t start = pos;
        int64_t seconds = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' && pos - start < 12) {
          seconds = seconds * 10 + (text[pos] - '0');
          ++pos;
        }
        if (pos == start) return std::string_view::npos;
        parts->epoch_seconds = seconds;
        break;
      }
    }
  }
  return pos;
}

}  // namespace rampart::detect
