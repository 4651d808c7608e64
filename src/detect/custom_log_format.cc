#include "detect/custom_log_format.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>

#include "common/text.h"
#include "detect/log_parser.h"

namespace rampart::detect {
namespace {

using Slot = CustomLogFormat::Slot;

constexpr size_t kMaxSpecBytes = 8192;
constexpr size_t kMaxVariables = 128;
constexpr size_t kLayoutSlotCount = static_cast<size_t>(Slot::kTimeMicrosFraction) + 1;
// "30/Jan/2026:09:15:00 +0100": the day has two digits and the zone five characters, always.
constexpr size_t kTimeLocalWidth = 26;

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

Status Refuse(size_t offset, const std::string& why) {
  return Status::InvalidArgument("log format, offset " + std::to_string(offset) + ": " + why);
}

Slot NginxSlot(std::string_view name) {
  struct Entry {
    std::string_view name;
    Slot slot;
  };
  static constexpr Entry kSlots[] = {
      {"remote_addr", Slot::kClientAddress},
      {"remote_user", Slot::kUser},
      {"time_local", Slot::kTimeLocal},
      {"time_iso8601", Slot::kTimeIso},
      {"msec", Slot::kEpochSeconds},
      {"request", Slot::kRequestLine},
      {"request_method", Slot::kMethod},
      {"request_uri", Slot::kTarget},
      {"uri", Slot::kPath},
      {"document_uri", Slot::kPath},
      {"args", Slot::kQuery},
      {"query_string", Slot::kQuery},
      {"status", Slot::kStatus},
      {"body_bytes_sent", Slot::kBodyBytes},
      {"bytes_sent", Slot::kBodyBytes},
      {"http_referer", Slot::kReferrer},
      {"http_user_agent", Slot::kUserAgent},
      {"http_x_forwarded_for", Slot::kForwardedFor},
      {"host", Slot::kVirtualHost},
      {"http_host", Slot::kVirtualHost},
      {"server_name", Slot::kVirtualHost},
      {"http_cookie", Slot::kCookie},
      {"content_type", Slot::kMimeType},
      {"http_content_type", Slot::kMimeType},
      {"server_addr", Slot::kServerAddress},
      {"hostname", Slot::kHostName},
  };
  for (const Entry& e : kSlots) {
    if (e.name == name) return e.slot;
  }
  return Slot::kIgnored;
}

Slot ApacheHeaderSlot(std::string_view header) {
  const std::string name = AsciiLower(header);
  if (name == "referer") return Slot::kReferrer;
  if (name == "user-agent") return Slot::kUserAgent;
  if (name == "x-forwarded-for") return Slot::kForwardedFor;
  if (name == "host") return Slot::kVirtualHost;
  if (name == "cookie") return Slot::kCookie;
  if (name == "content-type") return Slot::kMimeType;
  return Slot::kIgnored;
}

// Apache's %{...}t: which time it writes; a strftime layout is compiled into *layout.
Result<Slot> ApacheTimeSlot(std::string_view arg, size_t offset,
                            std::optional<StrftimeLayout>* layout) {
  if (arg.starts_with("begin:")) arg.remove_prefix(6);
  if (arg.starts_with("end:")) arg.remove_prefix(4);
  if (arg.empty()) return Slot::kTimeLocalBracketed;
  if (arg == "sec") return Slot::kEpochSeconds;
  if (arg == "msec") return Slot::kEpochMillis;
  if (arg == "usec") return Slot::kEpochMicros;
  if (arg == "msec_frac") return Slot::kTimeMillisFraction;
  if (arg == "usec_frac") return Slot::kTimeMicrosFraction;
  auto compiled = StrftimeLayout::Compile(arg);
  if (!compiled.ok()) {
    return Refuse(offset, "%{" + std::string(arg) + "}t: " + compiled.status().message());
  }
  layout->emplace(std::move(compiled).value());
  return Slot::kTimeStrftime;
}

Slot ApacheLetterSlot(char letter) {
  switch (letter) {
    case 'a':
    case 'h':
      return Slot::kClientAddress;
    case 'A':
      return Slot::kServerAddress;
    case 'b':
    case 'B':
    case 'O':
      return Slot::kBodyBytes;
    case 'u':
      return Slot::kUser;
    case 'r':
      return Slot::kRequestLine;
    case 'm':
      return Slot::kMethod;
    case 'U':
      return Slot::kPath;
    case 'q':
      return Slot::kQuery;
    case 's':
      return Slot::kStatus;
    case 'v':
    case 'V':
      return Slot::kVirtualHost;
    default:
      return Slot::kIgnored;
  }
}

size_t FixedWidth(Slot slot) {
  if (slot == Slot::kTimeLocal) return kTimeLocalWidth;
  if (slot == Slot::kTimeLocalBracketed) return kTimeLocalWidth + 2;
  if (slot == Slot::kTimeMillisFraction) return 3;
  if (slot == Slot::kTimeMicrosFraction) return 6;
  return 0;
}

// Where the value starting at pos ends: at the first `literal`, or, when the literal starts with
// a quote (the value was quoted), at the first quote no backslash escapes, which the literal must
// then start at. npos when it is not there. The servers escape every quote inside a value, so a
// quoted value never runs past its closing quote into the next field.
size_t FindLiteral(std::string_view line, size_t pos, std::string_view literal) {
  if (literal.empty()) return pos;
  if (literal.front() != '"') return line.find(literal, pos);
  const size_t start = pos;
  for (;;) {
    const size_t at = line.find('"', pos);
    if (at == std::string_view::npos) return at;
    size_t backslashes = 0;
    while (at - backslashes > start && line[at - backslashes - 1] == '\\') ++backslashes;
    if (backslashes % 2 == 0) {
      return line.compare(at, literal.size(), literal) == 0 ? at : std::string_view::npos;
    }
    pos = at + 1;
  }
}

// nginx and Apache log "-" for a value they do not have.
bool LoggedAsAbsent(std::string_view v) {
  return v.size() == 1 && v[0] == '-';
}

// Decimal epoch seconds with an optional fraction, or whole milliseconds or microseconds.
std::optional<int64_t> EpochMillis(std::string_view text, Slot slot) {
  const size_t dot = slot == Slot::kEpochSeconds ? text.find('.') : std::string_view::npos;
  std::string_view whole = text.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 18) return std::nullopt;
  int64_t n = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  for (char c : fraction) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  int64_t millis = 0;
  if (slot == Slot::kEpochSeconds) {
    if (n > kMaxLogEpochMillis / 1000) return std::nullopt;
    millis = n * 1000;
    int64_t scale = 100;
    for (size_t i = 0; i < fraction.size() && i < 3; ++i, scale /= 10) {
      millis += (fraction[i] - '0') * scale;
    }
  } else {
    millis = slot == Slot::kEpochMicros ? n / 1000 : n;
  }
  if (millis > kMaxLogEpochMillis) return std::nullopt;
  return millis;
}

enum class Merge : uint8_t {
  kNone,
  kIsArgs,         // nginx $is_args
  kArgs,           // nginx $args, $query_string
  kQueryWithMark,  // Apache %q, which starts with '?' when there is a query
};

// Values no client writes, which cannot carry a space a client put there.
bool NginxServerWritten(std::string_view name, Slot slot) {
  switch (slot) {
    case Slot::kClientAddress:
    case Slot::kTimeLocal:
    case Slot::kTimeIso:
    case Slot::kEpochSeconds:
    case Slot::kStatus:
    case Slot::kBodyBytes:
    case Slot::kServerAddress:
    case Slot::kHostName:
      return true;
    default:
      break;
  }
  static constexpr std::string_view kServerNames[] = {
      "server_name",         "server_port", "request_time", "request_length", "pid",  "connection",
      "connection_requests", "scheme",      "https",        "nginx_version",  "pipe", "gzip_ratio"};
  for (std::string_view server : kServerNames) {
    if (name == server) return true;
  }
  return name.starts_with("upstream_");
}

bool ApacheServerWritten(char letter, Slot slot) {
  if (slot == Slot::kClientAddress) return true;
  switch (letter) {
    case 'a':  // with {c}, the connection's peer: an address all the same
    case 'h':
    case 'v':  // the configured ServerName (%V may be the client's Host header)
    case 'p':
    case 'A':
    case 'D':
    case 'T':
    case 'P':
    case 'k':
    case 'X':
    case 'I':
    case 'O':
    case 'S':
    case 'B':
    case 'b':
    case 's':
    case 't':
    case 'L':
      return true;
    default:
      return false;
  }
}

}  // namespace

Result<CustomLogFormat> CustomLogFormat::Compile(std::string_view spec) {
  std::string_view format;
  bool nginx = false;
  if (spec.starts_with("nginx:")) {
    format = spec.substr(6);
    nginx = true;
  } else if (spec.starts_with("apache:")) {
    format = spec.substr(7);
  } else {
    return Status::InvalidArgument(
        "log format: a custom format is \"nginx:\" followed by a log_format string, or "
        "\"apache:\" followed by a LogFormat string");
  }
  if (format.size() > kMaxSpecBytes) {
    return Status::InvalidArgument("log format: longer than " + std::to_string(kMaxSpecBytes) +
                                   " bytes");
  }
  CustomLogFormat layout;
  layout.spec_ = std::string(spec);
  std::string literal;
  bool reads_a_field = false;
  std::optional<StrftimeLayout> strftime;  // the layout of the %{...}t being added
  bool strftime_ends_by_itself = true;     // the last one added's
  // Per piece: its name in the format and where it starts, for the checks at the end.
  std::vector<std::pair<std::string, size_t>> names;
  // Set by nginx's $is_args merged into a path: the $args that completes the target may follow.
  bool awaiting_args = false;
  auto add = [&](Slot slot, bool server_written, size_t offset, std::string name,
                 Merge merge) -> Status {
    const bool adjacent = !layout.pieces_.empty() && literal.empty();
    if (adjacent && merge != Merge::kNone) {
      // The idioms for path and query, nginx's $uri$is_args$args and Apache's %U%q, log a
      // request target ('?' and the query only when there is one): one value.
      Slot& previous = layout.pieces_.back().slot;
      const bool into_path = previous == Slot::kPath;
      if ((merge == Merge::kIsArgs && into_path) || (merge == Merge::kQueryWithMark && into_path) ||
          (merge == Merge::kArgs && awaiting_args)) {
        previous = Slot::kTarget;
        layout.pieces_.back().server_written = false;
        awaiting_args = merge == Merge::kIsArgs;
        return Status::Ok();
      }
    }
    awaiting_args = false;
    // A value whose end is known without the literal after it: a time of fixed width, or one
    // in a strftime layout that does not end in a value of its own length (%s, %Z).
    const Piece* previous = layout.pieces_.empty() ? nullptr : &layout.pieces_.back();
    const bool ends_by_itself =
        previous != nullptr && (FixedWidth(previous->slot) != 0 ||
                                (previous->slot == Slot::kTimeStrftime && strftime_ends_by_itself));
    if (adjacent && !ends_by_itself) {
      return Refuse(offset, name +
                                " follows the previous variable with nothing between them, so a "
                                "line cannot be split between the two");
    }
    if (layout.pieces_.size() == kMaxVariables) {
      return Refuse(offset, "more than " + std::to_string(kMaxVariables) + " variables");
    }
    // (A fraction of a second is no field without the time it belongs to.)
    reads_a_field |= slot != Slot::kIgnored && slot != Slot::kTimeMillisFraction &&
                     slot != Slot::kTimeMicrosFraction;
    layout.pieces_.push_back(Piece{std::move(literal), slot, server_written});
    names.emplace_back(std::move(name), offset);
    literal.clear();
    return Status::Ok();
  };
  size_t i = 0;
  while (i < format.size()) {
    const char c = format[i];
    if (c == '\\' && i + 1 < format.size() &&
        (format[i + 1] == '"' || format[i + 1] == '\'' || format[i + 1] == '\\' ||
         format[i + 1] == 't')) {
      // Copied from the configuration file, where a quote inside the quoted format string is
      // written \" and a tab \t (both servers' configuration readers turn them into the
      // character).
      literal.push_back(format[i + 1] == 't' ? '\t' : format[i + 1]);
      i += 2;
    } else if (nginx && c == '$') {
      const size_t start = i++;
      std::string_view written;
      if (i < format.size() && format[i] == '{') {
        const size_t close = format.find('}', i);
        if (close == std::string_view::npos) return Refuse(start, "\"${\" is not closed");
        written = format.substr(i + 1, close - i - 1);
        i = close + 1;
      } else {
        const size_t begin = i;
        while (i < format.size() && IsNameChar(format[i])) ++i;
        written = format.substr(begin, i - begin);
      }
      if (written.empty() || !std::all_of(written.begin(), written.end(), IsNameChar)) {
        return Refuse(start, "'$' is not followed by a variable name");
      }
      // nginx's variable names are not case-sensitive.
      const std::string name = AsciiLower(written);
      Merge merge = Merge::kNone;
      Slot slot = NginxSlot(name);
      if (name == "is_args") {
        merge = Merge::kIsArgs;  // "?" when there are arguments; alone, nothing Rampart reads
      } else if (name == "args" || name == "query_string") {
        merge = Merge::kArgs;
      }
      RAMPART_RETURN_IF_ERROR(
          add(slot, NginxServerWritten(name, slot), start, "$" + std::string(written), merge));
    } else if (!nginx && c == '%') {
      const size_t start = i++;
      if (i < format.size() && format[i] == '%') {
        literal.push_back('%');
        ++i;
        continue;
      }
      // Conditions and redirect markers: %>s, %<s, %!200,304{Referer}i, %400{User-Agent}i.
      while (i < format.size() && (format[i] == '<' || format[i] == '>' || format[i] == '!' ||
                                   format[i] == ',' || (format[i] >= '0' && format[i] <= '9'))) {
        ++i;
      }
      std::string_view arg;
      bool has_arg = false;
      if (i < format.size() && format[i] == '{') {
        const size_t close = format.find('}', i);
        if (close == std::string_view::npos) return Refuse(start, "\"%{\" is not closed");
        arg = format.substr(i + 1, close - i - 1);
        has_arg = true;
        i = close + 1;
      }
      if (i >= format.size()) return Refuse(start, "'%' ends the format without a directive");
      const char letter = format[i];
      Slot slot = Slot::kIgnored;
      if (letter == '^') {
        // %^ti and %^to: trailer lines, which Rampart has no field for.
        if (format.substr(i, 3) != "^ti" && format.substr(i, 3) != "^to") {
          return Refuse(start, "\"%^\" is followed by ti or to");
        }
        i += 3;
      } else if ((letter >= 'a' && letter <= 'z') || (letter >= 'A' && letter <= 'Z')) {
        ++i;
        if (letter == 't') {
          auto time = ApacheTimeSlot(has_arg ? arg : std::string_view(), start, &strftime);
          if (!time.ok()) return time.status();
          slot = *time;
        } else if (letter == 'i') {
          if (!has_arg) return Refuse(start, "%i needs a header name, as in %{User-Agent}i");
          slot = ApacheHeaderSlot(arg);
        } else if ((letter == 'a' || letter == 'h') && has_arg) {
          // %{c}a and %{c}h are the peer of the connection, not the client mod_remoteip names.
          slot = Slot::kIgnored;
        } else {
          slot = ApacheLetterSlot(letter);
        }
      } else {
        return Refuse(start, std::string("'%") + letter + "' is not an Apache log directive");
      }
      RAMPART_RETURN_IF_ERROR(add(slot, ApacheServerWritten(letter, slot), start,
                                  std::string(format.substr(start, i - start)),
                                  slot == Slot::kQuery ? Merge::kQueryWithMark : Merge::kNone));
      if (strftime) {
        layout.pieces_.back().time_layout = static_cast<int>(layout.time_layouts_.size());
        strftime_ends_by_itself = strftime->ends_by_itself();
        layout.time_layouts_.push_back(std::move(*strftime));
        strftime.reset();
      }
    } else {
      literal.push_back(c);
      ++i;
    }
  }
  layout.trailing_ = std::move(literal);
  // The strftime times together make one, unless another time is logged (which is read first).
  bool other_time = false;
  uint16_t gives = 0;
  for (const Piece& piece : layout.pieces_) {
    other_time |= piece.slot == Slot::kTimeLocal || piece.slot == Slot::kTimeLocalBracketed ||
                  piece.slot == Slot::kTimeIso || piece.slot == Slot::kEpochSeconds ||
                  piece.slot == Slot::kEpochMillis || piece.slot == Slot::kEpochMicros;
  }
  for (const StrftimeLayout& t : layout.time_layouts_) gives |= t.gives();
  if (!layout.time_layouts_.empty() && !other_time) {
    if (std::string_view missing = StrftimeLayout::Missing(gives); !missing.empty()) {
      return Status::InvalidArgument("log format: its strftime times give " + std::string(missing));
    }
  }
  if (!reads_a_field) {
    return Status::InvalidArgument(
        "log format: it names none of the fields Rampart reads (client address, time, request, "
        "status, size, referrer, user agent, X-Forwarded-For, host, user, cookie)");
  }
  // A line is split from the left at the literal text, and the servers escape a quote inside a
  // value but nothing else. So a value between quotes ends where the server ended it, while an
  // unquoted one ends at the first space (or whatever comes next) in what the client wrote: the
  // rest shifts into the next variables. The client address and the forwarded-for header decide
  // whom an alert names and whom the engine blocks; no client text may move them.
  auto quoted = [&](size_t k) {
    const std::string& after =
        k + 1 < layout.pieces_.size() ? layout.pieces_[k + 1].literal : layout.trailing_;
    return layout.pieces_[k].literal.ends_with('"') && after.starts_with('"');
  };
  bool client_text_before = false;
  for (size_t k = 0; k < layout.pieces_.size(); ++k) {
    const Piece& piece = layout.pieces_[k];
    if (piece.slot == Slot::kForwardedFor && !quoted(k)) {
      return Refuse(names[k].second,
                    names[k].first +
                        " must be between quotes: a client writes part of it, and unquoted, a "
                        "space in it would end it early and let the client choose the address "
                        "it is attributed to");
    }
    if (piece.slot == Slot::kClientAddress && client_text_before) {
      return Refuse(names[k].second,
                    names[k].first +
                        " comes after a value a client writes that is not between quotes, which "
                        "could move the address: quote that value, or log the address first");
    }
    if (!piece.server_written && !quoted(k)) client_text_before = true;
  }
  return layout;
}

bool CustomLogFormat::Parse(std::string_view line, Event* ev) const {
  ev->Clear();
  if (line.size() > kMaxLineBytes) return false;
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  const size_t n = line.size();
  std::array<std::string_view, kLayoutSlotCount> values{};
  std::array<bool, kLayoutSlotCount> seen{};
  TimeParts time_parts;
  size_t pos = 0;
  for (size_t i = 0; i < pieces_.size(); ++i) {
    const Piece& piece = pieces_[i];
    if (line.compare(pos, piece.literal.size(), piece.literal) != 0) return false;
    pos += piece.literal.size();
    const bool last = i + 1 == pieces_.size();
    const std::string& next = last ? trailing_ : pieces_[i + 1].literal;
    size_t end;
    if (piece.slot == Slot::kTimeStrftime) {
      end = time_layouts_[static_cast<size_t>(piece.time_layout)].Match(line, pos, &time_parts);
      if (end == std::string_view::npos) return false;
    } else if (const size_t width = FixedWidth(piece.slot); width != 0) {
      if (n - pos < width) return false;
      end = pos + width;
    } else if (last && !next.starts_with('"')) {
      if (n - pos < next.size()) return false;
      end = n - next.size();
    } else {
      // A quoted value ends at its closing quote, even the last one: what follows must then be
      // the end of the line.
      end = FindLiteral(line, pos, next);
      if (end == std::string_view::npos) return false;
    }
    const auto slot = static_cast<size_t>(piece.slot);
    values[slot] = line.substr(pos, end - pos);
    seen[slot] = true;
    pos = end;
  }
  if (line.substr(pos) != trailing_) return false;
  // The servers write an address without a space; a line of another layout may put one there.
  if (seen[static_cast<size_t>(Slot::kClientAddress)] &&
      values[static_cast<size_t>(Slot::kClientAddress)].find(' ') != std::string_view::npos) {
    return false;
  }

  auto value = [&](Slot s) { return values[static_cast<size_t>(s)]; };
  auto given = [&](Slot s) {
    const std::string_view v = values[static_cast<size_t>(s)];
    return seen[static_cast<size_t>(s)] && !v.empty() && !LoggedAsAbsent(v);
  };
  // Apache's %{msec_frac}t and %{usec_frac}t: the fraction of a time logged in whole seconds.
  int64_t fraction_millis = 0;
  bool has_fraction = false;
  for (Slot s : {Slot::kTimeMillisFraction, Slot::kTimeMicrosFraction}) {
    if (!seen[static_cast<size_t>(s)]) continue;
    const std::string_view digits = value(s);
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    fraction_millis = (digits[0] - '0') * 100 + (digits[1] - '0') * 10 + (digits[2] - '0');
    has_fraction = true;
  }
  std::optional<int64_t> time;
  bool whole_seconds = false;  // a time the fraction belongs to
  if (seen[static_cast<size_t>(Slot::kTimeLocal)]) {
    time = ParseLogTime(value(Slot::kTimeLocal));
    if (!time) return false;
    whole_seconds = true;
  } else if (seen[static_cast<size_t>(Slot::kTimeLocalBracketed)]) {
    const std::string_view v = value(Slot::kTimeLocalBracketed);
    if (v.front() != '[' || v.back() != ']') return false;
    time = ParseLogTime(v.substr(1, v.size() - 2));
    if (!time) return false;
    whole_seconds = true;
  } else if (seen[static_cast<size_t>(Slot::kTimeIso)]) {
    time = ParseLogTime(value(Slot::kTimeIso));
    if (!time) return false;
  } else {
    for (Slot s : {Slot::kEpochSeconds, Slot::kEpochMillis, Slot::kEpochMicros}) {
      if (!seen[static_cast<size_t>(s)]) continue;
      time = EpochMillis(value(s), s);
      if (!time) return false;
      whole_seconds = s == Slot::kEpochSeconds && value(s).find('.') == std::string_view::npos;
      break;
    }
  }
  if (!time && seen[static_cast<size_t>(Slot::kTimeStrftime)]) {
    time_parts.fraction_millis = fraction_millis;
    time = time_parts.Millis();
    if (!time) return false;
  } else if (time && whole_seconds && has_fraction) {
    if (*time > kMaxLogEpochMillis - fraction_millis) return false;
    *time += fraction_millis;
  }
  if (given(Slot::kStatus)) {
    const std::string_view v = value(Slot::kStatus);
    if (v.size() != 3 ||
        !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
  }
  if (given(Slot::kBodyBytes)) {
    const std::string_view v = value(Slot::kBodyBytes);
    if (!std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
  }

  ev->ReserveScratch(line.size());
  ev->Set(Field::kEventOriginal, line);
  if (time) ev->set_timestamp_millis(*time);
  if (given(Slot::kClientAddress)) ev->Set(Field::kSourceIp, value(Slot::kClientAddress));
  if (given(Slot::kUser)) ev->Set(Field::kUserName, value(Slot::kUser));
  if (given(Slot::kRequestLine)) {
    SetRequestLine(value(Slot::kRequestLine), ev);
  } else {
    if (given(Slot::kMethod)) ev->Set(Field::kHttpRequestMethod, value(Slot::kMethod));
    if (given(Slot::kTarget)) {
      SetUrlFields(value(Slot::kTarget), ev);
    } else if (given(Slot::kPath)) {
      std::string_view query = given(Slot::kQuery) ? value(Slot::kQuery) : std::string_view();
      if (query.starts_with('?')) query.remove_prefix(1);  // Apache's %q
      if (query.empty()) {
        SetUrlFields(value(Slot::kPath), ev);
      } else {
        thread_local std::string target;
        target.assign(value(Slot::kPath));
        target.push_back('?');
        target.append(query);
        SetUrlFields(ev->Keep(target), ev);
      }
    }
  }
  if (given(Slot::kStatus)) SetNumber(Field::kHttpResponseStatusCode, value(Slot::kStatus), ev);
  if (given(Slot::kBodyBytes))
    SetNumber(Field::kHttpResponseBodyBytes, value(Slot::kBodyBytes), ev);
  if (given(Slot::kReferrer)) ev->Set(Field::kHttpRequestReferrer, value(Slot::kReferrer));
  if (given(Slot::kUserAgent)) ev->Set(Field::kUserAgentOriginal, value(Slot::kUserAgent));
  if (given(Slot::kForwardedFor)) {
    ev->Set(Field::kHttpRequestXForwardedFor, value(Slot::kForwardedFor));
  }
  if (given(Slot::kVirtualHost)) {
    const std::string_view host = VirtualHostName(value(Slot::kVirtualHost));
    if (!host.empty()) ev->Set(Field::kDestinationDomain, host);
  }
  if (given(Slot::kCookie)) ev->Set(Field::kHttpRequestCookie, value(Slot::kCookie));
  if (given(Slot::kMimeType)) ev->Set(Field::kHttpRequestMimeType, value(Slot::kMimeType));
  if (given(Slot::kServerAddress)) ev->Set(Field::kDestinationIp, value(Slot::kServerAddress));
  if (given(Slot::kHostName)) ev->Set(Field::kHostName, value(Slot::kHostName));
  return true;
}

}  // namespace rampart::detect
